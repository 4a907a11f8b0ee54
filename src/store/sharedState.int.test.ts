import { afterEach, describe, expect, it } from "vitest";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import type { Hex } from "viem";
import { BreakGlassSessions } from "../consent/breakGlass.js";
import { followGrants, loadGrantIndex, markRevoked, saveTerms } from "../consent/grantStore.js";
import { PatientNotifications } from "../consent/notifications.js";
import { PatientSettingsStore } from "../consent/patientSettings.js";
import type { Grant } from "../model/consentTypes.js";
import { PatientLinks } from "../records/patientLinks.js";
import { engines, freshStore, type TestStore } from "../../test/support/stores.js";
import { openStore, type Store } from "./database.js";
import { SharedState } from "./sharedState.js";

/**
 * Two processes on one database, as two stores: what one changes, the other's memory follows at
 * its next recheck (and not before: each test shows the stale answer first).
 */
describe.each(engines)("state shared between processes (%s)", (engine) => {
  let t: TestStore;
  let other: Store;
  const patient = privateKeyToAccount(generatePrivateKey()).address;
  const medic = privateKeyToAccount(generatePrivateKey());

  const open = async () => {
    t = await freshStore(engine);
    other = await openStore({ ...t.location, migrate: false });
  };
  afterEach(async () => {
    await other?.close();
    await t?.dispose();
  });

  it("applies a grant and its revocation stored by another process", async () => {
    await open();
    const state = new SharedState(other.db);
    await state.init();
    const index = await loadGrantIndex(other.db);
    followGrants(state, other.db, index);
    const grant: Grant = {
      grantId: `0x${"ab".repeat(32)}` as Hex,
      patient,
      granteeKind: "practitioner",
      grantee: `0x${"0".repeat(24)}${medic.address.slice(2).toLowerCase()}` as Hex,
      role: `0x${"0".repeat(64)}` as Hex,
      categories: 1,
      purposes: 1,
      actions: 1,
      notBefore: 0,
      notAfter: 2_000_000_000,
      salt: `0x${"cd".repeat(32)}` as Hex,
    };
    const saveGrant = () =>
      saveTerms(t.store.db, { grant, signature: `0x${"5a".repeat(65)}` }, { confirmedAt: 1000 });
    expect(await saveGrant()).toBe(true);
    expect(index.get(grant.grantId)).toBeUndefined();
    expect(await state.refresh()).toBe(true);
    expect(index.get(grant.grantId)?.revokedAt).toBeUndefined();
    expect(await markRevoked(t.store.db, grant.grantId, 1234)).toBe(true);
    expect(await state.refresh()).toBe(true);
    expect(index.get(grant.grantId)?.revokedAt).toBe(1234);
    // a repeated delivery changes nothing, so no version moves
    expect(await saveGrant()).toBe(false);
    expect(await state.refresh()).toBe(false);
  });

  it("drops a cached 'no account' when another process links the Patient", async () => {
    await open();
    const state = new SharedState(other.db);
    await state.init();
    const here = new PatientLinks(other);
    here.follow(state);
    expect(await here.accountOf("p-1")).toBeUndefined();
    await new PatientLinks(t.store).link("p-1", patient);
    expect(await here.accountOf("p-1")).toBeUndefined();
    await state.refresh();
    expect((await here.accountOf("p-1"))?.toLowerCase()).toBe(patient.toLowerCase());
  });

  it("honours a break-glass session opened by another process, and the patient's withdrawal", async () => {
    await open();
    const sessionsOf = (store: Store, state?: SharedState) =>
      new BreakGlassSessions({
        db: store.db,
        settings: new PatientSettingsStore(store.db, state),
        notifications: new PatientNotifications(store.db),
      });
    const state = new SharedState(other.db);
    await state.init();
    const here = sessionsOf(other, state);
    here.follow(state);
    await here.reload();
    const there = sessionsOf(t.store);
    await new PatientSettingsStore(t.store.db).save(patient, {
      breakGlassAllowed: true,
      notify: { breakGlass: true, denials: true, reads: false },
    });
    const principal = { account: medic.address, kind: "practitioner", purpose: "ETREAT", requestId: "r1" };
    await there.open(principal as never, patient, "unconscious");
    expect(there.active(medic.address, patient)?.allowedByPatient).toBe(true);
    expect(here.active(medic.address, patient)).toBeUndefined();
    await state.refresh();
    expect(here.active(medic.address, patient)).toMatchObject({
      allowedByPatient: true,
      reason: "unconscious",
    });

    await new PatientSettingsStore(t.store.db).save(patient, {
      breakGlassAllowed: false,
      notify: { breakGlass: true, denials: true, reads: false },
    });
    await state.refresh();
    expect(here.active(medic.address, patient)?.allowedByPatient).toBe(false);

    // erasure through the other process: the reason is gone from the database and the session ends
    await there.forgetPatient(patient);
    await state.refresh();
    expect(here.active(medic.address, patient)).toBeUndefined();
    const rows = await t.store.db.selectFrom("break_glass_sessions").select("reason").execute();
    expect(rows.map((r) => r.reason)).toEqual([""]);
  });
});
