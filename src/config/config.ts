import { resolve } from "node:path";
import { z } from "zod";
import { BaseError } from "../errors/BaseError.js";
import { ORGANIZATION_KINDS } from "../model/vocabulary.js";
import { address } from "../model/schemas.js";

const url = (protocols: string[]) =>
  z.string().refine(
    (v) => {
      try {
        return protocols.includes(new URL(v).protocol);
      } catch {
        return false;
      }
    },
    { message: `must be a URL (${protocols.join(" or ")})` },
  );

const port = z.coerce.number().int().min(0).max(65535);

/** The node's configuration, validated once at start. Environment names in comments. */
export const configSchema = z.object({
  /** CARECHAIN_DATA_DIR: database file, embedded chain state, key files. */
  dataDir: z.string().min(1),
  /** HOST */
  host: z.string().min(1),
  /** PORT: API and web UI (0 = any free port). */
  port,
  /** CHAIN_RPC_URL: an external EVM JSON-RPC endpoint; the embedded anvil when absent. */
  chainRpcUrl: url(["http:", "https:"]).optional(),
  /** DATABASE_URL: PostgreSQL; SQLite in the data directory when absent. */
  databaseUrl: url(["postgres:", "postgresql:"]).optional(),
  /** CARECHAIN_KEY_FILE: encrypted keystore holding the node's signing key. */
  keyFile: z.string().min(1),
  /** CARECHAIN_KEY_PASSWORD: password of the keystore (generated into the data dir when absent). */
  keyPassword: z.string().min(8).optional(),
  /** CARECHAIN_CONTRACTS: JSON {participantRegistry, consentRegistry, auditAnchor, recordLocator, credentialRegistry?, careCredit?, studyEscrow?} to join a consortium. */
  contracts: z
    .string()
    .transform((s, ctx) => {
      try {
        return JSON.parse(s) as unknown;
      } catch {
        ctx.addIssue({ code: "custom", message: "must be JSON" });
        return z.NEVER;
      }
    })
    .pipe(
      z.object({
        participantRegistry: address,
        consentRegistry: address,
        auditAnchor: address,
        recordLocator: address,
        credentialRegistry: address.optional(),
        careCredit: address.optional(),
        studyEscrow: address.optional(),
        blockNumber: z.coerce.number().int().min(0).default(0),
      }),
    )
    .optional(),
  /** ORG_NAME / ORG_KIND / PUBLIC_URL: how this node's organization registers itself. */
  orgName: z.string().min(1).max(200),
  orgKind: z.enum(ORGANIZATION_KINDS),
  publicUrl: url(["http:", "https:"]).optional(),
  /** ANCHOR_INTERVAL_MS / ANCHOR_MAX_ENTRIES: signed tree head every interval or N entries. */
  anchorIntervalMs: z.coerce.number().int().min(100).max(3_600_000),
  anchorMaxEntries: z.coerce.number().int().min(1),
  /**
   * CARECHAIN_HOOK_ALLOW: comma-separated hosts (`name`, `name:port`, IP) subscription REST hooks
   * may reach although they resolve to loopback, private or reserved addresses.
   */
  hookAllow: z.array(z.string().regex(/^[A-Za-z0-9.:[\]-]+$/, "must list host names or addresses")),
  /** LOG_LEVEL */
  logLevel: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]),
  /** CARECHAIN_DEMO: seed demo data on first run. */
  demo: z.boolean(),
  /**
   * CARECHAIN_API_ONLY: one more API process of an organization whose node already runs on the
   * same DATABASE_URL and CHAIN_RPC_URL (same keystore and data directory): serves the API, never
   * deploys, registers, relays, anchors, delivers or seeds (docs/multi-process.md).
   */
  apiOnly: z.boolean(),
});

export type Config = z.infer<typeof configSchema>;

const ENV_NAMES: Record<keyof Config, string> = {
  dataDir: "CARECHAIN_DATA_DIR",
  host: "HOST",
  port: "PORT",
  chainRpcUrl: "CHAIN_RPC_URL",
  databaseUrl: "DATABASE_URL",
  keyFile: "CARECHAIN_KEY_FILE",
  keyPassword: "CARECHAIN_KEY_PASSWORD",
  contracts: "CARECHAIN_CONTRACTS",
  orgName: "ORG_NAME",
  orgKind: "ORG_KIND",
  publicUrl: "PUBLIC_URL",
  anchorIntervalMs: "ANCHOR_INTERVAL_MS",
  anchorMaxEntries: "ANCHOR_MAX_ENTRIES",
  hookAllow: "CARECHAIN_HOOK_ALLOW",
  logLevel: "LOG_LEVEL",
  demo: "CARECHAIN_DEMO",
  apiOnly: "CARECHAIN_API_ONLY",
};

export type ConfigOverrides = Partial<Record<keyof Config, string | number | boolean | undefined>>;

/**
 * Builds the configuration from the environment and command-line overrides (which win) and
 * validates it. Fails fast with a one-line message naming the bad setting; never echoes a
 * secret's value.
 */
export function loadConfig(env: NodeJS.ProcessEnv, overrides: ConfigOverrides = {}): Config {
  const pick = (key: keyof Config): unknown => {
    const o = overrides[key];
    if (o !== undefined) return o;
    const e = env[ENV_NAMES[key]];
    return e === undefined || e === "" ? undefined : e;
  };
  const dataDir = resolve(String(pick("dataDir") ?? "data"));
  const raw = {
    dataDir,
    host: pick("host") ?? "127.0.0.1",
    port: pick("port") ?? 8080,
    chainRpcUrl: pick("chainRpcUrl"),
    databaseUrl: pick("databaseUrl"),
    keyFile: resolve(String(pick("keyFile") ?? resolve(dataDir, "node-key.json"))),
    keyPassword: pick("keyPassword"),
    contracts: pick("contracts"),
    orgName: pick("orgName") ?? "carechain General Hospital",
    orgKind: pick("orgKind") ?? "hospital",
    publicUrl: pick("publicUrl"),
    anchorIntervalMs: pick("anchorIntervalMs") ?? 1000,
    anchorMaxEntries: pick("anchorMaxEntries") ?? 100_000,
    hookAllow: String(pick("hookAllow") ?? "")
      .split(",")
      .map((h) => h.trim())
      .filter((h) => h.length > 0),
    logLevel: pick("logLevel") ?? "info",
    demo: parseBool(pick("demo")),
    apiOnly: parseBool(pick("apiOnly")),
  };
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const key = (issue?.path[0] ?? "config") as keyof Config;
    const name = ENV_NAMES[key] ?? String(key);
    throw new BaseError("config", `invalid configuration: ${name} ${describeIssue(issue?.message)}`);
  }
  return parsed.data;
}

function parseBool(v: unknown): boolean {
  if (typeof v === "boolean") return v;
  if (typeof v === "string") return ["1", "true", "yes", "on"].includes(v.toLowerCase());
  return false;
}

function describeIssue(message: string | undefined): string {
  if (!message) return "is invalid";
  return message.startsWith("must") ? message : `is invalid (${message})`;
}
