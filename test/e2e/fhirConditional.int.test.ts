import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { careNode } from "../support/careNode.js";
import { signIn, type Session } from "../support/session.js";
import { engines } from "../support/stores.js";

const FIXTURES = join(import.meta.dirname, "..", "fixtures", "synthea");
const GLUCOSE = "http://loinc.org|2345-7";

const glucose = (patientId: string, value: number) => ({
  resourceType: "Observation",
  status: "final",
  category: [
    {
      coding: [{ system: "http://terminology.hl7.org/CodeSystem/observation-category", code: "laboratory" }],
    },
  ],
  code: { coding: [{ system: "http://loinc.org", code: "2345-7" }] },
  subject: { reference: `Patient/${patientId}` },
  effectiveDateTime: "2024-02-01T08:00:00Z",
  valueQuantity: { value, unit: "mg/dL" },
});

const issue = async (res: Response) =>
  (await res.json()) as { resourceType: string; issue: Array<{ code: string; expression?: string[] }> };

/**
 * FHIR versioning and conditional interactions as real clients use them: If-Match (412 on a stale
 * version), delete (a new version; 410 after), If-None-Exist, conditional update, conditional
 * bundle entries, and re-importing every Synthea fixture twice leaving one Patient per person.
 * Hidden resources keep answering as missing ones throughout.
 */
