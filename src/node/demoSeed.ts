import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { keccak256, toHex, type Address } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { systemPrincipal } from "../model/principal.js";
import { ParticipantAdmin } from "../chain/participantAdmin.js";
import { buildGrantMessage, signGrant, signedGrantToJson } from "../consent/signConsent.js";
import { getMeta, setMeta } from "../store/meta.js";
import type { NodeContext } from "./startNode.js";
import type { Services } from "./services.js";

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "test", "fixtures", "synthea");

/** One demo identity, with its key: for trying the system on a laptop only. */
interface DemoAccount {
  role: string;
  address: Address;
  privateKey: `0x${string}`;
  patientId?: string | undefined;
}

/**
 * Seeds a first-run demo so a newcomer has something to look at: a GP clinic and a hospital
 * physician registered on the ledger, synthetic Synthea patients imported (encrypted, indexed),
 * and a patient-signed consent letting the GP read labs and medications. The demo accounts and
 * their keys are written to `<data>/demo-accounts.json` (mode 0600). Runs once per data dir.
 */
export async function seedDemo(ctx: NodeContext, services: Services): Promise<string | undefined> {
  if (await getMeta(ctx.store.db, "demo.seeded")) return undefined;
  if (!existsSync(FIXTURES)) return undefined;
  const admin = new ParticipantAdmin(ctx.outbox);
  const account = (role: string): DemoAccount => {
    const privateKey = generatePrivateKey();
    return { role, address: privateKeyToAccount(privateKey).address, privateKey };
  };
  const gp = account("GP (physician at Demo GP Clinic)");
  const physician = account("hospital physician");
  const clinic = keccak256(toHex(`demo-gp-clinic:${ctx.key.account.address}`));

  await ctx.outbox.waitFor(`register-organization:${ctx.organizationId}`, 30_000);
  const clinicNode = privateKeyToAccount(generatePrivateKey()).address;
  await ctx.outbox.waitFor(
    (
      await admin.registerOrganization({
        id: clinic,
        name: "Demo GP Clinic",
        kind: "clinic",
        endpoint: "http://127.0.0.1:0",
        node: clinicNode,
      })
    ).id,
    30_000,
  );
  const last = await Promise.all([
    admin.addPractitioner(clinic, gp.address, "physician"),
    admin.addPractitioner(ctx.organizationId, physician.address, "physician"),
  ]);
  let block = 0;
  for (const intent of last)
    block = Math.max(block, (await ctx.outbox.waitFor(intent.id, 30_000)).block_number ?? 0);
  await ctx.indexer.waitForBlock(BigInt(block), 10_000);

  const patients: DemoAccount[] = [];
  for (const file of readdirSync(FIXTURES)
    .filter((f) => f.endsWith(".json"))
    .sort()) {
    const bundle = JSON.parse(readFileSync(join(FIXTURES, file), "utf8")) as {
      entry: Array<{ resource: { resourceType: string; id: string } }>;
    };
    const patient = account("patient");
    patient.patientId = bundle.entry.find((e) => e.resource.resourceType === "Patient")?.resource.id;
    await services.records.importBundle(systemPrincipal("demo-seed"), bundle, {
      patientAccount: patient.address,
    });
    patients.push(patient);
  }

  const first = patients[0];
  if (first) {
    const signer = privateKeyToAccount(first.privateKey);
    const message = buildGrantMessage({
      patient: first.address,
      grantee: { kind: "practitioner", account: gp.address },
      categories: ["labs", "medications"],
      purposes: ["TREAT"],
      actions: ["read"],
      notBefore: Math.floor(Date.now() / 1000) - 60,
      notAfter: Math.floor(Date.now() / 1000) + 365 * 24 * 3600,
      nonce: await services.consents.nextNonce(first.address),
    });
    const submitted = await services.consents.submitGrant(
      signedGrantToJson(message, await signGrant(signer, services.consents.domain, message)),
    );
    await ctx.outbox.waitFor(submitted.outboxId, 30_000);
  }

  const file = join(ctx.config.dataDir, "demo-accounts.json");
  writeFileSync(
    file,
    `${JSON.stringify({ note: "demo identities: never use these keys for real data", accounts: [gp, physician, ...patients] }, null, 2)}\n`,
    { mode: 0o600 },
  );
  await setMeta(ctx.store.db, "demo.seeded", new Date().toISOString());
  return file;
}
