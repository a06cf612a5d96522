/**
 * The error type's former home, kept so modules not yet moved keep compiling: import
 * `lib/errors.ts` instead. This file goes once nothing imports it.
 */
export { AppError, type ErrorCode, type ErrorDetails, notFound } from "../errors.ts";
