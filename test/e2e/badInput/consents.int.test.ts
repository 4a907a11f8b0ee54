import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CONSENT_TYPES } from "../../../src/model/consentTypes.js";
import { categoryMask } from "../../../src/model/vocabulary.js";
import {
  buildGrantMessage,
  signGrant,
  signedGrantToJson,
  type GrantMessage,
} from "../../../src/consent/signConsent.js";
import { badInputNode, expectNoInputLogged, expectOutcome, marker, phi } from "../../support/badInput.js";
import { engines } from "../../support/stores.js";

/**
 * Bad input to signed consent grants and revokes, on a real node (anvil + SQLite or PostgreSQL):
 * every refusal is a 4xx FHIR OperationOutcome naming the problem, never a 500, never an echo of
 * an input value (nor a log line holding one), and never a partial write.
 */
describe.each(engines)("bad input: consents (%s)", (engine) => {
  const edge = badInputNode(engine);
  const { ask, patient, mallory } = edge;

  const grant = (window: { notBefore?: number; notAfter?: number } = {}): GrantMessage =>
    buildGrantMessage({
      patient: patient.address,
      grantee: { kind: "practitioner", account: mallory.address },
      categories: ["labs"],
      purposes: ["TREAT"],
      actions: ["read"],
      notBefore: window.notBefore ?? Math.floor(Date.now() / 1000) - 60,
      notAfter: window.notAfter ?? new Date("2031-01-01T00:00:00Z"),
    });
  const submit = (body: unknown, wait = false) =>
    ask("POST", `/consents${wait ? "?wait=true" : ""}`, {
      body,
      headers: { "content-type": "application/json" },
    });

  it("refuses consent grants signed by someone else, replayed, widened after signing, expired or malformed", async () => {
    const { domain } = edge;
    const forgedMessage = grant();
    const forged = await mallory.signTypedData({
      domain,
      types: CONSENT_TYPES,
      primaryType: "Grant",
      message: forgedMessage,
    });
    expectOutcome(
      await submit(signedGrantToJson(forgedMessage, forged)),
      401,
      /signature was not made by the patient's key/,
    );
    const signedLabs = grant();
    const widened = { ...signedLabs, categories: categoryMask(["labs", "mental-health"]) };
    expectOutcome(
      await submit(signedGrantToJson(widened, await signGrant(patient, domain, signedLabs))),
      401,
      /signature was not made by the patient's key/,
    );
    const ended = grant({ notBefore: 1_000_000, notAfter: 2_000_000 });
    expectOutcome(
      await submit(signedGrantToJson(ended, await signGrant(patient, domain, ended))),
      400,
      /validity window has already ended/,
    );
    const ok = grant();
    const signed = signedGrantToJson(ok, await signGrant(patient, domain, ok));
    expect((await submit(signed, true)).status).toBe(201);
    expectOutcome(await submit(signed), 409, /already on the ledger \(replay\)/);

    expectOutcome(await submit("{not json"), 400, /not valid JSON/);
    expectOutcome(
      await submit({ grant: { ...signed.grant, patient: phi() }, signature: signed.signature }),
      400,
      /invalid signed grant: grant\.patient/,
    );
    expectOutcome(
      await ask("POST", "/consents/revoke", {
        body: {
          revoke: { patient: patient.address, grantId: `0x${"1".repeat(64)}`, nonce: "0" },
          signature: "0xab",
        },
        headers: { "content-type": "application/json" },
      }),
      404,
      /no such grant/,
    );
    const field = fc.oneof(
      marker,
      fc.integer(),
      fc.double(),
      fc.boolean(),
      fc.constant(null),
      fc.array(marker),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          key: fc.constantFrom(...Object.keys(signed.grant), "signature"),
          value: field,
        }),
        async ({ key, value }) => {
          const body =
            key === "signature"
              ? { ...signed, signature: value }
              : { ...signed, grant: { ...signed.grant, [key]: value } };
          const res = await submit(body);
          // The generator may draw the very value the grant already holds (granteeKind 0, say):
          // that body is the accepted grant again, and must be refused as a replay.
          if (JSON.stringify(body) === JSON.stringify(signed))
            expectOutcome(res, 409, /already on the ledger \(replay\)/);
          else if (res.status === 401) expectOutcome(res, 401, /signature was not made by the patient's key/);
          else {
            // A field some rule ties to another may be refused under that one's name: a role
            // grant (granteeKind 2) without a role names `role`, a late notBefore names notAfter.
            const named =
              { granteeKind: "(granteeKind|role)", notBefore: "(notBefore|notAfter)" }[key] ?? key;
            expectOutcome(res, 400, new RegExp(`invalid signed grant: .*${named}`));
          }
        },
      ),
      { numRuns: 100 },
    );
  });

  it("never logs a value from the input", async () => {
    await expectNoInputLogged(edge, "/consents");
  });
});
