/**
 * The benches `npm run bench` knows, by name, each behind a lazy import so a child process loads
 * only the one it runs. Order is the order of a full run.
 */
import type { BenchOptions } from "./report.js";

export type BenchRun = (options: BenchOptions) => Promise<object>;

export const BENCHES: Record<string, BenchRun> = {
  consentDecision: async ({ quick }) =>
    (await import("../consentDecision.js")).runConsentDecisionBench(
      quick ? [1_000, 10_000] : [1_000, 10_000, 100_000, 1_000_000],
    ),
  auditProof: async (options) => (await import("../auditProof.js")).runAuditProofBench(options),
  auditThroughput: async (options) =>
    (await import("../auditThroughput.js")).runAuditThroughputBench(options),
  fhirRead: async (options) => (await import("../fhirRead.js")).runFhirReadBench(options),
  patientSearch: async (options) => (await import("../patientSearch.js")).runPatientSearchBench(options),
  federatedFetch: async (options) => (await import("../federatedFetch.js")).runFederatedFetchBench(options),
  guidance: async (options) => (await import("../guidance.js")).runGuidanceBench(options),
  anchorGas: async (options) => (await import("../anchorGas.js")).runAnchorGasBench(options),
  passport: async (options) => (await import("../passport.js")).runPassportBench(options),
  webAccessLog: async (options) => (await import("../webAccessLog.js")).runWebAccessLogBench(options),
  monitoring: async (options) => (await import("../monitoring.js")).runMonitoringBench(options),
  research: async (options) => (await import("../research.js")).runResearchBench(options),
};
