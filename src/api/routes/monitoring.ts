import type { FastifyInstance } from "fastify";
import type { Hex } from "viem";
import { z } from "zod";
import { openEventStream } from "../../events/eventStream.js";
import { publicJwk } from "../../monitoring/deviceKeys.js";
import { toFhirDevice } from "../../monitoring/devices.js";
import type { MonitoringService } from "../../monitoring/monitoringService.js";
import { MAX_READINGS_PER_BATCH } from "../../monitoring/batch.js";
import { sessionAuth } from "../authenticate.js";
import { publicRoute, route, websocketRoute } from "../routeDef.js";

export interface MonitoringRouteDeps {
  monitoring: MonitoringService;
  nodeKey: Hex;
  /** Interval of `: heartbeat` comments on alert streams (15 s). */
  heartbeatMs?: number;
}

const patientId = z.string().regex(/^[A-Za-z0-9.-]{1,64}$/, "must be a FHIR id");
const deviceParams = z.object({ id: z.string().min(1).max(64) });
const alertParams = z.object({ id: z.string().min(1).max(64) });
/** How far back the charts reach, in minutes (default 30; at most a day). */
const windowQuery = z.object({ minutes: z.coerce.number().int().min(1).max(1440).default(30) });

/**
 * Remote patient monitoring (docs/monitoring.md): devices post signed batches (the device's
 * signature authenticates them, so the route takes no session); patients and their care team
 * register and revoke devices, set the per-patient rules, chart vitals (one patient, or the ward
 * board of every patient a clinician may see), list, follow (Server-Sent Events or WebSocket) and
 * acknowledge alerts, and register REST hooks for them.
 */
