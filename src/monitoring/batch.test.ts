import { describe, expect, it } from "vitest";
import { batchEnvelope, batchPayload, parseBatchEnvelope, parseBatchPayload } from "./batch.js";

const at = 1_765_000_000_000;
const good = () => ({
  device: "dev-1",
  batchId: "b-1.x_2",
  sentAt: at,
  readings: [
    { kind: "heart-rate", value: 72, unit: "/min", at },
    { kind: "temperature", value: 98.6, unit: "[degF]", at: at - 1000 },
    { kind: "acvpu", value: "A", at },
    { kind: "oxygen-flow", value: 0, at },
  ] as Record<string, unknown>[],
});

/** Payloads the written-out check must judge as the schema does (each one changes one thing). */
const payloads: [string, (p: ReturnType<typeof good>) => unknown][] = [
  ["valid", (p) => p],
  ["not an object", () => "x"],
  ["an array", () => []],
  ["null", () => null],
  ["extra key", (p) => ({ ...p, extra: 1 })],
  ["missing device", ({ device: _, ...p }) => p],
  ["empty device", (p) => ({ ...p, device: "" })],
  ["device too long", (p) => ({ ...p, device: "d".repeat(65) })],
  ["device 64 long", (p) => ({ ...p, device: "d".repeat(64) })],
  ["batch id with a slash", (p) => ({ ...p, batchId: "a/b" })],
  ["batch id too long", (p) => ({ ...p, batchId: "b".repeat(65) })],
  ["batch id a number", (p) => ({ ...p, batchId: 5 })],
  ["sentAt fractional", (p) => ({ ...p, sentAt: at + 0.5 })],
  ["sentAt negative", (p) => ({ ...p, sentAt: -1 })],
  ["sentAt a string", (p) => ({ ...p, sentAt: String(at) })],
  ["sentAt unsafe", (p) => ({ ...p, sentAt: 2 ** 60 })],
  ["no readings", (p) => ({ ...p, readings: [] })],
  ["2000 readings", (p) => ({ ...p, readings: Array.from({ length: 2000 }, () => p.readings[0]) })],
  ["2001 readings", (p) => ({ ...p, readings: Array.from({ length: 2001 }, () => p.readings[0]) })],
  ["readings an object", (p) => ({ ...p, readings: { 0: p.readings[0] } })],
  ["reading null", (p) => ({ ...p, readings: [null] })],
  ["reading unknown kind", (p) => ({ ...p, readings: [{ ...p.readings[0], kind: "weight" }] })],
  ["reading extra key", (p) => ({ ...p, readings: [{ ...p.readings[0], note: "x" }] })],
  ["reading without at", (p) => ({ ...p, readings: [{ kind: "spo2", value: 97, unit: "%" }] })],
  ["reading without value", (p) => ({ ...p, readings: [{ kind: "spo2", unit: "%", at }] })],
  ["reading value NaN", (p) => ({ ...p, readings: [{ ...p.readings[0], value: Number.NaN }] })],
  ["reading value Infinity", (p) => ({ ...p, readings: [{ ...p.readings[0], value: Infinity }] })],
  ["reading value a boolean", (p) => ({ ...p, readings: [{ ...p.readings[0], value: true }] })],
  ["reading value an unknown letter", (p) => ({ ...p, readings: [{ ...p.readings[2], value: "X" }] })],
  [
    "reading value a letter of a number kind",
    (p) => ({ ...p, readings: [{ ...p.readings[0], value: "A" }] }),
  ],
  ["reading unit too long", (p) => ({ ...p, readings: [{ ...p.readings[0], unit: "u".repeat(41) }] })],
  ["reading unit empty", (p) => ({ ...p, readings: [{ ...p.readings[0], unit: "" }] })],
  ["reading unit a number", (p) => ({ ...p, readings: [{ ...p.readings[0], unit: 5 }] })],
  ["reading unit undefined", (p) => ({ ...p, readings: [{ ...p.readings[0], unit: undefined }] })],
  ["reading at fractional", (p) => ({ ...p, readings: [{ ...p.readings[0], at: 1.5 }] })],
  ["reading at negative", (p) => ({ ...p, readings: [{ ...p.readings[0], at: -5 }] })],
  ["last reading bad", (p) => ({ ...p, readings: [...p.readings, { kind: "spo2" }] })],
];

const envelopes: [string, unknown][] = [
  ["valid", { device: "dev-1", payload: "eyJhIjoxfQ", signature: "sig" }],
  ["payload not base64url", { device: "dev-1", payload: "eyJh+IjoxfQ", signature: "sig" }],
  ["payload padded", { device: "dev-1", payload: "eyJhIjoxfQ==", signature: "sig" }],
  ["empty payload", { device: "dev-1", payload: "", signature: "sig" }],
  ["signature too long", { device: "dev-1", payload: "eyJhIjoxfQ", signature: "s".repeat(201) }],
  ["extra key", { device: "dev-1", payload: "eyJhIjoxfQ", signature: "sig", x: 1 }],
  ["missing signature", { device: "dev-1", payload: "eyJhIjoxfQ" }],
  ["device a number", { device: 5, payload: "eyJhIjoxfQ", signature: "sig" }],
  ["an array", ["dev-1", "eyJhIjoxfQ", "sig"]],
  ["undefined", undefined],
];

describe("batch parsing: the written-out checks judge as the schemas do", () => {
  it.each(payloads)("payload: %s", (_, change) => {
    const input = change(good());
    const fast = parseBatchPayload(input);
    expect(fast.success).toBe(batchPayload.safeParse(input).success);
    // what the schema accepts, the written-out check accepts itself (the input comes back as is)
    if (fast.success) expect(fast.data).toBe(input);
  });

  it.each(envelopes)("envelope: %s", (_, input) => {
    const fast = parseBatchEnvelope(input);
    expect(fast.success).toBe(batchEnvelope.safeParse(input).success);
    if (fast.success) expect(fast.data).toBe(input);
  });

  it("a refused payload keeps the schema's reasons", () => {
    const result = parseBatchPayload({ ...good(), sentAt: -1 });
    expect(result.success).toBe(false);
    if (!result.success) expect(result.error.issues[0]?.path).toEqual(["sentAt"]);
  });
});
