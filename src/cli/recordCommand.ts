import { readFile } from "node:fs/promises";
import type { Command } from "commander";
import { z } from "zod";
import { PURPOSES } from "../model/vocabulary.js";
import { BaseError } from "../errors/BaseError.js";
import {
  hexOf,
  parseOptions,
  printJson,
  signedInClient,
  withUserOptions,
  type UserOptions,
} from "./apiClient.js";

const resourceType = z.string().regex(/^[A-Z][A-Za-z]{1,63}$/, "must be a FHIR resource type");
const reference = z
  .string()
  .regex(/^[A-Z][A-Za-z]{1,63}\/[A-Za-z0-9\-.]{1,64}$/, "must be a FHIR reference Type/id");
const purposeOption = z.object({
  purpose: z.enum(PURPOSES, { error: () => `must be one of ${PURPOSES.join(", ")}` }).optional(),
});

/** Reads a JSON document from a file or, for `-`, from stdin. */
async function readJson(file: string): Promise<unknown> {
  let text: string;
  try {
    text = file === "-" ? await readStdin() : await readFile(file, "utf8");
  } catch (cause) {
    throw new BaseError("invalid", `cannot read ${file === "-" ? "stdin" : file}`, { cause });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (cause) {
    throw new BaseError("invalid", `${file === "-" ? "stdin" : file} is not valid JSON`, { cause });
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

const withPurpose = (command: Command) =>
  command.option(
    "--purpose <code>",
    `HL7 purpose of use (${PURPOSES.join(", ")}); practitioners default to TREAT`,
  );

/** `carechain record add|get|search|import`: FHIR R4 through a node's API, consent-checked and audited there. */
export function registerRecordCommand(program: Command): void {
  const record = program.command("record").description("read and write FHIR records on a node");

  withUserOptions(
    withPurpose(
      record.command("add <file>").description("create a FHIR resource from a JSON file (- for stdin)"),
    ),
  ).action(async (file: string, raw: UserOptions & { purpose?: string }) => {
    const { purpose } = parseOptions(purposeOption, raw);
    const resource = await readJson(file);
    const type = resourceType.safeParse((resource as { resourceType?: unknown } | null)?.resourceType);
    if (!type.success)
      throw new BaseError("invalid", "the file must hold one FHIR resource with a resourceType");
    const api = await signedInClient(raw);
    printJson(await api.request("POST", `/fhir/${type.data}`, { body: resource, purpose }));
  });

  withUserOptions(
    withPurpose(record.command("get <reference>").description("read one resource, e.g. Observation/123")),
  ).action(async (ref: string, raw: UserOptions & { purpose?: string }) => {
    const { purpose } = parseOptions(purposeOption, raw);
    if (!reference.safeParse(ref).success) throw new BaseError("invalid", "reference must be Type/id");
    const api = await signedInClient(raw);
    printJson(await api.get(`/fhir/${ref}`, purpose));
  });

  withUserOptions(
    withPurpose(
      record
        .command("search <type> [params...]")
        .description("FHIR search, e.g. record search Observation patient=123 category=laboratory"),
    ),
  ).action(async (type: string, params: string[], raw: UserOptions & { purpose?: string }) => {
    const { purpose } = parseOptions(purposeOption, raw);
    if (!resourceType.safeParse(type).success)
      throw new BaseError("invalid", "type must be a FHIR resource type");
    const query = new URLSearchParams();
    for (const p of params) {
      const eq = p.indexOf("=");
      if (eq <= 0) throw new BaseError("invalid", "search parameters must be name=value");
      query.append(p.slice(0, eq), p.slice(eq + 1));
    }
    const api = await signedInClient(raw);
    const qs = query.toString();
    printJson(await api.get(`/fhir/${type}${qs ? `?${qs}` : ""}`, purpose));
  });

  withUserOptions(
    withPurpose(
      record
        .command("import <bundle>")
        .description("import a FHIR Bundle (transaction, batch or collection) from a file (- for stdin)")
        .option("--patient-account <address>", "link the bundle's Patient to this patient's ledger account"),
    ),
  ).action(async (file: string, raw: UserOptions & { purpose?: string; patientAccount?: string }) => {
    const o = parseOptions(
      purposeOption.extend({ patientAccount: hexOf(20, "a 0x-prefixed account address").optional() }),
      raw,
    );
    const bundle = await readJson(file);
    if ((bundle as { resourceType?: unknown } | null)?.resourceType !== "Bundle")
      throw new BaseError("invalid", "the file must hold a FHIR Bundle");
    const api = await signedInClient(raw);
    printJson(
      await api.request("POST", "/fhir", {
        body: bundle,
        purpose: o.purpose,
        ...(o.patientAccount ? { headers: { "x-patient-account": o.patientAccount } } : {}),
      }),
    );
  });
}
