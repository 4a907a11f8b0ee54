/**
 * Two nodes on one ledger for the research suites: R, a research organization's node (it governs
 * the embedded ledger and also holds patients of its research clinic), and H, a hospital that
 * joins R's ledger. Each has a physician who records patients; R has a researcher, H has a
 * practitioner with the researcher role (of a hospital, not a research organization). R holds
 * credits to escrow. With TEST_DATABASE_URL set, H keeps its data in PostgreSQL.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Hex, LocalAccount } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, expect } from "vitest";
import { intendMint } from "../../src/chain/studyWrites.js";
import { loadConfig } from "../../src/config/config.js";
import { contractsOfNode, organizationIdOf, prepareNodeKey } from "../../src/federation/consortium.js";
import { createLogger } from "../../src/node/logger.js";
import { startNode, type RunningNode } from "../../src/node/startNode.js";
import {
  derivePayoutAccount,
  signResearchConsent,
  type ResearchConsent,
} from "../../src/research/researchConsent.js";
import type { StudyDefinition } from "../../src/research/studyDefinition.js";
import { registerParticipants } from "./participants.js";
import type { SyntheticPatient } from "./researchCohort.js";
import { signIn, type Session } from "./session.js";
import { freshDatabase, type FreshDatabase } from "./stores.js";

const PASSWORD = "research-consortium-password";

export interface ResearchConsortium {
  R: RunningNode;
  H: RunningNode;
  researcher: Session;
  researcherAccount: LocalAccount;
  /** The researcher's key (for tests that sign in through the CLI's keystore). */
  researcherKey: Hex;
  /** A practitioner with the researcher role at the hospital H (not a research organization). */
  hospitalResearcher: LocalAccount;
  doctors: { R: Session; H: Session };
  chainId: number;
}

/** Starts R and H for the enclosing `describe` and stops them after. */
export function researchConsortium(): ResearchConsortium {
  const root = mkdtempSync(join(tmpdir(), "carechain-research-"));
  const c = {} as ResearchConsortium;
  let database: FreshDatabase | undefined;
  const researcherKey = generatePrivateKey();
  const researcherAccount = privateKeyToAccount(researcherKey);
  const hospitalResearcher = privateKeyToAccount(generatePrivateKey());
  const docR = privateKeyToAccount(generatePrivateKey());
  const docH = privateKeyToAccount(generatePrivateKey());

  beforeAll(async () => {
    if (process.env.TEST_DATABASE_URL) database = await freshDatabase();
    const logger = createLogger("silent");
    c.R = await startNode(
      loadConfig(
        {},
        {
          dataDir: join(root, "r"),
          port: 0,
          orgKind: "research",
          orgName: "Northern Research Institute",
          anchorIntervalMs: 1000,
        },
      ),
      { logger },
    );
    const hKey = await prepareNodeKey(join(root, "h"), PASSWORD);
    c.H = await startNode(
      loadConfig(
        {},
        {
          dataDir: join(root, "h"),
          port: 0,
          orgKind: "hospital",
          orgName: "City Hospital",
          chainRpcUrl: c.R.context.rpcUrl,
          keyPassword: PASSWORD,
          contracts: JSON.stringify(await contractsOfNode(c.R.url)),
          databaseUrl: database?.url,
          anchorIntervalMs: 1000,
        },
      ),
      { logger },
    );
    const hOrg = organizationIdOf(hKey.address);
    expect(c.H.context.organizationId.toLowerCase()).toBe(hOrg.toLowerCase());
    await registerParticipants(
      c.R,
      [{ id: hOrg, name: "City Hospital", kind: "hospital", endpoint: c.H.url, node: hKey.address }],
      [
        { account: researcherAccount.address, role: "researcher" },
        { account: docR.address, role: "physician" },
        { organization: hOrg, account: docH.address, role: "physician" },
        { organization: hOrg, account: hospitalResearcher.address, role: "researcher" },
      ],
    );
    const minted = await intendMint(
      c.R.context.outbox,
      c.R.context.key.account.address,
      1_000_000n,
      "research-tests",
    );
    await c.R.services.studyLedger.settled([minted.id]);
    // H's indexer mirrors what R's governor registered
    const block = await c.R.context.clients.publicClient.getBlockNumber();
    await c.H.context.indexer.waitForBlock(block, 20_000);
    c.chainId = c.R.context.clients.chainId;
    c.researcherAccount = researcherAccount;
    c.researcherKey = researcherKey;
    c.hospitalResearcher = hospitalResearcher;
    c.researcher = await signIn(c.R.url, researcherAccount);
    c.doctors = { R: await signIn(c.R.url, docR), H: await signIn(c.H.url, docH) };
  }, 240_000);

  afterAll(async () => {
    await c.H?.stop();
    await c.R?.stop();
    rmSync(root, { recursive: true, force: true });
    await database?.drop();
  });

  return c;
}

/** Writes a synthetic patient's record at a node (its physician records it, linked to the account). */
export async function recordPatient(doctor: Session, p: SyntheticPatient): Promise<void> {
  const res = await doctor.send("POST", "/fhir", p.bundle, undefined, {
    "x-patient-account": p.account.address,
  });
  expect(res.status, await res.clone().text()).toBe(200);
}

/** A study definition for type 2 diabetes, open now, with the given overrides. */
export function diabetesStudy(
  overrides: Partial<StudyDefinition> & Record<string, unknown> = {},
): Record<string, unknown> {
  const now = Date.now();
  return {
    title: "Type 2 diabetes in people in their sixties",
    description: "HbA1c and treatment in type 2 diabetes",
    criteria: [
      { kind: "condition", codes: [{ system: "http://snomed.info/sct", code: "44054006" }] },
      { kind: "age", min: 60, max: 70 },
    ],
    request: { categories: ["demographics", "conditions", "labs", "medications"] },
    release: { kind: "extract" },
    reward: 250,
    maxParticipants: 20,
    budget: 5_000,
    enrollment: { start: new Date(now - 60_000).toISOString(), end: new Date(now + 3_600_000).toISOString() },
    minK: 3,
    epsilonBudget: 1,
    ...overrides,
  };
}

/** The patient's wallet signs a research consent to the study at `node` and sends it. */
export async function enroll(
  node: RunningNode,
  session: Session,
  patient: LocalAccount,
  chainId: number,
  studyId: Hex,
  categories: ResearchConsent["categories"],
  overrides: Partial<ResearchConsent> = {},
  signer: LocalAccount = patient,
): Promise<Response> {
  const payout = await derivePayoutAccount(patient, chainId, studyId);
  const consent: ResearchConsent = {
    patient: patient.address,
    studyId,
    organization: node.context.organizationId,
    purpose: "HRESCH",
    categories,
    payout: payout.address,
    mayWithdraw: true,
    issuedAt: Math.floor(Date.now() / 1000),
    ...overrides,
  };
  const signature = await signResearchConsent(signer, chainId, consent);
  return session.send("POST", `/patients/me/studies/${studyId}/enroll`, { consent, signature });
}
