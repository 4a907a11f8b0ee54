import { describe, expect, it } from "vitest";
import { eventPayload, sseFrame } from "./subscriptionEvent.js";
import { lastEventIdOf } from "./subscriptionStream.js";

const patient = "0x00000000000000000000000000000000000000aA";

describe("subscription events", () => {
  it("names the new version, never its categories nor its content", () => {
    const event = eventPayload(
      {
        seq: 7,
        subscription_id: "s-1",
        kind: "notification",
        reference: "Observation/o-1/_history/2",
        categories: 32,
        detail: null,
        created_at: 0,
      },
      patient,
    );
    expect(event).toEqual({
      seq: 7,
      kind: "notification",
      data: {
        type: "notification",
        subscriptionId: "s-1",
        eventNumber: 7,
        patient,
        time: "1970-01-01T00:00:00.000Z",
        resource: "Observation/o-1/_history/2",
      },
    });
  });

  it("frames Server-Sent Events with the event number as id", () => {
    const ended = eventPayload(
      {
        seq: 9,
        subscription_id: "s-1",
        kind: "ended",
        reference: null,
        categories: 0,
        detail: JSON.stringify({ reason: "consent revoked" }),
        created_at: 0,
      },
      patient,
    );
    expect(sseFrame(ended)).toBe(
      `id: 9\nevent: ended\ndata: {"type":"ended","subscriptionId":"s-1","eventNumber":9,"patient":"${patient}","time":"1970-01-01T00:00:00.000Z","reason":"consent revoked"}\n\n`,
    );
  });

  it("parses Last-Event-ID", () => {
    expect(lastEventIdOf(undefined)).toBeUndefined();
    expect(lastEventIdOf(" 12 ")).toBe(12);
    expect(() => lastEventIdOf("abc")).toThrowErrorMatchingInlineSnapshot(
      `[CarechainError: Last-Event-ID must be an event number]`,
    );
  });
});
