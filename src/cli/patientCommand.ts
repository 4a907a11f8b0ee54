import type { Command } from "commander";
import { z } from "zod";
import { BaseError } from "../errors/BaseError.js";
import { parseOptions, printJson, signedInClient, withUserOptions, type UserOptions } from "./apiClient.js";

const patientId = z.string().regex(/^[A-Za-z0-9\-.]{1,64}$/, "must be a FHIR id");
const settingsOptions = z.object({
  breakGlass: z
    .enum(["on", "off"], { error: () => "must be on or off" })
    .transform((v) => v === "on")
    .optional(),
});

interface Settings {
  breakGlassAllowed: boolean;
  notify?: unknown;
}

/** `carechain patient erase|settings`: a patient's own controls over their record. */
export function registerPatientCommand(program: Command): void {
  const patient = program.command("patient").description("your record and privacy settings (patients)");

  withUserOptions(
    patient
      .command("erase <patientId>")
      .description("crypto-shred your whole record on this node (irreversible)")
      .option("--yes", "confirm: the record cannot be recovered afterwards"),
  ).action(async (id: string, raw: UserOptions & { yes?: boolean }) => {
    if (!patientId.safeParse(id).success) throw new BaseError("invalid", "patientId must be a FHIR id");
    if (raw.yes !== true)
      throw new BaseError("invalid", "erasing a record is irreversible: add --yes to confirm");
    const api = await signedInClient({ as: "patient", ...raw });
    printJson(await api.request("POST", `/fhir/Patient/${id}/$erase`, { body: {} }));
  });

  withUserOptions(
    patient
      .command("settings")
      .description("show your privacy settings, or change them")
      .option("--break-glass <on|off>", "allow emergency (break-the-glass) access to non-sensitive data"),
  ).action(async (raw: UserOptions & { breakGlass?: string }) => {
    const o = parseOptions(settingsOptions, raw);
    const api = await signedInClient({ as: "patient", ...raw });
    if (o.breakGlass === undefined) {
      printJson(await api.get("/patients/me/settings"));
      return;
    }
    const current = await api.get<Settings>("/patients/me/settings");
    printJson(
      await api.request("PUT", "/patients/me/settings", {
        body: {
          breakGlassAllowed: o.breakGlass,
          ...(current.notify !== undefined ? { notify: current.notify } : {}),
        },
      }),
    );
  });
}
