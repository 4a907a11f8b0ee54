import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  concat,
  decodeEventLog,
  decodeFunctionData,
  isAddressEqual,
  keccak256,
  pad,
  toHex,
  type Abi,
  type Address,
  type Hex,
} from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auditAnchorAbi } from "../../src/chain/artifacts/AuditAnchor.js";
import { careCreditAbi } from "../../src/chain/artifacts/CareCredit.js";
import { consentRegistryAbi } from "../../src/chain/artifacts/ConsentRegistry.js";
import { credentialRegistryAbi } from "../../src/chain/artifacts/CredentialRegistry.js";
import { participantRegistryAbi } from "../../src/chain/artifacts/ParticipantRegistry.js";
import { recordLocatorAbi } from "../../src/chain/artifacts/RecordLocator.js";
import { studyEscrowAbi } from "../../src/chain/artifacts/StudyEscrow.js";
import { intendMint } from "../../src/chain/studyWrites.js";
import { loadConfig } from "../../src/config/config.js";
import { CATEGORIES, SENSITIVE_MASK } from "../../src/model/vocabulary.js";
import {
  encodeAccessRequestHeader,
  newNonce,
  signAccessRequest,
  type AccessRequest,
} from "../../src/federation/nodeAuth.js";
import { createLogger } from "../../src/node/logger.js";
import { startNode, type RunningNode } from "../../src/node/startNode.js";
import { registerParticipants } from "../support/participants.js";
import { grantForTreatment } from "../support/grants.js";
import { signIn, type Session } from "../support/session.js";
import { engines, freshDatabase, type FreshDatabase } from "../support/stores.js";

const SNOMED = "http://snomed.info/sct";
const DAY_S = 86_400;

/** A finding of the scan: where on the ledger something that reveals categories was seen. */
interface Finding {
  where: string;
  field: string;
  value: string;
}

/**
 * What the ledger and the locator API reveal about a patient with sensitive records, as an
 * attacker with a ledger node (every block, every event, every calldata) or a plain HTTP client
 * would read it: a patient with an HIV Condition and a depression Condition at a hospital node,
 * who grants a GP labs and mental health (a sensitive category); every event log of every
 * contract and every transaction's calldata is decoded and scanned for category data and grant
 * terms, the grant's on-chain state is read, and every stored locator (on chain and in the node's
 * mirror) is read, before and after the patient's erasure and after an opt-out of discovery. The
 * grant is still enforced at the node that holds the data. `/federation/locate` refuses an
 * unauthenticated caller, shows no categories to a practitioner and lands in the patient's log;
 * `$everything?federated=true` decides and audits before it fetches, and a refused caller gets
 * the answer of an unknown patient. A research study the patient joins (StudyEscrow, CareCredit)
 * leaves no trace of their account or record: a per-study pseudonym, a per-study payout address.
 */
