import { readFileSync, writeFileSync } from "node:fs";
import type { Command } from "commander";
import type { Hex } from "viem";
import { z } from "zod";
import { BaseError } from "../errors/BaseError.js";
import { bytes32 } from "../model/schemas.js";
import { CATEGORIES, type Category } from "../model/vocabulary.js";
import {
  derivePayoutAccount,
  signResearchConsent,
  type ResearchConsent,
} from "../research/researchConsent.js";
import {
  loadAccount,
  nodeUrl,
  parseOptions,
  printJson,
  signedInClient,
  withUserOptions,
  ApiClient,
  type UserOptions,
} from "./apiClient.js";
import { researchCommandOf } from "./researchCreditsCommand.js";

const studyId = (raw: string): Hex => parseOptions(bytes32, raw);
const epsilon = z.coerce.number().positive().max(100);

function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, "utf8")) as unknown;
  } catch (cause) {
    throw new BaseError("invalid", "--file must name a readable JSON file", { cause });
  }
}

/** `carechain research …`: studies (researchers), enrollment and earnings (patients). */
export function registerResearchCommand(program: Command): void {
  const research = researchCommandOf(program);
  const study = research.command("study").description("studies of your research organization");

  withUserOptions(
    study
      .command("create")
      .description("create a study from a JSON definition and register it on the ledger")
      .requiredOption("--file <definition.json>", "the study definition (docs/research.md)"),
  ).action(async (raw: UserOptions & { file: string }) => {
    const api = await signedInClient(raw);
    printJson(await api.request("POST", "/research/studies", { body: readJson(raw.file) }));
  });
  withUserOptions(study.command("list").description("your organization's studies")).action(
    async (raw: UserOptions) => printJson(await (await signedInClient(raw)).get("/research/studies")),
  );
  withUserOptions(
    study.command("show").argument("<studyId>").description("a study and its ledger state"),
  ).action(async (id: string, raw: UserOptions) =>
    printJson(await (await signedInClient(raw)).get(`/research/studies/${studyId(id)}`)),
  );
  withUserOptions(
    study
      .command("close")
      .argument("<studyId>")
      .description("close a study (the rest of the escrow returns)"),
  ).action(async (id: string, raw: UserOptions) =>
    printJson(await (await signedInClient(raw)).request("POST", `/research/studies/${studyId(id)}/close`)),
  );
  withUserOptions(
    study
      .command("feasibility")
      .argument("<studyId>")
      .description("a differentially private count of matching patients across the consortium (spends ε)")
      .requiredOption("--epsilon <ε>", "privacy budget to spend"),
  ).action(async (id: string, raw: UserOptions & { epsilon: string }) => {
    const e = parseOptions(z.object({ epsilon }), raw).epsilon;
    printJson(
      await (
        await signedInClient(raw)
      ).request("POST", `/research/studies/${studyId(id)}/feasibility`, {
        body: { epsilon: e },
      }),
    );
  });

  withUserOptions(
    research
      .command("release")
      .argument("<studyId>")
      .description("release a study across the consortium (researchers)")
      .option("--epsilon <ε>", "ε of an aggregate release")
      .option("--out <file>", "write the release there instead of printing it"),
  ).action(async (id: string, raw: UserOptions & { epsilon?: string; out?: string }) => {
    const o = parseOptions(z.object({ epsilon: epsilon.optional(), out: z.string().min(1).optional() }), raw);
    const released = await (
      await signedInClient(raw)
    ).request("POST", `/research/studies/${studyId(id)}/releases`, {
      body: o.epsilon === undefined ? {} : { epsilon: o.epsilon },
    });
    if (o.out === undefined) printJson(released);
    else {
      writeFileSync(o.out, `${JSON.stringify(released, null, 2)}\n`, { mode: 0o600 });
      printJson({ studyId: studyId(id), written: o.out });
    }
  });

  withUserOptions(
    research.command("studies").description("open studies your record matches, and your enrollments"),
  ).action(async (raw: UserOptions) =>
    printJson(await (await signedInClient(raw)).get("/patients/me/studies")),
  );
  withUserOptions(
    research
      .command("enroll")
      .argument("<studyId>")
      .description(
        "sign a research consent (HRESCH) and enroll; your wallet derives the study's payout address",
      ),
  ).action(async (id: string, raw: UserOptions) => {
    const url = nodeUrl(raw.node);
    const account = await loadAccount(raw.keystore);
    const api = await ApiClient.signIn(url, account, { as: raw.as, asOrg: raw.asOrg });
    const study = studyId(id);
    const health = await new ApiClient(url).get<{ chain: { chainId: number }; node: { organization: Hex } }>(
      "/health",
    );
    const offered = await api.get<{
      matching: { studyId: Hex; definition: { request: { categories: Category[] } } }[];
    }>("/patients/me/studies");
    const match = offered.matching.find((s) => s.studyId.toLowerCase() === study.toLowerCase());
    if (match === undefined) throw new BaseError("not-found", "the study is not open to you at this node");
    const chainId = health.chain.chainId;
    const payout = await derivePayoutAccount(account, chainId, study);
    const consent: ResearchConsent = {
      patient: account.address,
      studyId: study,
      organization: health.node.organization,
      purpose: "HRESCH",
      categories: match.definition.request.categories.filter((c) =>
        (CATEGORIES as readonly string[]).includes(c),
      ),
      payout: payout.address,
      mayWithdraw: true,
      issuedAt: Math.floor(Date.now() / 1000),
    };
    const signature = await signResearchConsent(account, chainId, consent);
    printJson(
      await api.request("POST", `/patients/me/studies/${study}/enroll`, { body: { consent, signature } }),
    );
  });
  withUserOptions(
    research
      .command("withdraw")
      .argument("<studyId>")
      .description("withdraw: no further releases or payouts"),
  ).action(async (id: string, raw: UserOptions) =>
    printJson(
      await (await signedInClient(raw)).request("POST", `/patients/me/studies/${studyId(id)}/withdraw`),
    ),
  );
  withUserOptions(
    research.command("balance").description("your research credits: balance and history"),
  ).action(async (raw: UserOptions) =>
    printJson(await (await signedInClient(raw)).get("/patients/me/earnings")),
  );
}
