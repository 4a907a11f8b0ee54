/** The operator's status page: the node's health (`GET /health`), refreshed every 5 seconds. */
import { useEffect, useState } from "react";
import { messageOf, ApiError, plainWords } from "../../api/client";
import { Alert, Badge, Card, Loading, PageHeader } from "../../ui/components";

interface Health {
  status: "ok" | "degraded";
  chain?: { embedded?: boolean; chainId?: number; blockNumber?: number; error?: string };
  database?: { engine?: string; target?: string; error?: string };
  indexer?: { lagBlocks?: number | { error: string } };
  outbox?: { depth?: number | { error: string } };
  audit?: {
    size?: number;
    anchored?: number;
    consistentWithAnchor?: boolean | null;
    inconsistency?: string;
    error?: string;
  };
  node?: { address?: string; organization?: string };
}

const num = (v: unknown): string => (typeof v === "number" ? v.toLocaleString() : "unavailable");

export default function Status() {
  const [health, setHealth] = useState<Health | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [at, setAt] = useState<Date | undefined>();

  useEffect(() => {
    let stopped = false;
    const read = async () => {
      try {
        const res = await fetch("/health", { headers: { accept: "application/json" } });
        // 503 still carries the report: which part is failing
        if (!res.ok && res.status !== 503) throw new ApiError(plainWords(res.status), res.status);
        if (!stopped) {
          setHealth((await res.json()) as Health);
          setAt(new Date());
          setError(undefined);
        }
      } catch (e) {
        if (!stopped) setError(messageOf(e));
      }
    };
    void read();
    const timer = setInterval(() => void read(), 5_000);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, []);

  const audit = health?.audit;
  const lag = health?.indexer?.lagBlocks;
  const depth = health?.outbox?.depth;
  return (
    <>
      <PageHeader title="Node status">
        The state of this node: ledger, database, indexer, outbox, anchors and audit log.
      </PageHeader>
      {error ? (
        <Alert tone="danger" title="The node did not answer">
          {error}
        </Alert>
      ) : null}
      {!health && !error ? <Loading what="the node's status" /> : null}
      {health ? (
        <>
          <Alert
            tone={health.status === "ok" ? "ok" : "danger"}
            title={health.status === "ok" ? "Healthy" : "Degraded"}
          >
            {at ? `Checked ${at.toLocaleTimeString()}; refreshed every 5 seconds.` : null}
          </Alert>
          <div className="grid">
            <Card title="Ledger">
              {health.chain?.error ? (
                <Badge tone="danger">{health.chain.error}</Badge>
              ) : (
                <dl>
                  <dt>Block</dt>
                  <dd>{num(health.chain?.blockNumber)}</dd>
                  <dt>Chain id</dt>
                  <dd>{health.chain?.chainId ?? "unavailable"}</dd>
                  <dt>Kind</dt>
                  <dd>{health.chain?.embedded ? "embedded (anvil)" : "external network"}</dd>
                </dl>
              )}
            </Card>
            <Card title="Database">
              {health.database?.error ? (
                <Badge tone="danger">{health.database.error}</Badge>
              ) : (
                <dl>
                  <dt>Engine</dt>
                  <dd>{health.database?.engine ?? "unknown"}</dd>
                  <dt>Where</dt>
                  <dd>{health.database?.target ?? "unknown"}</dd>
                </dl>
              )}
            </Card>
            <Card title="Indexer">
              <dl>
                <dt>Lag</dt>
                <dd>
                  {num(lag)} blocks{" "}
                  {typeof lag === "number" && lag > 5 ? <Badge tone="warn">behind</Badge> : null}
                </dd>
              </dl>
            </Card>
            <Card title="Outbox">
              <dl>
                <dt>Ledger writes waiting</dt>
                <dd>
                  {num(depth)}{" "}
                  {typeof depth === "number" && depth > 100 ? <Badge tone="warn">backlog</Badge> : null}
                </dd>
              </dl>
            </Card>
            <Card title="Audit log and anchors">
              {audit?.error ? (
                <Badge tone="danger">{audit.error}</Badge>
              ) : (
                <dl>
                  <dt>Entries</dt>
                  <dd>{num(audit?.size)}</dd>
                  <dt>Anchored on the ledger</dt>
                  <dd>{num(audit?.anchored)}</dd>
                  <dt>Consistent with the last anchor</dt>
                  <dd>
                    {audit?.consistentWithAnchor === false ? (
                      <Badge tone="danger">no: {audit.inconsistency ?? "rewritten history"}</Badge>
                    ) : audit?.consistentWithAnchor === true ? (
                      <Badge tone="ok">yes</Badge>
                    ) : (
                      <Badge tone="neutral">not anchored yet</Badge>
                    )}
                  </dd>
                </dl>
              )}
            </Card>
          </div>
        </>
      ) : null}
    </>
  );
}
