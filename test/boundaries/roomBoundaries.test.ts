import { execFile } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";

const run = promisify(execFile);
const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const config = join(root, ".dependency-cruiser.cjs");
const cli = join(root, "node_modules/dependency-cruiser/bin/dependency-cruise.mjs");

interface Violation {
  rule: { name: string };
  from: string;
  to: string;
}

/** Runs the boundary check of `npm run check` on `dir`'s src/ and returns its violations. */
async function violations(dir: string): Promise<Violation[]> {
  const { stdout } = await run(process.execPath, [cli, "src", "--config", config, "--output-type", "json"], {
    cwd: dir,
    maxBuffer: 64 * 1024 * 1024,
  }).catch((err: { stdout?: string }) => ({ stdout: err.stdout ?? "" }));
  return (JSON.parse(stdout) as { summary: { violations: Violation[] } }).summary.violations;
}

describe("room boundaries (npm run check)", () => {
  const trees: string[] = [];
  afterAll(() => {
    for (const t of trees) rmSync(t, { recursive: true, force: true });
  });

  /** A throwaway project with the repository's tsconfig and the given files. */
  function tree(files: Record<string, string>): string {
    const dir = mkdtempSync(join(tmpdir(), "carechain-rooms-"));
    trees.push(dir);
    cpSync(join(root, "tsconfig.json"), join(dir, "tsconfig.json"));
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), text);
    }
    return dir;
  }

  it("passes on the repository's src/", async () => {
    expect(await violations(root)).toEqual([]);
  });

  it("names every import that runs up the house, sideways between scenarios, or into api/ and cli/", async () => {
    const dir = tree({
      "src/records/store.ts": "export const rows = 1;\n",
      "src/consent/decide.ts": 'import { rows } from "../records/store.js";\nexport const d = rows;\n',
      "src/research/study.ts": "export const study = 1;\n",
      "src/monitoring/alerts.ts": 'import { study } from "../research/study.js";\nexport const a = study;\n',
      "src/api/app.ts": "export const app = 1;\n",
      "src/model/principal.ts": 'import { app } from "../api/app.js";\nexport const p = app;\n',
      "src/cli/main.ts": "export const main = 1;\n",
      "src/node/start.ts": 'import { main } from "../cli/main.js";\nexport const s = main;\n',
      "src/helpers/misc.ts": "export const misc = 1;\n",
      "src/audit/log.ts": 'import { misc } from "../helpers/misc.js";\nexport const l = misc;\n',
    });
    const found = (await violations(dir)).map((v) => `${v.rule.name}: ${v.from} -> ${v.to}`).sort();
    expect(found).toEqual(
      [
        "no-import-of-unknown-room: src/audit/log.ts -> src/helpers/misc.ts",
        "no-upward-from-consent: src/consent/decide.ts -> src/records/store.ts",
        "no-upward-from-model: src/model/principal.ts -> src/api/app.ts",
        "no-upward-from-node: src/node/start.ts -> src/cli/main.ts",
        "no-sideways-in-federation-research-monitoring-passport-guidance: src/monitoring/alerts.ts -> src/research/study.ts",
      ].sort(),
    );
  });
});
