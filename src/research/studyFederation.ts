/**
 * A study across the consortium. The sponsor's node shares the study's definition with every other
 * node (each checks it against the protocol hash the sponsor registered on the ledger), asks each
 * for its feasibility count and its release, and merges them. Every node releases only its own
 * enrolled participants, spends its ε on the ledger itself (so the budget is shared), pays its own
 * participants, and signs what it returns (EIP-191 over the release hash with its node key, which
 * the sponsor checks against the ledger's node of that organization). Requests between nodes are
 * node-signed (src/federation/nodeAuth.ts, injected here as `signRequest`).
 */
import { hashMessage, keccak256, recoverAddress, toHex, type Address, type Hex } from "viem";
import { BaseError } from "../errors/BaseError.js";
import type { Principal } from "../model/principal.js";
import type { Store } from "../store/database.js";
import type { NoisyValue } from "./dpAggregates.js";
import { canonicalJson } from "./studyDefinition.js";
import type { StudyReleases, NodeRelease, AggregateData } from "./studyReleases.js";
import type { StudyService } from "./studyService.js";

export interface StudyFederationDeps {
  store: Store;
  studies: StudyService;
  releases: StudyReleases;
  organizationId: Hex;
  /** Node-signature headers of an outgoing request (src/federation/nodeAuth.ts signNodeRequest). */
  signRequest: (request: { method: string; path: string; body: string }) => Promise<Record<string, string>>;
  /** EIP-191 signature by this node's key. */
  signMessage: (message: { raw: Hex }) => Promise<Hex>;
  fetch?: typeof fetch;
  timeoutMs?: number;
}

/** One node's signed part of a release. */
export interface SignedRelease {
  release: NodeRelease;
  /** The node's EIP-191 signature over the release hash. */
  signature: Hex;
}

/** What a node that did not answer left out of a merged result (no reason beyond the status). */
export interface Missing {
  organization: Hex;
  status: number | "unreachable";
}

interface Peer {
  organization: Hex;
  endpoint: string;
  node: Address;
}

export class StudyFederation {
  readonly #d: StudyFederationDeps;
  readonly #fetch: typeof fetch;

  constructor(deps: StudyFederationDeps) {
    this.#d = deps;
    this.#fetch = deps.fetch ?? fetch;
  }

  async #peers(): Promise<Peer[]> {
    const rows = await this.#d.store.db
      .selectFrom("organizations")
      .select(["id", "endpoint", "node_address"])
      .where("active", "=", 1)
      .execute();
    return rows
      .filter(
        (r) => r.id.toLowerCase() !== this.#d.organizationId.toLowerCase() && /^https?:\/\//.test(r.endpoint),
      )
      .map((r) => ({
        organization: r.id.toLowerCase() as Hex,
        endpoint: r.endpoint,
        node: r.node_address as Address,
      }));
  }

  async #post(peer: Peer, path: string, body: unknown): Promise<{ status: number; json?: unknown }> {
    const text = JSON.stringify(body);
    try {
      const headers = await this.#d.signRequest({ method: "POST", path, body: text });
      const res = await this.#fetch(`${peer.endpoint.replace(/\/$/, "")}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: text,
        signal: AbortSignal.timeout(this.#d.timeoutMs ?? 120_000),
      });
      return { status: res.status, json: res.ok ? await res.json() : undefined };
    } catch {
      return { status: 0 };
    }
  }

  /** Shares a study of this node's organization with every other node (idempotent at each). */
  async share(studyId: Hex): Promise<Missing[]> {
    const study = await this.#d.studies.rows.study(studyId);
    const missing: Missing[] = [];
    for (const peer of await this.#peers()) {
      const r = await this.#post(peer, "/federation/research/studies", {
        studyId: study.studyId,
        definition: study.definition,
      });
      if (r.status !== 200)
        missing.push({ organization: peer.organization, status: r.status || "unreachable" });
    }
    return missing;
  }

  /** The sponsor's study as another node asks about it: it must be the caller's organization's. */
  async #sponsoredBy(organization: Hex, studyId: Hex) {
    const study = await this.#d.studies.rows.study(studyId);
    if (study.organization.toLowerCase() !== organization.toLowerCase())
      throw new BaseError("forbidden", "the study belongs to another organization", { code: "forbidden" });
    return study;
  }

  /** A feasibility count across the consortium: this node's and every other node's, summed. */
  async feasibility(principal: Principal, studyId: Hex, epsilon: number) {
    const study = await this.#d.studies.ownStudy(principal, studyId);
    const own = await this.#d.studies.localFeasibility(study, epsilon);
    const parts: { organization: Hex; count: NoisyValue }[] = [
      { organization: this.#d.organizationId, count: own.count },
    ];
    const missing: Missing[] = [];
    for (const peer of await this.#peers()) {
      const r = await this.#post(peer, "/federation/research/feasibility", {
        studyId: study.studyId,
        epsilon,
      });
      const count = (r.json as { count?: NoisyValue } | undefined)?.count;
      if (r.status === 200 && count !== undefined) parts.push({ organization: peer.organization, count });
      else missing.push({ organization: peer.organization, status: r.status || "unreachable" });
    }
    return { studyId: study.studyId, epsilon, count: sumNoisy(parts.map((p) => p.count)), parts, missing };
  }

  /** Another node's researcher's node asks this node's feasibility count. */
  async answerFeasibility(organization: Hex, studyId: Hex, epsilon: number) {
    return this.#d.studies.localFeasibility(await this.#sponsoredBy(organization, studyId), epsilon);
  }

  /** The sponsor's node asks this node's part of a release. */
  async answerRelease(
    caller: { account: Address; organization: Hex },
    studyId: Hex,
    epsilon: number | undefined,
  ): Promise<SignedRelease> {
    const study = await this.#sponsoredBy(caller.organization, studyId);
    const requester: Principal = {
      account: caller.account,
      kind: "node",
      organization: caller.organization,
      purpose: "HRESCH",
      authenticatedBy: "node-signature",
      requestId: `research-release-${Date.now()}`,
    };
    const release = await this.#d.releases.release(requester, study, epsilon);
    return { release, signature: await this.#d.signMessage({ raw: release.releaseHash }) };
  }

  /**
   * Releases a study of the caller's organization across the consortium: this node's part and
   * every other node's (signatures checked), merged.
   */
  async release(principal: Principal, studyId: Hex, epsilon: number | undefined) {
    const study = await this.#d.studies.ownStudy(principal, studyId);
    const parts: NodeRelease[] = [];
    const missing: Missing[] = [];
    let local: unknown;
    try {
      parts.push(await this.#d.releases.release(principal, study, epsilon));
    } catch (err) {
      // a node with too few participants of its own (below k) or none still lets the others release
      if (!(err instanceof BaseError) || err.kind !== "conflict") throw err;
      local = err;
    }
    const peers = await this.#peers();
    if (peers.length > 0) await this.share(study.studyId);
    for (const peer of peers) {
      const r = await this.#post(peer, "/federation/research/release", {
        studyId: study.studyId,
        ...(epsilon === undefined ? {} : { epsilon }),
        requestId: principal.requestId,
      });
      const signed = r.json as SignedRelease | undefined;
      if (r.status === 200 && signed !== undefined && (await verifyPart(signed, peer, study.studyId)))
        parts.push(signed.release);
      else missing.push({ organization: peer.organization, status: r.status || "unreachable" });
    }
    if (parts.length === 0)
      throw local ?? new BaseError("conflict", "no node released anything", { code: "business-rule" });
    return {
      studyId: study.studyId,
      kind: study.definition.release.kind,
      merged: merge(parts),
      parts,
      missing,
    };
  }

  /** The releases this node made of a study of the caller's organization. */
  async localReleases(principal: Principal, studyId: Hex): Promise<NodeRelease[]> {
    const study = await this.#d.studies.ownStudy(principal, studyId);
    return this.#d.releases.list(study.studyId);
  }
}

