import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { loadConfig } from "../../src/config/config.js";
import { createLogger } from "../../src/node/logger.js";
import { startNode, type RunningNode } from "../../src/node/startNode.js";
import { exchange, type Answer } from "../support/exchange.js";
import { signIn, type Session } from "../support/session.js";

/**
 * The attacker sends values they can recognise (a marker) in every place an error could repeat
 * them: a path parameter, a resource type, a purpose header, an unknown route, an over-long URL,
 * an oversized or malformed body, a wrong content type. Every answer must be a FHIR
 * OperationOutcome that names the parameter or the rule, and the marker must appear nowhere in
 * the answer: not in the body, not in any header.
 */
const MARK = "LeakMarkerQ";

function expectSealedOutcome(a: Answer, status: number, says: RegExp, marker = MARK): void {
  expect(a.status, a.text.slice(0, 300)).toBe(status);
  expect(a.headers["content-type"]).toMatch(/^application\/fhir\+json/);
  const body = JSON.parse(a.text) as { resourceType: string; issue: Array<{ diagnostics?: string }> };
  expect(body.resourceType).toBe("OperationOutcome");
  expect(body.issue[0]?.diagnostics).toMatch(says);
  expect(a.text).not.toContain(marker);
  for (const [name, value] of Object.entries(a.headers)) {
    expect(`${name}: ${String(value)}`).not.toContain(marker);
  }
}

describe("errors repeat nothing the caller sent", () => {
  const dir = mkdtempSync(join(tmpdir(), "carechain-leaks-"));
  const patient = privateKeyToAccount(generatePrivateKey());
  let node: RunningNode;
  let session: Session;
  const ask = (
    method: string,
    path: string,
    options: { headers?: Record<string, string>; body?: string | Buffer; token?: boolean } = {},
  ): Promise<Answer> =>
    exchange(
      `${node.url}${path}`,
      method,
      {
        ...(options.token === false ? {} : { authorization: `Bearer ${session.token}` }),
        ...options.headers,
      },
      options.body,
    );

  beforeAll(async () => {
    node = await startNode(loadConfig({}, { dataDir: dir, port: 0 }), { logger: createLogger("silent") });
    session = await signIn(node.url, patient);
  }, 120_000);

  afterAll(async () => {
    await node?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("a 10,000-character id is refused by name, not repeated", async () => {
    const id = `${MARK}${"x".repeat(10_000 - MARK.length)}`;
    for (const path of [
      `/fhir/Patient/${id}`,
      `/fhir/Observation/${id}/_history`,
      `/fhir/Patient/${id}/$everything`,
      `/audit/entries/${id}/proof`,
      `/subscriptions/${id}/events`,
      `/consents/nonce/${id}`,
    ]) {
      expectSealedOutcome(await ask("GET", path), 414, /^a path parameter is longer than 100 characters$/);
    }
    // short enough for the router, still not a FHIR id
    expectSealedOutcome(await ask("GET", `/fhir/Patient/${MARK}.x!y`), 400, /path id: must be a FHIR id/);
  });

  it("an unknown resource type is refused by rule, on every FHIR interaction", async () => {
    for (const type of [`Xyzzy<script>${MARK}`, `Xyzzy${MARK}`]) {
      const t = encodeURIComponent(type);
      const json = { "content-type": "application/fhir+json" };
      const body = JSON.stringify({ resourceType: type });
      for (const [method, path] of [
        ["GET", `/fhir/${t}`],
        ["GET", `/fhir/${t}/1`],
        ["GET", `/fhir/${t}/1/_history`],
        ["GET", `/fhir/${t}/1/_history/1`],
        ["POST", `/fhir/${t}`],
        ["PUT", `/fhir/${t}/1`],
      ] as const) {
        const a = await ask(method, path, method === "GET" ? {} : { headers: json, body });
        expectSealedOutcome(a, 400, /resource type/);
      }
    }
  });

  it("an unknown purpose of use is refused by name", async () => {
    for (const purpose of [MARK, `${MARK}<b>`, "TREATX"]) {
      const a = await ask("GET", "/auth/me", { headers: { "x-purpose-of-use": purpose } });
      expectSealedOutcome(a, 400, /unknown purpose of use/, purpose);
    }
  });

  it("an unknown route is a 404, a known path under another method a 405, neither repeating the path", async () => {
    expectSealedOutcome(
      await ask("GET", `/nowhere/${MARK}/x?q=${MARK}`),
      404,
      /^no route for this method and path$/,
    );
    expectSealedOutcome(
      await ask("GET", `/fhir/Patient/1/${MARK}`),
      404,
      /^no route for this method and path$/,
    );
    expectSealedOutcome(
      await ask("DELETE", `/${MARK}`, { token: false }),
      404,
      /^no route for this method and path$/,
    );
    const patch = await ask("PATCH", `/fhir/Patient/${MARK}`);
    expectSealedOutcome(patch, 405, /^method not allowed for this path$/);
    expect(String(patch.headers.allow).split(", ").sort()).toEqual(["DELETE", "GET", "PUT"]);
  });

  it("the server's own refusals are OperationOutcomes too: a 100 KB URL (431) and a method HTTP does not know (400)", async () => {
    const long = await ask("GET", `/fhir/Patient?name=${MARK}${"a".repeat(100 * 1024)}`);
    expectSealedOutcome(long, 431, /request line or headers are too large/);
    const header = await ask("GET", "/health", { headers: { "x-filler": `${MARK}${"b".repeat(40_000)}` } });
    expectSealedOutcome(header, 431, /request line or headers are too large/);
    const method = await ask(`${MARK.toUpperCase()}`, "/health");
    expectSealedOutcome(method, 400, /malformed HTTP request/, MARK.toUpperCase());
  });

  it("an oversized body is a 413, a malformed one a 400, a wrong content type a 415, none repeated", async () => {
    const json = { "content-type": "application/fhir+json" };
    const big = Buffer.from(`{"resourceType":"${MARK}","x":"${"y".repeat(1024 * 1024)}"}`);
    expectSealedOutcome(
      await ask("POST", "/fhir/Observation", { headers: json, body: big }),
      413,
      /request body is too large/,
    );
    expectSealedOutcome(
      await ask("POST", "/fhir/Observation", { headers: json, body: `{"resourceType": ${MARK}` }),
      400,
      /request body is not valid JSON/,
    );
    expectSealedOutcome(
      await ask("POST", "/auth/challenge", {
        headers: { "content-type": "application/json" },
        body: `{"address": "${MARK}`,
        token: false,
      }),
      400,
      /request body is not valid JSON/,
    );
    expectSealedOutcome(
      await ask("POST", "/fhir/Observation", {
        headers: { "content-type": `application/x-${MARK}` },
        body: MARK,
      }),
      415,
      /unsupported content type/,
    );
    expectSealedOutcome(
      await ask("POST", "/auth/challenge", {
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ address: MARK }),
        token: false,
      }),
      400,
      /body address: must be a 0x-prefixed 20-byte address/,
    );
  });
});
