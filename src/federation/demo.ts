/**
 * `carechain demo`: a whole consortium on one machine. One anvil, five node processes (hospital,
 * GP clinic, pharmacy, lab, research organization) each with its own data directory, SQLite and
 * port; the hospital node deploys the contracts and governs; practitioners and synthetic
 * patients (Synthea bundles split across the nodes by resource type) and some consents are seeded.
 * Every key printed is a throwaway demo key.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { generatePrivateKey, privateKeyToAccount, type PrivateKeyAccount } from "viem/accounts";
import type { Hex, LocalAccount } from "viem";
import { siweSignIn } from "../access/siweClient.js";
import { startAnvil, type Anvil } from "../chain/anvil.js";
import { freePort } from "../chain/freePort.js";
import type { OrganizationKind, PractitionerRole } from "../model/vocabulary.js";
import { categoryMask, purposeBit } from "../model/vocabulary.js";
import { buildGrantMessage, signGrant, signedGrantToJson, type GrantInput } from "../consent/signConsent.js";
import { BaseError } from "../errors/BaseError.js";
import type { FhirResource } from "../records/fhirTypes.js";
import {
  contractsOfNode,
  mintAsGovernor,
  prepareNodeKey,
  registerAsGovernor,
  spawnNode,
  waitForIndexers,
  type NodeProcess,
} from "./consortium.js";
import { encodeAccessRequestHeader, newNonce, signAccessRequest } from "./nodeAuth.js";
import { consortiumHolder, splitBundle } from "./splitBundle.js";

const MARKER = ".carechain-demo";
const PASSWORD = "carechain-demo-only";
const FIXTURES = resolve(fileURLToPath(import.meta.url), "..", "..", "..", "test", "fixtures", "synthea");

const MEMBERS: Array<{ key: string; name: string; kind: OrganizationKind; role: PractitionerRole }> = [
  { key: "hospital", name: "City Hospital", kind: "hospital", role: "physician" },
  { key: "gp", name: "Elm Street GP", kind: "clinic", role: "physician" },
  { key: "pharmacy", name: "Corner Pharmacy", kind: "pharmacy", role: "pharmacist" },
  { key: "lab", name: "Riverside Lab", kind: "lab", role: "lab-technician" },
  { key: "research", name: "Northern Research Institute", kind: "research", role: "researcher" },
];

/** Credit units the governor mints to the demo research organization's node (10,000 credits). */
const DEMO_CREDITS = 1_000_000n;

/** The node of the demo member `key`. */
function byMemberKey(nodes: NodeProcess[], key: string): NodeProcess {
  const node = nodes[MEMBERS.findIndex((m) => m.key === key)];
  if (!node) throw new BaseError("internal", `no demo member ${key}`);
  return node;
}

/** A running demo consortium. */
export interface Demo {
  anvil: Anvil;
  nodes: NodeProcess[];
  /** What to open and which demo identities to use (printed by the CLI). */
  summary: string;
  stop(): Promise<void>;
}

/**
 * Starts the demo consortium under `dataDir` (wiped first if an earlier demo made it).
 * @param dataDir - Directory for the ledger and the five nodes' data.
 * @param log - Progress lines.
 * @returns The running consortium; `stop()` ends every process it started.
 */