/** Whether a peer's part is its own (signed by its registered node) and is what its hash says. */
async function verifyPart(signed: SignedRelease, peer: Peer, studyId: Hex): Promise<boolean> {
  const r = signed.release;
  if (r.studyId.toLowerCase() !== studyId.toLowerCase() || r.organization.toLowerCase() !== peer.organization)
    return false;
  if (keccak256(toHex(canonicalJson({ data: r.data, nonce: r.nonce }))) !== r.releaseHash) return false;
  try {
    const signer = await recoverAddress({
      hash: hashMessage({ raw: r.releaseHash }),
      signature: signed.signature,
    });
    return signer.toLowerCase() === peer.node.toLowerCase();
  } catch {
    return false;
  }
}

function sumNoisy(values: readonly NoisyValue[]): NoisyValue {
  return {
    value: values.reduce((a, v) => a + v.value, 0),
    scale: Math.max(...values.map((v) => v.scale)),
    // independent noises: the sum of the bounds bounds the sum (with probability ≥ 1 - 0.05·n)
    errorBound95: values.reduce((a, v) => a + v.errorBound95, 0),
  };
}

/** Merges the nodes' parts: extracts concatenated, aggregates added. */
function merge(parts: readonly NodeRelease[]): unknown {
  const first = parts[0]!.data;
  if (first.kind === "extract") {
    return {
      kind: "extract",
      participants: parts.reduce((a, p) => a + (p.data.kind === "extract" ? p.data.participants : 0), 0),
      resources: parts.flatMap((p) => (p.data.kind === "extract" ? p.data.resources : [])),
      k: Math.min(...parts.map((p) => p.k)),
    };
  }
  const aggs = parts.map((p) => p.data as AggregateData);
  switch (first.statistic) {
    case "count":
    case "sum":
      return {
        kind: "aggregate",
        statistic: first.statistic,
        result: sumNoisy(aggs.map((a) => a.result as NoisyValue)),
      };
    case "mean": {
      const results = aggs.map((a) => a.result as { sum: NoisyValue; count: NoisyValue });
      const sum = sumNoisy(results.map((r) => r.sum));
      const count = sumNoisy(results.map((r) => r.count));
      return {
        kind: "aggregate",
        statistic: "mean",
        result: { value: count.value > 0 ? sum.value / count.value : null, sum, count },
      };
    }
    case "histogram": {
      const results = aggs.map((a) => a.result as { from: number; to: number; count: NoisyValue }[]);
      return {
        kind: "aggregate",
        statistic: "histogram",
        result: results[0]!.map((bin, i) => ({ ...bin, count: sumNoisy(results.map((r) => r[i]!.count)) })),
      };
    }
  }
}
