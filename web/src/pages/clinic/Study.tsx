/**
 * One study (researchers): enrollment here and on the ledger (read again every 10 s), budget and spend, ε spent, a
 * differentially private feasibility count with its error bound, releases (each downloadable as
 * JSON), and closing the study.
 */
import { Download, Lock, Send, Users } from "lucide-react";
import { useEffect, useState } from "react";
import { Link, useLocation, useParams } from "react-router";
import { ApiError, messageOf } from "../../api/client";
import { useApiGet } from "../../api/useApiGet";
import { useSession } from "../../auth/session";
import { formatDateTime, shortAccount } from "../../lib/format";
import { credits, type NodeRelease, type NoisyValue, type StudyDetail } from "../../research/studies";
import { StudyTerms } from "../../research/StudyTerms";
import { useOrganizationNames } from "../../research/useOrganizationNames";
import { Alert, Badge, Button, Card, Dialog, Loading, PageHeader, TextField } from "../../ui/components";

interface Merged {
  studyId: string;
  kind: "extract" | "aggregate";
  merged: unknown;
  parts: NodeRelease[];
  missing: { organization: string; status: number | "unreachable" }[];
}

interface Feasibility {
  count: NoisyValue;
  epsilon: number;
  missing: { organization: string; status: number | "unreachable" }[];
}

