import type { Command } from "commander";
import type { Address } from "viem";
import { z } from "zod";
import {
  ACTIONS,
  CATEGORIES,
  PURPOSES,
  type Action,
  type Category,
  type Purpose,
} from "../model/vocabulary.js";
import {
  buildGrantMessage,
  buildRevokeMessage,
  signGrant,
  signRevoke,
  signedGrantToJson,
  type ConsentDomain,
  type GranteeInput,
} from "../consent/signConsent.js";
import { BaseError } from "../errors/BaseError.js";
import {
  ApiClient,
  loadAccount,
  nodeUrl,
  parseOptions,
  printJson,
  signedInClient,
  withUserOptions,
  type UserOptions,
} from "./apiClient.js";
import { hexBytes } from "../model/schemas.js";

const list = <T extends string>(values: readonly T[], what: string) =>
  z
    .string()
    .transform((s) =>
      s
        .split(",")
        .map((v) => v.trim())
        .filter((v) => v !== ""),
    )
    .pipe(
      z
        .array(
          z.enum(values as unknown as [T, ...T[]], {
            error: () => `must list ${what} from ${values.join(", ")}`,
          }),
        )
        .min(1, `must name at least one of ${values.join(", ")}`),
    );

const date = z
  .string()
  .refine(
    (s) => /^\d{4}-\d{2}-\d{2}/.test(s) && !Number.isNaN(Date.parse(s)),
    "must be a date (YYYY-MM-DD or ISO 8601)",
  )
  .transform((s) => new Date(s));

const grantOptions = z
  .object({
    granteePractitioner: hexBytes(20, "a 0x-prefixed account address").optional(),
    granteeOrg: hexBytes(32, "a 0x-prefixed 32-byte organization id").optional(),
    role: z.string().min(1).max(32).optional(),
    categories: list(CATEGORIES, "categories"),
    purposes: list(PURPOSES, "purposes").default(["TREAT"]),
    actions: list(ACTIONS, "actions").default(["read"]),
    until: date,
    from: date.optional(),
    wait: z.boolean().optional(),
  })
  .refine((o) => (o.granteePractitioner === undefined) !== (o.granteeOrg === undefined), {
    message: "or --grantee-org: name exactly one grantee",
    path: ["granteePractitioner"],
  })
  .refine((o) => o.role === undefined || o.granteeOrg !== undefined, {
    message: "needs --grantee-org (a role is within an organization)",
    path: ["role"],
  });

const grantIdSchema = hexBytes(32, "a 0x-prefixed 32-byte grant id");

interface Submitted {
  grantId: string;
  status: string;
  outboxId: number;
}

/** `carechain consent grant|revoke|list|shared`: patient-signed EIP-712 consents over a node's API. */
export function registerConsentCommand(program: Command): void {
  const consent = program.command("consent").description("grant, revoke and list consents (patients)");

  withUserOptions(
    consent
      .command("grant")
      .description("sign a consent grant with your key and submit it to the node for the ledger")
      .option("--grantee-practitioner <address>", "the practitioner's account")
      .option("--grantee-org <bytes32>", "the organization (with --role: a role within it)")
      .option("--role <name>", "role within --grantee-org, e.g. physician")
      .requiredOption("--categories <list>", `comma-separated: ${CATEGORIES.join(",")}`)
      .option("--purposes <list>", `comma-separated: ${PURPOSES.join(",")} (default TREAT)`)
      .option("--actions <list>", "comma-separated: read,write (default read)")
      .requiredOption("--until <date>", "end of validity (YYYY-MM-DD means 00:00 UTC that day, or ISO 8601)")
      .option("--from <date>", "first day of validity (default now)")
      .option("--wait", "wait until the grant is on the ledger and in force"),
  ).action(async (raw: UserOptions & Record<string, unknown>) => {
    const o = parseOptions(grantOptions, raw);
    const url = nodeUrl(raw.node);
    const account = await loadAccount(raw.keystore);
    const api = new ApiClient(url);
    const grantee: GranteeInput = o.granteePractitioner
      ? { kind: "practitioner", account: o.granteePractitioner as Address }
      : o.role
        ? { kind: "role", organization: o.granteeOrg!, role: o.role }
        : { kind: "organization", organization: o.granteeOrg! };
    const domain = await api.get<ConsentDomain>("/consents/domain");
    const message = buildGrantMessage({
      patient: account.address,
      grantee,
      categories: o.categories as Category[],
      purposes: o.purposes as Purpose[],
      actions: o.actions as Action[],
      notBefore: o.from ?? Math.floor(Date.now() / 1000),
      notAfter: o.until,
    });
    const signature = await signGrant(account, domain, message);
    const result = await api.request<Submitted>("POST", `/consents${o.wait ? "?wait=true" : ""}`, {
      body: signedGrantToJson(message, signature),
    });
    printJson({ grantId: result.grantId, status: result.status });
  });

  withUserOptions(
    consent
      .command("revoke <grantId>")
      .description("sign a revocation of one of your grants and submit it")
      .option("--wait", "wait until the revocation is on the ledger and in force"),
  ).action(async (grantIdRaw: string, raw: UserOptions & { wait?: boolean }) => {
    const parsed = grantIdSchema.safeParse(grantIdRaw);
    if (!parsed.success) throw new BaseError("invalid", "grantId must be a 0x-prefixed 32-byte grant id");
    const url = nodeUrl(raw.node);
    const account = await loadAccount(raw.keystore);
    const api = new ApiClient(url);
    const [domain, { nonce }] = await Promise.all([
      api.get<ConsentDomain>("/consents/domain"),
      api.get<{ nonce: string }>(`/consents/nonce/${account.address}`),
    ]);
    const message = buildRevokeMessage({
      patient: account.address,
      grantId: parsed.data,
      nonce: BigInt(nonce),
    });
    const signature = await signRevoke(account, domain, message);
    const result = await api.request<Submitted>("POST", `/consents/revoke${raw.wait ? "?wait=true" : ""}`, {
      body: {
        revoke: { patient: message.patient, grantId: message.grantId, nonce: message.nonce.toString() },
        signature,
      },
    });
    printJson({ grantId: result.grantId, status: result.status });
  });

  withUserOptions(consent.command("list").description("your grants (active, expired and revoked)")).action(
    async (raw: UserOptions) => {
      const api = await signedInClient({ as: "patient", ...raw });
      printJson(await api.get("/consents"));
    },
  );

  withUserOptions(
    consent.command("shared").description("active grants naming you, your organization or your role"),
  ).action(async (raw: UserOptions) => {
    const api = await signedInClient(raw);
    printJson(await api.get("/consents/shared-with-me"));
  });
}
