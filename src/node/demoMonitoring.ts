import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Address, Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import type { Logger } from "pino";
import { signGrant, signedGrantToJson } from "../consent/signConsent.js";
import { buildGrantMessage } from "../model/grantMessage.js";
import { DeviceSimulator } from "../monitoring/simulator.js";
import { READING_CATEGORIES } from "../monitoring/vitals.js";
import type { Services } from "./services.js";

interface DemoAccountsFile {
  accounts: Array<{ role: string; address: Address; privateKey: Hex; patientId?: string }>;
}

const YEAR_S = 365 * 86_400;

/**
 * Each monitored demo patient lets the demo's hospital physician see and set their vitals and
 * device readings (signed with the patient's demo key, relayed like any grant), unless they
 * already do: the physician's ward board then shows them, and alerts escalate to them.
 */
async function shareVitalsWithPhysician(
  services: Pick<Services, "consents" | "gate">,
  accounts: DemoAccountsFile["accounts"],
  patients: DemoAccountsFile["accounts"],
): Promise<void> {
  const physician = accounts.find((a) => a.role === "hospital physician");
  if (physician === undefined) return;
  const as = {
    account: physician.address,
    kind: "practitioner",
    role: "physician",
    purpose: "TREAT",
    authenticatedBy: "local-keystore",
    requestId: "demo-monitoring-check",
  } as const;
  for (const p of patients) {
    if (services.gate.forPatient(as, p.address, "read").decide(READING_CATEGORIES, undefined).permit)
      continue;
    const now = Math.floor(Date.now() / 1000);
    const message = buildGrantMessage({
      patient: p.address,
      grantee: { kind: "practitioner", account: physician.address },
      categories: [...READING_CATEGORIES],
      purposes: ["TREAT"],
      actions: ["read", "write"],
      notBefore: now - 60,
      notAfter: now + YEAR_S,
    });
    const signature = await signGrant(privateKeyToAccount(p.privateKey), services.consents.domain, message);
    await services.consents.submitGrant(signedGrantToJson(message, signature));
  }
}

/**
 * `npm start --demo`: the first three demo patients each get a home kit (a device registered by
 * the patient, a new key each start) that sends a batch of vitals every 2 s; the first patient
 * deteriorates a minute in and recovers two minutes later, again and again, so alerts, scores and
 * the live ward board have something to show. The patients share their vitals with the demo's
 * hospital physician, whose ward board shows them.
 * @returns stops the simulation
 */
export async function startDemoMonitoring(
  dataDir: string,
  services: Pick<Services, "monitoring" | "consents" | "gate">,
  logger: Logger,
): Promise<() => void> {
  const { monitoring } = services;
  const file = join(dataDir, "demo-accounts.json");
  if (!existsSync(file)) return () => undefined;
  const { accounts } = JSON.parse(readFileSync(file, "utf8")) as DemoAccountsFile;
  const patients = accounts.filter((a) => a.role === "patient" && a.patientId !== undefined).slice(0, 3);
  await shareVitalsWithPhysician(services, accounts, patients).catch((err: unknown) =>
    logger.warn({ err }, "demo monitoring: the patients' vitals could not be shared with the physician"),
  );
  const sim = new DeviceSimulator({ seed: 42 });
  for (const [i, p] of patients.entries()) {
    const row = await monitoring.devices.register(
      {
        account: p.address,
        kind: "patient",
        purpose: "PATRQT",
        authenticatedBy: "local-keystore",
        requestId: `demo-monitoring-${i}`,
      },
      { patientId: p.patientId!, publicKey: sim.keyOf(i).publicJwk, model: "demo home kit" },
    );
    sim.attach(i, row.device_id);
  }
  let ticks = 0;
  const timer = setInterval(() => {
    ticks++;
    if (patients.length > 0 && ticks % 90 === 30) sim.deteriorate(0);
    if (patients.length > 0 && ticks % 90 === 0) sim.recover(0);
    for (let i = 0; i < patients.length; i++) {
      monitoring.ingestor
        .ingest(sim.nextBatch(i, Date.now()))
        .catch((err: unknown) => logger.warn({ err }, "demo monitoring: a simulated batch was refused"));
    }
  }, 2000);
  timer.unref();
  logger.info({ patients: patients.length }, "demo monitoring: simulated home kits are sending vitals");
  return () => clearInterval(timer);
}
