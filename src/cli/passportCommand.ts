import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import type { Hex } from "viem";
import { z } from "zod";
import { Outbox } from "../chain/outbox.js";
import { loadOrCreateLocalKeyProvider } from "../crypto/keyProvider.js";
import { BaseError } from "../errors/BaseError.js";
import type { IssuedCard } from "../passport/passportService.js";
import { IssuerKeys } from "../passport/issuerKeys.js";
import { hexBytes } from "../model/schemas.js";
import { IssuerAdmin } from "../passport/issuerAdmin.js";
import { cardQrPngs, cardQrSvgs } from "../passport/cardSigner.js";
import { parseOptions, printJson, signedInClient, withUserOptions, type UserOptions } from "./apiClient.js";
import { openNodeDirectory } from "./operatorContext.js";
import { reportText } from "../passport/passportText.js";
import { verifierTrust } from "../passport/verifierTrust.js";
import { verifyPassport } from "../passport/verifyPassport.js";

const verifyOptions = z.object({
  trust: z.array(z.string()).default([]),
  ledgerCache: z.string().optional(),
  now: z.string().optional(),
  json: z.boolean().optional(),
});

/** An argument that names an existing file is read as bytes; anything else is the credential's text. */
function readInput(argument: string): string | Uint8Array {
  if (/^(shc:|HC\d?:|ey)/i.test(argument) || !existsSync(argument)) return argument;
  return readFileSync(argument);
}

function parseNow(now: string | undefined): Date {
  if (now === undefined) return new Date();
  const date = new Date(/^\d+(\.\d+)?$/.test(now) ? Number(now) * 1000 : now);
  if (Number.isNaN(date.getTime()))
    throw new BaseError("invalid", "--now must be an ISO time or seconds since the epoch");
  return date;
}

/**
 * `carechain passport verify`: verifies health cards offline; exit 0 only when every card is valid.
 * @returns the exit code
 */
