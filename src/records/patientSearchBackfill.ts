/**
 * Indexes for search the Patients a database held before Patient search existed (migration 020
 * marks such a database), at the node's start and before it serves: each current Patient is
 * decrypted, and its blinded name, identifier, gender and birth date rows are written
 * (searchTokens.ts). An erased patient's Patient cannot be opened and stays unindexed, as erasure
 * leaves it. Running twice, or in two processes at once, writes the same rows; a Patient
 * updated meanwhile keeps the rows its new version wrote.
 */
import type { PatientKeyring } from "../crypto/patientKeys.js";
import type { Store } from "../store/database.js";
import { getMeta } from "../store/meta.js";
import { PATIENT_SEARCH_META } from "../store/migrations/020_patient_search_index.js";
import { RecordRows } from "../store/recordRows.js";
import type { BlindIndex } from "./blindIndex.js";
import { RecordVault, keyIdOf } from "./recordVault.js";
import { extractIndex } from "./searchIndex.js";
import { patientTokenRows } from "./searchTokens.js";

const PATIENT_PARAMS = ["name", "identifier", "gender", "birthdate"];
const CHUNK = 200;

/**
 * Writes the Patient search rows of every current Patient when the database is marked.
 * @returns how many Patients were indexed by this call
 */
export async function indexPatientsForSearch(
  store: Store,
  keyring: PatientKeyring,
  blind: BlindIndex,
): Promise<number> {
  if ((await getMeta(store.db, PATIENT_SEARCH_META)) === undefined) return 0;
  const rows = new RecordRows(store);
  const vault = new RecordVault(rows, keyring);
  const current = await store.db
    .selectFrom("resources")
    .select(["type", "id", "version_id", "patient_id"])
    .where("type", "=", "Patient")
    .where("deleted", "=", 0)
    .execute();
  let indexed = 0;
  for (let i = 0; i < current.length; i += CHUNK) {
    const chunk = current.slice(i, i + CHUNK);
    const versions = await rows.versionsAt(chunk);
    for (const c of chunk) {
      const row = versions.get(`Patient/${c.id}`);
      if (!row || (await keyring.isErased(keyIdOf(c.patient_id)))) continue;
      const resource = await vault.open(row);
      const tokens = extractIndex(resource)
        .filter((r) => PATIENT_PARAMS.includes(r.param))
        .flatMap((r) =>
          patientTokenRows(
            blind,
            { type: "Patient", id: c.id, param: r.param, token: null, start_ms: null, end_ms: null },
            r,
          ),
        );
      await store.db.transaction().execute(async (tx) => {
        // a newer version written meanwhile has written its own rows
        const now = await tx
          .selectFrom("resources")
          .select("version_id")
          .where("type", "=", "Patient")
          .where("id", "=", c.id)
          .executeTakeFirst();
        if (now?.version_id !== c.version_id) return;
        await tx
          .deleteFrom("search_tokens")
          .where("type", "=", "Patient")
          .where("id", "=", c.id)
          .where("param", "in", PATIENT_PARAMS)
          .execute();
        for (let j = 0; j < tokens.length; j += CHUNK)
          await tx
            .insertInto("search_tokens")
            .values(tokens.slice(j, j + CHUNK))
            .execute();
      });
      indexed++;
    }
  }
  await store.db.deleteFrom("meta").where("key", "=", PATIENT_SEARCH_META).execute();
  return indexed;
}
