import { secp256k1 } from "@noble/curves/secp256k1";
import { SignJWT, UnsecuredJWT } from "jose";
import { sha256 } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { describe, expect, it } from "vitest";
import {
  issueSessionToken,
  nodePrivateJwk,
  nodePublicJwk,
  verifySessionToken,
  type SessionClaims,
} from "./sessionToken.js";

const nodeKey = generatePrivateKey();
const node = privateKeyToAccount(nodeKey);
const otherKey = generatePrivateKey();
const alice = privateKeyToAccount(generatePrivateKey()).address;
const ORG = `0x${"0a".repeat(32)}` as const;
const T0 = new Date(Date.UTC(2030, 0, 1));
const at = (seconds: number): Date => new Date(T0.getTime() + seconds * 1000);

const unauthenticated = (message: string): unknown =>
  expect.objectContaining({ kind: "unauthenticated", message });
const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString("base64url");
const parts = (token: string): [string, string, string] => token.split(".") as [string, string, string];

describe("session tokens", () => {
  it("round-trips claims, signed by the node (iss = node address)", () => {
    const token = issueSessionToken(
      nodeKey,
      { sub: alice.toLowerCase(), kind: "practitioner", organization: ORG, role: "physician" },
      T0,
    );
    const claims = verifySessionToken(nodeKey, token, at(10));
    expect(claims).toEqual<SessionClaims>({
      iss: node.address,
      sub: alice,
      aud: "carechain",
      iat: T0.getTime() / 1000,
      exp: T0.getTime() / 1000 + 900,
      jti: expect.stringMatching(/^[0-9a-f-]{36}$/) as unknown as string,
      kind: "practitioner",
      organization: ORG,
      role: "physician",
    });
    const header = JSON.parse(Buffer.from(parts(token)[0], "base64url").toString()) as unknown;
    expect(header).toEqual({ alg: "ES256K", typ: "JWT", kid: node.address });
  });

  it("verifies with the public JWK alone, and the JWK matches RFC 8812's shape", () => {
    const jwk = nodePublicJwk(nodeKey);
    expect(jwk).toEqual({
      kty: "EC",
      crv: "secp256k1",
      x: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/) as unknown as string,
      y: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/) as unknown as string,
      alg: "ES256K",
      use: "sig",
      kid: node.address,
    });
    expect(nodePrivateJwk(nodeKey).d).toBe(Buffer.from(nodeKey.slice(2), "hex").toString("base64url"));
    const token = issueSessionToken(nodeKey, { sub: alice, kind: "patient" }, T0);
    expect(verifySessionToken(jwk, token, at(1)).kind).toBe("patient");
    expect(() => issueSessionToken(jwk, { sub: alice, kind: "patient" })).toThrow(
      expect.objectContaining({ kind: "config" }),
    );
  });

  it("produces standard low-s ES256K signatures (checked with @noble/curves)", () => {
    for (let i = 0; i < 20; i++) {
      const token = issueSessionToken(nodeKey, { sub: alice, kind: "patient" }, T0);
      const [h, p, s] = parts(token);
      const digest = sha256(new TextEncoder().encode(`${h}.${p}`), "bytes");
      const publicKey = Buffer.from(node.publicKey.slice(2), "hex");
      expect(secp256k1.verify(Buffer.from(s, "base64url"), digest, publicKey, { lowS: true })).toBe(true);
    }
  });

  it("refuses an expired token", () => {
    const token = issueSessionToken(nodeKey, { sub: alice, kind: "patient", ttlSeconds: 60 }, T0);
    expect(verifySessionToken(nodeKey, token, at(59)).sub).toBe(alice);
    expect(() => verifySessionToken(nodeKey, token, at(60))).toThrow(
      unauthenticated("session token expired"),
    );
  });

  it("keeps its verification cache per node key and hands out copies", () => {
    const token = issueSessionToken(nodeKey, { sub: alice, kind: "patient", ttlSeconds: 600 }, T0);
    const first = verifySessionToken(nodeKey, token, at(1));
    (first as { sub: string }).sub = "0x0000000000000000000000000000000000000001";
    // a cached verification is not shared with another node's key
    expect(() => verifySessionToken(otherKey, token, at(2))).toThrow(
      unauthenticated("session token signature invalid"),
    );
    expect(verifySessionToken(nodeKey, token, at(2)).sub).toBe(alice);
  });

  it("refuses a tampered payload", () => {
    const token = issueSessionToken(nodeKey, { sub: alice, kind: "patient" }, T0);
    const [h, p, s] = parts(token);
    const claims = JSON.parse(Buffer.from(p, "base64url").toString()) as Record<string, unknown>;
    const forged = b64({ ...claims, kind: "node", organization: ORG });
    expect(() => verifySessionToken(nodeKey, `${h}.${forged}.${s}`, at(1))).toThrow(
      unauthenticated("session token signature invalid"),
    );
  });

  it("refuses a token signed by another key", () => {
    const token = issueSessionToken(otherKey, { sub: alice, kind: "patient" }, T0);
    expect(() => verifySessionToken(nodeKey, token, at(1))).toThrow(
      unauthenticated("session token signature invalid"),
    );
  });

  it("refuses alg none and HS256 keyed with the public JWK (algorithm confusion)", async () => {
    const unsigned = new UnsecuredJWT({ sub: alice, kind: "patient", aud: "carechain", iss: node.address })
      .setIssuedAt(T0)
      .setExpirationTime(at(900))
      .encode();
    expect(unsigned.endsWith(".")).toBe(true);
    expect(() => verifySessionToken(nodeKey, unsigned, at(1))).toThrow(
      unauthenticated("session token malformed"),
    );
    const withFakeSig = `${unsigned}AAAA`;
    expect(() => verifySessionToken(nodeKey, withFakeSig, at(1))).toThrow(
      unauthenticated("session token signature invalid"),
    );

    const secret = new TextEncoder().encode(JSON.stringify(nodePublicJwk(nodeKey)));
    const hs = await new SignJWT({ kind: "patient" })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject(alice)
      .setIssuer(node.address)
      .setAudience("carechain")
      .setIssuedAt(T0)
      .setExpirationTime(at(900))
      .setJti("x")
      .sign(secret);
    expect(() => verifySessionToken(nodeKey, hs, at(1))).toThrow(
      unauthenticated("session token signature invalid"),
    );
  });

  it("refuses the malleated high-s twin of a valid signature", () => {
    const token = issueSessionToken(nodeKey, { sub: alice, kind: "patient" }, T0);
    const [h, p, s] = parts(token);
    const sig = Buffer.from(s, "base64url");
    const n = secp256k1.CURVE.n;
    const highS = n - BigInt(`0x${sig.subarray(32).toString("hex")}`);
    const twin = Buffer.concat([
      sig.subarray(0, 32),
      Buffer.from(highS.toString(16).padStart(64, "0"), "hex"),
    ]);
    expect(() => verifySessionToken(nodeKey, `${h}.${p}.${twin.toString("base64url")}`, at(1))).toThrow(
      unauthenticated("session token signature invalid"),
    );
  });

  it("refuses malformed tokens", () => {
    for (const bad of ["", "abc", "a.b", "a.b.c.d", "####.x.y", "e30.e30.e30", "x".repeat(9000)]) {
      expect(() => verifySessionToken(nodeKey, bad, at(1))).toThrow(
        expect.objectContaining({ kind: "unauthenticated" }),
      );
    }
    expect(() => verifySessionToken(nodeKey, "a.b", at(1))).toThrow(
      unauthenticated("session token malformed"),
    );
  });

  it("checks the role shape of what it issues", () => {
    expect(() => issueSessionToken(nodeKey, { sub: alice, kind: "practitioner", organization: ORG })).toThrow(
      expect.objectContaining({
        kind: "invalid",
        message: "a practitioner session needs an organization and a role",
      }),
    );
    expect(() => issueSessionToken(nodeKey, { sub: alice, kind: "patient", organization: ORG })).toThrow(
      "a patient session needs no organization and no role",
    );
    expect(() => issueSessionToken(nodeKey, { sub: alice, kind: "node", organization: "0x1234" })).toThrow(
      "organization must be a bytes32 id",
    );
    expect(() => issueSessionToken(nodeKey, { sub: alice, kind: "patient", ttlSeconds: 0 })).toThrow(
      expect.objectContaining({ kind: "invalid" }),
    );
    expect(() => issueSessionToken(nodeKey, { sub: "bob", kind: "patient" })).toThrow(
      "session subject is not an address",
    );
    expect(() => issueSessionToken("0x1234", { sub: alice, kind: "patient" })).toThrow(
      expect.objectContaining({ kind: "config" }),
    );
  });
});
