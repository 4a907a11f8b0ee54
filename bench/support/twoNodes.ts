/**
 * Two node PROCESSES on one anvil (SQLite each) for the cross-node benches: A (lab) and B (GP
 * clinic), a lab technician at A, a GP at B, and a synthetic patient whose record is split between
 * them by `place`; the patient grants the GP `categories` for treatment, and the bench waits until
 * B locates A and both indexers hold the grant. `presign(n)` signs n single-use AccessRequests of
 * the GP before any clock starts.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Address, Hex, LocalAccount } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { siweSignIn } from "../../src/access/siweClient.js";
import { startAnvil } from "../../src/chain/anvil.js";
import { freePort } from "../../src/chain/freePort.js";
import { buildGrantMessage, signGrant, signedGrantToJson } from "../../src/consent/signConsent.js";
import {
  contractsOfNode,
  prepareNodeKey,
  registerAsGovernor,
  spawnNode,
  waitForIndexers,
  type NodeProcess,
} from "../../src/federation/consortium.js";
import { newNonce, signAccessRequest, type SignedAccessRequest } from "../../src/federation/nodeAuth.js";
import { splitBundle } from "../../src/federation/splitBundle.js";
import type { FhirResource } from "../../src/records/fhirTypes.js";
import { categoryMask, purposeBit, type Category } from "../../src/model/vocabulary.js";

const PASSWORD = "bench-password-only";

export interface TwoNodes {
  A: NodeProcess;
  B: NodeProcess;
  gp: LocalAccount;
  patient: LocalAccount;
  /** Session tokens of A's lab technician and B's GP. */
  techToken: string;
  gpToken: string;
  /** The patient's FHIR id (the same at both nodes). */
  patientId: string;
  /** How many resources each node holds. */
  held: { A: number; B: number };
  presign(n: number): Promise<SignedAccessRequest[]>;
  stop(): Promise<void>;
}

async function importAs(url: string, token: string, patient: Address, bundle: FhirResource): Promise<void> {
  const res = await fetch(`${url}/fhir`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${token}`,
      "content-type": "application/json",
      "x-patient-account": patient,
    },
    body: JSON.stringify(bundle),
  });
  if (!res.ok) throw new Error(`import failed: HTTP ${res.status}`);
}

/**
 * Starts the two nodes and places the patient's record.
 * @param place - For each resource of the Synthea bundle: held at "A", at "B", or "skip".
 * @param categories - What the patient grants the GP.
 * @param fixture - Which Synthea bundle (file name prefix); the first one when absent.
 */
export async function startTwoNodes(
  place: (r: FhirResource) => "A" | "B" | "skip",
  categories: Category[],
  fixture?: string,
): Promise<TwoNodes> {
  const root = mkdtempSync(join(tmpdir(), "carechain-bench-2n-"));
  const anvil = await startAnvil();
  const nodes: NodeProcess[] = [];
  const stop = async () => {
    for (const n of nodes) await n.stop();
    await anvil.stop();
    rmSync(root, { recursive: true, force: true });
  };
  try {
    const [keyA, keyB] = await Promise.all([
      prepareNodeKey(join(root, "a"), PASSWORD),
      prepareNodeKey(join(root, "b"), PASSWORD),
    ]);
    const A = await spawnNode(
      { name: "Bench Lab", kind: "lab", dataDir: join(root, "a"), port: await freePort() },
      { rpcUrl: anvil.rpcUrl, account: keyA, keyPassword: PASSWORD },
    );
    nodes.push(A);
    const B = await spawnNode(
      { name: "Bench GP", kind: "clinic", dataDir: join(root, "b"), port: await freePort() },
      { rpcUrl: anvil.rpcUrl, account: keyB, keyPassword: PASSWORD, contracts: await contractsOfNode(A.url) },
    );
    nodes.push(B);
    const tech = privateKeyToAccount(generatePrivateKey());
    const gp = privateKeyToAccount(generatePrivateKey());
    const patient = privateKeyToAccount(generatePrivateKey());
    const block = await registerAsGovernor(A.spec.dataDir, {
      organizations: [{ node: B }],
      practitioners: [
        { organization: A.organizationId, account: tech.address, role: "lab-technician" },
        { organization: B.organizationId, account: gp.address, role: "physician" },
      ],
      patients: [],
    });
    await waitForIndexers([A.url, B.url], block);

    const dir = join(import.meta.dirname, "..", "..", "test", "fixtures", "synthea");
    const file = readdirSync(dir).find(
      (f) => f.endsWith(".json") && (fixture === undefined || f.startsWith(fixture)),
    )!;
    const parts = splitBundle(JSON.parse(readFileSync(join(dir, file), "utf8")) as FhirResource, place);
    const techToken = (await siweSignIn(A.url, tech)).token;
    const gpToken = (await siweSignIn(B.url, gp)).token;
    const count = (node: "A" | "B") => ((parts.get(node)?.entry as unknown[] | undefined) ?? []).length;
    if (parts.has("A")) await importAs(A.url, techToken, patient.address, parts.get("A")!);
    if (parts.has("B")) await importAs(B.url, gpToken, patient.address, parts.get("B")!);
    const first = (parts.get("A") ?? parts.get("B"))!;
    const patientId = String(
      (first.entry as Array<{ resource: FhirResource }>).find((e) => e.resource.resourceType === "Patient")
        ?.resource.id ?? "",
    );

    const domain = (await (await fetch(`${B.url}/consents/domain`)).json()) as Parameters<
      typeof signGrant
    >[1];
    const message = buildGrantMessage({
      patient: patient.address,
      grantee: { kind: "practitioner", account: gp.address },
      categories,
      purposes: ["TREAT"],
      actions: ["read"],
      notBefore: Math.floor(Date.now() / 1000) - 60,
      notAfter: new Date(Date.now() + 86_400_000),
    });
    await fetch(`${B.url}/consents?wait=true`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(signedGrantToJson(message, await signGrant(patient, domain, message))),
    });
    // wait for the lab's locator (looked up as the GP: locate needs a session) and for both
    // indexers to hold the grant
    for (let i = 0; i < 200; i++) {
      const located = (await (
        await fetch(`${B.url}/federation/locate?patient=${patient.address}`, {
          headers: { authorization: `Bearer ${gpToken}` },
        })
      ).json()) as { locations: unknown[] };
      if (located.locations.length > 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const head = ((await (await fetch(`${B.url}/health`)).json()) as { chain: { blockNumber: number } }).chain
      .blockNumber;
    await waitForIndexers([A.url, B.url], head);

    const presign = async (n: number): Promise<SignedAccessRequest[]> =>
      Promise.all(
        Array.from({ length: n }, async () => {
          const request = {
            patient: patient.address,
            requester: gp.address,
            requesterOrganization: B.organizationId as Hex,
            categories: categoryMask(categories),
            purpose: purposeBit("TREAT"),
            expiry: Math.floor(Date.now() / 1000) + 3000,
            nonce: newNonce(),
          };
          return { accessRequest: request, signature: await signAccessRequest(gp, request, 31337) };
        }),
      );
    return {
      A,
      B,
      gp,
      patient,
      techToken,
      gpToken,
      patientId,
      held: { A: count("A"), B: count("B") },
      presign,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
