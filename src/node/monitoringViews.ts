import type { Principal } from "../model/principal.js";
import { withMonitoringEntries } from "../monitoring/observations.js";
import type { Services } from "./services.js";

type Query = Record<string, string | string[] | undefined>;

/**
 * The FHIR API's searches of Observation and Device, with the monitoring room's readings, scores
 * and devices after the records layer's own matches (each under the same consent decision).
 */
export function monitoringViews(services: Pick<Services, "records" | "monitoring">) {
  return {
    Observation: async (principal: Principal, q: Query, options: { lenient: boolean }) =>
      withMonitoringEntries(
        (await services.records.search(principal, "Observation", q, "/fhir", options)) as Record<
          string,
          unknown
        >,
        await services.monitoring.observations(principal, q),
        "/fhir",
      ),
    Device: async (principal: Principal, q: Query, options: { lenient: boolean }) => {
      const devices = await services.monitoring.fhirDevices(principal, q);
      const bundle = (await services.records.search(principal, "Device", q, "/fhir", options)) as Record<
        string,
        unknown
      >;
      if (devices.length === 0) return bundle;
      const entries = Array.isArray(bundle.entry) ? (bundle.entry as unknown[]) : [];
      return {
        ...bundle,
        total: (typeof bundle.total === "number" ? bundle.total : entries.length) + devices.length,
        entry: [
          ...entries,
          ...devices.map((d) => ({
            fullUrl: `/fhir/Device/${(d as { id: string }).id}`,
            resource: d,
            search: { mode: "match" },
          })),
        ],
      };
    },
  };
}
