/**
 * Patient search by name at 100k patients (issue 14 target: p50 <= 5 ms), on the records
 * repository in process (SQLite in a temp dir, no HTTP): a hospital physician's
 * `Patient?name=<family>` over the blinded name index, consent decision on every candidate,
 * decryption of the page, audit entries before it returns; beside it, in the same run and
 * interleaved, `Patient?_id=<id>` (a primary-key lookup, same gate, decryption and audit), the
 * comparison.
 *
 * The world: `SEARCHED` patients share the searched family name and are written through the
 * repository (encrypted, indexed, audited, as an import writes them); the other 100k are index
 * rows only (the `resources` row and every blinded search row a Patient of that shape writes,
 * made by the same code, `extractIndex` + `patientTokenRows`), inserted in bulk: writing 100k
 * encrypted, audited Patients through the API would take the bench's whole time limit, and a
 * search only ever opens its matches. Names come from a syllable generator (none starts with the
 * searched name), so the index has 100k patients' worth of shared short prefixes.
 * Run: `npx tsx bench/patientSearch.ts [--quick]`. Timings are reported, never asserted.
 */
import type { Insertable } from "kysely";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getAddress, type Address, type Hex } from "viem";
import { AuditLog } from "../src/audit/auditLog.js";
import { Auditor } from "../src/audit/auditor.js";
import { ConsentGate } from "../src/consent/consentGate.js";
import { loadGrantIndex } from "../src/consent/grantStore.js";
import { loadOrCreateLocalKeyProvider } from "../src/crypto/keyProvider.js";
import { PatientKeyring } from "../src/crypto/patientKeys.js";
import { EventBus } from "../src/events/eventBus.js";
import { systemPrincipal, type Principal } from "../src/model/principal.js";
import { BlindIndex } from "../src/records/blindIndex.js";
import { RecordRepository } from "../src/records/repository.js";
import { extractIndex } from "../src/records/searchIndex.js";
import { patientTokenRows } from "../src/records/searchTokens.js";
import { openStore } from "../src/store/database.js";
import type { ResourceTable, SearchTokenTable } from "../src/store/schema.js";
import { isMain, latencySummary, load, round, runAsScript, type BenchOptions } from "./support/report.js";

const ORG = `0x${"0c".repeat(32)}` as Hex;
const SEARCHED = 10;
const FAMILY = "Quispewaman";
const SYLLABLES = [
  "an",
  "be",
  "ca",
  "do",
  "el",
  "fi",
  "ga",
  "ho",
  "in",
  "ju",
  "ka",
  "lo",
  "ma",
  "ne",
  "or",
  "pe",
  "ri",
  "sa",
  "tu",
  "vi",
  "wo",
  "ya",
  "ze",
];

