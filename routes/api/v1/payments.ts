/**
 * `/api/v1/packages` and `/api/v1/payments`: what can be bought, and buying it with Paynow
 * (web redirect, or EcoCash/OneMoney/InnBucks express checkout on the phone).
 */
import { textField } from "../../../lib/text.ts";
import { createRoute } from "@hono/zod-openapi";
import { AppError } from "../../../lib/errors.ts";
import {
  CURRENCIES,
  getPaymentForUser,
  listBuyablePackages,
  listPaymentsForUser,
  offeredCurrencies,
  type Payment,
  PAYMENT_METHODS,
  PAYMENT_STATUSES,
  startPayment,
} from "../../../lib/payments/mod.ts";
import { requireAuth } from "../../_auth.ts";
import type { AppContext } from "../../_context.ts";
import { apiRouter, bearerRoutes, json, jsonBody, z } from "../_openapi.ts";
import { jsonOf } from "../_json.ts";
import { newestFirstList, readRoute } from "../_reads.ts";

const PackageSchema = z.object({
  id: z.uuid(),
  name: z.string(),
  tokens: z.number().int(),
  prices: z.partialRecord(z.enum(CURRENCIES), z.string()).openapi({ example: { USD: "1.00" } }),
}).openapi("TokenPackage");

const PaymentSchema = z.object({
  id: z.uuid(),
  status: z.enum(PAYMENT_STATUSES),
  packageId: z.uuid(),
  tokens: z.number().int(),
  currency: z.enum(CURRENCIES),
  amount: z.string().openapi({ example: "1.00" }),
  method: z.enum(PAYMENT_METHODS),
  phone: z.string().nullable(),
  reference: z.string(),
  redirectUrl: z.string().nullable().openapi({ description: "web: send the user here to pay" }),
  instructions: z.string().nullable().openapi({ description: "express: what to tell the user" }),
  error: z.string().nullable().openapi({ description: "why the payment failed, in plain words" }),
  credited: z.boolean(),
  createdAt: z.string(),
  expiresAt: z.string(),
}).openapi("Payment");

export const paymentJson = (p: Payment): z.infer<typeof PaymentSchema> =>
  jsonOf(PaymentSchema, { ...p, redirectUrl: p.browserUrl });

const tags = ["payments"];
const route = bearerRoutes(tags);

export function paymentRoutes(ctx: AppContext) {
  const app = apiRouter();

  app.openapi(
    createRoute({
      method: "get",
      path: "/packages",
      tags,
      summary: "Token packages that can be bought, with prices in the offered currencies",
      responses: { 200: json(z.object({ packages: z.array(PackageSchema) }), "Packages") },
    }),
    async (c) => {
      const currencies = offeredCurrencies(ctx.payments.paynow);
      const packages = await listBuyablePackages(ctx.db.sql, currencies);
      return c.json({
        packages: packages.map(({ id, name, tokens, prices }) => ({ id, name, tokens, prices })),
      }, 200);
    },
  );

  app.openapi(
    route({
      method: "post",
      path: "/payments",
      summary: "Buy a package",
      description:
        "`web` answers a `redirectUrl` for Paynow's page; `ecocash`/`onemoney`/`innbucks` push a prompt to `phone` and answer `instructions`. " +
        "Send an `Idempotency-Key` header to make a retried request return the same payment. " +
        "Follow the status with GET /payments/{id} or the `payment.updated` event on /events.",
      request: {
        headers: z.object({ "idempotency-key": textField().min(8).max(100).optional() }),
        body: jsonBody(z.strictObject({
          packageId: z.uuid(),
          method: z.enum(PAYMENT_METHODS),
          currency: z.enum(CURRENCIES).optional(),
          phone: textField().max(20).optional().openapi({ example: "0771234567" }),
        })),
      },
      responses: {
        201: json(
          PaymentSchema,
          "The payment (status `sent`, or `failed` with `error` if Paynow refused it)",
        ),
      },
    }),
    async (c) => {
      const auth = requireAuth(c);
      const body = c.req.valid("json");
      if (body.method !== "web" && !body.phone) {
        throw new AppError(
          "validation_failed",
          "phone: the number to pay from is needed for mobile money",
          {
            field: "phone",
          },
        );
      }
      const payment = await startPayment(ctx.payments, {
        userId: auth.user.id,
        ...body,
        channel: auth.via === "api_key" ? "api" : "web",
        idempotencyKey: c.req.valid("header")["idempotency-key"],
      });
      return c.json(paymentJson(payment), 201);
    },
  );

  newestFirstList(app, route, {
    path: "/payments",
    summary: "The signed-in user's payments, newest first",
    key: "payments",
    schema: PaymentSchema,
    defaultLimit: 20,
    before: "`createdAt` of the last payment seen",
    list: (userId, page) => listPaymentsForUser(ctx.db.sql, userId, page),
    toJson: paymentJson,
  });

  readRoute(app, route, {
    path: "/payments",
    one: "payment",
    schema: PaymentSchema,
    responses: { 404: json(z.any(), "No such payment") },
    toJson: paymentJson,
    find: (id, c) => getPaymentForUser(ctx.db.sql, requireAuth(c).user.id, id),
  });

  return app;
}
