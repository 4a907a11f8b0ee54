/**
 * Builds the node: `tsc -p tsconfig.build.json` compiles src/ to dist/ (ESM for Node 20, with
 * source maps). It only emits; `npm run check` type-checks. The build goes to dist.next/ and
 * replaces dist/ when it succeeded, so a running reader never sees half a build, and one lock lets
 * concurrent callers (test workers, several `carechain` processes) build once. dist/.build-stamp
 * marks a finished build; the build is stale when any file or folder under src/ or a tsconfig is
 * newer than the stamp (a deleted or renamed source changes its folder's time).
 *
 * Then the web app (scripts/buildWeb.js), the same way.
 *
 * Usage: `node scripts/build.js` (always builds) | `node scripts/build.js --if-stale`.
 * bin/carechain.js calls `ensureBuilt()` before it loads dist/.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath, pathToFileURL } from "node:url";
import { withLock } from "./buildLock.js";
import { buildWeb, ensureWebBuilt } from "./buildWeb.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const DIST = join(ROOT, "dist");
const NEXT = join(ROOT, "dist.next");
const STAMP = join(DIST, ".build-stamp");
const LOCK = join(ROOT, ".tmp", "build.lock");
const INPUTS = ["src", "tsconfig.json", "tsconfig.build.json"];

/** The latest modification time under `path` (the path itself included). */
function newest(path) {
  const stat = statSync(path);
  let latest = stat.mtimeMs;
  if (stat.isDirectory()) {
    for (const entry of readdirSync(path)) latest = Math.max(latest, newest(join(path, entry)));
  }
  return latest;
}

/** True when dist/ is missing or older than a source (false where no sources ship: nothing to compare). */
export function isStale() {
  if (!existsSync(join(ROOT, "src"))) return !existsSync(join(DIST, "cli", "main.js"));
  if (!existsSync(STAMP)) return true;
  const built = statSync(STAMP).mtimeMs;
  return INPUTS.some((input) => existsSync(join(ROOT, input)) && newest(join(ROOT, input)) > built);
}

/** Compiles src/ into dist/ (clean), holding the build lock. */
export function build() {
  withLock(LOCK, compile);
}

/** Builds unless dist/ is up to date with src/; a second caller waits for the first one's build. */
export function ensureBuilt() {
  if (!isStale()) return;
  withLock(LOCK, () => {
    if (isStale()) compile();
  });
}

function compile() {
  let tsc;
  try {
    tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
  } catch {
    if (existsSync(join(DIST, "cli", "main.js"))) {
      process.stderr.write(
        "carechain: dist/ is older than src/, but TypeScript is not installed; running dist/\n",
      );
      return;
    }
    throw new Error("dist/ is missing and TypeScript is not installed: run `npm ci` (with dev dependencies)");
  }
  process.stderr.write("carechain: compiling src/ to dist/ ...\n");
  rmSync(NEXT, { recursive: true, force: true });
  const result = spawnSync(
    process.execPath,
    [tsc, "-p", join(ROOT, "tsconfig.build.json"), "--noCheck", "--outDir", NEXT],
    { stdio: "inherit", cwd: ROOT },
  );
  if (result.status !== 0) {
    rmSync(NEXT, { recursive: true, force: true });
    throw new Error(`tsc -p tsconfig.build.json failed (exit ${result.status ?? result.signal})`);
  }
  writeFileSync(join(NEXT, ".build-stamp"), "");
  rmSync(DIST, { recursive: true, force: true });
  renameSync(NEXT, DIST);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    if (process.argv.includes("--if-stale")) {
      ensureBuilt();
      ensureWebBuilt();
    } else {
      build();
      buildWeb();
    }
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  }
}
