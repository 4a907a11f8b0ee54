import { describe, expect, it } from "vitest";
import { careNode, until } from "../../support/careNode.js";
import { signIn } from "../../support/session.js";
import { sseReader } from "../../support/sse.js";
import { engines } from "../../support/stores.js";

const lab = (patientId: string, i: number) => ({
  resourceType: "Observation",
  status: "final",
  category: [
    {
      coding: [{ system: "http://terminology.hl7.org/CodeSystem/observation-category", code: "laboratory" }],
    },
  ],
  code: { coding: [{ system: "http://loinc.org", code: "2345-7" }] },
  subject: { reference: `Patient/${patientId}` },
  effectiveDateTime: `2024-01-${String(i + 1).padStart(2, "0")}T08:00:00Z`,
  valueQuantity: { value: 90 + i, unit: "mg/dL" },
});

interface Note {
  id: string;
  kind: string;
  cursor: string;
  readAt: string | null;
  detail: { by: string; requestId: string; resources: number; actions: string[]; purpose: string | null };
}

/**
 * A patient who asks to hear about reads and refusals gets one notification per request (a
 * `$everything` of twenty labs is one, not twenty), in the list and on the live stream; a patient's
 * own reads are not reported; turning reads off stops them; denials come by default.
 */
describe.each(engines)("access notifications (%s)", (engine) => {
  const care = careNode(engine);
  const notes = async (): Promise<Note[]> =>
    (await (await care.me.get("/patients/me/notifications")).json()).notifications as Note[];
  const settle = () => care.node.services.accessNotifier.flush();

  it("sends one notification per request for reads, and one for a refusal, live too", async () => {
    const bundle = {
      resourceType: "Bundle",
      type: "transaction",
      entry: Array.from({ length: 20 }, (_, i) => ({
        resource: lab(care.patientId, i),
        request: { method: "POST", url: "Observation" },
      })),
    };
    expect((await care.doc.send("POST", "/fhir", bundle)).status).toBe(200);
    const labId = (
      (await (await care.doc.get(`/fhir/Observation?patient=${care.patientId}&_count=1`)).json()) as {
        entry: Array<{ resource: { id: string } }>;
      }
    ).entry[0]!.resource.id;
    await settle();
    // the hospital physician's own search above was a read too, but reads are off by default
    expect((await notes()).filter((n) => n.kind === "access")).toHaveLength(0);

    const saved = await care.me.send("PUT", "/patients/me/settings", {
      breakGlassAllowed: false,
      notify: { breakGlass: true, denials: true, reads: true },
    });
    expect(saved.status).toBe(200);
    await care.node.services.shared.refresh();

    const streams = new AbortController();
    const live = await fetch(`${care.node.url}/patients/me/notifications/stream`, {
      headers: { authorization: `Bearer ${care.me.token}` },
      signal: streams.signal,
    });
    expect(live.status).toBe(200);
    const stream = sseReader(live);

    const everything = await care.gpSession.get(`/fhir/Patient/${care.patientId}/$everything`, "TREAT");
    expect(everything.status).toBe(200);
    const stranger = await signIn(care.node.url, care.stranger);
    expect((await stranger.get(`/fhir/Observation/${labId}`, "TREAT")).status).toBe(404);
    expect((await care.me.get(`/fhir/Patient/${care.patientId}/$everything`)).status).toBe(200);
    await settle();

    const all = await notes();
    const access = all.filter((n) => n.kind === "access");
    expect(access).toHaveLength(1);
    expect(access[0]!.detail.by.toLowerCase()).toBe(care.gp.address.toLowerCase());
    expect(access[0]!.detail.purpose).toBe("TREAT");
    expect(access[0]!.detail.resources).toBeGreaterThanOrEqual(20);
    // no categories and no resource ids in the stored notification: those stay in the access log
    expect(JSON.stringify(access[0])).not.toMatch(/labs|Observation\//);
    const denials = all.filter((n) => n.kind === "denial");
    expect(denials).toHaveLength(1);
    expect(denials[0]!.detail.by.toLowerCase()).toBe(care.stranger.address.toLowerCase());

    expect(await until(() => stream.frames.length >= 2)).toBe(true);
    expect(stream.frames.map((f) => f.data.kind).sort()).toEqual(["access", "denial"]);
    expect(stream.frames.every((f) => f.event === "notification" && typeof f.id === "string")).toBe(true);

    // resuming from the first frame's id sends exactly what came after it
    const resumed = await fetch(`${care.node.url}/patients/me/notifications/stream`, {
      headers: { authorization: `Bearer ${care.me.token}`, "last-event-id": stream.frames[0]!.id! },
      signal: streams.signal,
    });
    const again = sseReader(resumed);
    expect((await again.next(0))?.data.id).toBe(stream.frames[1]!.data.id);
    expect(again.frames).toHaveLength(1);
    streams.abort();

    const bad = await fetch(`${care.node.url}/patients/me/notifications/stream`, {
      headers: { authorization: `Bearer ${care.me.token}`, "last-event-id": "not-a-cursor" },
    });
    expect(bad.status).toBe(400);
    expect((await bad.json()).resourceType).toBe("OperationOutcome");
  });

  it("stops read notifications when the patient turns them off, and marks notifications read", async () => {
    const before = (await notes()).length;
    await care.me.send("PUT", "/patients/me/settings", {
      breakGlassAllowed: false,
      notify: { breakGlass: true, denials: true, reads: false },
    });
    await care.node.services.shared.refresh();
    expect((await care.gpSession.get(`/fhir/Patient/${care.patientId}/$everything`, "TREAT")).status).toBe(
      200,
    );
    await settle();
    expect((await notes()).length).toBe(before);

    const unread = (await notes()).filter((n) => n.readAt === null);
    expect(unread.length).toBeGreaterThan(0);
    const marked = await care.me.send("POST", "/patients/me/notifications/read", { ids: [unread[0]!.id] });
    expect(await marked.json()).toEqual({ marked: 1 });
    expect((await notes()).find((n) => n.id === unread[0]!.id)?.readAt).not.toBeNull();
    const rest = await care.me.send("POST", "/patients/me/notifications/read", { all: true });
    expect((await rest.json()).marked).toBe(unread.length - 1);
    // another account cannot mark the patient's notifications
    const other = await care.gpSession.send("POST", "/patients/me/notifications/read", { all: true });
    expect((await other.json()).marked).toBe(0);
  });
});
