import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { concat, keccak256, toHex, type Address, type Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { systemPrincipal } from "../model/principal.js";
import { ParticipantAdmin, registrationKey } from "../chain/participantAdmin.js";
import { organizationByNode } from "../chain/participantMirror.js";
import { crashPoint } from "../config/crashPoint.js";
import { buildGrantMessage, grantIdOf, signGrant, signedGrantToJson } from "../consent/signConsent.js";
import { getMeta, setMeta } from "../store/meta.js";
import type { NodeContext } from "./startNode.js";
import type { Services } from "./services.js";

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "test", "fixtures", "synthea");
/** Meta key of the seeding's plan: its random seed and start time, committed before any step. */
const PLAN = "demo.plan";
/** Meta key set once every step is done. */
const DONE = "demo.seeded";
const WAIT_MS = 30_000;
const YEAR_S = 365 * 24 * 3600;

/** One demo identity, with its key: for trying the system on a laptop only. */
interface DemoAccount {
  role: string;
  address: Address;
  privateKey: Hex;
  patientId?: string | undefined;
  /** The organization a practitioner signs in for (bytes32 id). */
  organization?: Hex | undefined;
}

/** What every step of the seeding derives its content from, so a resumed step repeats the same write. */
interface DemoPlan {
  seed: Hex;
  /** Unix seconds: the demo consent's validity starts here. */
  startedAt: number;
}

interface DemoBundle {
  file: string;
  bundle: { entry: Array<{ resource: { resourceType: string; id: string } }> };
}

/**
 * Seeds a first-run demo so a newcomer has something to look at: a GP clinic and a hospital
 * physician registered on the ledger, synthetic Synthea patients imported (encrypted, indexed),
 * and a patient-signed consent letting the GP read labs and medications. The demo accounts and
 * their keys are written to `<data>/demo-accounts.json` (mode 0600).
 *
 * Resumable: a crash or a stop at any point leaves steps that the next start completes. Every
 * key, address, idempotency key and timestamp is derived from a plan committed to `meta` before
 * the first step, so a step run again makes the very same ledger write; an intent committed by an
 * earlier run is kept as committed (and logged when it differs, e.g. from a version of this
 * seeding that drew random accounts). Patients already imported are not imported again.
 * @param signal - Stops the seeding at its next step (the node is stopping).
 * @returns The accounts file when this call completed the seeding; undefined when it was done before.
 */
