import { generateKeyPairSync } from "node:crypto";
import { keccak256, parseEventLogs, toHex, type Address, type Hex } from "viem";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { credentialRegistryAbi as abi } from "../../src/chain/artifacts/CredentialRegistry.js";
import { participantRegistryAbi } from "../../src/chain/artifacts/ParticipantRegistry.js";
import type { ChainClients } from "../../src/chain/clients.js";
import { jwkThumbprint } from "../../src/passport/jwk.js";
import { expectRevert, mined, randomAccount, startChainFixture, type ChainFixture } from "./chainFixture.js";

const ISSUER_KIND = 6;
const LAB_KIND = 3;
const KEY_ACTIVE = 1;
const KEY_RETIRED = 2;
const KEY_REVOKED = 3;

/** A fresh P-256 key as the contract takes it: x, y and the thumbprint kid, all bytes32. */
function freshKey(): { kid: Hex; x: Hex; y: Hex } {
  const jwk = generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey.export({ format: "jwk" });
  const hex = (b64: string | undefined): Hex => `0x${Buffer.from(b64 ?? "", "base64url").toString("hex")}`;
  return {
    kid: hex(jwkThumbprint({ crv: "P-256", x: jwk.x ?? "", y: jwk.y ?? "" })),
    x: hex(jwk.x),
    y: hex(jwk.y),
  };
}

let orgCounter = 0;

