import { readFile, writeFile } from "node:fs/promises";
import type { Command } from "commander";
import { z } from "zod";
import { BaseError } from "../errors/BaseError.js";
import { generateDeviceKey, publicJwk } from "../monitoring/deviceKeys.js";
import { DeviceSimulator } from "../monitoring/simulator.js";
import {
  ApiClient,
  nodeUrl,
  parseOptions,
  printJson,
  signedInClient,
  withUserOptions,
  type UserOptions,
} from "./apiClient.js";

const positiveInt = (max: number) => z.coerce.number().int().min(1).max(max);

/**
 * `carechain monitor`: remote patient monitoring through a node's API (docs/monitoring.md) —
 * devices (add, revoke, list), alerts (list, follow, acknowledge) and a device simulator.
 */
export function registerMonitorCommand(program: Command): void {
  const monitor = program
    .command("monitor")
    .description("remote patient monitoring: devices, alerts, simulator");
  const device = monitor.command("device").description("register, revoke and list monitoring devices");

  withUserOptions(
    device
      .command("add <patient>")
      .description("register a device for a FHIR Patient: its public key from --key, or a new key pair")
      .option("--key <file>", "the device's P-256 public key as a JWK file")
      .option("--out <file>", "where to write a generated key pair (private key included)")
      .option("--model <name>", "the device's model", "home monitoring kit"),
  ).action(async (patient: string, raw: UserOptions & { key?: string; out?: string; model: string }) => {
    let key =
      raw.key === undefined ? undefined : publicJwk.parse(JSON.parse(await readFile(raw.key, "utf8")));
    let generated: ReturnType<typeof generateDeviceKey> | undefined;
    if (key === undefined) {
      if (raw.out === undefined) throw new BaseError("invalid", "--out is required when --key is not given");
      generated = generateDeviceKey();
      key = generated.publicJwk;
    }
    const api = await signedInClient(raw);
    const answer = await api.request<{ deviceId: string }>("POST", "/monitoring/devices", {
      body: { patient, publicKey: key, model: raw.model },
    });
    if (generated && raw.out) {
      await writeFile(raw.out, JSON.stringify({ deviceId: answer.deviceId, ...generated }, null, 2), {
        mode: 0o600,
      });
    }
    printJson(answer);
  });

  withUserOptions(device.command("revoke <deviceId>").description("revoke a device")).action(
    async (deviceId: string, raw: UserOptions) => {
      const api = await signedInClient(raw);
      printJson(
        await api.request("POST", `/monitoring/devices/${encodeURIComponent(deviceId)}/revoke`, { body: {} }),
      );
    },
  );

  withUserOptions(
    device.command("list").description("devices you may see").option("--patient <id>", "one FHIR Patient's"),
  ).action(async (raw: UserOptions & { patient?: string }) => {
    const api = await signedInClient(raw);
    printJson(
      await api.get(`/monitoring/devices${raw.patient ? `?patient=${encodeURIComponent(raw.patient)}` : ""}`),
    );
  });

  withUserOptions(
    monitor
      .command("alerts")
      .description("alerts you may see; --follow prints each new one as a JSON line")
      .option("--open", "only unacknowledged ones")
      .option("--follow", "stay connected and print alerts as they come"),
  ).action(async (raw: UserOptions & { open?: boolean; follow?: boolean }) => {
    const api = await signedInClient(raw);
    if (!raw.follow) {
      printJson(await api.get(`/monitoring/alerts${raw.open ? "?open=true" : ""}`));
      return;
    }
    await api.follow("/monitoring/alerts/stream", (event, data) =>
      process.stdout.write(`${JSON.stringify({ event, alert: data })}\n`),
    );
  });

  withUserOptions(monitor.command("ack <alertId>").description("acknowledge an alert")).action(
    async (alertId: string, raw: UserOptions) => {
      const api = await signedInClient(raw);
      printJson(
        await api.request("POST", `/monitoring/alerts/${encodeURIComponent(alertId)}/ack`, { body: {} }),
      );
    },
  );

  monitor
    .command("simulate")
    .description("stream signed batches from simulated home kits to a node, with deterioration episodes")
    .requiredOption(
      "--devices <file>",
      "JSON list of {deviceId, privatePem} (from `monitor device add --out`)",
    )
    .option("--patients <n>", "how many of the listed devices to drive", "1")
    .option("--rate <r>", "batches per second per patient", "1")
    .option("--deteriorate <k>", "how many patients go through a deterioration episode", "0")
    .option("--seconds <s>", "stop after this long (default: until interrupted)")
    .option("--node <url>", "node API URL (env CARECHAIN_NODE)")
    .action(
      async (raw: {
        devices: string;
        patients: string;
        rate: string;
        deteriorate: string;
        seconds?: string;
        node?: string;
      }) => {
        const o = parseOptions(
          z.object({
            patients: positiveInt(10_000),
            rate: z.coerce.number().positive().max(100),
            deteriorate: z.coerce.number().int().min(0),
            seconds: z.coerce.number().positive().optional(),
          }),
          raw,
        );
        const list = z
          .array(z.object({ deviceId: z.string(), privatePem: z.string() }))
          .min(1)
          .parse(JSON.parse(await readFile(raw.devices, "utf8")));
        const sim = new DeviceSimulator({ seed: Date.now() % 1000 });
        const n = Math.min(o.patients, list.length);
        for (let i = 0; i < n; i++) sim.useKey(i, list[i]!.privatePem, list[i]!.deviceId);
        for (let i = 0; i < Math.min(o.deteriorate, n); i++)
          setTimeout(() => sim.deteriorate(i), 10_000 + i * 5000);
        const api = new ApiClient(nodeUrl(raw.node));
        const until = o.seconds === undefined ? Number.POSITIVE_INFINITY : Date.now() + o.seconds * 1000;
        let sent = 0;
        let refused = 0;
        const tick = async () => {
          await Promise.all(
            Array.from({ length: n }, async (_, i) => {
              try {
                await api.request("POST", "/monitoring/batches", { body: sim.nextBatch(i, Date.now()) });
                sent++;
              } catch {
                refused++;
              }
            }),
          );
        };
        while (Date.now() < until) {
          const started = Date.now();
          await tick();
          await new Promise((r) => setTimeout(r, Math.max(0, 1000 / o.rate - (Date.now() - started))));
        }
        printJson({ batches: sent, refused });
      },
    );
}
