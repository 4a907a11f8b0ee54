/**
 * Compiles contracts/**\/*.sol offline with the pinned npm `solc` (solc-js, standard JSON) and
 * writes one typed `as const` module per contract to src/chain/artifacts/<Name>.ts, so viem infers
 * every argument and event. With `--check` it compiles in memory and exits 1 if a committed
 * artifact is stale, missing or left over.
 *
 * Usage: `npm run contracts:build` | `npm run contracts:check`
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

interface SolcOutput {
  errors?: { severity: "error" | "warning" | "info"; formattedMessage: string }[];
  contracts?: Record<string, Record<string, { abi: unknown[]; evm: { bytecode: { object: string } } }>>;
}
interface Solc {
  version(): string;
  compile(
    input: string,
    callbacks: { import: (path: string) => { contents: string } | { error: string } },
  ): string;
}

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const CONTRACTS_DIR = "contracts";
const ARTIFACTS_DIR = join(ROOT, "src", "chain", "artifacts");
const SETTINGS = { optimizer: { enabled: true, runs: 200 }, evmVersion: "cancun" } as const;
const HEADER_MARK = "do not edit; npm run contracts:build";

const require = createRequire(import.meta.url);
const solc = require("solc") as Solc;

/** Source paths relative to the repository root (forward slashes), sorted, so metadata is location-independent. */
function findSources(dir: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory()) found.push(...findSources(path));
    else if (entry.name.endsWith(".sol")) found.push(path);
  }
  return found.sort();
}

/** Resolves imports the compiler cannot find among the sources: packages from node_modules, the rest from the repository. */
function findImport(path: string): { contents: string } | { error: string } {
  const file = path.startsWith("@") ? join(ROOT, "node_modules", path) : join(ROOT, path);
  const inside = relative(ROOT, file);
  if (inside.startsWith("..") || inside.startsWith(sep))
    return { error: `import outside the repository: ${path}` };
  if (!existsSync(file)) return { error: `import not found: ${path}` };
  return { contents: readFileSync(file, "utf8") };
}

/** Compiles every source; returns the generated module text per artifact file name. */
function compile(): Map<string, string> {
  const sources = findSources(CONTRACTS_DIR);
  if (sources.length === 0) throw new Error(`no .sol files under ${CONTRACTS_DIR}/`);
  const input = {
    language: "Solidity",
    sources: Object.fromEntries(sources.map((s) => [s, { content: readFileSync(join(ROOT, s), "utf8") }])),
    settings: {
      ...SETTINGS,
      outputSelection: Object.fromEntries(sources.map((s) => [s, { "*": ["abi", "evm.bytecode.object"] }])),
    },
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImport })) as SolcOutput;
  const problems = output.errors ?? [];
  for (const w of problems.filter((e) => e.severity !== "error")) process.stderr.write(w.formattedMessage);
  const errors = problems.filter((e) => e.severity === "error");
  if (errors.length > 0) {
    throw new Error(`solc ${solc.version()} failed:\n${errors.map((e) => e.formattedMessage).join("\n")}`);
  }

  const modules = new Map<string, string>();
  for (const source of sources) {
    for (const [name, contract] of Object.entries(output.contracts?.[source] ?? {})) {
      const bytecode = contract.evm.bytecode.object;
      if (bytecode.length === 0) continue; // interfaces and abstract contracts
      if (modules.has(`${name}.ts`)) throw new Error(`two contracts are named ${name}`);
      modules.set(`${name}.ts`, render(source, name, contract.abi, bytecode));
    }
  }
  return modules;
}

function render(source: string, name: string, abi: unknown[], bytecode: string): string {
  const id = name.charAt(0).toLowerCase() + name.slice(1);
  return [
    `// Generated from ${source} by scripts/compileContracts.ts (solc ${solc.version()}, ` +
      `optimizer ${SETTINGS.optimizer.runs} runs, evm ${SETTINGS.evmVersion}); ${HEADER_MARK}`,
    // one ABI item per line: a readable diff per function/event/error without a page per item
    `export const ${id}Abi = [\n${(abi as unknown[]).map((item) => `  ${JSON.stringify(item)},`).join("\n")}\n] as const;`,
    "",
    `export const ${id}Bytecode = "0x${bytecode}" as const;`,
    "",
  ].join("\n");
}

/** Generated artifact files present on disk (those carrying the generated header). */
function existingArtifacts(): string[] {
  if (!existsSync(ARTIFACTS_DIR)) return [];
  return readdirSync(ARTIFACTS_DIR)
    .filter((f) => f.endsWith(".ts") && readFileSync(join(ARTIFACTS_DIR, f), "utf8").includes(HEADER_MARK))
    .sort();
}

function main(): void {
  const check = process.argv.includes("--check");
  const modules = compile();
  const display = (file: string): string => relative(ROOT, join(ARTIFACTS_DIR, file));
  const leftOver = existingArtifacts().filter((f) => !modules.has(f));

  if (check) {
    const stale = [...modules]
      .filter(([file, text]) => {
        const path = join(ARTIFACTS_DIR, file);
        return !existsSync(path) || readFileSync(path, "utf8") !== text;
      })
      .map(([file]) => file);
    const bad = [
      ...stale.map((f) => `${display(f)} is stale`),
      ...leftOver.map((f) => `${display(f)} is left over`),
    ];
    if (bad.length > 0) {
      process.stderr.write(`contracts:check: ${bad.join(", ")}; run npm run contracts:build\n`);
      process.exitCode = 1;
      return;
    }
    process.stdout.write(`contracts:check: ${modules.size} artifacts up to date\n`);
    return;
  }

  mkdirSync(ARTIFACTS_DIR, { recursive: true });
  for (const [file, text] of modules) {
    const path = join(ARTIFACTS_DIR, file);
    if (!existsSync(path) || readFileSync(path, "utf8") !== text) writeFileSync(path, text);
  }
  for (const file of leftOver) rmSync(join(ARTIFACTS_DIR, file));
  process.stdout.write(`contracts:build: wrote ${[...modules.keys()].map(display).join(", ")}\n`);
}

try {
  main();
} catch (error) {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
}
