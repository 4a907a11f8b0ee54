import type { Dialect } from "./database.js";

/** True when `error` is a primary-key or unique violation on the engine (a concurrent writer won). */
export function isUniqueViolation(dialect: Dialect, error: unknown): boolean {
  const e = error as { code?: unknown } | null;
  if (e === null || typeof e !== "object") return false;
  if (dialect === "postgres") return e.code === "23505";
  return typeof e.code === "string" && e.code.startsWith("SQLITE_CONSTRAINT");
}
