import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { keccak256, toHex, type Hex, type LocalAccount } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import type { LoggedAuditEntry } from "../../src/audit/auditEntry.js";
import { loadConfig } from "../../src/config/config.js";
import { createLogger } from "../../src/node/logger.js";
import { startNode, type RunningNode } from "../../src/node/startNode.js";
import { registerParticipants } from "../support/participants.js";
import { signIn, type Session } from "../support/session.js";
import { freshDatabase, type FreshDatabase } from "../support/stores.js";

/** SNOMED CT 86406008, HIV infection: a sexual-health (sensitive) condition. */
export const HIV = { system: "http://snomed.info/sct", code: "86406008" };
/** SNOMED CT 38341003, hypertension: an ordinary condition. */
export const HYPERTENSION = { system: "http://snomed.info/sct", code: "38341003" };

export function condition(id: string, patientId: string, code: { system: string; code: string }) {
  return {
    resourceType: "Condition",
    id,
    clinicalStatus: {
      coding: [{ system: "http://terminology.hl7.org/CodeSystem/condition-clinical", code: "active" }],
    },
    code: { coding: [code] },
    subject: { reference: `Patient/${patientId}` },
    recordedDate: "2024-03-01",
  };
}

/**
 * The cast of the attack tests, on one real node (anvil + SQLite or PostgreSQL): the hospital that
 * runs the node with a physician, a researcher and an admin; a GP clinic of the consortium with a
 * physician; two patients whose records the hospital imported (patient 1: an ordinary and an HIV
 * condition; patient 2: only their Patient resource).
 */
export interface AttackNode {
  node: RunningNode;
  url: string;
  clinic: Hex;
  p1: { account: LocalAccount; id: string; plain: string; hiv: string };
  p2: { account: LocalAccount; id: string };
  doc: LocalAccount;
  researcher: LocalAccount;
  admin: LocalAccount;
  gp: LocalAccount;
  /** Signs in as one of the cast. */
  as(account: LocalAccount): Promise<Session>;
  /** The node's audit entries about `patient` (an account), oldest first. */
  entriesAbout(patient: string): Promise<LoggedAuditEntry[]>;
  dispose(): Promise<void>;
}

export async function startAttackNode(engine: "sqlite" | "postgres", label: string): Promise<AttackNode> {
  const dir = mkdtempSync(join(tmpdir(), `carechain-${label}-`));
  let database: FreshDatabase | undefined;
  if (engine === "postgres") database = await freshDatabase();
  const node = await startNode(
    loadConfig({}, { dataDir: dir, port: 0, databaseUrl: database?.url, anchorIntervalMs: 60_000 }),
    { logger: createLogger("silent") },
  );
  const fresh = () => privateKeyToAccount(generatePrivateKey());
  const [doc, researcher, admin, gp] = [fresh(), fresh(), fresh(), fresh()];
  const clinic = keccak256(toHex(`clinic-${label}`));
  await registerParticipants(
    node,
    [{ id: clinic, name: "Elm Street GP" }],
    [
      { account: doc.address, role: "physician" },
      { account: researcher.address, role: "researcher" },
      { account: admin.address, role: "admin" },
      { organization: clinic, account: gp.address, role: "physician" },
    ],
  );
  const p1 = { account: fresh(), id: `p1-${label}`, plain: `plain-${label}`, hiv: `hiv-${label}` };
  const p2 = { account: fresh(), id: `p2-${label}` };
  const hospitalDoc = await signIn(node.url, doc);
  const importFor = async (account: LocalAccount, resources: object[]) => {
    const bundle = {
      resourceType: "Bundle",
      type: "transaction",
      entry: resources.map((resource) => {
        const r = resource as { resourceType: string; id: string };
        return { resource, request: { method: "PUT", url: `${r.resourceType}/${r.id}` } };
      }),
    };
    const res = await hospitalDoc.send("POST", "/fhir", bundle, undefined, {
      "x-patient-account": account.address,
    });
    if (res.status !== 200) throw new Error(`import failed: ${res.status} ${await res.text()}`);
  };
  await importFor(p1.account, [
    { resourceType: "Patient", id: p1.id, name: [{ family: "One" }], birthDate: "1961-04-12" },
    condition(p1.plain, p1.id, HYPERTENSION),
    condition(p1.hiv, p1.id, HIV),
  ]);
  await importFor(p2.account, [{ resourceType: "Patient", id: p2.id, name: [{ family: "Two" }] }]);
  return {
    node,
    url: node.url,
    clinic,
    p1,
    p2,
    doc,
    researcher,
    admin,
    gp,
    as: (account) => signIn(node.url, account),
    entriesAbout: async (patient) => {
      const { audit } = node.services;
      await audit.flush();
      // as the patient sees them: categories and reasons from the checked openings
      return (await audit.entries({ patient, limit: 1000 })).map((e) => e.opened);
    },
    dispose: async () => {
      await node.stop();
      rmSync(dir, { recursive: true, force: true });
      await database?.drop();
    },
  };
}
