/**
 * Runs one bench in this process and prints its JSON as the last line of stdout; `bench/run.ts`
 * starts one of these per bench so the memory and JIT state of one do not skew the next.
 * Usage: `node --import tsx bench/support/child.ts <name> [--quick]`.
 */
import { BENCHES } from "./registry.js";
import { benchOptions } from "./report.js";

const name = process.argv[2] ?? "";
const run = BENCHES[name];
if (run === undefined) {
  process.stderr.write(`unknown bench ${JSON.stringify(name)}; known: ${Object.keys(BENCHES).join(", ")}\n`);
  process.exit(2);
}
const result = await run(benchOptions());
process.stdout.write(`\n${JSON.stringify(result)}\n`);
// Servers and timers the bench forgot must not keep the child alive.
process.exit(0);
