/**
 * A study's privacy budget lives on the ledger (StudyEscrow sums the ε of every release of every
 * node), so two nodes answering the same researcher share it. Before anything noisy leaves this
 * node, its ε is recorded there and the node waits until the ledger took it: a release the
 * ledger refuses (beyond the budget, below k) is never returned. A release hash covers a random
 * nonce as well as the data, so two releases with equal results are two writes, each charged.
 */
import type { Hex } from "viem";
import type { StudyLedger } from "../chain/studyLedger.js";
import { BaseError } from "../errors/BaseError.js";

const SETTLE_MS = 60_000;

/** ε in millionths, checked positive with at most six decimals' worth of precision. */
export function checkEpsilon(epsilon: number): bigint {
  if (!(epsilon > 0) || !Number.isFinite(epsilon))
    throw new BaseError("invalid", "epsilon must be a positive number", { expression: "epsilon" });
  const micros = BigInt(Math.round(epsilon * 1e6));
  if (micros === 0n)
    throw new BaseError("invalid", "epsilon must be at least 0.000001", { expression: "epsilon" });
  return micros;
}

/**
 * Records a release's ε and k on the ledger and waits until it is mined.
 * @throws BaseError `conflict` (business-rule) when the budget left cannot pay for it or k is below
 *   the study's minimum
 */
export async function spendOnLedger(
  ledger: StudyLedger,
  studyId: Hex,
  releaseHash: Hex,
  epsilonMicros: bigint,
  k: number,
): Promise<void> {
  const before = await ledger.study(studyId);
  if (before === null)
    throw new BaseError("unavailable", "the study is not on the ledger yet; try again shortly", {
      code: "transient",
    });
  if (before.closed) throw new BaseError("conflict", "the study is closed", { code: "business-rule" });
  if (k < before.minK)
    throw new BaseError("conflict", "the release is below the study's minimum k", { code: "business-rule" });
  const left = before.epsilonBudgetMicros - before.epsilonSpentMicros;
  if (epsilonMicros > left) throw budgetExceeded();
  const { outboxId } = await ledger.recordRelease(studyId, releaseHash, epsilonMicros, k);
  await ledger.settled([outboxId], SETTLE_MS);
  const after = await ledger.study(studyId);
  // another node's release may have been mined first and left too little: the ledger refused ours
  if (after === null || after.epsilonSpentMicros < before.epsilonSpentMicros + epsilonMicros)
    throw budgetExceeded();
}

const budgetExceeded = () =>
  new BaseError("conflict", "the study's privacy budget (epsilon) would be exceeded", {
    code: "business-rule",
  });
