import type { ColumnDataType } from "kysely";
import type { Dialect } from "./database.js";

/** Engine-specific column types, so one migration serves SQLite and PostgreSQL. */
export function bytesType(dialect: Dialect): ColumnDataType {
  return dialect === "postgres" ? "bytea" : "blob";
}

/** An auto-numbered primary key column type (`integer` + autoincrement on SQLite). */
export function serialType(dialect: Dialect): ColumnDataType {
  return dialect === "postgres" ? "bigserial" : "integer";
}

/** 64-bit integer column. */
export function bigintType(dialect: Dialect): ColumnDataType {
  return dialect === "postgres" ? "bigint" : "integer";
}