export async function seedDemo(
  ctx: NodeContext,
  services: Services,
  signal: AbortSignal = new AbortController().signal,
): Promise<string | undefined> {
  const db = ctx.store.db;
  if (await getMeta(db, DONE)) return undefined;
  if (!existsSync(FIXTURES)) return undefined;
  const step = (point: string, message?: string) => {
    crashPoint(`seed:${point}`);
    signal.throwIfAborted();
    if (message) ctx.logger.info(`demo seeding: ${message}`);
  };
  const plan = await demoPlan(ctx);
  step("planned", "started");

  const derive = (label: string): Hex => keccak256(concat([plan.seed, toHex(label)]));
  const account = (role: string, label: string): DemoAccount => {
    const privateKey = derive(label);
    return { role, address: privateKeyToAccount(privateKey).address, privateKey };
  };
  const gp = account("GP (physician at Demo GP Clinic)", "gp");
  const physician = account("hospital physician", "hospital-physician");
  const clinicNode = privateKeyToAccount(derive("clinic-node")).address;
  const clinic = keccak256(toHex(`demo-gp-clinic:${ctx.key.account.address}`));
  gp.organization = clinic;
  physician.organization = ctx.organizationId;
  const bundles = demoBundles();
  const patients = bundles.map(({ file, bundle }) => ({
    ...account("patient", `patient:${file}`),
    patientId: bundle.entry.find((e) => e.resource.resourceType === "Patient")?.resource.id,
  }));

  const file = join(ctx.config.dataDir, "demo-accounts.json");
  writeAtomically(
    file,
    `${JSON.stringify({ note: "demo identities: never use these keys for real data", accounts: [gp, physician, ...patients] }, null, 2)}\n`,
  );
  step("accounts-written");

  if (!(await organizationByNode(db, ctx.key.account.address)))
    await until(ctx.outbox.waitFor(registrationKey(ctx.organizationId), WAIT_MS), signal);
  step("own-registration-confirmed", "registering the demo organizations and practitioners");

  const admin = new ParticipantAdmin(ctx.outbox, { keepCommitted: true });
  const intents = [
    await admin.registerOrganization({
      id: clinic,
      name: "Demo GP Clinic",
      kind: "clinic",
      endpoint: "http://127.0.0.1:0",
      node: clinicNode,
    }),
  ];
  step("clinic-intended");
  for (const [organization, who] of [
    [clinic, gp],
    [ctx.organizationId, physician],
  ] as const) {
    const key = `demo:add-practitioner:${organization}:${who.address.toLowerCase()}`;
    intents.push(await admin.addPractitioner(organization, who.address, "physician", key));
    step("practitioner-intended");
  }
  for (const intent of intents)
    if (intent.kept)
      ctx.logger.warn(
        { outboxId: intent.id },
        "demo seeding: an earlier run committed this ledger write differently; keeping the committed one",
      );
  let block = 0;
  for (const intent of intents)
    block = Math.max(block, (await until(ctx.outbox.waitFor(intent.id, WAIT_MS), signal)).block_number ?? 0);
  step("practitioners-confirmed");
  await until(ctx.indexer.waitForBlock(BigInt(block), WAIT_MS), signal);
  step("practitioners-indexed", "importing synthetic patients");

  for (const [i, { bundle }] of bundles.entries()) {
    const patient = patients[i]!;
    const linked = await services.records.patientAccount(patient.patientId);
    if (linked === undefined) {
      await services.records.importBundle(systemPrincipal("demo-seed"), bundle, {
        patientAccount: patient.address,
      });
    } else if (linked.toLowerCase() !== patient.address.toLowerCase()) {
      ctx.logger.warn(
        { patient: i + 1 },
        "demo seeding: this demo patient was imported earlier under another account; keeping it",
      );
    }
    step("patient-imported");
  }

  const first = patients[0];
  if (first) {
    ctx.logger.info("demo seeding: relaying the first patient's signed consent for the GP");
    const message = buildGrantMessage({
      patient: first.address,
      grantee: { kind: "practitioner", account: gp.address },
      categories: ["labs", "medications"],
      purposes: ["TREAT"],
      actions: ["read"],
      notBefore: plan.startedAt - 60,
      notAfter: plan.startedAt + YEAR_S,
      // derived from the plan, so a resumed seeding signs the same grant (the same grant id)
      salt: derive("demo-grant"),
    });
    const grantId = grantIdOf(message);
    if (!services.gate.index.get(grantId)) {
      const signer = privateKeyToAccount(first.privateKey);
      const submitted = await services.consents.submitGrant(
        signedGrantToJson(message, await signGrant(signer, services.consents.domain, message)),
      );
      step("grant-intended");
      const row = await until(ctx.outbox.waitFor(submitted.outboxId, WAIT_MS), signal);
      step("grant-confirmed");
      await until(ctx.indexer.waitForBlock(BigInt(row.block_number ?? 0), WAIT_MS), signal);
    }
  }

  await setMeta(db, DONE, new Date().toISOString());
  step("done");
  return file;
}

/** The committed plan, or a new one committed now (before any step uses it). */
async function demoPlan(ctx: NodeContext): Promise<DemoPlan> {
  const stored = await getMeta(ctx.store.db, PLAN);
  if (stored) return JSON.parse(stored) as DemoPlan;
  const plan: DemoPlan = {
    seed: toHex(randomBytes(32)),
    startedAt: Math.floor(Date.now() / 1000),
  };
  await setMeta(ctx.store.db, PLAN, JSON.stringify(plan));
  return plan;
}

function demoBundles(): DemoBundle[] {
  return readdirSync(FIXTURES)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((file) => ({
      file,
      bundle: JSON.parse(readFileSync(join(FIXTURES, file), "utf8")) as DemoBundle["bundle"],
    }));
}

/** Writes a whole file or nothing: a crash never leaves a half-written one. */
function writeAtomically(path: string, text: string): void {
  const temp = `${path}.${randomBytes(6).toString("hex")}.tmp`;
  writeFileSync(temp, text, { mode: 0o600 });
  renameSync(temp, path);
}

/** Waits for `promise`, or rejects with the signal's reason as soon as it is aborted. */
function until<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    if (signal.aborted) onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error as Error);
      },
    );
  });
}
