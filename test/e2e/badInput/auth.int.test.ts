import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { generatePrivateKey } from "viem/accounts";
import type { Hex } from "viem";
import { issueSessionToken } from "../../../src/access/sessionToken.js";
import {
  badInputNode,
  expectNoInputLogged,
  expectOutcome,
  marker,
  phi,
  template,
} from "../../support/badInput.js";
import { engines } from "../../support/stores.js";

/**
 * Bad input to SIWE sign-in and session tokens, on a real node (anvil + SQLite or PostgreSQL):
 * every refusal is a 4xx FHIR OperationOutcome naming the problem, never a 500, never an echo of
 * an input value (nor a log line holding one), and never a partial write.
 */
describe.each(engines)("bad input: sign-in and sessions (%s)", (engine) => {
  const edge = badInputNode(engine);
  const { ask, patient, mallory } = edge;

  it("refuses a SIWE sign-in with another key's signature, a replayed challenge or garbage", async () => {
    const { node } = edge;
    const challenge = async () =>
      (await (
        await fetch(`${node.url}/auth/challenge`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ address: patient.address }),
        })
      ).json()) as { message: string };
    const verify = (body: unknown) =>
      ask("POST", "/auth/verify", { body, headers: { "content-type": "application/json" } });

    const c1 = await challenge();
    expectOutcome(
      await verify({ message: c1.message, signature: await mallory.signMessage({ message: c1.message }) }),
      401,
      /SIWE signature does not match the address/,
    );
    const c2 = await challenge();
    const good = { message: c2.message, signature: await patient.signMessage({ message: c2.message }) };
    expect((await verify(good)).status).toBe(200);
    expectOutcome(await verify(good), 401, /SIWE nonce unknown or already used/);

    const c3 = await challenge();
    const otherDomain = c3.message.replace(/^[^ ]+/, "evil.example");
    expectOutcome(
      await verify({ message: otherDomain, signature: await patient.signMessage({ message: otherDomain }) }),
      401,
      /SIWE domain mismatch/,
    );
    const c4 = await challenge();
    expectOutcome(
      await verify({ message: c4.message, signature: "0x1234" }),
      401,
      /SIWE signature malformed/,
    );
    expectOutcome(
      await verify({ message: c4.message, signature: phi() }),
      400,
      /signature: must be a 0x-prefixed hex/,
    );
    expectOutcome(await verify({ message: phi(), signature: "0xabcd" }), 401, /SIWE message malformed/);
    expectOutcome(await verify({ message: "x".repeat(5000), signature: "0xab" }), 400, /message/);
    expectOutcome(
      await verify({ message: c4.message, signature: "0xab", [phi()]: 1 }),
      400,
      /unrecognized|unknown/i,
    );
    expectOutcome(
      await ask("POST", "/auth/challenge", {
        body: { address: phi() },
        headers: { "content-type": "application/json" },
      }),
      400,
      /address: must be a 0x-prefixed 20-byte address/,
    );
    await fc.assert(
      fc.asyncProperty(
        fc.record(
          { message: fc.oneof(marker, fc.anything()), signature: fc.oneof(marker, fc.anything()) },
          { requiredKeys: [] },
        ),
        async (body) => expectOutcome(await verify(body), [400, 401], /SIWE|body|message|signature/),
      ),
      { numRuns: 100 },
    );
  });

  it("answers expired, forged, tampered, alg=none and missing session tokens with 401", async () => {
    const { node, docSession } = edge;
    const nodeKey = node.context.key.privateKey as Hex;
    const now = Math.floor(Date.now() / 1000);
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
    const [header, payload, signature] = docSession.token.split(".") as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as Record<string, unknown>;
    const tokens: Array<[string | undefined, RegExp]> = [
      [undefined, /sign in first/],
      [
        issueSessionToken(
          nodeKey,
          { sub: patient.address, kind: "patient", ttlSeconds: 60 },
          new Date((now - 3600) * 1000),
        ),
        /expired/,
      ],
      [
        issueSessionToken(generatePrivateKey(), { sub: patient.address, kind: "patient" }),
        /signature invalid/,
      ],
      [`${header}.${b64({ ...claims, sub: mallory.address })}.${signature}`, /signature invalid/],
      [`${header}.${b64({ ...claims, exp: now + 86_400 * 365 })}.${signature}`, /signature invalid/],
      [`${b64({ alg: "none", typ: "JWT" })}.${payload}.`, /malformed/],
      [`${b64({ alg: "none", typ: "JWT" })}.${payload}.${signature}`, /signature invalid/],
      [`${b64({ alg: "HS256", typ: "JWT" })}.${payload}.${signature}`, /signature invalid/],
      [phi(), /malformed/],
      ["", /malformed|sign in first/],
    ];
    const routes: Array<[string, string]> = [
      ["GET", "/fhir/Observation"],
      ["GET", "/fhir/Observation/observation-seed"],
      ["POST", "/fhir/Observation"],
      ["POST", "/fhir"],
      ["GET", "/auth/me"],
      ["GET", "/audit/me"],
      ["GET", "/consents"],
    ];
    for (const [token, says] of tokens)
      for (const [method, path] of routes) {
        const headers: Record<string, string> =
          token === undefined ? {} : { authorization: `Bearer ${token}` };
        const body = method === "POST" ? template("Observation") : undefined;
        expectOutcome(await ask(method, path, { body, headers }), 401, says);
      }
    expectOutcome(
      await ask("GET", "/auth/me", { headers: { authorization: `Basic ${phi()}` } }),
      401,
      /sign in first/,
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.base64String({ maxLength: 40 }).map((s) => s.replace(/[+/=]/g, "")),
          { minLength: 1, maxLength: 4 },
        ),
        async (parts) =>
          expectOutcome(
            await ask("GET", "/auth/me", { token: parts.join(".") }),
            401,
            /session token|sign in/,
          ),
      ),
      { numRuns: 60 },
    );
  });

  it("never logs a value from the input", async () => {
    await expectNoInputLogged(edge, "/auth/verify");
  });
});