describe("CredentialRegistry", () => {
  let f: ChainFixture;
  let address: Address;

  beforeAll(async () => {
    f = await startChainFixture();
    address = f.deployment.credentialRegistry;
  });
  afterAll(async () => {
    await f?.stop();
  });

  async function organization(kind: number): Promise<{ orgId: Hex; clients: ChainClients }> {
    const account = randomAccount();
    const orgId = keccak256(toHex(`credential-org-${++orgCounter}`));
    await mined(
      f.governor,
      f.governor.walletClient.writeContract({
        address: f.deployment.participantRegistry,
        abi: participantRegistryAbi,
        functionName: "registerOrganization",
        args: [orgId, `Org ${orgCounter}`, kind, "https://org.example", account.address],
      }),
    );
    return { orgId, clients: await f.connect(account) };
  }

  const write = (c: ChainClients, functionName: string, args: readonly unknown[]) =>
    c.walletClient.writeContract({ address, abi, functionName, args } as never) as Promise<Hex>;
  const read = (functionName: string, args: readonly unknown[] = []) =>
    f.governor.publicClient.readContract({ address, abi, functionName, args } as never) as Promise<unknown>;

  async function registeredIssuer(url = "https://issuer.example/shc") {
    const org = await organization(ISSUER_KIND);
    await mined(org.clients, write(org.clients, "registerIssuer", [url]));
    return org;
  }

  it("an organization of kind issuer registers its URL and a key whose kid the contract recomputes", async () => {
    const org = await organization(ISSUER_KIND);
    const receipt = await mined(
      org.clients,
      write(org.clients, "registerIssuer", ["https://issuer.example/a"]),
    );
    const [registered] = parseEventLogs({ abi, logs: receipt.logs, eventName: "IssuerRegistered" });
    expect(registered?.args).toEqual({ organization: org.orgId, url: "https://issuer.example/a" });

    const key = freshKey();
    const added = await mined(org.clients, write(org.clients, "addKey", [key.kid, key.x, key.y]));
    const [event] = parseEventLogs({ abi, logs: added.logs, eventName: "IssuerKeyAdded" });
    expect(event?.args).toEqual({ organization: org.orgId, kid: key.kid, x: key.x, y: key.y });
    expect(await read("thumbprint", [key.x, key.y])).toBe(key.kid);
    expect(await read("issuer", [org.orgId])).toEqual({ url: "https://issuer.example/a", kids: [key.kid] });
    expect(await read("issuerKey", [key.kid])).toEqual({
      organization: org.orgId,
      x: key.x,
      y: key.y,
      status: KEY_ACTIVE,
      revokedAt: 0n,
      crlVersion: 0,
    });
    expect(await read("issuerIds")).toContain(org.orgId);
    expect(await read("mayIssue", [org.orgId])).toBe(true);

    await expectRevert(write(org.clients, "addKey", [key.kid, key.x, key.y]), "CredentialKeyExists", [
      key.kid,
    ]);
    const other = freshKey();
    await expectRevert(write(org.clients, "addKey", [key.kid, other.x, other.y]), "CredentialKidMismatch", [
      key.kid,
      other.kid,
    ]);
  });

  it("refuses URLs that are empty or too long, and keys before the issuer URL", async () => {
    const org = await organization(ISSUER_KIND);
    await expectRevert(write(org.clients, "registerIssuer", [""]), "CredentialInvalidUrl", [0n]);
    await expectRevert(
      write(org.clients, "registerIssuer", [`https://${"a".repeat(300)}`]),
      "CredentialInvalidUrl",
      [308n],
    );
    const key = freshKey();
    await expectRevert(write(org.clients, "addKey", [key.kid, key.x, key.y]), "CredentialUnknownIssuer", [
      org.orgId,
    ]);
  });

  it("an organization that is not an issuer cannot register until the governor approves it", async () => {
    const lab = await organization(LAB_KIND);
    await expectRevert(write(lab.clients, "registerIssuer", ["https://lab.example"]), "CredentialNotIssuer", [
      lab.orgId,
    ]);
    await expectRevert(
      write(lab.clients, "setIssuerApproval", [lab.orgId, true]),
      "AccessControlUnauthorizedAccount",
      [lab.clients.account.address, keccak256(toHex("GOVERNOR_ROLE"))],
    );
    const approval = await mined(f.governor, write(f.governor, "setIssuerApproval", [lab.orgId, true]));
    const [event] = parseEventLogs({ abi, logs: approval.logs, eventName: "IssuerApprovalChanged" });
    expect(event?.args).toEqual({ organization: lab.orgId, approved: true });
    await mined(lab.clients, write(lab.clients, "registerIssuer", ["https://lab.example"]));
    await mined(f.governor, write(f.governor, "setIssuerApproval", [lab.orgId, false]));
    const key = freshKey();
    await expectRevert(write(lab.clients, "addKey", [key.kid, key.x, key.y]), "CredentialNotIssuer", [
      lab.orgId,
    ]);
  });

  it("an account that is no node, and a suspended issuer, cannot write", async () => {
    const stranger = await f.connect(randomAccount());
    await expectRevert(write(stranger, "registerIssuer", ["https://x.example"]), "CredentialUnknownNode", [
      stranger.account.address,
    ]);
    const org = await registeredIssuer();
    await mined(
      f.governor,
      f.governor.walletClient.writeContract({
        address: f.deployment.participantRegistry,
        abi: participantRegistryAbi,
        functionName: "setOrganizationActive",
        args: [org.orgId, false],
      }),
    );
    const key = freshKey();
    await expectRevert(write(org.clients, "addKey", [key.kid, key.x, key.y]), "CredentialUnknownNode", [
      org.clients.account.address,
    ]);
    expect(await read("mayIssue", [org.orgId])).toBe(false);
  });

  it("rotation retires the old key (its cards stay valid) and adds the new one", async () => {
    const org = await registeredIssuer();
    const first = freshKey();
    const second = freshKey();
    await mined(org.clients, write(org.clients, "addKey", [first.kid, first.x, first.y]));
    const receipt = await mined(
      org.clients,
      write(org.clients, "rotateKey", [first.kid, second.kid, second.x, second.y]),
    );
    const [retired] = parseEventLogs({ abi, logs: receipt.logs, eventName: "IssuerKeyRetired" });
    expect(retired?.args).toEqual({ organization: org.orgId, kid: first.kid });
    expect(((await read("issuerKey", [first.kid])) as { status: number }).status).toBe(KEY_RETIRED);
    expect(((await read("issuerKey", [second.kid])) as { status: number }).status).toBe(KEY_ACTIVE);
    const third = freshKey();
    await expectRevert(
      write(org.clients, "rotateKey", [first.kid, third.kid, third.x, third.y]),
      "CredentialKeyStatus",
      [first.kid, KEY_RETIRED],
    );
  });

  it("revokes a key once, only its owner, and only a known key", async () => {
    const org = await registeredIssuer();
    const other = await registeredIssuer();
    const key = freshKey();
    await mined(org.clients, write(org.clients, "addKey", [key.kid, key.x, key.y]));
    await expectRevert(write(other.clients, "revokeKey", [key.kid]), "CredentialKeyNotOwned", [
      key.kid,
      other.orgId,
    ]);
    const unknown = freshKey();
    await expectRevert(write(org.clients, "revokeKey", [unknown.kid]), "CredentialUnknownKey", [unknown.kid]);
    const receipt = await mined(org.clients, write(org.clients, "revokeKey", [key.kid]));
    const [event] = parseEventLogs({ abi, logs: receipt.logs, eventName: "IssuerKeyRevoked" });
    const block = await f.governor.publicClient.getBlock({ blockNumber: receipt.blockNumber });
    expect(event?.args).toEqual({ organization: org.orgId, kid: key.kid, revokedAt: block.timestamp });
    expect(await read("issuerKey", [key.kid])).toMatchObject({
      status: KEY_REVOKED,
      revokedAt: block.timestamp,
    });
    await expectRevert(write(org.clients, "revokeKey", [key.kid]), "CredentialKeyStatus", [
      key.kid,
      KEY_REVOKED,
    ]);
  });

  it("keeps each key's revocation list of rids with their timestamps and counts its version", async () => {
    const org = await registeredIssuer();
    const other = await registeredIssuer();
    const key = freshKey();
    await mined(org.clients, write(org.clients, "addKey", [key.kid, key.x, key.y]));
    const receipt = await mined(
      org.clients,
      write(org.clients, "revokeCard", [key.kid, "vwAjHdarZuc", 1795594164n]),
    );
    const [event] = parseEventLogs({ abi, logs: receipt.logs, eventName: "CardRevoked" });
    expect(event?.args).toEqual({
      kid: key.kid,
      rid: "vwAjHdarZuc",
      revokedBefore: 1795594164n,
      crlVersion: 1,
    });
    await mined(org.clients, write(org.clients, "revokeCard", [key.kid, "FKDIxsTCGlU", 0n]));
    expect(await read("revokedCards", [key.kid])).toEqual([
      { rid: "vwAjHdarZuc", revokedBefore: 1795594164n },
      { rid: "FKDIxsTCGlU", revokedBefore: 0n },
    ]);
    expect(((await read("issuerKey", [key.kid])) as { crlVersion: number }).crlVersion).toBe(2);
    await expectRevert(
      write(org.clients, "revokeCard", [key.kid, "FKDIxsTCGlU", 0n]),
      "CredentialRidRevoked",
      [key.kid],
    );
    await expectRevert(write(org.clients, "revokeCard", [key.kid, "", 0n]), "CredentialInvalidRid", [0n]);
    await expectRevert(
      write(org.clients, "revokeCard", [key.kid, "x".repeat(25), 0n]),
      "CredentialInvalidRid",
      [25n],
    );
    await expectRevert(write(other.clients, "revokeCard", [key.kid, "abc", 0n]), "CredentialKeyNotOwned", [
      key.kid,
      other.orgId,
    ]);
  });

  it("no event carries anything about a patient: keys, URLs, rids and roles only", () => {
    const allowed = new Set([
      "organization",
      "url",
      "approved",
      "kid",
      "x",
      "y",
      "revokedAt",
      "rid",
      "revokedBefore",
      "crlVersion",
      "role",
      "previousAdminRole",
      "newAdminRole",
      "account",
      "sender",
    ]);
    for (const item of abi) {
      if (item.type !== "event") continue;
      for (const input of item.inputs) expect(allowed, `${item.name}.${input.name}`).toContain(input.name);
    }
  });
});