export async function startDemo(dataDir: string, log: (line: string) => void = () => {}): Promise<Demo> {
  prepareDirectory(dataDir);
  const anvil = await startAnvil({ dataDir: join(dataDir, "chain") });
  const nodes: NodeProcess[] = [];
  const stop = async () => {
    for (const n of [...nodes].reverse()) await n.stop();
    await anvil.stop();
  };
  try {
    const keys = await Promise.all(MEMBERS.map((m) => prepareNodeKey(join(dataDir, m.key), PASSWORD)));
    const ports = await Promise.all(MEMBERS.map(() => freePort()));
    const spec = (i: number) => ({
      name: MEMBERS[i]!.name,
      kind: MEMBERS[i]!.kind,
      dataDir: join(dataDir, MEMBERS[i]!.key),
      port: ports[i]!,
    });
    log(`ledger at ${anvil.rpcUrl}; starting ${MEMBERS[0]!.name} (deploys the contracts, governs)`);
    nodes.push(await spawnNode(spec(0), { rpcUrl: anvil.rpcUrl, account: keys[0]!, keyPassword: PASSWORD }));
    const contracts = await contractsOfNode(nodes[0]!.url);
    log(`starting ${MEMBERS.length - 1} more nodes`);
    const rest = await Promise.all(
      MEMBERS.slice(1).map((_, j) =>
        spawnNode(spec(j + 1), {
          rpcUrl: anvil.rpcUrl,
          account: keys[j + 1]!,
          keyPassword: PASSWORD,
          contracts,
        }),
      ),
    );
    nodes.push(...rest);
    const practitioners = MEMBERS.map(() => demoAccount());
    log("registering organizations and practitioners");
    const block = await registerAsGovernor(join(dataDir, MEMBERS[0]!.key), {
      organizations: rest.map((node) => ({ node })),
      practitioners: MEMBERS.map((m, i) => ({
        organization: nodes[i]!.organizationId,
        account: practitioners[i]!.address,
        role: m.role,
      })),
      patients: [],
    });
    const research = byMemberKey(nodes, "research");
    log(`minting ${DEMO_CREDITS / 100n} credits to ${research.spec.name} (it funds studies with them)`);
    const minted = await mintAsGovernor(
      join(dataDir, MEMBERS[0]!.key),
      research.account.address,
      DEMO_CREDITS,
      "demo:research-credits",
    );
    await waitForIndexers(
      nodes.map((n) => n.url),
      Math.max(block, minted),
    );

    const patients = await seedPatients(nodes, practitioners, log);
    const byKey = new Map(
      MEMBERS.map((m, i) => [m.key, { node: nodes[i]!, practitioner: practitioners[i]! }]),
    );
    const gp = byKey.get("gp")!;
    const hospital = byKey.get("hospital")!;
    log("seeding consents");
    const first = patients[0];
    if (first) {
      await grant(gp.node.url, first, {
        grantee: { kind: "practitioner", account: gp.practitioner.address },
        categories: ["demographics", "labs", "medications", "conditions"],
      });
    }
    const second = patients[1];
    if (second) {
      await grant(hospital.node.url, second, {
        grantee: { kind: "organization", organization: hospital.node.organizationId },
        categories: ["demographics", "labs", "medications", "conditions", "encounters", "procedures"],
      });
    }
    const studyId = await seedStudy(byKey.get("research")!, log);
    const summary = `${await describe(nodes, practitioners, patients, block)}${
      studyId === undefined
        ? ""
        : `\n  a study patients may discover and enroll in (GET /patients/me/studies at their nodes): ${studyId}\n`
    }`;
    return { anvil, nodes, summary, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * The research organization's researcher creates a study every node can match: viral sinusitis or
 * acute bronchitis (common in the Synthea fixtures), as a de-identified extract, open for 30 days.
 * @returns the study id, or undefined when the research node refused it (the demo goes on)
 */
async function seedStudy(
  research: { node: NodeProcess; practitioner: PrivateKeyAccount },
  log: (line: string) => void,
): Promise<string | undefined> {
  const { token } = await siweSignIn(research.node.url, research.practitioner);
  const now = Date.now();
  const res = await fetch(`${research.node.url}/research/studies`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({
      title: "Respiratory infections in primary care",
      description: "Which treatments follow viral sinusitis and acute bronchitis (de-identified extract)",
      criteria: [
        {
          kind: "condition",
          codes: [
            { system: "http://snomed.info/sct", code: "444814009" },
            { system: "http://snomed.info/sct", code: "10509002" },
          ],
        },
      ],
      request: { categories: ["demographics", "conditions", "medications"] },
      release: { kind: "extract" },
      reward: 500,
      maxParticipants: 10,
      budget: 5000,
      enrollment: {
        start: new Date(now - 60_000).toISOString(),
        end: new Date(now + 30 * 24 * 3600 * 1000).toISOString(),
      },
      minK: 2,
      epsilonBudget: 1,
    }),
  });
  if (res.status !== 201) {
    log(`the demo study was not created (HTTP ${res.status})`);
    return undefined;
  }
  const { studyId } = (await res.json()) as { studyId: string };
  log(`seeded a research study (${studyId}) at ${research.node.spec.name}`);
  return studyId;
}

function prepareDirectory(dataDir: string): void {
  if (existsSync(dataDir) && readdirSync(dataDir).length > 0) {
    if (!existsSync(join(dataDir, MARKER))) {
      throw new BaseError("config", `${dataDir} is not empty and was not made by carechain demo`, {
        details: "pass an empty or new --data-dir",
      });
    }
    rmSync(dataDir, { recursive: true, force: true });
  }
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(join(dataDir, MARKER), "made by carechain demo; wiped on the next demo run\n");
}

async function seedPatients(
  nodes: NodeProcess[],
  practitioners: PrivateKeyAccount[],
  log: (line: string) => void,
): Promise<PrivateKeyAccount[]> {
  const files = existsSync(FIXTURES) ? readdirSync(FIXTURES).filter((f) => f.endsWith(".json")) : [];
  const patients: PrivateKeyAccount[] = [];
  const sessions = new Map<number, string>();
  for (const file of files) {
    const patient = demoAccount();
    patients.push(patient);
    const bundle = JSON.parse(readFileSync(join(FIXTURES, file), "utf8")) as FhirResource;
    for (const [holder, part] of splitBundle(bundle, consortiumHolder)) {
      const i = MEMBERS.findIndex((m) => m.key === holder);
      if (i < 0) continue;
      const token = sessions.get(i) ?? (await siweSignIn(nodes[i]!.url, practitioners[i]!)).token;
      sessions.set(i, token);
      const res = await fetch(`${nodes[i]!.url}/fhir`, {
        method: "POST",
        headers: {
          authorization: `Bearer ${token}`,
          "content-type": "application/json",
          "x-patient-account": patient.address,
        },
        body: JSON.stringify(part),
      });
      if (!res.ok) throw new BaseError("unavailable", `seeding ${holder} failed with HTTP ${res.status}`);
    }
    log(`seeded synthetic patient ${patients.length} across the nodes`);
  }
  return patients;
}

async function grant(
  url: string,
  patient: LocalAccount,
  g: Pick<GrantInput, "grantee" | "categories">,
): Promise<void> {
  const domain = (await (await fetch(`${url}/consents/domain`)).json()) as Parameters<typeof signGrant>[1];
  const message = buildGrantMessage({
    patient: patient.address,
    ...g,
    purposes: ["TREAT"],
    actions: ["read"],
    notBefore: Math.floor(Date.now() / 1000) - 60,
    notAfter: new Date(Date.now() + 365 * 24 * 3600 * 1000),
  });
  const res = await fetch(`${url}/consents?wait=true`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(signedGrantToJson(message, await signGrant(patient, domain, message))),
  });
  if (!res.ok) throw new BaseError("unavailable", `seeding a consent failed with HTTP ${res.status}`);
}

async function describe(
  nodes: NodeProcess[],
  practitioners: PrivateKeyAccount[],
  patients: PrivateKeyAccount[],
  block: number,
): Promise<string> {
  const lines = ["", "carechain demo consortium (demo keys only: never use them for anything real)", ""];
  MEMBERS.forEach((m, i) => {
    const n = nodes[i]!;
    lines.push(`  ${m.name.padEnd(28)} ${n.url}   organization ${n.organizationId}`);
    lines.push(`    ${m.role.padEnd(26)} ${practitioners[i]!.address}  key ${keyOf(practitioners[i]!)}`);
  });
  lines.push("");
  patients.forEach((p, i) => lines.push(`  patient ${i + 1}  ${p.address}  key ${keyOf(p)}`));
  const gpIndex = MEMBERS.findIndex((m) => m.key === "gp");
  const first = patients[0];
  if (first && gpIndex >= 0) {
    const gp = nodes[gpIndex]!;
    const doctor = practitioners[gpIndex]!;
    const chainId = ((await (await fetch(`${gp.url}/health`)).json()) as { chain: { chainId: number } }).chain
      .chainId;
    const request = {
      patient: first.address,
      requester: doctor.address,
      requesterOrganization: gp.organizationId,
      categories: categoryMask(["demographics", "labs", "medications", "conditions"]),
      purpose: purposeBit("TREAT"),
      expiry: Math.floor(Date.now() / 1000) + 3000,
      nonce: newNonce(),
    };
    const header = encodeAccessRequestHeader({
      accessRequest: request,
      signature: await signAccessRequest(doctor, request, chainId),
    });
    lines.push(
      "",
      "  the GP's view of patient 1 across the consortium (labs from the lab, meds from the pharmacy):",
    );
    lines.push(`    curl -s -H 'x-carechain-access-request: ${header}' \\`);
    lines.push(`      '${gp.url}/federation/everything?patient=${first.address}'`);
    lines.push("    (single use: a signed AccessRequest carries a nonce; valid for 50 minutes)");
    lines.push(
      `  where patient 1's records are (signed in as a practitioner; audited): ${gp.url}/federation/locate?patient=${first.address}`,
    );
  }
  lines.push("", `  ledger block ${block}; Ctrl-C stops every process the demo started`, "");
  return lines.join("\n");
}

const demoKeys = new Map<string, Hex>();

/** A fresh demo account whose private key is kept to be printed. */
function demoAccount(): PrivateKeyAccount {
  const key = generatePrivateKey();
  const account = privateKeyToAccount(key);
  demoKeys.set(account.address, key);
  return account;
}

function keyOf(account: PrivateKeyAccount): string {
  return demoKeys.get(account.address) ?? "(not kept)";
}
