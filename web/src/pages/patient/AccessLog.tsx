/**
 * The access log: who saw what, when, why, allowed or refused, break-glass and shares to other
 * nodes. A row says "verified" only once this browser has checked its proof against the root it
 * read from the ledger itself; a row that fails says so loudly. The completeness check says
 * whether the node showed every entry about you.
 */
import { CheckCircle2, Clock, RefreshCw, ShieldAlert, XCircle } from "lucide-react";
import { useCallback, useEffect, useMemo, useState } from "react";
import { messageOf, publicConfig } from "../../api/client";
import { useIdentity, useSession } from "../../auth/session";
import { ACTION_LABELS, categoryLabel, formatDateTime, purposeLabel, shortAccount } from "../../lib/format";
import { Alert, Badge, Button, Empty, Loading, PageHeader } from "../../ui/components";
import {
  failureWords,
  fetchAccessLog,
  ledgerClient,
  verifyLog,
  type AccessLogPage,
  type LogVerification,
  type RowVerdict,
} from "../../verify/accessLog";

interface Entry {
  time: string;
  actor: { account: string; organization?: string; role?: string };
  action: string;
  resources?: string[];
  categories?: string[];
  purpose?: string;
  decision: "permit" | "deny";
  reason?: string;
  node?: string;
}

const ACTIONS: Record<string, string> = {
  ...ACTION_LABELS,
  "consent-granted": "recorded a sharing you signed for",
  "consent-revoked": "recorded that you stopped sharing with",
  release: "released",
  fetch: "fetched from another organization",
  receive: "received from another organization",
  login: "signed in to",
  alert: "raised an alert about",
};

export default function AccessLog() {
  const { api } = useSession();
  const me = useIdentity();
  const [log, setLog] = useState<AccessLogPage | undefined>();
  const [check, setCheck] = useState<LogVerification | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [ledgerError, setLedgerError] = useState<string | undefined>();
  const [loading, setLoading] = useState(true);
  const [shown, setShown] = useState(50);

  const load = useCallback(async () => {
    setLoading(true);
    setError(undefined);
    setLedgerError(undefined);
    try {
      const config = await publicConfig();
      const ledger = ledgerClient(config.chainRpcUrl);
      let page = await fetchAccessLog(api);
      setLog(page);
      setCheck(undefined);
      let verification: LogVerification;
      try {
        verification = await verifyLog(page, me.account, ledger);
        // an anchor that landed while the pages were fetched moves the latest anchored size
        for (
          let retry = 0;
          !verification.completeness.ok &&
          verification.completeness.reason === "not-latest-anchor" &&
          retry < 3;
          retry++
        ) {
          await new Promise((r) => setTimeout(r, 500));
          page = await fetchAccessLog(api);
          setLog(page);
          verification = await verifyLog(page, me.account, ledger);
        }
        setCheck(verification);
      } catch {
        setLedgerError("This browser could not read the ledger, so nothing below is verified yet.");
      }
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setLoading(false);
    }
  }, [api, me.account]);

  useEffect(() => {
    void load();
  }, [load]);

  const items = useMemo(() => [...(log?.items ?? [])].sort((a, b) => b.index - a.index), [log]);
  const failed = check ? [...check.rows.values()].filter((r) => r.state === "failed").length : 0;

  return (
    <>
      <PageHeader title="Access log">
        Every time someone used your record at this node. Each line is checked by this browser against the
        ledger, not taken on the node&apos;s word.
      </PageHeader>
      <div className="row">
        <Button variant="secondary" onClick={() => void load()} busy={loading}>
          <RefreshCw size={16} aria-hidden="true" /> Check again
        </Button>
      </div>
      {error ? (
        <Alert tone="danger" title="The access log could not be loaded">
          {error}
        </Alert>
      ) : null}
      {ledgerError ? (
        <Alert tone="warn" title="Not verified">
          {ledgerError}
        </Alert>
      ) : null}
      {failed > 0 ? (
        <Alert
          tone="danger"
          title={`${failed} ${failed === 1 ? "entry fails" : "entries fail"} verification`}
        >
          What the node showed for {failed === 1 ? "this entry" : "these entries"} does not match the ledger.
          The node&apos;s log may have been altered: tell the organization and keep a screenshot.
        </Alert>
      ) : null}
      {check ? (
        <Completeness check={check} />
      ) : log && !ledgerError ? (
        <Loading what="the ledger's roots and checking every entry" />
      ) : null}
      {loading && !log ? <Loading what="your access log" /> : null}
      {log && items.length === 0 ? <Empty>No one has used your record at this node yet.</Empty> : null}
      {items.length > 0 ? (
        <ul className="list" aria-label="Access log entries">
          {items.slice(0, shown).map((item) => (
            <Row
              key={item.index}
              index={item.index}
              entry={item.entry as Entry}
              verdict={check?.rows.get(item.index)}
              me={me.account}
            />
          ))}
        </ul>
      ) : null}
      {items.length > shown ? (
        <Button variant="secondary" onClick={() => setShown((n) => n + 100)}>
          Show more ({items.length - shown} older)
        </Button>
      ) : null}
    </>
  );
}

