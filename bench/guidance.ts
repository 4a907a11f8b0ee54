/**
 * Guidance beside the plain federated read it is made from, for a Synthea patient whose record is
 * split between two node PROCESSES (labs at A, everything else clinical at B): B's
 * `Patient/{id}/$everything?federated=true` (the anchor), `Patient/{id}/$summary?federated=true`
 * (the same read, then the IPS document) and `/guidance/patients/{id}?federated=true` (the same
 * read, then every rule: the cards a `patient-view` shows), interleaved call by call so the three
 * see the same machine; plus the CDS Hooks `patient-view` at B (the EHR's JWT verified, B's local
 * record read as the GP) beside B's local `$everything`. Signing happens before the clock starts.
 * Run: `npm run bench -- guidance`.
 */
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { encodeAccessRequestHeader } from "../src/federation/nodeAuth.js";
import { isLab } from "../src/federation/splitBundle.js";
import {
  isMain,
  latencySummary,
  load,
  machine,
  round,
  runAsScript,
  type BenchOptions,
} from "./support/report.js";
import { startTwoNodes } from "./support/twoNodes.js";

const CLINICAL = new Set([
  "Patient",
  "Condition",
  "MedicationRequest",
  "AllergyIntolerance",
  "Immunization",
  "Observation",
  "Procedure",
  "Encounter",
  "DiagnosticReport",
  "CarePlan",
]);

/** Runs the benchmark and returns its JSON report. */
export async function runGuidanceBench(options: BenchOptions): Promise<object> {
  const count = options.quick ? 20 : 200;
  const nodes = await startTwoNodes(
    (r) => (isLab(r) ? "A" : CLINICAL.has(r.resourceType) ? "B" : "skip"),
    [
      "demographics",
      "conditions",
      "medications",
      "allergies",
      "immunizations",
      "labs",
      "vitals",
      "procedures",
      "encounters",
    ],
    "Alfreda",
  );
  const { A, B, patientId } = nodes;
  try {
    // the EHR: a registered CDS client with its own key (registered through the operator's CLI)
    const { publicKey, privateKey } = await generateKeyPair("ES384");
    const jwks = join(B.spec.dataDir, "ehr-jwks.json");
    writeFileSync(
      jwks,
      JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: "ehr", alg: "ES384" }] }),
    );
    const cli = spawnSync(
      process.execPath,
      [
        "--import",
        "tsx",
        join(import.meta.dirname, "..", "src", "cli", "main.ts"),
        "--data-dir",
        B.spec.dataDir,
        "cds",
        "client",
        "add",
        "--iss",
        "https://ehr.bench",
        "--jwks",
        jwks,
      ],
      { encoding: "utf8" },
    );
    if (cli.status !== 0) throw new Error(`cds client add failed: ${cli.stderr}`);
    const cdsPath = "/cds-services/carechain-patient-view";
    const jwts = await Promise.all(
      Array.from({ length: count }, () =>
        new SignJWT({ jti: crypto.randomUUID() })
          .setProtectedHeader({ alg: "ES384", kid: "ehr", typ: "JWT" })
          .setIssuer("https://ehr.bench")
          .setAudience(`${B.url}${cdsPath}`)
          .setIssuedAt()
          .setExpirationTime("4m")
          .sign(privateKey),
      ),
    );
    const headers = (await nodes.presign(count * 3)).map(encodeAccessRequestHeader);
    const samples = {
      everything: [] as number[],
      summary: [] as number[],
      guidance: [] as number[],
      local: [] as number[],
      patientView: [] as number[],
    };
    const time = async (into: number[], call: () => Promise<Response>): Promise<number> => {
      const t = performance.now();
      const res = await call();
      const body = await res.arrayBuffer();
      if (!res.ok) throw new Error(`HTTP ${res.status}: ${Buffer.from(body).toString("utf8").slice(0, 200)}`);
      into.push(performance.now() - t);
      return body.byteLength;
    };
    const ar = (h: string) => ({ headers: { "x-carechain-access-request": h } });
    let cards = 0;
    for (let i = 0; i < count; i++) {
      await time(samples.everything, () =>
        fetch(`${B.url}/fhir/Patient/${patientId}/$everything?federated=true`, ar(headers[i * 3]!)),
      );
      await time(samples.summary, () =>
        fetch(`${B.url}/fhir/Patient/${patientId}/$summary?federated=true`, ar(headers[i * 3 + 1]!)),
      );
      await time(samples.guidance, () =>
        fetch(`${B.url}/guidance/patients/${patientId}?federated=true`, ar(headers[i * 3 + 2]!)),
      );
      await time(samples.local, () =>
        fetch(`${B.url}/fhir/Patient/${patientId}/$everything`, {
          headers: { authorization: `Bearer ${nodes.gpToken}` },
        }),
      );
      await time(samples.patientView, async () => {
        const res = await fetch(`${B.url}${cdsPath}`, {
          method: "POST",
          headers: { authorization: `Bearer ${jwts[i]!}`, "content-type": "application/json" },
          body: JSON.stringify({
            hook: "patient-view",
            hookInstance: crypto.randomUUID(),
            fhirAuthorization: {
              access_token: nodes.gpToken,
              token_type: "Bearer",
              expires_in: 300,
              scope: "user/*.rs",
              subject: "bench",
            },
            context: { userId: "Practitioner/gp", patientId },
          }),
        });
        if (i === 0) cards = ((await res.clone().json()) as { cards: unknown[] }).cards.length;
        return res;
      });
    }
    const everything = latencySummary(samples.everything);
    const summary = latencySummary(samples.summary);
    const guidance = latencySummary(samples.guidance);
    const local = latencySummary(samples.local);
    const patientView = latencySummary(samples.patientView);
    const added = (x: { p50: number }, base: { p50: number }) => round(x.p50 / base.p50 - 1, 3);
    return {
      bench: "guidance",
      machine: machine(),
      calls: count,
      resourcesHeld: nodes.held,
      cardsInPatientView: cards,
      federatedEverythingMs: everything,
      federatedSummaryMs: summary,
      federatedGuidanceMs: guidance,
      localEverythingAtBMs: local,
      cdsPatientViewAtBMs: patientView,
      addedOverFederatedEverythingP50: {
        summary: added(summary, everything),
        guidance: added(guidance, everything),
      },
      addedOverLocalEverythingP50: { cdsPatientView: added(patientView, local) },
      target: "guidance adds ≤ 0.5 (50 %) to the federated $everything p50",
      note: `A (${A.url}) holds labs, B the rest; calls interleaved; audit entries written for every read`,
      loadAverage1m: load(),
    };
  } finally {
    await nodes.stop();
  }
}

if (isMain(import.meta.url)) await runAsScript(runGuidanceBench);