/** Deterministic PRNG (mulberry32). */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export async function runPatientSearchBench({ quick }: BenchOptions): Promise<object> {
  const patients = quick ? 10_000 : 100_000;
  const rounds = quick ? 100 : 400;
  const dir = mkdtempSync(join(tmpdir(), "carechain-bench-psearch-"));
  const store = await openStore({ sqlitePath: join(dir, "node.db") });
  try {
    const keyring = new PatientKeyring(store, loadOrCreateLocalKeyProvider(join(dir, "master-key")));
    const auditor = new Auditor(await AuditLog.open(store), getAddress(`0x${"a0".repeat(20)}`) as Address);
    const blind = new BlindIndex(new Uint8Array(32).fill(5));
    const records = new RecordRepository({
      store,
      keyring,
      gate: new ConsentGate(await loadGrantIndex(store.db), { active: () => undefined }),
      auditor,
      blind,
      events: new EventBus(),
      organizationId: ORG,
    });
    const job = systemPrincipal("bench-patient-search");
    const doctor: Principal = {
      ...job,
      account: getAddress(`0x${"d0".repeat(20)}`) as Address,
      kind: "practitioner",
      organization: ORG,
      role: "physician",
      purpose: "TREAT",
      authenticatedBy: "siwe-session",
    };
    const random = prng(42);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;
    const word = (n: number) => {
      let w = "";
      for (let i = 0; i < n; i++) w += pick(SYLLABLES);
      return w.charAt(0).toUpperCase() + w.slice(1);
    };
    const patientOf = (id: string, family: string) => ({
      resourceType: "Patient",
      id,
      name: [{ family, given: [word(2 + Math.floor(random() * 2))] }],
      gender: pick(["female", "male"]),
      birthDate: `${1930 + Math.floor(random() * 90)}-0${1 + Math.floor(random() * 9)}-1${Math.floor(random() * 9)}`,
      identifier: [{ system: "http://hospital.example/mrn", value: `MRN-${id}` }],
    });

    const built = performance.now();
    const searchedIds: string[] = [];
    for (let i = 0; i < SEARCHED; i++) {
      const id = `searched-${i}`;
      searchedIds.push(id);
      await records.create(job, patientOf(id, FAMILY));
    }
    const now = Date.now();
    let rows = 0;
    for (let start = 0; start < patients; start += 1000) {
      const resources: Insertable<ResourceTable>[] = [];
      const tokens: Insertable<SearchTokenTable>[] = [];
      for (let i = start; i < Math.min(patients, start + 1000); i++) {
        const id = `filler-${i}`;
        const patient = {
          ...patientOf(id, word(2 + Math.floor(random() * 3))),
          meta: { lastUpdated: new Date(now).toISOString() },
        };
        resources.push({
          type: "Patient",
          id,
          version_id: 1,
          patient_id: id,
          categories: Math.floor(random() * 2 ** 31),
          author_org: ORG,
          last_updated: now - i,
          deleted: 0,
          sort_date: null,
        });
        for (const row of extractIndex(patient)) {
          const base = {
            type: "Patient",
            id,
            param: row.param as string,
            token: null,
            start_ms: null,
            end_ms: null,
          };
          if (row.param === "_id" || row.param === "_lastUpdated") continue;
          tokens.push(...patientTokenRows(blind, base, row));
        }
      }
      rows += tokens.length;
      await store.db.transaction().execute(async (tx) => {
        await tx.insertInto("resources").values(resources).execute();
        for (let j = 0; j < tokens.length; j += 4000)
          await tx
            .insertInto("search_tokens")
            .values(tokens.slice(j, j + 4000))
            .execute();
      });
    }
    const buildSeconds = round((performance.now() - built) / 1000, 1);

    const byName = async () => {
      const t0 = performance.now();
      const bundle = (await records.search(doctor, "Patient", { name: FAMILY.slice(0, 7) })) as {
        total?: number;
      };
      const ms = performance.now() - t0;
      if (bundle.total !== SEARCHED) throw new Error(`name search found ${bundle.total}, not ${SEARCHED}`);
      return ms;
    };
    const byId = async (i: number) => {
      const t0 = performance.now();
      const bundle = (await records.search(doctor, "Patient", { _id: searchedIds[i % SEARCHED] ?? "" })) as {
        total?: number;
      };
      const ms = performance.now() - t0;
      if (bundle.total !== 1) throw new Error("_id search found no patient");
      return ms;
    };
    const byOneName = async (i: number) => {
      const t0 = performance.now();
      const bundle = (await records.search(doctor, "Patient", {
        name: FAMILY,
        identifier: `MRN-${searchedIds[i % SEARCHED] ?? ""}`,
      })) as { total?: number };
      const ms = performance.now() - t0;
      if (bundle.total !== 1) throw new Error("name+identifier search found no patient");
      return ms;
    };
    for (let i = 0; i < 30; i++) {
      await byName();
      await byId(i);
      await byOneName(i);
    }
    const name: number[] = [];
    const id: number[] = [];
    const one: number[] = [];
    const loadBefore = load();
    for (let i = 0; i < rounds; i++) {
      // interleaved, alternating which goes first, so a slow stretch of a shared machine hits all
      if (i % 2 === 0) {
        name.push(await byName());
        id.push(await byId(i));
        one.push(await byOneName(i));
      } else {
        one.push(await byOneName(i));
        id.push(await byId(i));
        name.push(await byName());
      }
    }
    return {
      patients,
      searchIndexRows: rows,
      matchesPerNameSearch: SEARCHED,
      buildSeconds,
      loadBefore,
      loadAfter: load(),
      "Patient?name=<7-char prefix> (10 matches)": latencySummary(name),
      "Patient?name=<family>&identifier=<mrn> (1 match)": latencySummary(one),
      "Patient?_id=<id> (1 match, comparison)": latencySummary(id),
      targetP50Ms: 5,
    };
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (isMain(import.meta.url)) await runAsScript(runPatientSearchBench);
