import { encodePacked, keccak256, type Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { categoryMask, purposeBit } from "../model/vocabulary.js";
import { BaseError } from "../errors/BaseError.js";
import { engines, freshStore, type TestStore } from "../../test/support/stores.js";
import {
  decodeAccessRequestHeader,
  encodeAccessRequestHeader,
  newNonce,
  signAccessRequest,
  signNodeRequest,
  verifyAccessRequest,
  verifyNodeRequest,
  type AccessRequest,
} from "./nodeAuth.js";

const CHAIN = 31337;
const orgOf = (node: string): Hex =>
  keccak256(encodePacked(["string", "address"], ["carechain.organization", node as Hex]));

async function failure(p: Promise<unknown>): Promise<BaseError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof BaseError) return e;
    throw e;
  }
  throw new Error("expected a failure");
}

describe.each(engines)("node authentication (%s)", (engine) => {
  let t: TestStore;
  const node = privateKeyToAccount(generatePrivateKey());
  const suspendedNode = privateKeyToAccount(generatePrivateKey());
  const doctor = privateKeyToAccount(generatePrivateKey());
  const patient = privateKeyToAccount(generatePrivateKey());
  const org = orgOf(node.address);
  const now = 1_800_000_000_000;

  beforeAll(async () => {
    t = await freshStore(engine);
    await t.store.db
      .insertInto("organizations")
      .values([
        {
          id: org,
          name: "GP",
          kind: "clinic",
          endpoint: "http://127.0.0.1:1",
          node_address: node.address.toLowerCase(),
          active: 1,
        },
        {
          id: orgOf(suspendedNode.address),
          name: "Old",
          kind: "clinic",
          endpoint: "http://127.0.0.1:2",
          node_address: suspendedNode.address.toLowerCase(),
          active: 0,
        },
      ])
      .execute();
    await t.store.db
      .insertInto("practitioners")
      .values({ account: doctor.address.toLowerCase(), org_id: org, role: "physician", active: 1 })
      .execute();
  });
  afterAll(async () => {
    await t?.dispose();
  });

  const request = (over: Partial<AccessRequest> = {}): AccessRequest => ({
    patient: patient.address,
    requester: doctor.address,
    requesterOrganization: org,
    categories: categoryMask(["labs"]),
    purpose: purposeBit("TREAT"),
    expiry: Math.floor(now / 1000) + 300,
    nonce: newNonce(),
    ...over,
  });

  it("accepts a node-signed request once, and refuses its replay", async () => {
    const body = JSON.stringify({ hello: "world" });
    const headers = await signNodeRequest(node, { method: "POST", path: "/federation/fetch?x=1", body }, now);
    const verified = await verifyNodeRequest(
      { method: "POST", path: "/federation/fetch?x=1", body, headers },
      t.store.db,
      now + 1000,
    );
    expect(verified.node).toBe(node.address);
    expect(verified.organization.id).toBe(org);
    const replay = await failure(
      verifyNodeRequest(
        { method: "POST", path: "/federation/fetch?x=1", body, headers },
        t.store.db,
        now + 2000,
      ),
    );
    expect([replay.kind, replay.message]).toEqual(["conflict", "replayed node-request"]);
  });

  it("refuses tampered bodies, stale timestamps, unknown and suspended nodes", async () => {
    const body = "{}";
    const headers = await signNodeRequest(node, { method: "POST", path: "/p", body }, now);
    const tampered = await failure(
      verifyNodeRequest({ method: "POST", path: "/p", body: "{ }", headers }, t.store.db, now),
    );
    expect(tampered.message).toBe("node request signature does not match");
    const stale = await failure(
      verifyNodeRequest({ method: "POST", path: "/p", body, headers }, t.store.db, now + 61_000),
    );
    expect(stale.message).toBe("node request timestamp is outside the accepted window");
    const stranger = privateKeyToAccount(generatePrivateKey());
    const h2 = await signNodeRequest(stranger, { method: "GET", path: "/p" }, now);
    const unknown = await failure(
      verifyNodeRequest({ method: "GET", path: "/p", headers: h2 }, t.store.db, now),
    );
    expect([unknown.kind, unknown.message]).toEqual([
      "forbidden",
      "requesting node is not the node of an active registered organization",
    ]);
    const h3 = await signNodeRequest(suspendedNode, { method: "GET", path: "/p" }, now);
    expect(
      (await failure(verifyNodeRequest({ method: "GET", path: "/p", headers: h3 }, t.store.db, now))).kind,
    ).toBe("forbidden");
    const missing = await failure(
      verifyNodeRequest({ method: "GET", path: "/p", headers: {} }, t.store.db, now),
    );
    expect(missing.message).toBe("missing header x-carechain-node");
  });

  it("verifies a practitioner's AccessRequest once, bound to the requesting node's organization", async () => {
    const r = request();
    const signed = { accessRequest: r, signature: await signAccessRequest(doctor, r, CHAIN) };
    const header = decodeAccessRequestHeader(encodeAccessRequestHeader(signed));
    expect(header).toEqual(signed);
    const wrongOrg = await failure(
      verifyAccessRequest(t.store.db, signed, {
        chainId: CHAIN,
        organization: orgOf(suspendedNode.address),
        now,
      }),
    );
    expect(wrongOrg.message).toBe("access request organization is not the requesting node's organization");
    const ok = await verifyAccessRequest(t.store.db, signed, { chainId: CHAIN, organization: org, now });
    expect(ok).toMatchObject({
      practitioner: doctor.address,
      role: "physician",
      purpose: "TREAT",
      patient: patient.address,
    });
    const replay = await failure(
      verifyAccessRequest(t.store.db, signed, { chainId: CHAIN, organization: org, now }),
    );
    expect(replay.message).toBe("replayed access-request");
  });

  it("refuses forged, expired, other-chain and non-practitioner access requests", async () => {
    const r = request();
    const forged = {
      accessRequest: r,
      signature: await signAccessRequest(patient, { ...r, requester: patient.address }, CHAIN),
    };
    expect(
      (await failure(verifyAccessRequest(t.store.db, forged, { chainId: CHAIN, organization: org, now })))
        .message,
    ).toBe("access request is not signed by its requester");
    const otherChain = { accessRequest: r, signature: await signAccessRequest(doctor, r, 1) };
    expect(
      (await failure(verifyAccessRequest(t.store.db, otherChain, { chainId: CHAIN, organization: org, now })))
        .kind,
    ).toBe("unauthenticated");
    const old = request({ expiry: Math.floor(now / 1000) - 1 });
    const expired = { accessRequest: old, signature: await signAccessRequest(doctor, old, CHAIN) };
    expect(
      (await failure(verifyAccessRequest(t.store.db, expired, { chainId: CHAIN, organization: org, now })))
        .message,
    ).toBe("access request has expired");
    const byPatient = request({ requester: patient.address });
    const notPractitioner = {
      accessRequest: byPatient,
      signature: await signAccessRequest(patient, byPatient, CHAIN),
    };
    expect(
      (
        await failure(
          verifyAccessRequest(t.store.db, notPractitioner, { chainId: CHAIN, organization: org, now }),
        )
      ).message,
    ).toBe("requester is not an active practitioner of the requesting organization");
    const two = request({ purpose: purposeBit("TREAT") | purposeBit("HRESCH") });
    const twoPurposes = { accessRequest: two, signature: await signAccessRequest(doctor, two, CHAIN) };
    expect(
      (
        await failure(
          verifyAccessRequest(t.store.db, twoPurposes, { chainId: CHAIN, organization: org, now }),
        )
      ).kind,
    ).toBe("invalid");
  });
});
