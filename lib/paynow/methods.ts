/**
 * Paynow's express (mobile-money push) methods: the values its `method` field takes. A module of
 * its own, importing nothing, so the browser bundle can name them too.
 */
export const EXPRESS_METHODS = ["ecocash", "onemoney", "innbucks"] as const;
export type ExpressMethod = typeof EXPRESS_METHODS[number];