export function runPassportVerify(
  inputs: readonly string[],
  rawOptions: unknown,
  write: (text: string) => void,
): number {
  const options = verifyOptions.parse(rawOptions);
  const trust = verifierTrust(options.trust, options.ledgerCache);
  const reports = verifyPassport(inputs.map(readInput), trust, parseNow(options.now));
  const valid = reports.length > 0 && reports.every((report) => report.valid);
  if (options.json === true) write(`${JSON.stringify({ valid, reports }, null, 2)}\n`);
  else write(reports.map(reportText).join("\n"));
  return valid ? 0 : 1;
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

const issueOptions = z.object({
  type: z.enum(["immunization", "laboratory"]).default("immunization"),
  patient: z.string().min(1).max(64).optional(),
  out: z.string().min(1).default("."),
});

/** Writes a card's forms into a folder: JWS, .smart-health-card, shc:/ text, QR PNGs and SVGs. */
async function writeCardFiles(card: IssuedCard, folder: string): Promise<string[]> {
  mkdirSync(folder, { recursive: true });
  const base = join(folder, `card-${card.cardId}`);
  const files: Array<[string, string | Buffer]> = [
    [`${base}.smart-health-card`, card.file],
    [`${base}.jws`, `${card.jws}\n`],
    [`${base}.shc.txt`, `${card.qrPayloads.join("\n")}\n`],
  ];
  const [pngs, svgs] = await Promise.all([cardQrPngs(card), cardQrSvgs(card)]);
  const many = card.qrPayloads.length > 1;
  pngs.forEach((png, i) => files.push([`${base}${many ? `.chunk-${i + 1}` : ""}.qr.png`, png]));
  svgs.forEach((svg, i) => files.push([`${base}${many ? `.chunk-${i + 1}` : ""}.qr.svg`, svg]));
  for (const [path, content] of files) writeFileSync(path, content, { mode: 0o600 });
  return files.map(([path]) => path);
}

const operatorHelp = `
Node operator command: opens this node's data directory (--data-dir / CARECHAIN_DATA_DIR) and
writes the intent into its ledger outbox; the running node's relayer submits it.`;

/** The issuer URL the running node uses: PUBLIC_URL, else its listening address. */
function issuerUrlOf(config: { publicUrl?: string | undefined; host: string; port: number }): string {
  return (config.publicUrl ?? `http://${config.host}:${config.port}`).replace(/\/+$/, "");
}

/** `carechain passport …`: SMART Health Cards and EU DCCs. */
export function registerPassportCommand(program: Command): void {
  const passport = program
    .command("passport")
    .description("digital health passport: SMART Health Cards and EU DCCs");
  passport
    .command("verify")
    .description(
      "verify shc:/ text, a .smart-health-card file, a QR image (PNG), a JWS or HC1: text, offline",
    )
    .argument("<input...>", "the credential or files holding it (chunk QR images of one card together)")
    .option(
      "--trust <path>",
      "JWKS, CRL, DSC certificate or ledger cache file, or a folder of them (repeatable)",
      collect,
    )
    .option("--ledger-cache <file>", "issuers registered on the ledger, cached for offline use")
    .option("--now <time>", "verify as of this time (ISO 8601 or epoch seconds)")
    .option("--json", "print the reports as JSON")
    .action((inputs: string[], opts: unknown) => {
      process.exitCode = runPassportVerify(inputs, opts, (text) => process.stdout.write(text));
    });

  withUserOptions(
    passport
      .command("issue")
      .description("issue a SMART Health Card from your immunizations or lab results and save its files")
      .option("--type <type>", "immunization or laboratory", "immunization")
      .option("--patient <id>", "the Patient (practitioners; a patient's own by default)")
      .option("--out <folder>", "where to write the card's files", "."),
  ).action(async (raw: UserOptions & Record<string, unknown>) => {
    const o = parseOptions(issueOptions, raw);
    const api = await signedInClient(raw);
    const card = await api.request<IssuedCard>("POST", "/passport/cards", {
      body: { type: o.type, ...(o.patient === undefined ? {} : { patient: o.patient }) },
    });
    const files = await writeCardFiles(card, o.out);
    printJson({
      cardId: card.cardId,
      kid: card.kid,
      type: card.type,
      issuedAt: card.issuedAt,
      qrCodes: card.qrPayloads.length,
      files,
    });
  });

  withUserOptions(
    passport
      .command("show")
      .description("list the cards issued for you (or --patient, practitioners)")
      .option("--patient <id>", "the Patient"),
  ).action(async (raw: UserOptions & { patient?: string }) => {
    const api = await signedInClient(raw);
    printJson(
      await api.get(
        `/passport/cards${raw.patient === undefined ? "" : `?patient=${encodeURIComponent(raw.patient)}`}`,
      ),
    );
  });

  withUserOptions(
    passport
      .command("revoke")
      .description(
        "revoke a card (by id) through the ledger, or with --key one of this node's issuer keys (operator)",
      )
      .argument("[cardId]", "the card to revoke")
      .option("--key <kid>", "operator: revoke this issuer key instead (every card it signed)"),
  ).action(async (cardId: string | undefined, raw: UserOptions & { key?: string }) => {
    if (raw.key !== undefined) {
      const kid = parseOptions(z.string().regex(/^[A-Za-z0-9_-]{43}$/, "--key must be a kid"), raw.key);
      await withOperator(program, async (admin) =>
        printJson({ ...(await admin.revokeKey(kid)), status: "pending" }),
      );
      return;
    }
    if (cardId === undefined) throw new BaseError("invalid", "give a card id, or --key <kid>");
    const api = await signedInClient(raw);
    printJson(await api.request("POST", `/passport/cards/${encodeURIComponent(cardId)}/revoke`));
  });

  const issuer = passport
    .command("issuer")
    .description("node operator: this organization as a SMART Health Card issuer");
  issuer
    .command("approve <organization>")
    .description("consortium governor: let an organization of another kind (lab, clinic) issue")
    .option("--revoke", "stop it instead")
    .addHelpText("after", operatorHelp)
    .action(async (organization: string, raw: { revoke?: boolean }) => {
      const org = parseOptions(hexBytes(32, "a 0x-prefixed 32-byte organization id"), organization) as Hex;
      await withOperator(program, async (admin) =>
        printJson({
          organization: org,
          ...(await admin.approve(org, raw.revoke !== true)),
          status: "pending",
        }),
      );
    });
  issuer
    .command("register")
    .description("register this organization's issuer URL and signing key on the ledger")
    .option("--url <url>", "issuer URL (default PUBLIC_URL or the node's address)")
    .addHelpText("after", operatorHelp)
    .action(async (raw: { url?: string }) => {
      await withOperator(
        program,
        async (admin) => printJson({ ...(await admin.register()), status: "pending" }),
        raw.url,
      );
    });

  passport
    .command("rotate-key")
    .description(
      "node operator: sign new cards with a new key; the old one is retired (its cards stay valid)",
    )
    .addHelpText("after", operatorHelp)
    .action(async () => {
      await withOperator(program, async (admin) =>
        printJson({ ...(await admin.rotate()), status: "pending" }),
      );
    });
}

/** Opens the node's data directory with its key provider and outbox for an operator command. */
async function withOperator(
  program: Command,
  action: (admin: IssuerAdmin) => Promise<void>,
  issuerUrl?: string,
): Promise<void> {
  const ctx = await openNodeDirectory(program.opts<{ dataDir?: string }>().dataDir);
  try {
    const provider = loadOrCreateLocalKeyProvider(join(ctx.config.dataDir, "master-key"));
    const keys = new IssuerKeys(ctx.store.db, provider);
    await action(new IssuerAdmin(keys, new Outbox(ctx.store), issuerUrl ?? issuerUrlOf(ctx.config)));
  } finally {
    await ctx.close();
  }
}