describe.each(engines)("ledger privacy (%s)", (engine) => {
  const dir = mkdtempSync(join(tmpdir(), "carechain-ledger-privacy-"));
  let database: FreshDatabase | undefined;
  let node: RunningNode;
  const patient = privateKeyToAccount(generatePrivateKey());
  const other = privateKeyToAccount(generatePrivateKey());
  const doctor = privateKeyToAccount(generatePrivateKey());
  const gp = privateKeyToAccount(generatePrivateKey());
  const patientId = randomUUID();
  const otherId = randomUUID();
  let doc: Session;
  let me: Session;
  let contracts: Map<string, { name: string; abi: Abi }>;
  let grantId: Hex;

  const condition = (subject: string, code: string, display: string) => ({
    resourceType: "Condition",
    clinicalStatus: {
      coding: [{ system: "http://terminology.hl7.org/CodeSystem/condition-clinical", code: "active" }],
    },
    code: { coding: [{ system: SNOMED, code, display }] },
    subject: { reference: `Patient/${subject}` },
    recordedDate: "2024-03-01",
  });
  const lab = (subject: string) => ({
    resourceType: "Observation",
    status: "final",
    category: [
      {
        coding: [
          { system: "http://terminology.hl7.org/CodeSystem/observation-category", code: "laboratory" },
        ],
      },
    ],
    code: { coding: [{ system: "http://loinc.org", code: "2345-7" }] },
    subject: { reference: `Patient/${subject}` },
    effectiveDateTime: "2024-03-01T10:00:00Z",
  });
  const importPatient = async (id: string, account: Address, resources: object[]) => {
    const bundle = {
      resourceType: "Bundle",
      type: "transaction",
      entry: [
        {
          fullUrl: `urn:uuid:${id}`,
          resource: { resourceType: "Patient", id, name: [{ family: "Doe" }] },
          request: { method: "POST", url: "Patient" },
        },
        ...resources.map((resource) => ({
          fullUrl: `urn:uuid:${randomUUID()}`,
          resource,
          request: { method: "POST", url: (resource as { resourceType: string }).resourceType },
        })),
      ],
    };
    const res = await doc.send("POST", "/fhir", bundle, undefined, { "x-patient-account": account });
    expect(res.status).toBe(200);
  };

  const locations = (account: Address) =>
    node.context.clients.publicClient.readContract({
      address: node.context.deployment.recordLocator,
      abi: recordLocatorAbi,
      functionName: "locations",
      args: [account],
    });
  const holders = async (account: Address): Promise<string[]> =>
    ((await locations(account)) as ReadonlyArray<{ organization: Hex }>).map((l) =>
      l.organization.toLowerCase(),
    );
  const own = () => node.context.organizationId.toLowerCase();
  const until = async (what: string, check: () => Promise<boolean>, timeoutMs = 20_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
      await new Promise((r) => setTimeout(r, 150));
    }
  };
  /** Every intent committed so far is mined and mirrored. */
  const settled = async () => {
    await node.services.locators.idle();
    await until("the outbox is empty", async () => (await node.context.outbox.depth()) === 0);
    const head = await node.context.clients.publicClient.getBlockNumber();
    await node.context.indexer.waitForBlock(head, 10_000);
  };

  /** Every `categor*` field in a decoded value, with its path. */
  const categoryFields = (value: unknown, path: string, out: Array<{ path: string; value: unknown }>) => {
    if (Array.isArray(value)) value.forEach((v, i) => categoryFields(v, `${path}[${i}]`, out));
    else if (value !== null && typeof value === "object") {
      for (const [k, v] of Object.entries(value)) {
        if (/categor/iu.test(k)) out.push({ path: `${path}.${k}`, value: v });
        categoryFields(v, `${path}.${k}`, out);
      }
    }
    return out;
  };
  /** Every field that would carry a grant's terms (grantee, role, purposes, actions, window). */
  const termFields = (value: unknown, path: string, out: Array<{ path: string; value: unknown }>) => {
    if (Array.isArray(value)) value.forEach((v, i) => termFields(v, `${path}[${i}]`, out));
    else if (value !== null && typeof value === "object") {
      for (const [k, v] of Object.entries(value)) {
        if (/grantee|role|purpose|action|notBefore|notAfter/iu.test(k))
          out.push({ path: `${path}.${k}`, value: v });
        termFields(v, `${path}.${k}`, out);
      }
    }
    return out;
  };
  /**
   * Category data a ledger reader finds in decoded arguments: any category field or grant term of
   * RecordLocator and ConsentRegistry (which must hold none), and any sensitive bit in a category
   * field anywhere.
   */
  const findingsIn = (contract: string, where: string, args: unknown): Finding[] => {
    const strict = contract === "RecordLocator" || contract === "ConsentRegistry";
    return [
      ...categoryFields(args, "args", []).filter((f) => strict || (Number(f.value) & SENSITIVE_MASK) !== 0),
      ...(contract === "ConsentRegistry" ? termFields(args, "args", []) : []),
    ].map((f) => ({ where, field: f.path, value: String(f.value) }));
  };

  /** Scans every event log of every contract, and the calldata of every transaction, since block 0. */
  const scanLedger = async (): Promise<{ findings: Finding[]; logs: number; calls: number }> => {
    const client = node.context.clients.publicClient;
    const findings: Finding[] = [];
    const logs = await client.getLogs({ fromBlock: 0n, toBlock: "latest" });
    for (const log of logs) {
      const contract = contracts.get(log.address.toLowerCase());
      if (!contract) {
        findings.push({ where: `log of unknown contract ${log.address}`, field: "", value: log.data });
        continue;
      }
      const event = decodeEventLog({ abi: contract.abi, topics: log.topics, data: log.data });
      findings.push(...findingsIn(contract.name, `${contract.name}.${event.eventName}`, event.args));
    }
    let calls = 0;
    const head = await client.getBlockNumber();
    for (let n = 0n; n <= head; n++) {
      const block = await client.getBlock({ blockNumber: n, includeTransactions: true });
      for (const tx of block.transactions) {
        const contract = tx.to ? contracts.get(tx.to.toLowerCase()) : undefined;
        if (!contract) continue;
        calls++;
        const call = decodeFunctionData({ abi: contract.abi, data: tx.input });
        findings.push(...findingsIn(contract.name, `${contract.name}.${call.functionName}()`, call.args));
      }
    }
    return { findings, logs: logs.length, calls };
  };

  /** Every stored locator of `account`: on chain (`locations`) and in the node's mirror. */
  const storedLocators = async (account: Address) => {
    const onChain = (await locations(account)) as ReadonlyArray<Record<string, unknown>>;
    const mirrored = await node.context.store.db
      .selectFrom("record_locators")
      .selectAll()
      .where("patient", "=", account.toLowerCase())
      .execute();
    return { onChain, mirrored: mirrored as Array<Record<string, unknown>> };
  };
  const expectNoCategoryInLocators = async (account: Address) => {
    const { onChain, mirrored } = await storedLocators(account);
    for (const l of [...onChain, ...mirrored]) {
      expect(Object.keys(l).filter((k) => /categor/iu.test(k))).toEqual([]);
    }
    // the time on chain says no more than the day
    for (const l of onChain) expect(Number(l.updatedAt) % DAY_S).toBe(0);
  };

  const auditOf = async (session: Session) =>
    (
      (await (await session.get("/audit/me?limit=1000")).json()) as {
        items: Array<{
          entry: { action: string; decision: string; actor: { account: string }; reason?: string };
          // a version 2 entry keeps its reason in the opening of its commitment
          opening: { reason?: string } | null;
        }>;
      }
    ).items.map((i) => ({ ...i.entry, reason: i.entry.reason ?? i.opening?.reason }));

  const accessHeader = async (who: typeof doctor, about: Address) => {
    const request: AccessRequest = {
      patient: about,
      requester: who.address,
      requesterOrganization: node.context.organizationId.toLowerCase() as Hex,
      categories: 2 ** CATEGORIES.length - 1,
      purpose: 1, // TREAT
      expiry: Math.floor(Date.now() / 1000) + 300,
      nonce: newNonce(),
    };
    return encodeAccessRequestHeader({
      accessRequest: request,
      signature: await signAccessRequest(who, request, node.context.clients.chainId),
    });
  };

  beforeAll(async () => {
    if (engine === "postgres") database = await freshDatabase();
    node = await startNode(
      loadConfig({}, { dataDir: dir, port: 0, databaseUrl: database?.url, anchorIntervalMs: 500 }),
      { logger: createLogger("silent") },
    );
    const d = node.context.deployment;
    contracts = new Map<string, { name: string; abi: Abi }>([
      [d.participantRegistry.toLowerCase(), { name: "ParticipantRegistry", abi: participantRegistryAbi }],
      [d.consentRegistry.toLowerCase(), { name: "ConsentRegistry", abi: consentRegistryAbi }],
      [d.auditAnchor.toLowerCase(), { name: "AuditAnchor", abi: auditAnchorAbi }],
      [d.recordLocator.toLowerCase(), { name: "RecordLocator", abi: recordLocatorAbi }],
      [d.credentialRegistry.toLowerCase(), { name: "CredentialRegistry", abi: credentialRegistryAbi }],
      [d.careCredit.toLowerCase(), { name: "CareCredit", abi: careCreditAbi }],
      [d.studyEscrow.toLowerCase(), { name: "StudyEscrow", abi: studyEscrowAbi }],
    ]);
    await registerParticipants(
      node,
      [],
      [
        { account: doctor.address, role: "physician" },
        { account: gp.address, role: "physician" },
      ],
    );
    doc = await signIn(node.url, doctor);
    await importPatient(patientId, patient.address, [
      condition(patientId, "86406008", "HIV infection"),
      condition(patientId, "35489007", "Depressive disorder"),
      lab(patientId),
    ]);
    await importPatient(otherId, other.address, [lab(otherId)]);
    me = await signIn(node.url, patient);

    // a consent on the ledger too: the patient grants the GP labs and mental health (sensitive)
    const granted = await grantForTreatment(node.url, patient, gp.address, ["labs", "mental-health"]);
    expect(granted.status).toBe(201);
    grantId = ((await granted.json()) as { grantId: Hex }).grantId;

    await until("the hospital's locators are on chain", async () => {
      const [a, b] = await Promise.all([holders(patient.address), holders(other.address)]);
      return a.includes(own()) && b.includes(own());
    });
    await settled();
  }, 120_000);

  afterAll(async () => {
    await node?.stop();
    rmSync(dir, { recursive: true, force: true });
    await database?.drop();
  });

  it("holds no category data in any event, any calldata or any stored locator", async () => {
    const scan = await scanLedger();
    expect(scan.findings).toEqual([]);
    expect(scan.logs).toBeGreaterThan(5);
    expect(scan.calls).toBeGreaterThan(5);
    await expectNoCategoryInLocators(patient.address);
    expect(await holders(patient.address)).toEqual([own()]);
  });

  it("keeps a research study pseudonymous on the ledger: no patient account, record or category in StudyEscrow or CareCredit", async () => {
    const ledger = node.services.studyLedger;
    const client = node.context.clients.publicClient;
    const sponsor = node.context.key.account.address;
    await ledger.settled([(await intendMint(node.context.outbox, sponsor, 10_000n, "privacy-test")).id]);
    const now = Number((await client.getBlock()).timestamp);
    const studyId = keccak256(toHex(`privacy-study:${engine}`));
    const registered = await ledger.registerStudy({
      studyId,
      protocolHash: keccak256(toHex("HIV and depression cohort protocol")),
      reward: 100n,
      maxParticipants: 10,
      enrollmentStart: now - 60,
      enrollmentEnd: now + 3600,
      minK: 5,
      epsilonBudgetMicros: 1_000_000n,
    });
    // as the study side does it: a pseudonym keyed by a secret of the study, a payout address the
    // patient's wallet derives for this study, a commitment to the signed research consent
    const studySecret = keccak256(toHex(`secret:${randomUUID()}`));
    const participant = keccak256(concat([studySecret, patient.address]));
    const payout = privateKeyToAccount(
      keccak256(concat([toHex("payout"), studyId, generatePrivateKey()])),
    ).address;
    const writes = [
      ...registered.outboxIds,
      (await ledger.enroll(studyId, participant, payout, keccak256(toHex(`consent:${randomUUID()}`))))
        .outboxId,
      (await ledger.recordRelease(studyId, keccak256(toHex("release-1")), 250_000n, 5)).outboxId,
      (
        await ledger.pay(
          studyId,
          participant,
          keccak256(concat([keccak256(toHex("release-1")), participant])),
        )
      ).outboxId,
      (await ledger.withdraw(studyId, participant)).outboxId,
      (await ledger.close(studyId)).outboxId,
    ];
    await ledger.settled(writes);

    // every StudyEscrow and CareCredit event and call: the fields they carry, and their raw bytes
    const research = new Set(
      [node.context.deployment.studyEscrow, node.context.deployment.careCredit].map((a) => a.toLowerCase()),
    );
    const logs = (await client.getLogs({ fromBlock: 0n, toBlock: "latest" })).filter((l) =>
      research.has(l.address.toLowerCase()),
    );
    const events = logs.map((log) => {
      const c = contracts.get(log.address.toLowerCase())!;
      return { log, ...decodeEventLog({ abi: c.abi, topics: log.topics, data: log.data }) };
    });
    expect(new Set(events.map((e) => e.eventName))).toEqual(
      new Set([
        "Transfer",
        "Approval",
        "RoleGranted",
        "StudyRegistered",
        "ParticipantEnrolled",
        "ReleaseRecorded",
        "ContributionPaid",
        "ParticipantWithdrew",
        "StudyClosed",
      ]),
    );
    const enrolled = events.find((e) => e.eventName === "ParticipantEnrolled")!;
    expect(Object.keys(enrolled.args as object).sort()).toEqual([
      "consentCommitment",
      "organization",
      "participant",
      "payout",
      "studyId",
    ]);
    const calls: Hex[] = [];
    for (const hash of new Set(logs.map((l) => l.transactionHash)))
      calls.push((await client.getTransaction({ hash })).input);
    const bytes = [...logs.map((l) => `${l.topics.join("")}${l.data}`), ...calls].join("").toLowerCase();
    // the patient's account, plain or as a 32-byte word or hashed alone, is nowhere; nor their record id
    for (const needle of [
      patient.address.slice(2),
      pad(patient.address).slice(2),
      keccak256(patient.address).slice(2),
      toHex(patientId).slice(2),
    ])
      expect(bytes).not.toContain(needle.toLowerCase());
    // the payout went to the per-study address, never to the patient's account
    const transfers = events
      .filter((e) => e.eventName === "Transfer")
      .map((e) => e.args as unknown as { to: Address });
    expect(transfers.some((t) => isAddressEqual(t.to, payout))).toBe(true);
    expect(transfers.some((t) => isAddressEqual(t.to, patient.address))).toBe(false);
    expect(await ledger.balanceOf(patient.address)).toBe(0n);
    // and the category scan of the whole ledger finds nothing, now that studies are on it
    expect((await scanLedger()).findings).toEqual([]);
  });

  it("keeps the sensitive grant off the ledger: no term in its state, events or calldata; still enforced here", async () => {
    const client = node.context.clients.publicClient;
    const registry = node.context.deployment.consentRegistry;
    const record = await client.readContract({
      address: registry,
      abi: consentRegistryAbi,
      functionName: "getGrant",
      args: [patient.address, grantId],
    });
    expect(Object.keys(record).sort()).toEqual(["grantedAt", "revokedAt"]);
    expect(record.grantedAt).toBeGreaterThan(0n);
    const events = await client.getContractEvents({
      address: registry,
      abi: consentRegistryAbi,
      fromBlock: 0n,
    });
    expect(events.map((e) => [e.eventName, Object.keys(e.args).sort()])).toEqual([
      ["ConsentGranted", ["grantId", "patient"]],
    ]);
    // the raw bytes do not name the grantee either (the practitioner's account)
    const gpHex = gp.address.slice(2).toLowerCase();
    for (const e of events) expect(`${e.topics.join("")}${e.data}`.toLowerCase()).not.toContain(gpHex);
    const tx = await client.getTransaction({ hash: events[0]!.transactionHash });
    expect(tx.input.toLowerCase()).not.toContain(gpHex);

    // the node that holds the data enforces the terms it keeps off the ledger
    const gpSession = await signIn(node.url, gp);
    const everything = await (await gpSession.get(`/fhir/Patient/${patientId}/$everything`, "TREAT")).text();
    expect(everything).toContain("Depressive disorder");
    expect(everything).not.toContain("HIV infection");
  });

  it("refuses /federation/locate without a session, with an OperationOutcome", async () => {
    const res = await fetch(`${node.url}/federation/locate?patient=${patient.address}`);
    expect(res.status).toBe(401);
    expect(((await res.json()) as { resourceType: string }).resourceType).toBe("OperationOutcome");
    // another patient is neither a practitioner nor a node
    const stranger = await signIn(node.url, other);
    expect((await stranger.get(`/federation/locate?patient=${patient.address}`)).status).toBe(403);
  });

  it("answers a practitioner with holders only, and logs the look-up in the patient's log", async () => {
    const res = await doc.get(`/federation/locate?patient=${patient.address}`);
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).not.toMatch(/categor/iu);
    for (const c of CATEGORIES) expect(text).not.toContain(`"${c}"`);
    const body = JSON.parse(text) as { locations: Array<Record<string, unknown>> };
    expect(body.locations.map((l) => Object.keys(l).sort())).toEqual([
      ["active", "endpoint", "node", "organization", "updatedAt"],
    ]);
    await until("the look-up is in the patient's log", async () =>
      (await auditOf(me)).some(
        (e) =>
          e.action === "search" &&
          e.decision === "permit" &&
          isAddressEqual(e.actor.account as Address, doctor.address) &&
          /record locators/u.test(e.reason ?? ""),
      ),
    );
  });

  it("decides and audits $everything?federated=true; a refused caller cannot tell the patient exists", async () => {
    const path = (id: string) => `${node.url}/fhir/Patient/${id}/$everything?federated=true`;
    const get = (id: string, header?: string) =>
      fetch(path(id), {
        redirect: "manual",
        headers: header ? { "x-carechain-access-request": header } : {},
      });
    const anonymous = await get(patientId);
    expect(anonymous.status).toBe(401);

    // allowed: the doctor's organization authored the lab; the decision is in the log. The two
    // sensitive Conditions need the patient's grant even for the authoring organization.
    const allowed = await get(patientId, await accessHeader(doctor, patient.address));
    expect(allowed.status).toBe(200);
    const bundle = (await allowed.json()) as { entry: Array<{ resource: { resourceType: string } }> };
    expect(bundle.entry.filter((e) => e.resource.resourceType === "Condition")).toHaveLength(0);
    expect(bundle.entry.filter((e) => e.resource.resourceType === "Observation").length).toBeGreaterThan(0);

    // an AccessRequest for another patient, presented on this patient's id: refused like a miss
    const refused = await get(patientId, await accessHeader(doctor, other.address));
    const missing = await get(randomUUID(), await accessHeader(doctor, other.address));
    expect(refused.status).toBe(404);
    expect(missing.status).toBe(404);
    expect(refused.headers.get("location")).toBeNull();
    const [refusedBody, missingBody] = [await refused.text(), await missing.text()];
    expect(refusedBody).toBe(missingBody);
    expect(refusedBody).not.toContain(patient.address.slice(2).toLowerCase());

    await until("the decisions are in the patient's log", async () => {
      const mine = (await auditOf(me)).filter((e) =>
        isAddressEqual(e.actor.account as Address, doctor.address),
      );
      return (
        mine.some((e) => e.action === "fetch" && e.decision === "permit") &&
        mine.some((e) => e.action === "deny" && /federated/u.test(e.reason ?? ""))
      );
    });
  });

  it("withdraws the locator when the patient opts the organization out, and publishes none until they opt in", async () => {
    const them = await signIn(node.url, other);
    expect(await (await them.get("/federation/discovery")).json()).toEqual({
      patient: other.address,
      discoverable: true,
    });
    const off = await them.send("PUT", "/federation/discovery", { discoverable: false });
    expect(off.status).toBe(200);
    await until(
      "the opted-out locator is withdrawn",
      async () => (await holders(other.address)).length === 0,
    );

    // new records of the patient: still not listed
    expect((await doc.send("POST", "/fhir/Observation", lab(otherId))).status).toBe(201);
    await settled();
    expect(await holders(other.address)).toEqual([]);
    expect((await storedLocators(other.address)).mirrored).toEqual([]);

    // a practitioner cannot flip it for the patient
    expect((await doc.send("PUT", "/federation/discovery", { discoverable: true })).status).toBe(403);

    const on = await them.send("PUT", "/federation/discovery", { discoverable: true });
    expect(on.status).toBe(200);
    await until("the locator is published again", async () => (await holders(other.address)).includes(own()));
  });

  it("leaves no locator and no category data after the patient is erased", async () => {
    const erased = await me.send("POST", `/fhir/Patient/${patientId}/$erase`, {});
    expect(erased.status).toBe(200);
    await until(
      "the erased patient's locator is withdrawn",
      async () => (await holders(patient.address)).length === 0,
    );
    await settled();
    const { onChain, mirrored } = await storedLocators(patient.address);
    expect(onChain).toEqual([]);
    expect(mirrored).toEqual([]);
    const scan = await scanLedger();
    expect(scan.findings).toEqual([]);
    // what stays of the patient in RecordLocator's history: their account and this organization
    const withdrawn = await node.context.clients.publicClient.getContractEvents({
      address: node.context.deployment.recordLocator,
      abi: recordLocatorAbi,
      fromBlock: 0n,
      args: { patient: patient.address },
    });
    expect(withdrawn.map((e) => e.eventName).at(-1)).toBe("LocatorWithdrawn");
    for (const e of withdrawn) {
      expect(Object.keys(e.args).sort()).toEqual(
        e.eventName === "LocatorWithdrawn"
          ? ["organization", "patient"]
          : ["organization", "patient", "updatedAt"],
      );
    }
  });
});
