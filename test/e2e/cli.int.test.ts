import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { keccak256, toHex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { loadConfig } from "../../src/config/config.js";
import { writeKeystoreFile } from "../../src/crypto/keystore.js";
import { createLogger } from "../../src/node/logger.js";
import { startNode, type RunningNode } from "../../src/node/startNode.js";
import { runCli, type CliResult } from "../support/cli.js";
import { engines, freshDatabase, type FreshDatabase } from "../support/stores.js";

const PASSWORD = "correct horse battery staple";

const bundle = (patientId: string) => ({
  resourceType: "Bundle",
  type: "collection",
  entry: [
    { resource: { resourceType: "Patient", id: patientId, gender: "female", birthDate: "1980-01-01" } },
    {
      resource: {
        resourceType: "Observation",
        id: "cli-lab-1",
        status: "final",
        category: [
          {
            coding: [
              { system: "http://terminology.hl7.org/CodeSystem/observation-category", code: "laboratory" },
            ],
          },
        ],
        code: { coding: [{ system: "http://loinc.org", code: "2345-7" }] },
        subject: { reference: `Patient/${patientId}` },
        effectiveDateTime: "2024-03-01T09:00:00Z",
        valueQuantity: { value: 95, unit: "mg/dL" },
      },
    },
  ],
});

const json = <T = Record<string, unknown>>(r: CliResult): T => {
  if (r.code !== 0) throw new Error(`CLI failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
};
const oneLine = (r: CliResult) => r.stderr.trim().split("\n");

/**
 * The `carechain` CLI against a real node (anvil + SQLite or PostgreSQL) in child processes: the
 * operator registers an organization and practitioners, a physician imports a record, the patient
 * grants, the GP reads, the patient verifies the access log against the ledger, revokes, and
 * erases; errors are one line with the documented exit codes.
 */
describe.each(engines)("carechain CLI (%s)", (engine) => {
  const dir = mkdtempSync(join(tmpdir(), "carechain-cli-"));
  let database: FreshDatabase | undefined;
  let node: RunningNode;
  const keys = { patient: generatePrivateKey(), gp: generatePrivateKey(), doc: generatePrivateKey() };
  const patient = privateKeyToAccount(keys.patient);
  const gp = privateKeyToAccount(keys.gp);
  const doc = privateKeyToAccount(keys.doc);
  const clinic = keccak256(toHex("cli-gp-clinic"));
  const patientId = "cli-pat-1";
  const keystore = (who: keyof typeof keys) => join(dir, `${who}.json`);
  let env: NodeJS.ProcessEnv;
  const cli = (
    who: keyof typeof keys | undefined,
    args: string[],
    extra: NodeJS.ProcessEnv = {},
    input?: string,
  ) => runCli(args, { ...env, ...(who ? { CARECHAIN_KEYSTORE: keystore(who) } : {}), ...extra }, input);
  const operator = (args: string[]) => runCli(["--data-dir", join(dir, "node"), ...args], env);

  beforeAll(async () => {
    if (engine === "postgres") database = await freshDatabase();
    node = await startNode(
      loadConfig(
        {},
        { dataDir: join(dir, "node"), port: 0, databaseUrl: database?.url, anchorIntervalMs: 300 },
      ),
      { logger: createLogger("silent") },
    );
    for (const who of Object.keys(keys) as Array<keyof typeof keys>)
      await writeKeystoreFile(keystore(who), keys[who], PASSWORD, { n: 2 ** 10 });
    writeFileSync(join(dir, "bundle.json"), JSON.stringify(bundle(patientId)));
    env = {
      CARECHAIN_NODE: node.url,
      CARECHAIN_PASSWORD: PASSWORD,
      CHAIN_RPC_URL: "",
      ...(database ? { DATABASE_URL: database.url } : { DATABASE_URL: "" }),
    };
    await node.context.outbox.waitFor(`register-organization:${node.context.organizationId}`, 15_000);
  }, 120_000);

  afterAll(async () => {
    await node?.stop();
    rmSync(dir, { recursive: true, force: true });
    await database?.drop();
  });

  it("lets the operator register an organization and add practitioners through the outbox", async () => {
    const registered = json(
      await operator([
        "org",
        "register",
        "--id",
        "cli-gp-clinic",
        "--name",
        "Elm Street GP",
        "--kind",
        "clinic",
        "--endpoint",
        "http://127.0.0.1:1",
        "--node",
        privateKeyToAccount(generatePrivateKey()).address,
        "--wait",
      ]),
    );
    expect(registered).toMatchObject({ status: "confirmed", organization: clinic });
    const added = json<{ status: string; blockNumber: number; organization: string }>(
      await operator([
        "org",
        "add-practitioner",
        gp.address,
        "--role",
        "physician",
        "--org",
        clinic,
        "--wait",
      ]),
    );
    expect(added.status).toBe("confirmed");
    const own = json<{ status: string; blockNumber: number; organization: string }>(
      await operator(["org", "add-practitioner", doc.address, "--role", "physician", "--wait"]),
    );
    expect(own.organization).toBe(node.context.organizationId);
    await node.context.indexer.waitForBlock(BigInt(Math.max(added.blockNumber, own.blockNumber)), 10_000);
  });

  it("imports a bundle and searches it as the node's physician", async () => {
    const imported = json<{ entry: unknown[] }>(
      await cli("doc", ["record", "import", join(dir, "bundle.json"), "--patient-account", patient.address]),
    );
    expect(imported.entry).toHaveLength(2);
    const found = json<{ total: number }>(
      await cli("doc", ["record", "search", "Observation", `patient=${patientId}`, "category=laboratory"]),
    );
    expect(found.total).toBe(1);
    const vital = {
      resourceType: "Observation",
      id: "cli-vital-1",
      status: "final",
      category: [
        {
          coding: [
            { system: "http://terminology.hl7.org/CodeSystem/observation-category", code: "vital-signs" },
          ],
        },
      ],
      code: { coding: [{ system: "http://loinc.org", code: "8867-4" }] },
      subject: { reference: `Patient/${patientId}` },
      effectiveDateTime: "2024-03-01T09:05:00Z",
    };
    const added = json<{ id: string; meta: { versionId: string } }>(
      await cli("doc", ["record", "add", "-"], {}, JSON.stringify(vital)),
    );
    expect(added).toMatchObject({ id: "cli-vital-1", meta: { versionId: "1" } });
    const all = json<{ total: number }>(
      await cli("doc", ["record", "search", "Observation", `patient=${patientId}`]),
    );
    expect(all.total).toBe(2);
  });

  it("grants the GP labs for treatment, who then reads them; the patient sees it in the verified log", async () => {
    const before = await cli("gp", ["record", "get", "Observation/cli-lab-1", "--purpose", "TREAT"]);
    // without a grant the lab answers as missing would (exit 1), never as refused (exit 4)
    expect(before.code).toBe(1);
    expect(before.stderr).toMatch(/no Observation/u);
    const granted = json<{ grantId: string; status: string }>(
      await cli("patient", [
        "consent",
        "grant",
        "--grantee-practitioner",
        gp.address,
        "--categories",
        "labs,medications",
        "--purposes",
        "TREAT",
        "--actions",
        "read",
        "--until",
        "2030-01-01",
        "--wait",
      ]),
    );
    expect(granted).toMatchObject({
      grantId: expect.stringMatching(/^0x[0-9a-f]{64}$/),
      status: "confirmed",
    });
    const listed = json<{ grants: Array<{ grantId: string; categories: string[] }> }>(
      await cli("patient", ["consent", "list"]),
    );
    expect(listed.grants.map((g) => g.grantId)).toEqual([granted.grantId]);
    expect(listed.grants[0]!.categories).toEqual(["medications", "labs"]);
    const shared = json<{ grants: Array<{ grantId: string }> }>(await cli("gp", ["consent", "shared"]));
    expect(shared.grants.map((g) => g.grantId)).toContain(granted.grantId);

    const read = json<{ id: string }>(
      await cli("gp", ["record", "get", "Observation/cli-lab-1", "--purpose", "TREAT"]),
    );
    expect(read.id).toBe("cli-lab-1");

    await node.services.audit.flush();
    const size = node.services.audit.size();
    await waitUntil(
      async () => ((await node.services.audit.latestTreeHead("anchored"))?.treeSize ?? 0) >= size,
    );
    const log = json<{
      items: Array<{
        index: number;
        entry: { action: string; actor: { account: string } };
        verified: { ok: boolean };
      }>;
    }>(await cli("patient", ["audit", "log", "--verify", "--chain-rpc", node.context.rpcUrl]));
    const gpRead = log.items.find((i) => i.entry.action === "read" && i.entry.actor.account === gp.address);
    expect(gpRead?.verified).toEqual({ ok: true });
    expect(log.items.filter((i) => i.index < size).every((i) => i.verified.ok)).toBe(true);

    const proof = json<{ proof: { index: number }; verified: { ok: boolean } }>(
      await cli("patient", ["audit", "proof", String(gpRead!.index), "--chain-rpc", node.context.rpcUrl]),
    );
    expect(proof).toMatchObject({ proof: { index: gpRead!.index }, verified: { ok: true } });

    const revoked = json<{ status: string }>(
      await cli("patient", ["consent", "revoke", granted.grantId, "--wait"]),
    );
    expect(revoked.status).toBe("confirmed");
    const after = await cli("gp", ["record", "get", "Observation/cli-lab-1", "--purpose", "TREAT"]);
    expect(after.code).toBe(1); // refused reads answer as missing ones
    expect(oneLine(after)).toHaveLength(1);
  }, 120_000);

  it("lets the operator verify the whole stored log against the ledger", async () => {
    const viaRpc = json(await operator(["audit", "verify", "--chain-rpc", node.context.rpcUrl]));
    expect(viaRpc).toMatchObject({ ok: true, ledger: "rpc", node: node.context.key.account.address });
    expect(viaRpc.anchors as number).toBeGreaterThan(0);
    const viaSnapshot = json(await operator(["audit", "verify"]));
    expect(viaSnapshot).toMatchObject({ ok: true, ledger: "embedded-snapshot" });
  });

  it("changes privacy settings and erases only with --yes", async () => {
    const settings = json<{ breakGlassAllowed: boolean }>(
      await cli("patient", ["patient", "settings", "--break-glass", "on"]),
    );
    expect(settings.breakGlassAllowed).toBe(true);
    const refused = await cli("patient", ["patient", "erase", patientId]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatchInlineSnapshot(`
      "carechain: erasing a record is irreversible: add --yes to confirm
      "
    `);
    const erased = json<{ resources: number }>(
      await cli("patient", ["patient", "erase", patientId, "--yes"]),
    );
    expect(erased.resources).toBeGreaterThanOrEqual(2);
    expect((await cli("doc", ["record", "get", "Observation/cli-lab-1"])).code).toBe(1);
  });

  it("reports bad option values with exit code 2 and one line", async () => {
    const badDate = await cli("patient", [
      "consent",
      "grant",
      "--grantee-practitioner",
      gp.address,
      "--categories",
      "labs",
      "--until",
      "someday",
    ]);
    expect(badDate.code).toBe(2);
    expect(oneLine(badDate)).toEqual(["carechain: --until must be a date (YYYY-MM-DD or ISO 8601)"]);
    const noGrantee = await cli("patient", [
      "consent",
      "grant",
      "--categories",
      "labs",
      "--until",
      "2030-01-01",
    ]);
    expect(noGrantee.code).toBe(2);
    expect(oneLine(noGrantee)).toHaveLength(1);
    const badRef = await cli("gp", ["record", "get", "not-a-reference"]);
    expect(badRef.code).toBe(2);
    expect(oneLine(badRef)).toEqual(["carechain: reference must be Type/id"]);
    // without --chain-rpc the patient's verifier finds the ledger through the node's /health
    const found = await cli("patient", ["audit", "log", "--verify"]);
    expect(found.code, found.stderr).toBe(0);
    expect(json<{ completeness: { ok: boolean } }>(found).completeness.ok).toBe(true);
  });

  it("refuses a wrong keystore password with exit code 4", async () => {
    const r = await cli("patient", ["consent", "list"], { CARECHAIN_PASSWORD: "not the password" });
    expect(r.code).toBe(4);
    expect(oneLine(r)).toEqual(["carechain: wrong keystore password"]);
  });

  it("reports an unreachable node with exit code 3", async () => {
    const r = await cli("patient", ["consent", "list", "--node", "http://127.0.0.1:1"]);
    expect(r.code).toBe(3);
    expect(oneLine(r)).toEqual(["carechain: cannot reach the carechain node at http://127.0.0.1:1"]);
  });
});

async function waitUntil(check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 100));
  }
}