describe.each(engines)("FHIR conditional interactions (%s)", (engine) => {
  const care = careNode(engine);
  let stranger: Session;
  const put = (s: Session, path: string, body: unknown, headers: Record<string, string> = {}) =>
    s.send("PUT", path, body, "TREAT", headers);
  // a DELETE has no body, so no content type
  const del = (s: Session, path: string, headers: Record<string, string> = {}) =>
    fetch(`${care.node.url}${path}`, {
      method: "DELETE",
      headers: { authorization: `Bearer ${s.token}`, "x-purpose-of-use": "TREAT", ...headers },
    });

  it("checks If-Match on update and delete, and deletes as a new version", async () => {
    stranger = await signIn(care.node.url, care.stranger);
    const created = await care.doc.send("POST", "/fhir/Observation", glucose(care.patientId, 91));
    expect(created.status).toBe(201);
    expect(created.headers.get("etag")).toBe('W/"1"');
    const obs = (await created.json()) as { id: string };
    const path = `/fhir/Observation/${obs.id}`;

    const updated = await put(
      care.doc,
      path,
      { ...glucose(care.patientId, 92), id: obs.id },
      { "if-match": 'W/"1"' },
    );
    expect(updated.status).toBe(200);
    expect(updated.headers.get("etag")).toBe('W/"2"');
    const stale = await put(
      care.doc,
      path,
      { ...glucose(care.patientId, 93), id: obs.id },
      { "if-match": 'W/"1"' },
    );
    expect(stale.status).toBe(412);
    expect((await issue(stale)).issue[0]!.expression).toEqual(["If-Match"]);
    const bad = await put(
      care.doc,
      path,
      { ...glucose(care.patientId, 93), id: obs.id },
      { "if-match": "one" },
    );
    expect(bad.status).toBe(400);
    // a caller who may not see it learns nothing from a version check: 404, as for a missing id
    const probe = await put(
      stranger,
      path,
      { ...glucose(care.patientId, 93), id: obs.id },
      { "if-match": 'W/"9"' },
    );
    const missing = await put(
      stranger,
      "/fhir/Observation/no-such-obs",
      { ...glucose(care.patientId, 93), id: "no-such-obs" },
      { "if-match": 'W/"9"' },
    );
    expect(probe.status).toBe(404);
    expect(missing.status).toBe(404);
    expect(await probe.text()).toBe(await missing.text());
    expect((await del(stranger, path)).status).toBe(404);

    expect((await del(care.doc, path, { "if-match": 'W/"1"' })).status).toBe(412);
    const deleted = await del(care.doc, path, { "if-match": 'W/"2"' });
    expect(deleted.status).toBe(204);
    expect(deleted.headers.get("etag")).toBe('W/"3"');
    const gone = await care.doc.get(path, "TREAT");
    expect(gone.status).toBe(410);
    expect((await issue(gone)).issue[0]!.code).toBe("deleted");
    // deleting again changes nothing; history keeps every version and shows the delete
    expect((await del(care.doc, path)).headers.get("etag")).toBe('W/"3"');
    const history = (await (await care.doc.get(`${path}/_history`, "TREAT")).json()) as {
      entry: Array<{ request: { method: string } }>;
    };
    expect(history.entry.map((e) => e.request.method)).toEqual(["DELETE", "PUT", "POST"]);
    const search = (await (await care.doc.get(`/fhir/Observation?_id=${obs.id}`, "TREAT")).json()) as {
      total?: number;
      entry?: unknown[];
    };
    expect(search.entry ?? []).toHaveLength(0);
    // the patient's own log shows the delete
    const log = (await (await care.me.get("/audit/me?_count=500")).json()) as {
      entries?: Array<{ entry: { action: string; resources?: string[] } }>;
    };
    expect(
      JSON.stringify(log).includes(`Observation/${obs.id}/_history/3`) &&
        JSON.stringify(log).includes('"delete"'),
    ).toBe(true);
    // an update brings it back as version 4
    const back = await put(care.doc, path, { ...glucose(care.patientId, 94), id: obs.id });
    expect(back.status).toBe(200);
    expect(back.headers.get("etag")).toBe('W/"4"');
  });

  it("creates only when If-None-Exist matches nothing, and updates conditionally", async () => {
    const patientId = `cond-${engine}`;
    expect(
      (await care.doc.send("POST", "/fhir/Patient", { resourceType: "Patient", id: patientId })).status,
    ).toBe(201);
    const condition = `code=${encodeURIComponent(GLUCOSE)}&patient=${patientId}`;
    const first = await care.doc.send("POST", "/fhir/Observation", glucose(patientId, 100), "TREAT", {
      "if-none-exist": condition,
    });
    expect(first.status).toBe(201);
    const again = await care.doc.send("POST", "/fhir/Observation", glucose(patientId, 101), "TREAT", {
      "if-none-exist": condition,
    });
    expect(again.status).toBe(200);
    expect(((await again.json()) as { id: string }).id).toBe(((await first.json()) as { id: string }).id);

    const updated = await put(care.doc, `/fhir/Observation?${condition}`, glucose(patientId, 102));
    expect(updated.status).toBe(200);
    expect(updated.headers.get("etag")).toBe('W/"2"');
    const createdByPut = await put(
      care.doc,
      `/fhir/Observation?code=${encodeURIComponent("http://loinc.org|718-7")}&patient=${patientId}`,
      {
        ...glucose(patientId, 13),
        code: { coding: [{ system: "http://loinc.org", code: "718-7" }] },
      },
    );
    expect(createdByPut.status).toBe(201);

    expect((await care.doc.send("POST", "/fhir/Observation", glucose(patientId, 103))).status).toBe(201);
    const ambiguous = await care.doc.send("POST", "/fhir/Observation", glucose(patientId, 104), "TREAT", {
      "if-none-exist": condition,
    });
    expect(ambiguous.status).toBe(412);
    expect((await put(care.doc, `/fhir/Observation?${condition}`, glucose(patientId, 105))).status).toBe(412);
    const noParams = await care.doc.send("POST", "/fhir/Observation", glucose(patientId, 106), "TREAT", {
      "if-none-exist": "_count=1",
    });
    expect(noParams.status).toBe(400);
    const unknown = await care.doc.send("POST", "/fhir/Observation", glucose(patientId, 106), "TREAT", {
      "if-none-exist": "no-such-param=1",
    });
    expect(unknown.status).toBe(400);
    expect(JSON.stringify(await unknown.json())).not.toContain("=1");
  });

  it("a conditional create by someone who cannot see the match answers as a plain create does", async () => {
    const patientId = `cond-${engine}`;
    const condition = `code=${encodeURIComponent(GLUCOSE)}&patient=${patientId}`;
    const hidden = await stranger.send("POST", "/fhir/Observation", glucose(patientId, 1), "TREAT", {
      "if-none-exist": condition,
    });
    const plain = await stranger.send("POST", "/fhir/Observation", glucose(patientId, 1), "TREAT");
    expect(hidden.status).toBe(plain.status);
    expect(await hidden.text()).toBe(await plain.text());
  });

  it("re-importing every Synthea fixture twice leaves one Patient per person and no duplicate", async () => {
    const files = readdirSync(FIXTURES).filter((f) => f.endsWith(".json"));
    expect(files.length).toBeGreaterThanOrEqual(11);
    const { db } = care.node.context.store;
    const count = async (type: string) =>
      Number(
        (
          await db
            .selectFrom("resources")
            .select((eb) => eb.fn.countAll().as("n"))
            .where("type", "=", type)
            .where("deleted", "=", 0)
            .executeTakeFirstOrThrow()
        ).n,
      );
    const patientsBefore = await count("Patient");
    const observationsBefore = await count("Observation");
    const accounts = files.map(() => privateKeyToAccount(generatePrivateKey()).address);
    let observations = 0;
    for (let round = 0; round < 2; round++) {
      for (const [i, file] of files.entries()) {
        const bundle = JSON.parse(readFileSync(join(FIXTURES, file), "utf8")) as {
          entry: Array<{ resource: { resourceType: string } }>;
        };
        if (round === 0)
          observations += bundle.entry.filter((e) => e.resource.resourceType === "Observation").length;
        const res = await care.doc.send("POST", "/fhir", bundle, undefined, {
          "x-patient-account": accounts[i]!,
        });
        expect(res.status, `${file} round ${round}: ${await res.clone().text()}`).toBe(200);
      }
      expect(await count("Patient")).toBe(patientsBefore + files.length);
      expect(await count("Observation")).toBe(observationsBefore + observations);
    }
  }, 300_000);

  it("a bundle entry's ifNoneExist that matches is not written again", async () => {
    const patientId = `cond-${engine}`;
    const bundle = {
      resourceType: "Bundle",
      type: "transaction",
      entry: [
        {
          resource: glucose(patientId, 200),
          request: {
            method: "POST",
            url: "Observation",
            ifNoneExist: `code=${encodeURIComponent("http://loinc.org|718-7")}&patient=${patientId}`,
          },
        },
      ],
    };
    const res = await care.doc.send("POST", "/fhir", bundle);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { entry: Array<{ response: { status: string } }> };
    expect(body.entry.map((e) => e.response.status)).toEqual(["200 OK"]);
    const search = (await (
      await care.doc.get(
        `/fhir/Observation?code=${encodeURIComponent("http://loinc.org|718-7")}&patient=${patientId}`,
        "TREAT",
      )
    ).json()) as { entry?: unknown[] };
    expect(search.entry ?? []).toHaveLength(1);
  });
});
