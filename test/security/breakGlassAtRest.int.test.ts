import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decryptRecord } from "../../src/crypto/envelope.js";
import { engines } from "../support/stores.js";
import { startAttackNode, type AttackNode } from "./attackNode.js";

const REASON = "overdose suspected, on antiretrovirals";

/**
 * Issue 13 item 9: the break-glass reason, which often names the patient's condition, was stored in
 * clear, readable in any copy of the database until the patient erased their record. Now it is
 * sealed under a key of the patient's account, and erasure shreds that key.
 */
describe.each(engines)("a break-glass reason at rest (%s)", (engine) => {
  let n: AttackNode;
  beforeAll(async () => {
    n = await startAttackNode(engine, "bgr");
  }, 120_000);
  afterAll(async () => n?.dispose());

  const stored = async () =>
    n.node.context.store.db
      .selectFrom("break_glass_sessions")
      .select(["reason", "started_at", "patient"])
      .where("patient", "=", n.p1.account.address.toLowerCase())
      .execute();

  it("is not in the database in clear, still serves the emergency, and dies with the patient's key", async () => {
    const patient = await n.as(n.p1.account);
    expect((await patient.send("PUT", "/patients/me/settings", { breakGlassAllowed: true })).status).toBe(
      200,
    );
    const gp = await n.as(n.gp);
    const opened = await gp.send(
      "POST",
      "/break-glass",
      { patient: n.p1.account.address, reason: REASON },
      "ETREAT",
    );
    expect(opened.status).toBe(201);

    // the operator's copy of the database: no word of the reason
    const [row] = await stored();
    expect(row?.reason).toMatch(/^sealed:v1:/);
    for (const word of REASON.split(/[ ,]+/)) expect(row?.reason).not.toContain(word);

    // the session works: the decision needs the (unsealed) reason
    expect((await gp.get(`/fhir/Condition/${n.p1.plain}`, "ETREAT")).status).toBe(200);

    // and the patient's own node unseals it for the record: it is the reason given
    const keyring = n.node.services.keyring;
    const blob = Buffer.from(row!.reason.slice("sealed:v1:".length), "base64");
    const aad = `break-glass/${row!.patient}/${Number(row!.started_at)}`;
    expect(Buffer.from(await decryptRecord(keyring, row!.patient, blob, aad)).toString("utf8")).toBe(REASON);

    // erasure: the row is blanked, and the sealed copy (say, in a backup) cannot be opened any more
    expect((await patient.send("POST", `/fhir/Patient/${n.p1.id}/$erase`, {})).status).toBe(200);
    expect((await stored()).map((r) => r.reason)).toEqual([""]);
    await expect(decryptRecord(keyring, row!.patient, blob, aad)).rejects.toThrow(/erased/);
    expect((await gp.get(`/fhir/Condition/${n.p1.plain}`, "ETREAT")).status).toBe(404);
  });
});
