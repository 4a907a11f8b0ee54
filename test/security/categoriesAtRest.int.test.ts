import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getAddress, type Address, type Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuditLog } from "../../src/audit/auditLog.js";
import { contentHash } from "../../src/crypto/canonicalJson.js";
import { Auditor } from "../../src/audit/auditor.js";
import { ConsentGate } from "../../src/consent/consentGate.js";
import { loadGrantIndex } from "../../src/consent/grantStore.js";
import { loadOrCreateLocalKeyProvider } from "../../src/crypto/keyProvider.js";
import { PatientKeyring } from "../../src/crypto/patientKeys.js";
import { EventBus } from "../../src/events/eventBus.js";
import { systemPrincipal, type Principal } from "../../src/model/principal.js";
import { categoryMask } from "../../src/model/vocabulary.js";
import { BlindIndex } from "../../src/records/blindIndex.js";
import { MASK_KEY_LABEL, maskPad, unblindMask } from "../../src/records/blinding.js";
import { blindClearMasks } from "../../src/records/maskBlinding.js";
import { RecordRepository } from "../../src/records/repository.js";
import { setMeta } from "../../src/store/meta.js";
import { CLEAR_MASKS_META } from "../../src/store/migrations/016_category_masks_blinded.js";
import { engines, freshStore, type TestStore } from "../support/stores.js";

/**
 * Issue 13 item 9: whoever gets a copy of the database (a dump, a backup, the operator) reads the
 * category mask of every row, and with it which patients have mental-health, sexual-health,
 * substance-use or genomics data; the mask stays after the patient is erased. Acting as that
 * reader: the raw `resources` and `resource_versions` rows hold no mask in clear, equal masks do
 * not look equal, and after erasure nobody (the node included) can recover a mask.
 */
const ORG = `0x${"0c".repeat(32)}` as Hex;
const SNOMED = "http://snomed.info/sct";
const DEPRESSION = "35489007";
const HYPERTENSION = "38341003";
const CLEAR_SENSITIVE = categoryMask(["conditions", "mental-health"]);
const CLEAR_PLAIN = categoryMask(["conditions"]);

const condition = (id: string, code: string) => ({
  resourceType: "Condition",
  id,
  code: { coding: [{ system: SNOMED, code }] },
  subject: { reference: "Patient/car-p" },
  recordedDate: "2024-03-01",
});

