import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Session } from "../support/session.js";
import { engines } from "../support/stores.js";
import { condition, HYPERTENSION, startAttackNode, type AttackNode } from "./attackNode.js";

/**
 * Status, headers and body, the id replaced by a placeholder. Left out: the request id, the date and
 * the rate limiter's counters, which change from one request to the next whatever it asks.
 */
async function shape(res: Response, id: string) {
  const headers: Record<string, string> = {};
  res.headers.forEach((value, key) => {
    if (!["x-request-id", "date", "x-ratelimit-remaining", "x-ratelimit-reset"].includes(key))
      headers[key] = value;
  });
  const body = (await res.text()).split(id).join("<id>");
  return {
    status: res.status,
    headers: { ...headers, "content-length": "<len>" },
    body,
    length: body.length,
  };
}

/**
 * Issue 13 item 9 ("403-vs-404"): a 403 and its reason confirm that a hidden resource exists and
 * is sensitive. To a caller without rights a hidden resource answers exactly as a missing one, for
 * read, vread, history and as an update target.
 */
describe.each(engines)("a hidden resource is a missing one (%s)", (engine) => {
  let n: AttackNode;
  beforeAll(async () => {
    n = await startAttackNode(engine, "hid");
  }, 120_000);
  afterAll(async () => n?.dispose());

  const probes = (s: Session, id: string, patientId: string) => [
    s.get(`/fhir/Condition/${id}`),
    s.get(`/fhir/Condition/${id}/_history`),
    s.get(`/fhir/Condition/${id}/_history/1`),
    s.send("PUT", `/fhir/Condition/${id}`, condition(id, patientId, HYPERTENSION)),
  ];

  it("answers a hidden id and a random id alike, to a patient, another organization and the author's researcher", async () => {
    const { p1, p2 } = n;
    const callers: Array<[Session, string]> = [
      [await n.as(p2.account), p2.id],
      [await n.as(n.gp), p1.id],
      [await n.as(n.researcher), p1.id],
    ];
    for (const [s, subject] of callers) {
      for (const hidden of [p1.plain, p1.hiv]) {
        const random = randomUUID();
        const a = await Promise.all(probes(s, hidden, subject));
        const b = await Promise.all(probes(s, random, subject));
        for (let i = 0; i < a.length; i++) {
          const x = await shape(a[i]!, hidden);
          const y = await shape(b[i]!, random);
          expect(x.status).toBe(404);
          expect(x).toEqual(y);
          // nothing names consent, a category or a reason
          expect(x.body).not.toMatch(/consent|sensitive|grant|sexual|forbidden/i);
        }
      }
    }
    // the owner still reads it, so the 404 is the hiding and not a loss
    expect((await (await n.as(p1.account)).get(`/fhir/Condition/${p1.hiv}`)).status).toBe(200);
  });
});
