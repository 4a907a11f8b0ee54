/**
 * The blind-index rows of the Patient search values (searchBlinded.ts says how each is blinded):
 * every row holds an HMAC in `token` and nothing in clear (`start_ms`/`end_ms` stay empty).
 */
import type { Insertable } from "kysely";
import type { SearchTokenTable } from "../store/schema.js";
import type { BlindIndex } from "./blindIndex.js";
import { birthdateInputs, namePrefixInputs, tokenInputs } from "./searchBlinded.js";
import type { IndexRow } from "./searchIndex.js";

/**
 * The blinded rows of one `name`, `identifier`, `gender` or `birthdate` index value.
 * @param base - the row's type, id and param, every value column empty
 * @returns no rows for other parameters
 */
export function patientTokenRows(
  blind: BlindIndex,
  base: Insertable<SearchTokenTable>,
  row: IndexRow,
): Insertable<SearchTokenTable>[] {
  let inputs: string[] = [];
  if (row.param === "name" && row.field && row.text) inputs = namePrefixInputs(row.field, row.text);
  else if (row.param === "identifier" || row.param === "gender")
    inputs = tokenInputs(row.param, row.system, row.code);
  else if (row.param === "birthdate" && row.value !== undefined) inputs = birthdateInputs(row.value);
  return inputs.map((input) => ({ ...base, token: blind.token(input) }));
}
