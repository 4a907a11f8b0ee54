import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getAddress, type Address, type Hex } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuditLog } from "../audit/auditLog.js";
import { Auditor } from "../audit/auditor.js";
import { ConsentGate } from "../consent/consentGate.js";
import { loadGrantIndex } from "../consent/grantStore.js";
import { loadOrCreateLocalKeyProvider } from "../crypto/keyProvider.js";
import { PatientKeyring } from "../crypto/patientKeys.js";
import { EventBus } from "../events/eventBus.js";
import { systemPrincipal, type Principal } from "../model/principal.js";
import { getMeta, setMeta } from "../store/meta.js";
import { PATIENT_SEARCH_META } from "../store/migrations/020_patient_search_index.js";
import { engines, freshStore, storeBefore, type TestStore } from "../../test/support/stores.js";
import { BlindIndex } from "./blindIndex.js";
import { indexPatientsForSearch } from "./patientSearchBackfill.js";
import { RecordRepository } from "./repository.js";

const ORG = `0x${"0c".repeat(32)}` as Hex;

describe.each(engines)("Patients written before Patient search are indexed at start (%s)", (engine) => {
  let t: TestStore;
  let dir: string;
  let keyring: PatientKeyring;
  let records: RecordRepository;
  const blind = new BlindIndex(new Uint8Array(32).fill(3));
  const job = systemPrincipal("patient-search-backfill");
  const doctor: Principal = {
    ...job,
    account: getAddress(`0x${"d1".repeat(20)}`) as Address,
    kind: "practitioner",
    organization: ORG,
    role: "physician",
    purpose: "TREAT",
    authenticatedBy: "siwe-session",
  };
  const found = async (query: Record<string, string>) =>
    ((await records.search(doctor, "Patient", query)) as unknown as { total: number }).total;

  beforeAll(async () => {
    t = await freshStore(engine);
    dir = mkdtempSync(join(tmpdir(), "carechain-psb-"));
    keyring = new PatientKeyring(t.store, loadOrCreateLocalKeyProvider(join(dir, "master-key")));
    records = new RecordRepository({
      store: t.store,
      keyring,
      gate: new ConsentGate(await loadGrantIndex(t.store.db), { active: () => undefined }),
      auditor: new Auditor(await AuditLog.open(t.store), getAddress(`0x${"a0".repeat(20)}`) as Address),
      blind,
      events: new EventBus(),
      organizationId: ORG,
    });
  });
  afterAll(async () => {
    await t?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it("writes the rows an older version did not, once, and only while the database is marked", async () => {
    await records.create(job, {
      resourceType: "Patient",
      id: "old-1",
      name: [{ family: "Okonkwo", given: ["Adaeze"] }],
      birthDate: "1955-11-02",
      identifier: [{ system: "http://hospital.example/mrn", value: "M-77" }],
    });
    // as an older version left it: no Patient search rows, and migration 020's mark
    await t.store.db
      .deleteFrom("search_tokens")
      .where("id", "=", "old-1")
      .where("param", "in", ["name", "identifier", "gender", "birthdate"])
      .execute();
    await setMeta(t.store.db, PATIENT_SEARCH_META, "1");
    expect(await found({ name: "okon" })).toBe(0);

    expect(await indexPatientsForSearch(t.store, keyring, blind)).toBe(1);
    expect(await found({ name: "okon" })).toBe(1);
    expect(await found({ identifier: "M-77", birthdate: "1955-11" })).toBe(1);
    expect(await getMeta(t.store.db, PATIENT_SEARCH_META)).toBeUndefined();
    // unmarked: nothing to do
    expect(await indexPatientsForSearch(t.store, keyring, blind)).toBe(0);
  });

  it("migration 020 marks a database that holds Patients, and only such a one", async () => {
    for (const withPatient of [true, false]) {
      const before = await storeBefore(engine, "020_patient_search_index");
      try {
        if (withPatient)
          await before.store.db
            .insertInto("resources")
            .values({
              type: "Patient",
              id: "p",
              version_id: 1,
              patient_id: "p",
              categories: 0,
              author_org: ORG,
              last_updated: 1,
              deleted: 0,
              sort_date: null,
            })
            .execute();
        await before.rest();
        expect(await getMeta(before.store.db, PATIENT_SEARCH_META)).toBe(withPatient ? "1" : undefined);
      } finally {
        await before.dispose();
      }
    }
  });
});