export function monitoringRoutes(deps: MonitoringRouteDeps) {
  const session = sessionAuth(deps.nodeKey);
  const m = deps.monitoring;
  const open = new Set<() => void>();
  return (app: FastifyInstance): void => {
    app.addHook("preClose", async () => {
      for (const finish of [...open]) finish();
    });
    route(
      app,
      {
        method: "POST",
        url: "/monitoring/batches",
        summary: "A device's signed batch of readings (ES256 over the payload bytes)",
        tags: ["monitoring"],
        // authenticated by the device's signature over the payload, checked by the ingestor
        auth: publicRoute,
        bodyLimit: MAX_READINGS_PER_BATCH * 200 + 4096,
      },
      async ({ body }) => m.ingestor.ingest(body),
    );
    route(
      app,
      {
        method: "POST",
        url: "/monitoring/devices",
        summary: "Register a device (its P-256 public key) for a patient",
        tags: ["monitoring"],
        auth: session,
        body: z.strictObject({ patient: patientId, publicKey: publicJwk, model: z.string().min(1).max(100) }),
      },
      async ({ caller, body, reply }) => {
        const row = await m.devices.register(caller, {
          patientId: body.patient,
          publicKey: body.publicKey,
          model: body.model,
        });
        return reply.status(201).send({ deviceId: row.device_id, device: toFhirDevice(row) });
      },
    );
    route(
      app,
      {
        method: "GET",
        url: "/monitoring/devices",
        summary: "The devices of a patient (or of every patient) the caller may see",
        tags: ["monitoring"],
        auth: session,
        query: z.object({ patient: patientId.optional() }),
      },
      async ({ caller, query }) => {
        const rows =
          query.patient === undefined
            ? await m.devices.visible(caller)
            : await m.devices.list(caller, query.patient);
        return rows.map((r) => ({ ...toFhirDevice(r), refusals: m.ingestor.refusals.of(r.device_id) }));
      },
    );
    route(
      app,
      {
        method: "GET",
        url: "/monitoring/devices/:id",
        summary: "One device, with its refusals counted by reason",
        tags: ["monitoring"],
        auth: session,
        params: deviceParams,
      },
      async ({ caller, params }) => {
        const row = await m.devices.get(caller, params.id);
        return { ...toFhirDevice(row), refusals: m.ingestor.refusals.of(row.device_id) };
      },
    );
    route(
      app,
      {
        method: "POST",
        url: "/monitoring/devices/:id/revoke",
        summary: "Revoke a device: its batches are refused from now on",
        tags: ["monitoring"],
        auth: session,
        params: deviceParams,
      },
      async ({ caller, params }) => toFhirDevice(await m.devices.revoke(caller, params.id)),
    );
    route(
      app,
      {
        method: "GET",
        url: "/monitoring/patients/:id/settings",
        summary: "A patient's monitoring settings (SpO2 scale, thresholds, escalation)",
        tags: ["monitoring"],
        auth: session,
        params: z.object({ id: patientId }),
      },
      async ({ caller, params }) => m.settings(caller, params.id),
    );
    route(
      app,
      {
        method: "PUT",
        url: "/monitoring/patients/:id/settings",
        summary: "Set a patient's monitoring settings (the care team, with the patient's write grant)",
        tags: ["monitoring"],
        auth: session,
        params: z.object({ id: patientId }),
      },
      async ({ caller, params, body }) => m.setSettings(caller, params.id, body),
    );
    route(
      app,
      {
        method: "GET",
        url: "/monitoring/alerts",
        summary: "Alerts the caller may see, newest first",
        tags: ["monitoring"],
        auth: session,
        query: z.object({ open: z.enum(["true", "false"]).optional(), patient: patientId.optional() }),
      },
      async ({ caller, query }) =>
        m.listAlerts(caller, {
          open: query.open === "true",
          ...(query.patient !== undefined ? { patientId: query.patient } : {}),
        }),
    );
    route(
      app,
      {
        method: "POST",
        url: "/monitoring/alerts/:id/ack",
        summary: "Acknowledge an alert",
        tags: ["monitoring"],
        auth: session,
        params: alertParams,
      },
      async ({ caller, params }) => m.alerts.ack(caller, params.id),
    );
    route(
      app,
      {
        method: "GET",
        url: "/monitoring/alerts/stream",
        summary: "Live alerts addressed to the caller (Server-Sent Events: alert, ack)",
        tags: ["monitoring"],
        auth: session,
      },
      async ({ caller, request, reply }) => {
        const raw = openEventStream(request, reply, "monitoring alerts");
        let closed = false;
        const send = (event: { type: string; alert: { id: string } }) => {
          if (!closed)
            raw.write(
              `id: ${event.alert.id}\nevent: ${event.type}\ndata: ${JSON.stringify(event.alert)}\n\n`,
            );
        };
        const detach = m.alerts.subscribe(caller, send);
        const heartbeat = setInterval(() => {
          if (!closed) raw.write(": heartbeat\n\n");
        }, deps.heartbeatMs ?? 15_000);
        const finish = () => {
          if (closed) return;
          closed = true;
          clearInterval(heartbeat);
          detach();
          open.delete(finish);
          raw.end();
        };
        open.add(finish);
        request.raw.on("close", finish);
        raw.on("close", finish);
        for (const alert of await m.alerts.pendingFor(caller)) send({ type: "alert", alert });
      },
    );
    websocketRoute(
      app,
      {
        url: "/monitoring/alerts/ws",
        summary: "Live alerts addressed to the caller (WebSocket: one JSON message per alert or ack)",
        tags: ["monitoring"],
        auth: session,
      },
      async ({ caller, socket }) => {
        let closed = false;
        const send = (event: { type: string; alert: unknown }) => {
          if (!closed && socket.readyState === 1) socket.send(JSON.stringify(event));
        };
        const detach = m.alerts.subscribe(caller, send);
        const heartbeat = setInterval(() => {
          if (!closed && socket.readyState === 1) socket.ping();
        }, deps.heartbeatMs ?? 15_000);
        const finish = () => {
          if (closed) return;
          closed = true;
          clearInterval(heartbeat);
          detach();
          open.delete(finish);
          socket.close(1001, "server closing");
        };
        open.add(finish);
        socket.on("close", finish);
        for (const alert of await m.alerts.pendingFor(caller)) send({ type: "alert", alert });
      },
    );
    route(
      app,
      {
        method: "GET",
        url: "/monitoring/patients/:id/vitals",
        summary: "A patient's vitals and NEWS2 scores over the last minutes, for charts",
        tags: ["monitoring"],
        auth: session,
        params: z.object({ id: patientId }),
        query: windowQuery,
      },
      async ({ caller, params, query }) => m.vitals(caller, params.id, query.minutes),
    );
    route(
      app,
      {
        method: "GET",
        url: "/monitoring/ward",
        summary: "The ward board: monitored patients the caller may see, highest latest NEWS2 first",
        tags: ["monitoring"],
        auth: session,
        query: windowQuery,
      },
      async ({ caller, query }) => ({ patients: await m.wardBoard(caller, query.minutes) }),
    );
    route(
      app,
      {
        method: "POST",
        url: "/monitoring/hooks",
        summary: "Register a REST hook the caller's alerts are POSTed to (public addresses only)",
        tags: ["monitoring"],
        auth: session,
        body: z.strictObject({ url: z.string().min(1).max(2000) }),
      },
      async ({ caller, body, reply }) => reply.status(201).send(await m.hooks.register(caller, body.url)),
    );
    route(
      app,
      {
        method: "GET",
        url: "/monitoring/hooks",
        summary: "The caller's alert REST hooks",
        tags: ["monitoring"],
        auth: session,
      },
      async ({ caller }) => ({ hooks: await m.hooks.list(caller) }),
    );
    route(
      app,
      {
        method: "DELETE",
        url: "/monitoring/hooks/:id",
        summary: "Remove one of the caller's alert REST hooks",
        tags: ["monitoring"],
        auth: session,
        params: z.object({ id: z.string().min(1).max(64) }),
      },
      async ({ caller, params, reply }) => {
        await m.hooks.remove(caller, params.id);
        return reply.status(204).send();
      },
    );
  };
}
