import { execFileSync } from "node:child_process";
import { join } from "node:path";

/**
 * Tests start the real `bin/carechain.js`, which runs the compiled dist/: build it once, before
 * any test, when a source changed since the last build (a no-op otherwise).
 */
export default function setup(): void {
  const root = join(import.meta.dirname, "..", "..");
  execFileSync(process.execPath, [join(root, "scripts", "build.js"), "--if-stale"], {
    cwd: root,
    stdio: "inherit",
  });
}
