/**
 * The canonical text of an audit entry on the append hot path: RFC 8785 (JCS) written by hand for
 * the validated entry shape, byte-identical to `encodeAuditEntry`.
 */
import { encodeAuditEntry, isProcessMarker, storedEntry, type AuditEntry } from "./auditEntry.js";

const SURROGATE = /[\uD800-\uDFFF]/;
/**
 * A value the schema constrained to characters JSON never escapes (addresses, opaque ids,
 * references, enum members, ISO times; src/audit/auditEntry.ts), quoted without `JSON.stringify`,
 * which costs about 0.2 us per call.
 */
const q = (s: string): string => `"${s}"`;
const quoted = (xs: readonly string[]): string => (xs.length === 0 ? "[]" : `["${xs.join('","')}"]`);

/**
 * `encodeAuditEntry` (RFC 8785) of the entry as stored, specialised to the validated entry shape,
 * for the append hot path: the keys are written in JCS order (UTF-16 code units) and every value
 * is a string, a string array or a small integer. Only for entries the schema accepted
 * (`certainlyValidEntry` or `parseAuditEntry`): every value but the free-text `reason` is then
 * quoted as it is, and `reason` goes through `JSON.stringify`, whose output is JCS's for strings.
 * Byte-identical to `encodeAuditEntry` (a property test and the benches check); a reason with a
 * surrogate takes the general path, which refuses lone surrogates.
 * https://www.rfc-editor.org/rfc/rfc8785
 * @param prev - the patient chain link, when the entry has one
 * @param commitment - undefined: the version 1 text of the entry as given; otherwise the version 2
 *   text (`storedEntry`): an entry about a patient without its categories and its non-marker
 *   reason, with `commitment` when it is a string (null: nothing was taken out)
 */
export function canonicalText(e: AuditEntry, prev?: number, commitment?: string | null): string {
  const v2 = commitment !== undefined;
  if (e.reason !== undefined && SURROGATE.test(e.reason)) {
    if (v2) return encodeAuditEntry(storedEntry(e, prev, commitment));
    return encodeAuditEntry(prev === undefined ? e : { ...e, prev });
  }
  const sealed = v2 && e.patient !== undefined;
  const a = e.actor;
  let t = `{"action":${q(e.action)},"actor":{"account":${q(a.account)}`;
  if (a.organization !== undefined) t += `,"organization":${q(a.organization)}`;
  if (a.role !== undefined) t += `,"role":${q(a.role)}`;
  t += "}";
  if (e.categories !== undefined && !sealed) t += `,"categories":${quoted(e.categories)}`;
  if (typeof commitment === "string") t += `,"commitment":${q(commitment)}`;
  t += `,"decision":${q(e.decision)}`;
  if (e.node !== undefined) t += `,"node":${q(e.node)}`;
  if (e.patient !== undefined) t += `,"patient":${q(e.patient)}`;
  if (prev !== undefined) t += `,"prev":${prev}`;
  if (e.purpose !== undefined) t += `,"purpose":${q(e.purpose)}`;
  if (e.reason !== undefined && (!sealed || isProcessMarker(e.reason)))
    t += `,"reason":${JSON.stringify(e.reason)}`;
  t += `,"requestId":${q(e.requestId)}`;
  if (e.resources !== undefined) t += `,"resources":${quoted(e.resources)}`;
  return `${t},"time":${q(e.time)},"v":${v2 ? 2 : 1}}`;
}
