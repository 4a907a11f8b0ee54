/**
 * Test-only crash points: `crashPoint("name")` does nothing unless the environment variable
 * CARECHAIN_CRASH_AT names that point, and then kills this process with SIGKILL on the spot (no
 * cleanup, no flush), as a power cut would. The crash tests (test/security/writeAuditCrash.int.test.ts)
 * use it to stop a write between its durable audit entry and its commit, and after the commit.
 */
const AT = process.env.CARECHAIN_CRASH_AT;

/** The points a write passes, in order. */
export type CrashPointName =
  "write:after-intent" | "write:after-commit" | "erase:after-intent" | "erase:after-commit";

export function crashPoint(name: CrashPointName): void {
  if (AT === name) process.kill(process.pid, "SIGKILL");
}
