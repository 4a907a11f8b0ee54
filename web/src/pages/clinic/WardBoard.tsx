/**
 * The live ward board: every monitored patient whose consent lets this clinician see their vitals,
 * highest NEWS2 first, each with sparklines of the main vitals and the score; beside it the alert
 * queue, live over Server-Sent Events (read with fetch, which can send the session token), with
 * acknowledgement and the escalation each alert reached. The board rereads the vitals and the
 * alerts every few seconds (alerts the escalation chain has not sent this clinician yet show
 * there) and at once when an alert arrives.
 */
import { BellRing, CheckCircle2, Radio } from "lucide-react";
import { useCallback, useEffect, useRef, useState } from "react";
import { messageOf } from "../../api/client";
import { useSession } from "../../auth/session";
import { formatDateTime, shortAccount } from "../../lib/format";
import { Alert, Badge, Button, Empty, Loading, PageHeader } from "../../ui/components";
import { COLORS, Sparkline } from "../monitoring/charts";
import {
  RISK_WORDS,
  VITAL_LABELS,
  lastValue,
  riskTone,
  triggerText,
  type AlertView,
  type QuantityKind,
  type WardPatient,
} from "../monitoring/vitals";

/**
 * How often the board rereads the vitals while it is on screen. Alerts arrive live in between and
 * reload it at once. Every read is an entry in each shown patient's access log, so a board in a
 * hidden tab does not read.
 */
const REFRESH_MS = 10_000;
const WINDOW_MINUTES = 15;
const SPARKLINES: QuantityKind[] = ["heart-rate", "respiratory-rate", "spo2", "systolic", "temperature"];