/** Offers `value` as a JSON file download. */
function downloadJson(name: string, value: unknown) {
  const url = URL.createObjectURL(new Blob([JSON.stringify(value, null, 2)], { type: "application/json" }));
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** A node's refusal in its own words (the k or budget rule it names), else the general sentence. */
const refusalOf = (e: unknown) =>
  e instanceof ApiError && e.status < 500 && e.details !== undefined ? e.details : messageOf(e);

export default function Study() {
  const { id = "" } = useParams();
  const { api } = useSession();
  const names = useOrganizationNames();
  const created = useLocation().state as { created?: boolean; notShared?: number } | null;
  const study = useApiGet(`/research/studies/${id}`, (body: StudyDetail) => body);
  const releases = useApiGet(
    `/research/studies/${id}/releases`,
    (body: { releases: NodeRelease[] }) => body.releases,
  );
  // enrollment is watched: the study is read again every 10 s while the page is open
  const reloadStudy = study.reload;
  useEffect(() => {
    const timer = setInterval(() => void reloadStudy(), 10_000);
    return () => clearInterval(timer);
  }, [reloadStudy]);
  const [epsilon, setEpsilon] = useState("0.1");
  const [releaseEpsilon, setReleaseEpsilon] = useState("0.5");
  const [busy, setBusy] = useState<"feasibility" | "release" | "close" | undefined>();
  const [feasibility, setFeasibility] = useState<Feasibility | undefined>();
  const [released, setReleased] = useState<Merged | undefined>();
  const [refused, setRefused] = useState<{ what: string; message: string } | undefined>();
  const [confirmClose, setConfirmClose] = useState(false);

  const act = async <T,>(what: "feasibility" | "release" | "close", run: () => Promise<T>) => {
    setBusy(what);
    setRefused(undefined);
    try {
      return await run();
    } catch (e) {
      setRefused({ what, message: refusalOf(e) });
      return undefined;
    } finally {
      setBusy(undefined);
      void study.reload();
    }
  };

  const s = study.value;
  const d = s?.definition;
  const aggregate = d?.release.kind === "aggregate";
  const escrowedAtStart = d ? BigInt(d.reward) * BigInt(d.maxParticipants) : 0n;

  return (
    <>
      <PageHeader title={d?.title ?? "Study"}>
        <Link to="/clinic/studies">All studies</Link>
      </PageHeader>
      {created?.created === true ? (
        <Alert tone={created.notShared ? "warn" : "ok"}>
          The study is registered on the ledger
          {created.notShared
            ? `, but ${created.notShared} node(s) of the consortium could not be reached; they receive it with the next release.`
            : " and shared with every node of the consortium."}
        </Alert>
      ) : null}
      {study.error ? (
        <Alert tone="danger" title="Something went wrong">
          {study.error}
        </Alert>
      ) : null}
      {!s && !study.error ? <Loading what="the study" /> : null}
      {s && d ? (
        <>
          <div className="grid">
            <Card title="Enrollment">
              <dl className="facts">
                <dt>Enrolled</dt>
                <dd>
                  <strong>{s.ledger?.enrolled ?? s.here.enrolled}</strong> of {d.maxParticipants} across the
                  consortium
                </dd>
                <dt>At this node</dt>
                <dd>
                  {s.here.enrolled} enrolled, {s.here.withdrawn} withdrew
                </dd>
                <dt>Status</dt>
                <dd>
                  {s.closed || s.ledger?.closed ? (
                    <Badge tone="neutral">closed</Badge>
                  ) : s.enrollmentOpen ? (
                    <Badge tone="ok">enrolling</Badge>
                  ) : (
                    <Badge tone="warn">outside its enrollment window</Badge>
                  )}
                </dd>
              </dl>
            </Card>
            <Card title="Budget">
              <dl className="facts">
                <dt>Reward</dt>
                <dd>{credits(d.reward)} credits per contribution</dd>
                <dt>Escrowed</dt>
                <dd>{credits(escrowedAtStart)} credits (reward × participants)</dd>
                {s.ledger && !s.ledger.closed ? (
                  <>
                    <dt>Paid out</dt>
                    <dd>{credits(escrowedAtStart - BigInt(s.ledger.escrowed))} credits</dd>
                    <dt>Left in escrow</dt>
                    <dd>{credits(s.ledger.escrowed)} credits</dd>
                  </>
                ) : null}
                {s.ledger?.closed ? (
                  <>
                    <dt>After closing</dt>
                    <dd>what was not paid returned to your organization</dd>
                  </>
                ) : null}
              </dl>
            </Card>
            <Card title="Privacy">
              <dl className="facts">
                <dt>ε spent</dt>
                <dd>
                  {s.ledger ? s.ledger.epsilonSpent : "unknown"} of {d.epsilonBudget}
                </dd>
                <dt>Minimum k</dt>
                <dd>{d.minK}</dd>
              </dl>
            </Card>
          </div>

          {refused ? (
            <Alert
              tone="danger"
              title={`The ${refused.what === "close" ? "closing" : refused.what} was refused`}
            >
              {refused.message}
            </Alert>
          ) : null}

          <Card title="Feasibility">
            <div className="stack">
              <p className="muted">
                A differentially private count of the patients every node of the consortium matches, before
                they enroll. It spends ε from the study's budget.
              </p>
              <div className="row bottom">
                <TextField label="ε for this count" value={epsilon} onChange={setEpsilon} />
                <Button
                  variant="secondary"
                  busy={busy === "feasibility"}
                  onClick={() =>
                    void act("feasibility", async () =>
                      setFeasibility(
                        await api.send<Feasibility>("POST", `/research/studies/${s.studyId}/feasibility`, {
                          epsilon: Number(epsilon),
                        }),
                      ),
                    )
                  }
                >
                  <Users size={18} aria-hidden="true" /> Count matching patients
                </Button>
              </div>
              {feasibility ? (
                <p role="status">
                  About <strong>{feasibility.count.value}</strong> matching patients (±{" "}
                  {feasibility.count.errorBound95} with 95 % confidence; ε {feasibility.epsilon}).
                  {feasibility.missing.length > 0
                    ? ` ${feasibility.missing.length} node(s) did not answer and are not counted.`
                    : ""}
                </p>
              ) : null}
            </div>
          </Card>

          <Card title="Releases">
            <div className="stack">
              <p className="muted">
                {aggregate
                  ? "Each node computes the statistic over its own enrolled participants with differential-privacy noise; this node merges the signed parts."
                  : `Each node releases its own enrolled participants de-identified, only when at least ${d.minK} of them look alike; this node merges the signed parts.`}{" "}
                Each participant in a release is paid {credits(d.reward)} credits.
              </p>
              <div className="row bottom">
                {aggregate ? (
                  <TextField label="ε for this release" value={releaseEpsilon} onChange={setReleaseEpsilon} />
                ) : null}
                <Button
                  busy={busy === "release"}
                  disabled={s.closed}
                  onClick={() =>
                    void act("release", async () => {
                      const merged = await api.send<Merged>(
                        "POST",
                        `/research/studies/${s.studyId}/releases`,
                        aggregate ? { epsilon: Number(releaseEpsilon) } : {},
                      );
                      setReleased(merged);
                      await releases.reload();
                    })
                  }
                >
                  <Send size={18} aria-hidden="true" /> Release now
                </Button>
              </div>
              {released ? (
                <Alert tone="ok" title="Released">
                  <div className="stack">
                    <span>
                      {released.parts.length} node(s) released
                      {released.missing.length > 0 ? `; ${released.missing.length} did not` : ""}.
                    </span>
                    <div className="row">
                      <Button
                        small
                        variant="secondary"
                        onClick={() =>
                          downloadJson(`study-${shortAccount(s.studyId)}-release.json`, released)
                        }
                      >
                        <Download size={16} aria-hidden="true" /> Download the merged release (JSON)
                      </Button>
                    </div>
                  </div>
                </Alert>
              ) : null}
              {releases.error ? <Alert tone="danger">{releases.error}</Alert> : null}
              {releases.value && releases.value.length === 0 ? (
                <p className="muted">No release from this node yet.</p>
              ) : null}
              <ul className="list" aria-label="Releases from this node">
                {(releases.value ?? []).map((r) => (
                  <li key={r.releaseId} className="row">
                    <span>
                      {r.data.kind === "extract"
                        ? `Extract of ${r.data.participants} participant${r.data.participants === 1 ? "" : "s"}, k ${r.k}`
                        : `Aggregate (${r.data.statistic}), ε ${r.epsilon}`}
                    </span>
                    <span className="mono muted">{shortAccount(r.releaseHash)}</span>
                    <Button
                      small
                      variant="secondary"
                      label={`Download release ${shortAccount(r.releaseId)} as JSON`}
                      onClick={() => downloadJson(`release-${shortAccount(r.releaseId)}.json`, r)}
                    >
                      <Download size={16} aria-hidden="true" /> JSON
                    </Button>
                  </li>
                ))}
              </ul>
            </div>
          </Card>

          <Card title="Terms">
            <div className="stack">
              <StudyTerms study={s} sponsor={names.get(s.organization.toLowerCase())} titled={false} />
              <p className="muted">
                Created {formatDateTime(s.createdAt)} · protocol hash{" "}
                <span className="mono">{shortAccount(s.protocolHash)}</span>
              </p>
            </div>
          </Card>

          {!s.closed ? (
            <div className="row">
              <Button variant="danger" busy={busy === "close"} onClick={() => setConfirmClose(true)}>
                <Lock size={18} aria-hidden="true" /> Close the study
              </Button>
            </div>
          ) : null}
          {confirmClose ? (
            <Dialog title="Close this study?" onClose={() => setConfirmClose(false)}>
              <p>
                No one can enroll any more, nothing more is released or paid, and what is left in escrow
                returns to your organization. This cannot be undone.
              </p>
              <div className="row">
                <Button
                  variant="danger"
                  onClick={() => {
                    setConfirmClose(false);
                    void act("close", () => api.send("POST", `/research/studies/${s.studyId}/close`));
                  }}
                >
                  Close the study
                </Button>
                <Button variant="secondary" onClick={() => setConfirmClose(false)}>
                  Keep it open
                </Button>
              </div>
            </Dialog>
          ) : null}
        </>
      ) : null}
    </>
  );
}
