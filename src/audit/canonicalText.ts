/**
 * The canonical text of an audit entry on the append hot path: RFC 8785 (JCS) written by hand for
 * the validated entry shape, byte-identical to `encodeAuditEntry`.
 */
import { encodeAuditEntry, isProcessMarker, storedEntry, type AuditEntry } from "./auditEntry.js";

const SURROGATE = /[\uD800-\uDFFF]/;

/**
 * The canonical text of an entry as stored: {@link canonicalParts} joined.
 * @param prev - the patient chain link, when the entry has one
 * @param commitment - undefined: the version 1 text; otherwise the version 2 text (see `canonicalParts`)
 */
export function canonicalText(e: AuditEntry, prev?: number, commitment?: string | null): string {
  const parts: string[] = [];
  canonicalParts(parts, e, prev, commitment);
  return parts.join("");
}

/**
 * `encodeAuditEntry` (RFC 8785) of the entry as stored, specialised to the validated entry shape,
 * for the append hot path, written as pieces pushed onto `out`: a batch joins the pieces of all
 * its entries at once (src/audit/entryBatch.ts), so no entry's text is built or flattened on its
 * own. The keys are written in JCS order (UTF-16 code units) and every value is a string, a
 * string array or a small integer. Only for entries the schema accepted (`certainlyValidEntry`
 * or `parseAuditEntry`): every value but the free-text `reason` is then written as it is (the
 * schema allows no character JSON escapes there), and `reason` goes through `JSON.stringify`,
 * whose output is JCS's for strings. Byte-identical to `encodeAuditEntry` (a property test and the
 * benches check); a reason with a surrogate takes the general path, which refuses lone surrogates.
 * https://www.rfc-editor.org/rfc/rfc8785
 * @param out - where the pieces go
 * @param prev - the patient chain link, when the entry has one
 * @param commitment - undefined: the version 1 text of the entry as given; otherwise the version 2
 *   text (`storedEntry`): an entry about a patient without its categories and its non-marker
 *   reason, with `commitment` when it is a string (null: nothing was taken out)
 * @returns the text's length (UTF-16 code units)
 */
export function canonicalParts(
  out: string[],
  e: AuditEntry,
  prev?: number,
  commitment?: string | null,
): number {
  const v2 = commitment !== undefined;
  if (e.reason !== undefined && SURROGATE.test(e.reason)) {
    const text = v2
      ? encodeAuditEntry(storedEntry(e, prev, commitment))
      : encodeAuditEntry(prev === undefined ? e : { ...e, prev });
    out.push(text);
    return text.length;
  }
  const start = out.length;
  const sealed = v2 && e.patient !== undefined;
  const a = e.actor;
  out.push('{"action":"', e.action, '","actor":{"account":"', a.account);
  if (a.organization !== undefined) out.push('","organization":"', a.organization);
  if (a.role !== undefined) out.push('","role":"', a.role);
  out.push('"}');
  if (e.categories !== undefined && !sealed) strings(out, ',"categories":', e.categories);
  if (typeof commitment === "string") out.push(',"commitment":"', commitment, '"');
  out.push(',"decision":"', e.decision, '"');
  if (e.node !== undefined) out.push(',"node":"', e.node, '"');
  if (e.patient !== undefined) out.push(',"patient":"', e.patient, '"');
  if (prev !== undefined) out.push(',"prev":', String(prev));
  if (e.purpose !== undefined) out.push(',"purpose":"', e.purpose, '"');
  if (e.reason !== undefined && (!sealed || isProcessMarker(e.reason)))
    out.push(',"reason":', JSON.stringify(e.reason));
  out.push(',"requestId":"', e.requestId, '"');
  if (e.resources !== undefined) strings(out, ',"resources":', e.resources);
  out.push(',"time":"', e.time, v2 ? '","v":2}' : '","v":1}');
  let length = 0;
  for (let i = start; i < out.length; i++) length += (out[i] as string).length;
  return length;
}

/** A key and a string array whose members need no escaping. */
function strings(out: string[], key: string, xs: readonly string[]): void {
  if (xs.length === 0) out.push(key, "[]");
  else out.push(key, '["', xs.join('","'), '"]');
}
