import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Address } from "viem";
import type { Logger } from "pino";
import { DeviceSimulator } from "../monitoring/simulator.js";
import type { MonitoringService } from "../monitoring/monitoringService.js";

interface DemoAccountsFile {
  accounts: Array<{ role: string; address: Address; patientId?: string }>;
}

/**
 * `npm start --demo`: the first three demo patients each get a home kit (a device registered by
 * the patient, a new key each start) that sends a batch of vitals every 2 s; the first patient
 * deteriorates a minute in and recovers two minutes later, again and again, so alerts, scores and
 * the live ward board have something to show.
 * @returns stops the simulation
 */
export async function startDemoMonitoring(
  dataDir: string,
  monitoring: MonitoringService,
  logger: Logger,
): Promise<() => void> {
  const file = join(dataDir, "demo-accounts.json");
  if (!existsSync(file)) return () => undefined;
  const { accounts } = JSON.parse(readFileSync(file, "utf8")) as DemoAccountsFile;
  const patients = accounts.filter((a) => a.role === "patient" && a.patientId !== undefined).slice(0, 3);
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
