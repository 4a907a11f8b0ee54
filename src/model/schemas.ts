import type { Address, Hex } from "viem";
import { z } from "zod";
import { CATEGORIES, PURPOSES } from "./vocabulary.js";

/**
 * The zod schemas every room validates recurring values with, at the HTTP edge, in the CLI, in
 * configuration and in files: one definition each, so a rule and its message change in one place.
 * Messages name the rule, never the value.
 */

/** A 0x-prefixed 20-byte account or contract address (either case; not checksum-verified). */
export const ADDRESS_PATTERN = /^0x[0-9a-fA-F]{40}$/;
/** A 0x-prefixed 32-byte value (either case). */
export const BYTES32_PATTERN = /^0x[0-9a-fA-F]{64}$/;

/** A 0x-prefixed 20-byte address. */
export const address = z
  .string()
  .regex(ADDRESS_PATTERN, "must be a 0x-prefixed 20-byte address")
  .transform((v) => v as Address);

/** A 0x-prefixed 32-byte value (organization ids, grant ids, hashes). */
export const bytes32 = z
  .string()
  .regex(BYTES32_PATTERN, "must be a 0x-prefixed bytes32")
  .transform((v) => v as Hex);

/**
 * Exactly `bytes` bytes of 0x-prefixed hex.
 * @param bytes - Length in bytes.
 * @param what - What the value is, for the message ("a 32-byte private key").
 */
export function hexBytes(bytes: number, what = `${bytes} bytes of 0x-prefixed hex`) {
  return z
    .string()
    .regex(new RegExp(`^0x[0-9a-fA-F]{${bytes * 2}}$`), `must be ${what}`)
    .transform((v) => v as Hex);
}

/** A signature: 0x-prefixed hex of whole bytes, at most 4 KiB (ECDSA, or an EIP-1271 wallet's). */
export const signatureHex = z
  .string()
  .regex(/^0x([0-9a-fA-F]{2}){1,4096}$/, "must be a 0x-prefixed hex signature")
  .transform((v) => v as Hex);

/** An http(s) URL a node may call (webhooks, peers), at most 2,000 characters. */
export const httpUrl = z
  .url({ protocol: /^https?$/, error: "must be an http(s) URL" })
  .max(2000, "must be at most 2000 characters");

/** A FHIR resource id (https://hl7.org/fhir/R4/datatypes.html#id). */
export const fhirId = z.string().regex(/^[A-Za-z0-9\-.]{1,64}$/, "must be a FHIR id");

/** The shape of a FHIR resource type name; whether this node serves it is checked apart. */
export const fhirResourceType = z.string().regex(/^[A-Z][A-Za-z]{1,63}$/, "must be a FHIR resource type");

/** An HL7 purpose of use (http://terminology.hl7.org/CodeSystem/v3-ActReason). */
export const purposeOfUse = z.enum(PURPOSES, { error: () => `must be one of ${PURPOSES.join(", ")}` });

/** One or more data categories, each at most once in meaning (a list the size of the vocabulary at most). */
export const categoryList = z.array(z.enum(CATEGORIES)).min(1).max(CATEGORIES.length);
