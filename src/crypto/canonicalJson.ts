import { createHash } from "node:crypto";
import type { Hex } from "viem";
import { BaseError } from "../errors/BaseError.js";

/** A value that has exactly one JSON Canonicalization Scheme serialization. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/**
 * Serializes `value` per the JSON Canonicalization Scheme: object members sorted by the UTF-16 code
 * units of their names, no whitespace, numbers as ECMAScript `Number.prototype.toString`, strings
 * escaped as `JSON.stringify` does. Anything JSON cannot represent is rejected instead of being
 * silently dropped or coerced: `undefined` (also as a member value), functions, symbols, bigints,
 * NaN, ±Infinity, lone surrogates, cycles, and objects other than plain objects and arrays
 * (Date, Map, Uint8Array, class instances).
 * See https://www.rfc-editor.org/rfc/rfc8785
 * @param value - the JSON value to serialize
 * @returns the canonical JSON text
 * @throws BaseError("invalid") naming the path of the first offending value
 */
export function canonicalJson(value: unknown): string {
  const parts: string[] = [];
  write(value, "$", parts, new Set());
  return parts.join("");
}

/**
 * SHA-256 of the canonical UTF-8 JSON of `value`: the content hash that identifies a document
 * regardless of member order or whitespace. See https://www.rfc-editor.org/rfc/rfc8785#section-3.2
 * @param value - the JSON value to hash
 * @returns the digest as 0x-prefixed lowercase hex
 */
export function contentHash(value: unknown): Hex {
  return `0x${createHash("sha256").update(canonicalJson(value), "utf8").digest("hex")}`;
}

function write(value: unknown, path: string, out: string[], seen: Set<object>): void {
  switch (typeof value) {
    case "string":
      out.push(encodeString(value, path));
      return;
    case "number":
      if (!Number.isFinite(value)) throw reject(path, "a non-finite number");
      // JSON.stringify of a finite number is Number.prototype.toString, with -0 as "0" (RFC 8785 3.2.2.3).
      out.push(JSON.stringify(value));
      return;
    case "boolean":
      out.push(value ? "true" : "false");
      return;
    case "object":
      break;
    case "undefined":
    case "function":
    case "symbol":
    case "bigint":
      throw reject(path, `a ${typeof value}`);
  }
  if (value === null) {
    out.push("null");
    return;
  }
  if (seen.has(value)) throw reject(path, "a circular reference");
  seen.add(value);
  if (Array.isArray(value)) {
    out.push("[");
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out.push(",");
      // Sparse arrays have holes that JSON would print as null; treat them as undefined.
      write(value[i], `${path}[${i}]`, out, seen);
    }
    out.push("]");
  } else {
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) throw reject(path, "a non-plain object");
    const record = value as Record<string, unknown>;
    // Default sort compares UTF-16 code units, which is what RFC 8785 3.2.3 prescribes.
    const keys = Object.keys(record).sort();
    out.push("{");
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i] as string;
      if (i > 0) out.push(",");
      const memberPath = `${path}.${key}`;
      out.push(encodeString(key, memberPath), ":");
      write(record[key], memberPath, out, seen);
    }
    out.push("}");
  }
  seen.delete(value);
}

// In a `u` regexp a surrogate pair is one code point, so \p{Cs} matches only unpaired halves.
const LONE_SURROGATE = /\p{Cs}/u;

function encodeString(value: string, path: string): string {
  if (LONE_SURROGATE.test(value)) throw reject(path, "a string with a lone surrogate");
  return JSON.stringify(value);
}

function reject(path: string, what: string): BaseError {
  return new BaseError("invalid", `value is not canonical JSON: found ${what}`, { expression: path });
}