const idOf = (reference: string) => reference.replace(/^Patient\//, "");

function PatientRow({ p }: { p: WardPatient }) {
  const score = p.latest.news2;
  const tone = riskTone(score?.risk);
  return (
    <li className="card ward-row" data-patient={idOf(p.patient)}>
      <div className={`score ${tone}`}>
        <span className="total">{score ? score.total : "–"}</span>
        <span className="risk">{score ? RISK_WORDS[score.risk] : "no score"}</span>
      </div>
      <div className="stack">
        <div className="row">
          <h3>Patient {idOf(p.patient)}</h3>
          {p.openAlerts > 0 ? (
            <Badge tone="danger">
              {p.openAlerts} open alert{p.openAlerts > 1 ? "s" : ""}
            </Badge>
          ) : null}
          <span className="muted">
            {p.latest.readingAt ? `last reading ${formatDateTime(p.latest.readingAt)}` : "no recent readings"}
          </span>
        </div>
        <div className="vitals-strip">
          <div className="vital-cell">
            <div>
              NEWS2 <span className="value">{score?.total ?? "–"}</span>
            </div>
            <Sparkline label={`${p.patient}-news2`} t={p.news2.t} v={p.news2.v} color={COLORS[1]} />
          </div>
          {SPARKLINES.map((k) => {
            const s = p.vitals[k];
            return (
              <div className="vital-cell" key={k}>
                <div>
                  {VITAL_LABELS[k].name}{" "}
                  <span className="value">
                    {lastValue(s) ?? "–"}
                    {k === "systolic" && p.vitals.diastolic ? `/${lastValue(p.vitals.diastolic) ?? "–"}` : ""}
                  </span>{" "}
                  <span className="muted">{VITAL_LABELS[k].unit}</span>
                </div>
                {s ? <Sparkline label={`${p.patient}-${k}`} t={s.t} v={s.v} /> : null}
              </div>
            );
          })}
        </div>
      </div>
    </li>
  );
}

function AlertItem({ a, onAck, busy }: { a: AlertView; onAck: (id: string) => void; busy: boolean }) {
  const open = a.acknowledged === null;
  return (
    <li className={`card stack alert-item ${open ? "open" : "acked"}`} data-alert={a.id}>
      <div className="row">
        {open ? <BellRing size={18} aria-hidden="true" /> : <CheckCircle2 size={18} aria-hidden="true" />}
        <strong>Patient {idOf(a.patient)}</strong>
        {a.news2 ? <Badge tone={riskTone(a.news2.risk)}>NEWS2 {a.news2.total}</Badge> : null}
        {a.step > 0 ? <Badge tone="warn">escalated (step {a.step + 1})</Badge> : null}
      </div>
      <div>{a.triggers.map(triggerText).join("; ")}</div>
      <div className="muted">
        Raised {formatDateTime(a.createdAt)}.{" "}
        {a.step === 0
          ? "With the first responders of the escalation chain"
          : `Escalated to step ${a.step + 1} of the chain`}
        {open ? "; escalates further if nobody acknowledges it." : "."}
      </div>
      {open ? (
        <div>
          <Button
            small
            busy={busy}
            onClick={() => onAck(a.id)}
            label={`Acknowledge the alert for patient ${idOf(a.patient)}`}
          >
            Acknowledge
          </Button>
        </div>
      ) : (
        <div className="row">
          <Badge tone="ok">acknowledged</Badge>
          <span className="muted">
            by {shortAccount(a.acknowledged!.by)} at {formatDateTime(a.acknowledged!.at)}
          </span>
        </div>
      )}
    </li>
  );
}

export default function WardBoard() {
  const { api } = useSession();
  const [patients, setPatients] = useState<WardPatient[] | undefined>();
  const [alerts, setAlerts] = useState<AlertView[] | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [live, setLive] = useState(false);
  const [acking, setAcking] = useState<string | undefined>();
  const loading = useRef(false);

  const loadWard = useCallback(async () => {
    if (loading.current) return;
    loading.current = true;
    try {
      const [{ patients: list }, known] = await Promise.all([
        api.get<{ patients: WardPatient[] }>(`/monitoring/ward?minutes=${WINDOW_MINUTES}`),
        // every alert the clinician may see, also those the escalation chain does not send them (yet)
        api.get<AlertView[]>("/monitoring/alerts"),
      ]);
      setPatients(list);
      setAlerts((old) => [...known, ...(old ?? []).filter((o) => !known.some((k) => k.id === o.id))]);
    } catch (e) {
      setError(messageOf(e));
    } finally {
      loading.current = false;
    }
  }, [api]);

  const upsert = useCallback((a: AlertView) => {
    setAlerts((old) => [a, ...(old ?? []).filter((o) => o.id !== a.id)]);
  }, []);

  useEffect(() => {
    void loadWard();
    const onScreen = () => document.visibilityState === "visible";
    const timer = setInterval(() => {
      if (onScreen()) void loadWard();
    }, REFRESH_MS);
    const shown = () => {
      if (onScreen()) void loadWard();
    };
    document.addEventListener("visibilitychange", shown);
    const stop = new AbortController();
    setLive(true);
    api
      .stream(
        "/monitoring/alerts/stream",
        (event) => {
          if (event.event !== "alert" && event.event !== "ack") return;
          try {
            upsert(JSON.parse(event.data) as AlertView);
          } catch {
            return; // a malformed event is skipped
          }
          if (event.event === "alert") void loadWard();
        },
        stop.signal,
      )
      .catch(() => undefined)
      .finally(() => setLive(false));
    return () => {
      clearInterval(timer);
      document.removeEventListener("visibilitychange", shown);
      stop.abort();
    };
  }, [api, loadWard, upsert]);

  const ack = async (id: string) => {
    setAcking(id);
    try {
      upsert(await api.send<AlertView>("POST", `/monitoring/alerts/${encodeURIComponent(id)}/ack`));
      void loadWard();
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setAcking(undefined);
    }
  };

  const byTime = (a: AlertView, b: AlertView) => b.createdAt.localeCompare(a.createdAt);
  const open = (alerts ?? []).filter((a) => a.acknowledged === null).sort(byTime);
  const done = (alerts ?? [])
    .filter((a) => a.acknowledged !== null)
    .sort(byTime)
    .slice(0, 10);

  return (
    <>
      <PageHeader title="Ward board">
        Patients whose consent lets you see their vital signs, the most unwell first (NEWS2, last{" "}
        {WINDOW_MINUTES} minutes).{" "}
        {live ? (
          <Badge tone="ok">
            <Radio size={14} aria-hidden="true" /> live
          </Badge>
        ) : (
          <Badge tone="neutral">not live</Badge>
        )}
      </PageHeader>
      {error ? (
        <Alert tone="danger" title="Something went wrong">
          {error}
        </Alert>
      ) : null}
      <div className="ward">
        <section className="stack" aria-label="Patients">
          <h2>Patients</h2>
          {!patients ? <Loading what="the ward" /> : null}
          {patients && patients.length === 0 ? (
            <Empty>No monitored patient shares their vital signs with you.</Empty>
          ) : null}
          {patients && patients.length > 0 ? (
            <ol className="list" aria-label="Patients by score">
              {patients.map((p) => (
                <PatientRow key={p.patient} p={p} />
              ))}
            </ol>
          ) : null}
        </section>
        <section className="stack" aria-label="Alerts">
          <h2>Alerts</h2>
          {!alerts ? <Loading what="alerts" /> : null}
          {alerts && open.length === 0 ? <Empty>No open alerts.</Empty> : null}
          {open.length > 0 ? (
            <ul className="list" aria-label="Open alerts">
              {open.map((a) => (
                <AlertItem key={a.id} a={a} busy={acking === a.id} onAck={(id) => void ack(id)} />
              ))}
            </ul>
          ) : null}
          {done.length > 0 ? (
            <>
              <h3>Acknowledged</h3>
              <ul className="list" aria-label="Acknowledged alerts">
                {done.map((a) => (
                  <AlertItem key={a.id} a={a} busy={false} onAck={() => undefined} />
                ))}
              </ul>
            </>
          ) : null}
        </section>
      </div>
    </>
  );
}
