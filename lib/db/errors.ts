/** A unique constraint refused the row (SQLSTATE 23505): a name, an e-mail or a key taken. */
export const isUniqueViolation = (error: unknown): boolean =>
  (error as { code?: string } | null)?.code === "23505";