function Completeness({ check }: { check: LogVerification }) {
  const c = check.completeness;
  if (c.ok)
    return (
      <Alert tone="ok" title="Complete and verified against the ledger">
        The node showed all {c.count} {c.count === 1 ? "entry" : "entries"} about you up to its last anchor on
        the ledger (log size {c.anchoredSize}
        ); none was left out.{" "}
        {c.notAnchoredYet.length > 0
          ? `${c.notAnchoredYet.length} newer will be checked after the next anchor.`
          : ""}{" "}
        Checked in {Math.round(check.ms)} ms.
      </Alert>
    );
  return (
    <Alert tone="danger" title="The access log is not complete or was altered">
      {failureWords(c.reason)}
      {c.index !== undefined ? ` (entry ${c.index})` : ""}.
    </Alert>
  );
}

function who(entry: Entry, me: string): string {
  if (entry.actor.account.toLowerCase() === me.toLowerCase()) return "You";
  if (/^0x0{40}$/.test(entry.actor.account)) return "The node itself";
  const role = entry.actor.role ? `${entry.actor.role} ` : "";
  return `${role}${shortAccount(entry.actor.account)}`;
}

function resourcesText(resources: string[] | undefined): string {
  if (!resources || resources.length === 0) return "your record";
  const counts = new Map<string, number>();
  for (const r of resources) {
    const type = r.split("/")[0] ?? r;
    counts.set(type, (counts.get(type) ?? 0) + 1);
  }
  return [...counts.entries()].map(([t, n]) => (n > 1 ? `${n} ${t}` : t)).join(", ");
}

function Row({
  index,
  entry,
  verdict,
  me,
}: {
  index: number;
  entry: Entry;
  verdict: RowVerdict | undefined;
  me: string;
}) {
  const categories =
    verdict?.state === "verified" ? (verdict.opened?.categories ?? entry.categories) : entry.categories;
  const reason = verdict?.state === "verified" ? (verdict.opened?.reason ?? entry.reason) : entry.reason;
  const breakGlass = entry.action === "break-glass" || entry.purpose === "ETREAT";
  const toNode = entry.action === "share" || entry.action === "release";
  return (
    <li
      className={`card log-row${verdict?.state === "failed" ? " failed" : ""}`}
      data-index={index}
      data-verdict={verdict?.state ?? "checking"}
    >
      <div>
        <strong>
          {who(entry, me)} {ACTIONS[entry.action] ?? entry.action} {resourcesText(entry.resources)}
        </strong>
        <div className="muted">
          {formatDateTime(entry.time)}
          {entry.purpose ? ` · for ${purposeLabel(entry.purpose)}` : ""}
          {entry.node && toNode ? ` · to node ${shortAccount(entry.node)}` : ""}
          {reason && reason !== "intent" && reason !== "committed" ? ` · ${reason}` : ""}
        </div>
        <div className="row">
          {entry.decision === "deny" ? (
            <Badge tone="warn">refused</Badge>
          ) : (
            <Badge tone="neutral">allowed</Badge>
          )}
          {breakGlass ? (
            <Badge tone="danger">
              <ShieldAlert size={14} aria-hidden="true" /> emergency access
            </Badge>
          ) : null}
          {toNode ? <Badge tone="neutral">shared to another node</Badge> : null}
          {(categories ?? []).map((c) => (
            <Badge key={c} tone="neutral">
              {categoryLabel(c)}
            </Badge>
          ))}
        </div>
        {verdict?.state === "failed" ? <p className="error">Verification failed: {verdict.reason}.</p> : null}
      </div>
      <div>
        {verdict === undefined ? (
          <Badge tone="neutral">checking…</Badge>
        ) : verdict.state === "verified" ? (
          <Badge tone="ok">
            <CheckCircle2 size={14} aria-hidden="true" /> verified
          </Badge>
        ) : verdict.state === "failed" ? (
          <Badge tone="danger">
            <XCircle size={14} aria-hidden="true" /> FAILED
          </Badge>
        ) : (
          <Badge tone="warn">
            <Clock size={14} aria-hidden="true" /> {verdict.reason}
          </Badge>
        )}
      </div>
    </li>
  );
}
