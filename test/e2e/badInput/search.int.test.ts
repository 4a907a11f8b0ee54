import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { badInputNode, expectNoInputLogged, expectOutcome, marker, phi } from "../../support/badInput.js";
import { engines } from "../../support/stores.js";

const m = encodeURIComponent(phi());
/** Bad search queries of Observation and what the 400 must name. */
const CASES: Array<[string, RegExp]> = [
  [`name=${m}`, /unknown search parameter 'name' for Observation/],
  [`${m}=1`, /unknown search parameter/],
  [`date=${m}`, /search parameter 'date'/],
  ["date=2020-13-45", /search parameter 'date'/],
  ["date=xx2020-01-01", /search parameter 'date'/],
  [`date=zz${m}`, /search parameter 'date'/],
  ["_lastUpdated=gt2020-02-30", /search parameter '_lastUpdated'/],
  ["_count=1001", /'_count'/],
  ["_count=-1", /'_count'/],
  [`_count=${m}`, /'_count'/],
  ["_count=1&_count=2", /'_count' must not be repeated/],
  ["_cursor=abc", /search parameter '_cursor'/],
  ["_offset=-5", /'_offset'/],
  [`code=a|b|${m}`, /search parameter 'code'/],
  ["code=|", /search parameter 'code'/],
  ["code=a%20b", /search parameter 'code'/],
  [`_id=${m}`, /search parameter '_id'/],
  ["_id=%00", /search parameter '_id'/],
  [`patient=${m}`, /search parameter 'patient'/],
  ["patient=Observation/1", /'patient' supports only Patient references/],
  [`code:foo=${m}`, /modifier ':foo' is not supported for search parameter 'code'/],
  [`code:${m}=1`, /modifier is not supported for search parameter 'code'/],
  ["code:missing=maybe", /search parameter 'code'/],
  [`_sort=${m}`, /_sort by this key is not supported/],
  [`_include=${m}`, /'_include'/],
  [`_total=${m}`, /'_total'/],
  [`_cursor=${m}%20`, /'_cursor'/],
  ["status=", /search parameter 'status'/],
];

/**
 * Bad input to FHIR search parameters, on a real node (anvil + SQLite or PostgreSQL): every
 * refusal is a 4xx FHIR OperationOutcome naming the problem, never a 500, never an echo of an
 * input value (nor a log line holding one), and never a partial write.
 */
describe.each(engines)("bad input: FHIR search (%s)", (engine) => {
  const edge = badInputNode(engine);
  const { ask } = edge;

  it.each(CASES)("answers ?%s with a 400 naming the parameter", async (query, says) => {
    const { docSession } = edge;
    expectOutcome(await ask("GET", `/fhir/Observation?${query}`, { token: docSession.token }), 400, says);
  });

  it("answers bad search parameters of the views and random parameter lists with a 400 naming the parameter", async () => {
    const { docSession } = edge;
    const token = docSession.token;
    const search = (query: string) => ask("GET", `/fhir/Observation?${query}`, { token });
    for (const view of ["AuditEvent", "Consent"]) {
      expectOutcome(
        await ask("GET", `/fhir/${view}?patient=${m}`, { token }),
        400,
        new RegExp(`${view} search needs patient`),
      );
    }
    for (const count of ["-5", "1.5", "1e400", m, "0", "1001"]) {
      const res = await ask("GET", `/fhir/AuditEvent?_count=${count}`, { token });
      expectOutcome(res, 400, /search parameter '_count'/);
    }
    expect((await ask("GET", "/fhir/AuditEvent?_count=5", { token })).status).toBe(200);
    const names = fc.constantFrom(
      "code",
      "date",
      "_id",
      "patient",
      "status",
      "category",
      "_count",
      "_sort",
      "_lastUpdated",
      "name",
      "code:text",
      "date:missing",
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.tuple(
            names,
            fc.oneof(
              marker,
              fc.string(),
              fc.constantFrom("ge2020", "http://loinc.org|8867-4", "Patient/pat-1", "1"),
            ),
          ),
          { maxLength: 4 },
        ),
        async (pairs) => {
          const query = new URLSearchParams(pairs).toString();
          const res = await search(query);
          expect([200, 400], res.text).toContain(res.status);
          if (res.status === 400)
            expectOutcome(res, 400, /search parameter|_sort|must not be repeated|_offset or _cursor/);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("never logs a value from the input", async () => {
    await expectNoInputLogged(edge, "/fhir/Observation");
  });
});