describe.each(engines)("category masks at rest (%s)", (engine) => {
  let t: TestStore;
  let dir: string;
  let keyring: PatientKeyring;
  let records: RecordRepository;
  const patient = privateKeyToAccount(generatePrivateKey()).address;
  const job = systemPrincipal("categories-at-rest");
  const me: Principal = { ...job, account: patient, kind: "patient", purpose: "PATRQT" };
  const doctor: Principal = {
    ...job,
    account: privateKeyToAccount(generatePrivateKey()).address,
    kind: "practitioner",
    organization: ORG,
    role: "physician",
    purpose: "TREAT",
    authenticatedBy: "siwe-session",
  };

  /** What a copy of the database shows for `id`: the mask column of every row about it. */
  const dumped = async (id: string): Promise<number[]> => {
    const { db } = t.store;
    const versions = await db
      .selectFrom("resource_versions")
      .select("categories")
      .where("id", "=", id)
      .execute();
    const current = await db.selectFrom("resources").select("categories").where("id", "=", id).execute();
    return [...versions, ...current].map((r) => Number(r.categories));
  };

  /** The dump's content hash of the current version of `id`. */
  const dumpedHash = async (id: string): Promise<string> => {
    const rows = await t.store.db
      .selectFrom("resource_versions")
      .select(["content_hash", "version_id"])
      .where("id", "=", id)
      .orderBy("version_id", "desc")
      .execute();
    return rows[0]!.content_hash;
  };

  const open = async () => {
    keyring = new PatientKeyring(t.store, loadOrCreateLocalKeyProvider(join(dir, "master-key")));
    const auditor = new Auditor(await AuditLog.open(t.store), getAddress(`0x${"a0".repeat(20)}`) as Address);
    records = new RecordRepository({
      store: t.store,
      keyring,
      gate: new ConsentGate(await loadGrantIndex(t.store.db), { active: () => undefined }),
      auditor,
      blind: new BlindIndex(new Uint8Array(32).fill(9)),
      events: new EventBus(),
      organizationId: ORG,
    });
  };

  beforeAll(async () => {
    t = await freshStore(engine);
    dir = mkdtempSync(join(tmpdir(), "carechain-masks-"));
    await open();
    await records.importBundle(
      job,
      {
        resourceType: "Bundle",
        type: "transaction",
        entry: [
          {
            resource: { resourceType: "Patient", id: "car-p" },
            request: { method: "PUT", url: "Patient/car-p" },
          },
          {
            resource: condition("car-dep", DEPRESSION),
            request: { method: "PUT", url: "Condition/car-dep" },
          },
          {
            resource: condition("car-htn1", HYPERTENSION),
            request: { method: "PUT", url: "Condition/car-htn1" },
          },
          {
            resource: condition("car-htn2", HYPERTENSION),
            request: { method: "PUT", url: "Condition/car-htn2" },
          },
        ],
      },
      { patientAccount: patient },
    );
    // a second version of the sensitive condition: its history holds two masks
    await records.update(job, "Condition", "car-dep", {
      ...condition("car-dep", DEPRESSION),
      recordedDate: "2024-04-01",
    });
  }, 60_000);
  afterAll(async () => {
    await t?.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("stores no mask in clear, and equal masks do not look equal", async () => {
    const sensitive = await dumped("car-dep");
    expect(sensitive).toHaveLength(3);
    for (const stored of sensitive) expect(stored).not.toBe(CLEAR_SENSITIVE);
    expect(new Set(sensitive).size).toBe(2); // version 2 and the current row are one version
    const [a] = await dumped("car-htn1");
    const [b] = await dumped("car-htn2");
    expect(a).not.toBe(CLEAR_PLAIN);
    expect(b).not.toBe(CLEAR_PLAIN);
    expect(a).not.toBe(b);
    // only the patient's key opens them
    const key = await keyring.derivedKey("Patient/car-p", MASK_KEY_LABEL);
    expect(unblindMask(a!, maskPad(key, "Condition", "car-htn1", 1))).toBe(CLEAR_PLAIN);
    expect(unblindMask(sensitive[0]!, maskPad(key, "Condition", "car-dep", 1))).toBe(CLEAR_SENSITIVE);
  });

  it("stores no content hash against which a guess of the record can be confirmed", async () => {
    // the attacker's best guess is the record itself, exactly as stored
    const exact = await records.read(me, "Condition", "car-dep");
    expect(await dumpedHash("car-dep")).toMatch(/^0x[0-9a-f]{64}$/);
    expect(await dumpedHash("car-dep")).not.toBe(contentHash(exact));
  });

  it("still decides by the mask: the author's clinician reads the plain condition, not the sensitive one", async () => {
    expect((await records.read(doctor, "Condition", "car-htn1")).id).toBe("car-htn1");
    await expect(records.read(doctor, "Condition", "car-dep")).rejects.toThrow(/no Condition with this id/);
    await expect(records.vread(doctor, "Condition", "car-dep", 1)).rejects.toThrow(
      /no Condition with this id/,
    );
    const seen = await records.search(doctor, "Condition", {});
    expect(seen.total).toBe(2);
    expect((await records.search(me, "Condition", {})).total).toBe(3);
    const history = await records.history(me, "Condition", "car-dep");
    expect(history.total).toBe(2);
    // another node's fetch filtered to mental health finds exactly the sensitive one, for the patient
    const mental = await records.everythingForAccount(me, patient, categoryMask(["mental-health"]));
    expect((mental.entry as Array<{ resource: { id: string } }>).map((e) => e.resource.id)).toEqual([
      "car-dep",
    ]);
  });

  it("leaves nothing from which a mask can be recovered once the patient is erased", async () => {
    const before = await dumped("car-dep");
    await records.erasePatient(me, "car-p");
    // the rows stay (blinded, as they were); the key they were blinded under is gone
    expect(await dumped("car-dep")).toEqual(before);
    // and neither the clinical date nor the search index rows stay in clear
    const left = await t.store.db
      .selectFrom("resources")
      .select("sort_date")
      .where("patient_id", "=", "car-p")
      .execute();
    expect(left.length).toBe(4);
    for (const r of left) expect(r.sort_date).toBeNull();
    const tokens = await t.store.db
      .selectFrom("search_tokens")
      .select("id")
      .where("id", "in", ["car-dep", "car-htn1", "car-htn2"])
      .execute();
    expect(tokens).toEqual([]);
    const key = await t.store.db
      .selectFrom("patient_keys")
      .select(["wrapped_key", "erased_at"])
      .where("patient", "=", "Patient/car-p")
      .executeTakeFirstOrThrow();
    expect(key.wrapped_key).toBeNull();
    expect(key.erased_at).not.toBeNull();
    await expect(keyring.derivedKey("Patient/car-p", MASK_KEY_LABEL)).rejects.toThrow(/erased/);
    // nor in a fresh process holding the node's master key
    await open();
    await expect(keyring.derivedKey("Patient/car-p", MASK_KEY_LABEL)).rejects.toThrow(/erased/);
    await expect(records.read(me, "Condition", "car-dep")).rejects.toThrow(/no Condition with this id/);
  });

  it("blinds the masks a database from before held in clear, at the next start, once", async () => {
    await records.importBundle(
      job,
      {
        resourceType: "Bundle",
        type: "transaction",
        entry: [
          {
            resource: { resourceType: "Patient", id: "old-p" },
            request: { method: "PUT", url: "Patient/old-p" },
          },
          {
            resource: { ...condition("old-dep", DEPRESSION), subject: { reference: "Patient/old-p" } },
            request: { method: "PUT", url: "Condition/old-dep" },
          },
        ],
      },
      { patientAccount: privateKeyToAccount(generatePrivateKey()).address },
    );
    // as the code before blinding wrote them: masks in clear, and the migration's mark
    const { db } = t.store;
    for (const table of ["resources", "resource_versions"] as const) {
      await db.updateTable(table).set({ categories: CLEAR_SENSITIVE }).where("id", "=", "car-dep").execute();
      await db.updateTable(table).set({ categories: CLEAR_SENSITIVE }).where("id", "=", "old-dep").execute();
    }
    const exact = await records.read(job, "Condition", "old-dep");
    await db
      .updateTable("resource_versions")
      .set({ content_hash: contentHash(exact) })
      .where("id", "=", "old-dep")
      .execute();
    await setMeta(db, CLEAR_MASKS_META, "1");
    expect(await dumped("old-dep")).toEqual([CLEAR_SENSITIVE, CLEAR_SENSITIVE]);

    await open();
    expect(await blindClearMasks(t.store, keyring)).toBeGreaterThan(0);
    const blinded = await dumped("old-dep");
    for (const stored of blinded) expect(stored).not.toBe(CLEAR_SENSITIVE);
    expect(await dumpedHash("old-dep")).not.toBe(contentHash(exact));
    // the erased patient's rows get values nobody can open: their clear masks are gone too
    for (const stored of await dumped("car-dep")) expect(stored).not.toBe(CLEAR_SENSITIVE);
    // and the node still decides by them
    await open();
    await expect(records.read(doctor, "Condition", "old-dep")).rejects.toThrow(/no Condition with this id/);
    const key = await keyring.derivedKey("Patient/old-p", MASK_KEY_LABEL);
    expect(unblindMask(blinded[0]!, maskPad(key, "Condition", "old-dep", 1))).toBe(CLEAR_SENSITIVE);
    // once: a second start finds no mark and changes nothing
    expect(await blindClearMasks(t.store, keyring)).toBe(0);
    expect(await dumped("old-dep")).toEqual(blinded);
  });
});
