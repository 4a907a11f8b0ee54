/**
 * Research: the studies the patient's record at this node meets (matched here; nothing leaves the
 * node before they enroll), what each asks, who runs it and what it pays; enrolling signs a
 * research consent and derives the study's payout address in the browser; withdrawing stops
 * further releases and payouts; earnings per study.
 */
import { FlaskConical, LogOut } from "lucide-react";
import { useEffect, useState } from "react";
import { messageOf, publicConfig } from "../../api/client";
import { useApiGet } from "../../api/useApiGet";
import { useSession } from "../../auth/session";
import { formatDate, formatDateTime, shortAccount } from "../../lib/format";
import {
  credits,
  signEnrollment,
  type Earnings,
  type EnrollmentView,
  type StudyView,
} from "../../research/studies";
import { StudyTerms } from "../../research/StudyTerms";
import { useOrganizationNames } from "../../research/useOrganizationNames";
import { Alert, Badge, Button, Card, Dialog, Empty, Loading, PageHeader } from "../../ui/components";

interface Discovered {
  matching: (StudyView & { enrolled: boolean })[];
  enrollments: EnrollmentView[];
}

export default function Research() {
  const { api, signer } = useSession();
  const studies = useApiGet("/patients/me/studies", (body: Discovered) => body);
  const earnings = useApiGet("/patients/me/earnings", (body: Earnings) => body);
  const names = useOrganizationNames();
  const [busy, setBusy] = useState<string | undefined>();
  const [done, setDone] = useState<string | undefined>();
  const [confirmWithdraw, setConfirmWithdraw] = useState<string | undefined>();
  const [known, setKnown] = useState<Map<string, StudyView>>(new Map());

  // studies stay listed once seen (an enrolled study whose window closed is no longer "matching")
  const matching = studies.value?.matching;
  useEffect(() => {
    if (matching)
      setKnown(
        (before) => new Map([...before, ...matching.map((s) => [s.studyId.toLowerCase(), s] as const)]),
      );
  }, [matching]);

  const enrollments = new Map(
    (studies.value?.enrollments ?? []).map((e) => [e.studyId.toLowerCase(), e] as const),
  );
  const open = (matching ?? []).filter((s) => !enrollments.has(s.studyId.toLowerCase()));

  const enroll = async (study: StudyView) => {
    if (!signer) return;
    setBusy(study.studyId);
    setDone(undefined);
    studies.setError(undefined);
    try {
      const config = await publicConfig();
      const body = await signEnrollment(
        signer,
        { chainId: config.chainId, organization: config.organization.id as `0x${string}` },
        study,
      );
      await api.send("POST", `/patients/me/studies/${study.studyId}/enroll`, body);
      setDone(`You are enrolled in “${study.definition.title}”.`);
      await Promise.all([studies.reload(), earnings.reload()]);
    } catch (e) {
      studies.setError(messageOf(e));
    } finally {
      setBusy(undefined);
    }
  };

  const withdraw = async (studyId: string) => {
    setConfirmWithdraw(undefined);
    setBusy(studyId);
    setDone(undefined);
    studies.setError(undefined);
    try {
      await api.send("POST", `/patients/me/studies/${studyId}/withdraw`);
      setDone(
        "You have withdrawn. Nothing more of your data will be released to this study and it pays you no more. What was released before stays released.",
      );
      await studies.reload();
    } catch (e) {
      studies.setError(messageOf(e));
    } finally {
      setBusy(undefined);
    }
  };

  const titleOf = (studyId: string | null) =>
    studyId === null ? "—" : (known.get(studyId.toLowerCase())?.definition.title ?? shortAccount(studyId));

  return (
    <>
      <PageHeader title="Research">
        Studies you could join, and what you have earned. The studies below are matched against your record on
        this node only: nothing about you leaves it unless you enroll.
      </PageHeader>
      {done ? <Alert tone="ok">{done}</Alert> : null}
      {studies.error ? (
        <Alert tone="danger" title="Something went wrong">
          {studies.error}
        </Alert>
      ) : null}
      {!studies.value && !studies.error ? <Loading what="studies" /> : null}

      {studies.value ? (
        <section className="stack" aria-labelledby="research-open">
          <h2 id="research-open">Studies you match</h2>
          {open.length === 0 ? <Empty>No open study matches your record here right now.</Empty> : null}
          <ul className="list" aria-label="Studies you match">
            {open.map((s) => (
              <li key={s.studyId} className="card stack">
                <StudyTerms study={s} sponsor={names.get(s.organization.toLowerCase())} />
                <p className="muted">
                  Enrolling signs a research consent with your key. Your wallet also makes a payout address
                  used for this study only, so payments from different studies cannot be linked to each other
                  or to you. You can withdraw at any time.
                </p>
                <div className="row">
                  <Button busy={busy === s.studyId} onClick={() => void enroll(s)} disabled={!signer}>
                    <FlaskConical size={18} aria-hidden="true" /> Sign and enroll
                  </Button>
                </div>
              </li>
            ))}
          </ul>
        </section>
      ) : null}

      {studies.value && studies.value.enrollments.length > 0 ? (
        <section className="stack" aria-labelledby="research-mine">
          <h2 id="research-mine">Your studies</h2>
          <ul className="list" aria-label="Your studies">
            {studies.value.enrollments.map((e) => {
              const study = known.get(e.studyId.toLowerCase());
              return (
                <li key={e.studyId} className="card stack">
                  <div className="row">
                    <strong>{study?.definition.title ?? `Study ${shortAccount(e.studyId)}`}</strong>
                    {e.withdrawnAt === null ? (
                      <Badge tone="ok">enrolled</Badge>
                    ) : (
                      <Badge tone="neutral">withdrawn</Badge>
                    )}
                  </div>
                  <p>
                    Enrolled {formatDateTime(e.enrolledAt)}
                    {e.withdrawnAt !== null ? `; withdrawn ${formatDateTime(e.withdrawnAt)}` : ""}.{" "}
                    {e.released.length === 0
                      ? "None of your data has been released to it yet."
                      : `Your data was part of ${e.released.length} release${e.released.length === 1 ? "" : "s"} (last ${formatDate(e.released.at(-1)?.at)}).`}
                  </p>
                  {e.withdrawnAt !== null ? (
                    <p className="muted">
                      Nothing more is released or paid. What was released before you withdrew stays released.
                    </p>
                  ) : (
                    <div className="row">
                      <Button
                        variant="secondary"
                        busy={busy === e.studyId}
                        onClick={() => setConfirmWithdraw(e.studyId)}
                      >
                        <LogOut size={18} aria-hidden="true" /> Withdraw
                      </Button>
                    </div>
                  )}
                </li>
              );
            })}
          </ul>
        </section>
      ) : null}

      <Card title="Earnings">
        {earnings.error ? <Alert tone="danger">{earnings.error}</Alert> : null}
        {!earnings.value && !earnings.error ? <Loading what="your earnings" /> : null}
        {earnings.value ? (
          <div className="stack">
            <p>
              Balance: <strong>{credits(earnings.value.balance)} credits</strong>
            </p>
            {earnings.value.studies.length > 0 ? (
              <ul className="list" aria-label="Balance per study">
                {earnings.value.studies.map((s) => (
                  <li key={s.studyId} className="row">
                    <span>{titleOf(s.studyId)}</span>
                    <strong>{credits(s.balance)} credits</strong>
                    <span className="muted">
                      paid to <span className="mono">{shortAccount(s.payout)}</span>
                    </span>
                  </li>
                ))}
              </ul>
            ) : null}
            {earnings.value.history.length === 0 ? (
              <p className="muted">
                No payments yet. A study pays you each time your data is part of a release.
              </p>
            ) : (
              <ul className="list" aria-label="Payment history">
                {earnings.value.history.map((h) => (
                  <li key={`${h.transactionHash}-${h.to}`} className="row">
                    <span>
                      {h.kind === "paid" ? "Paid" : h.kind} {credits(h.amount)} credits
                    </span>
                    <span className="muted">{titleOf(h.studyId)}</span>
                    <span className="muted">block {h.blockNumber}</span>
                  </li>
                ))}
              </ul>
            )}
          </div>
        ) : null}
      </Card>

      {confirmWithdraw !== undefined ? (
        <Dialog title="Withdraw from this study?" onClose={() => setConfirmWithdraw(undefined)}>
          <p>
            From now on, none of your data is released to this study and it pays you no more. What was already
            released before now stays released: it cannot be called back.
          </p>
          <div className="row">
            <Button variant="danger" onClick={() => void withdraw(confirmWithdraw)}>
              Withdraw
            </Button>
            <Button variant="secondary" onClick={() => setConfirmWithdraw(undefined)}>
              Stay enrolled
            </Button>
          </div>
        </Dialog>
      ) : null}
    </>
  );
}
