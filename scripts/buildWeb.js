/**
 * Builds the web app (web/, React + Vite) into web/dist/ and prints the initial JavaScript's
 * gzipped size. Like scripts/build.js: the build goes to web/dist.next/ and replaces web/dist/ when
 * it succeeded, under a lock, and is stale when a file under web/ (but its output) or src/ (whose
 * pure modules the browser imports) is newer than web/dist/.build-stamp.
 *
 * Usage: `node scripts/buildWeb.js` (always builds) | `node scripts/buildWeb.js --if-stale`.
 */
import { spawnSync } from "node:child_process";
import {
  existsSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath, pathToFileURL } from "node:url";
import { withLock } from "./buildLock.js";
import { gzipSync } from "node:zlib";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const WEB = join(ROOT, "web");
const DIST = join(WEB, "dist");
const NEXT = join(WEB, "dist.next");
const STAMP = join(DIST, ".build-stamp");
const LOCK = join(ROOT, ".tmp", "build-web.lock");
/** What the bundle is made of: the app, and the rooms of src/ it imports. */
const INPUTS = [
  "web",
  "src/audit",
  "src/model",
  "src/errors",
  "src/access/siweClient.ts",
  "src/passport",
  "src/chain/artifacts",
];
const SKIP = new Set(["dist", "dist.next", "node_modules"]);

function newest(path) {
  const stat = statSync(path);
  let latest = stat.mtimeMs;
  if (stat.isDirectory()) {
    for (const entry of readdirSync(path)) {
      if (!SKIP.has(entry)) latest = Math.max(latest, newest(join(path, entry)));
    }
  }
  return latest;
}

/** True when web/dist is missing or older than an input (false where web/ does not ship). */
export function isWebStale() {
  if (!existsSync(join(WEB, "index.html"))) return false;
  if (!existsSync(STAMP)) return true;
  const built = statSync(STAMP).mtimeMs;
  return INPUTS.some((input) => existsSync(join(ROOT, input)) && newest(join(ROOT, input)) > built);
}

/** Builds the web app unless web/dist is up to date; never throws when Vite is not installed. */
export function ensureWebBuilt() {
  if (!isWebStale()) return;
  withLock(LOCK, () => {
    if (isWebStale()) compileWeb();
  });
}

/** Builds the web app now. */
export function buildWeb() {
  withLock(LOCK, compileWeb);
}

function compileWeb() {
  let vite;
  try {
    vite = join(dirname(createRequire(import.meta.url).resolve("vite/package.json")), "bin", "vite.js");
  } catch {
    process.stderr.write(
      existsSync(join(DIST, "index.html"))
        ? "carechain: web/dist is older than web/, but Vite is not installed; serving web/dist\n"
        : "carechain: the web app is not built and Vite is not installed (run `npm ci`)\n",
    );
    return;
  }
  process.stderr.write("carechain: building the web app to web/dist/ ...\n");
  rmSync(NEXT, { recursive: true, force: true });
  const result = spawnSync(
    process.execPath,
    [
      vite,
      "build",
      "--config",
      join(WEB, "vite.config.ts"),
      "--outDir",
      NEXT,
      "--emptyOutDir",
      "--logLevel",
      "warn",
    ],
    // a caller's NODE_ENV (vitest sets "test") would make React's development build
    { stdio: "inherit", cwd: WEB, env: { ...process.env, NODE_ENV: "production" } },
  );
  if (result.status !== 0) {
    rmSync(NEXT, { recursive: true, force: true });
    throw new Error(`vite build failed (exit ${result.status ?? result.signal})`);
  }
  const size = initialScriptSize(NEXT);
  writeFileSync(join(NEXT, ".bundle-size.json"), `${JSON.stringify(size)}\n`);
  writeFileSync(join(NEXT, ".build-stamp"), "");
  rmSync(DIST, { recursive: true, force: true });
  renameSync(NEXT, DIST);
  // the renames changed web/'s own time: the stamp must be newer than that
  const now = new Date();
  utimesSync(STAMP, now, now);
  process.stderr.write(
    `carechain: web app built: initial JavaScript ${(size.initialGzipBytes / 1024).toFixed(1)} kB gzipped ` +
      `(${size.initialFiles.length} files; budget 200 kB), all JavaScript ${(size.totalGzipBytes / 1024).toFixed(1)} kB gzipped\n`,
  );
}

/**
 * The gzipped size of the JavaScript index.html loads before any route: its module script and
 * the chunks it preloads; and of all JavaScript (lazy routes included).
 */
export function initialScriptSize(dir) {
  const html = readFileSync(join(dir, "index.html"), "utf8");
  const initialFiles = [
    ...html.matchAll(/<script[^>]*\ssrc="\/([^"]+\.js)"/g),
    ...html.matchAll(/<link[^>]*rel="modulepreload"[^>]*href="\/([^"]+\.js)"/g),
  ].map((m) => m[1]);
  const gz = (file) => gzipSync(readFileSync(join(dir, file)), { level: 9 }).length;
  const assets = readdirSync(join(dir, "assets")).filter((f) => f.endsWith(".js"));
  return {
    initialFiles,
    initialGzipBytes: initialFiles.reduce((sum, f) => sum + gz(f), 0),
    totalGzipBytes: assets.reduce((sum, f) => sum + gz(join("assets", f)), 0),
  };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    if (process.argv.includes("--if-stale")) ensureWebBuilt();
    else buildWeb();
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  }
}
