/**
 * One patient, as a clinician sees them: what the patient's grants share with me and what they do
 * not (from the grants only: nothing here says whether hidden data exists), the record grouped by
 * category with each item's source organization, and what I can do: ask for access, break the
 * glass, add an observation or a note, refer. Live: a revoked grant clears the page at once and
 * it reads again; new data the patient shares with me appears as it arrives.
 */
import { Lock, Radio } from "lucide-react";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { Link } from "react-router";
import { categorize } from "../../../../src/records/categorize.js";
import { SENSITIVE_CATEGORIES, type Category, type Purpose } from "../../../../src/model/vocabulary.js";
import { messageOf, publicConfig, type PublicConfig } from "../../api/client";
import { useSession } from "../../auth/session";
import { dateOf, sourceOrganization, titleOf, valueOf, type Resource } from "../../lib/fhir";
import { categoryLabel, formatDate, shortAccount } from "../../lib/format";
import { Alert, Badge, Button, Card, Empty, Loading, PageHeader } from "../../ui/components";
import { useCurrentPatient } from "./currentPatient";
import { mergedRecord } from "./mergedRecord";
import { AddNote, AddObservation, BreakGlass, Refer, RequestAccess } from "./patientActions";
import { GuidancePanel } from "./GuidancePanel";

/** A list of badges: no bullets, wrapping (inline styles are set through the DOM, which the CSP allows). */
const CHIPS = { listStyle: "none", margin: 0, padding: 0 } as const;
const ITEM = { gap: "0.25rem" } as const;

export interface Sharing {
  shared: Array<{ category: Category; sensitive: boolean; until: string }>;
  notShared: Array<{ category: Category; sensitive: boolean }>;
}

interface Item {
  resource: Resource;
  categories: Category[];
  source: string;
}

type Action = "request" | "break-glass" | "observation" | "note" | "refer";

export default function PatientView() {
  const patient = useCurrentPatient();
  if (!patient)
    return (
      <>
        <PageHeader title="Patient" />
        <Empty>
          No patient is open. <Link to="/clinic/find">Find a patient</Link> or open one{" "}
          <Link to="/clinic">shared with you</Link>.
        </Empty>
      </>
    );
  return <OpenPatient key={patient.account} />;
}

function OpenPatient() {
  const patient = useCurrentPatient()!;
  const { api, identity, signer } = useSession();
  const [config, setConfig] = useState<PublicConfig | undefined>();
  const [names, setNames] = useState<Record<string, string>>({});
  const [sharing, setSharing] = useState<Sharing | undefined>();
  const [items, setItems] = useState<Item[] | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [notice, setNotice] = useState<string | undefined>();
  const [purpose, setPurpose] = useState<Purpose>("TREAT");
  const [action, setAction] = useState<Action | undefined>();
  const [live, setLive] = useState(false);
  const generation = useRef(0);

  const load = useCallback(async () => {
    const mine = ++generation.current;
    setError(undefined);
    try {
      const cfg = await publicConfig();
      setConfig(cfg);
      const summary = await api.get<Sharing>(
        `/consents/sharing?patient=${patient.account}&purpose=${purpose}`,
      );
      if (mine !== generation.current) return;
      setSharing(summary);
      const sensitiveShared = summary.shared.filter((s) => s.sensitive).map((s) => s.category);
      const { resources } = await mergedRecord(
        api,
        { identity: identity!, signer, config: cfg },
        patient.account,
        purpose,
        sensitiveShared,
      );
      if (mine !== generation.current) return;
      setItems(
        resources.map((resource) => ({
          resource,
          categories: categorize(resource as never),
          source: resource.meta?.source ?? "",
        })),
      );
    } catch (e) {
      if (mine === generation.current) setError(messageOf(e));
    }
  }, [api, identity, signer, patient.account, purpose]);

  useEffect(() => {
    void load();
  }, [load]);

  // organization names for the source of each item
  useEffect(() => {
    api
      .get<{ entries: Array<{ id: string; name: string }> }>("/registry/search?kind=organization&_count=100")
      .then((r) => setNames(Object.fromEntries(r.entries.map((e) => [e.id.toLowerCase(), e.name]))))
      .catch(() => undefined);
  }, [api]);

  // live: a grant naming me changed (revoked: clear at once, then read again), or new data arrived
  useEffect(() => {
    const abort = new AbortController();
    const account = patient.account.toLowerCase();
    api
      .stream(
        "/consents/shared-with-me/stream",
        (e) => {
          const change = JSON.parse(e.data) as { patient: string; change: string };
          if (change.patient.toLowerCase() !== account) return;
          if (change.change === "revoked") {
            generation.current++;
            setItems(undefined);
            setSharing(undefined);
            setNotice(
              "The patient changed what they share with you. The page shows only what you may see now.",
            );
          } else setNotice("The patient shared more with you.");
          void load();
        },
        abort.signal,
      )
      .catch(() => undefined);
    setLive(true);
    return () => {
      abort.abort();
      setLive(false);
    };
  }, [api, patient.account, load]);

  const sharedCategories = useMemo(() => sharing?.shared.map((s) => s.category) ?? [], [sharing]);
  const sharedKey = sharedCategories.join(",");
  useEffect(() => {
    if (sharedKey === "") return;
    const abort = new AbortController();
    let subscription: string | undefined;
    const subscribe = async () => {
      const sub = await api.send<{ id: string }>(
        "POST",
        "/subscriptions",
        { patient: patient.account, categories: sharedKey.split(","), channel: "sse" },
        { purpose },
      );
      subscription = sub.id;
      // the page moved on while subscribing: the cleanup ran before the id was known
      if (abort.signal.aborted) {
        await api.send("DELETE", `/subscriptions/${sub.id}`);
        return;
      }
      await api.stream(
        `/subscriptions/${sub.id}/events`,
        (e) => {
          if (e.event === "notification") void load();
        },
        abort.signal,
      );
    };
    subscribe().catch(() => undefined);
    return () => {
      abort.abort();
      // the page no longer listens: end the subscription rather than leave it open at the node
      if (subscription !== undefined)
        api.send("DELETE", `/subscriptions/${subscription}`).catch(() => undefined);
    };
  }, [api, patient.account, sharedKey, purpose, load]);

  const here = config?.organization ?? { id: "", name: "this organization" };
  const patientId =
    patient.patientId ?? items?.find((i) => i.resource.resourceType === "Patient")?.resource.id;
  const groups = useMemo(() => {
    const out = new Map<Category, Item[]>();
    for (const i of items ?? [])
      for (const c of i.categories.length > 0 ? i.categories : (["documents"] as Category[]))
        out.set(c, [...(out.get(c) ?? []), i]);
    return [...out.entries()].sort((a, b) => categoryLabel(a[0]).localeCompare(categoryLabel(b[0])));
  }, [items]);

  return (
    <>
      <PageHeader title={patient.name ? `Patient: ${patient.name}` : "Patient"}>
        <span className="row">
          <span>
            Account <span className="mono">{shortAccount(patient.account)}</span>
          </span>
          {live ? (
            <Badge tone="ok">
              <Radio size={14} aria-hidden="true" /> live
            </Badge>
          ) : null}
          {purpose === "ETREAT" ? <Badge tone="danger">emergency access</Badge> : null}
        </span>
      </PageHeader>
      {notice ? <Alert tone="info">{notice}</Alert> : null}
      {error ? (
        <Alert tone="danger" title="The record could not be loaded">
          {error}
        </Alert>
      ) : null}

      <div className="row" role="group" aria-label="Actions">
        <Button small onClick={() => setAction("request")}>
          Request access
        </Button>
        <Button small variant="danger" onClick={() => setAction("break-glass")}>
          Emergency access
        </Button>
        <Button small variant="secondary" onClick={() => setAction("observation")}>
          Add an observation
        </Button>
        <Button small variant="secondary" onClick={() => setAction("note")}>
          Add a note
        </Button>
        <Button small variant="secondary" onClick={() => setAction("refer")}>
          Refer
        </Button>
      </div>

      <SharingCard sharing={sharing} />
      {patientId && items?.some((i) => sourceOrganization(i.resource, here) === here.name) ? (
        // guidance is computed from what this node holds and the clinician may see here
        <GuidancePanel patientId={patientId} purpose={purpose} version={items} />
      ) : null}

      <section aria-label="Record" className="stack">
        <h2>Record</h2>
        {!items && !error ? <Loading what="the record" /> : null}
        {items && items.length === 0 ? (
          <Empty>Nothing you may see. Ask the patient for access if you need more.</Empty>
        ) : null}
        {groups.map(([category, list]) => (
          <Card
            key={category}
            title={`${categoryLabel(category)} (${list.length})`}
            sensitive={SENSITIVE_CATEGORIES.includes(category)}
          >
            <ul className="list">
              {list.map((i) => (
                <li
                  key={`${category}-${i.resource.resourceType}/${i.resource.id}`}
                  className="stack"
                  style={ITEM}
                >
                  <div className="row">
                    <strong>{titleOf(i.resource)}</strong>
                    {valueOf(i.resource) ? <span>{valueOf(i.resource)}</span> : null}
                  </div>
                  <div className="row muted">
                    <span>{formatDate(dateOf(i.resource))}</span>
                    <span>· from {sourceOrganization(i.resource, here, names)}</span>
                  </div>
                </li>
              ))}
            </ul>
          </Card>
        ))}
      </section>

      {action === "request" && sharing ? (
        <RequestAccess
          patient={patient.account}
          notShared={sharing.notShared}
          onClose={() => setAction(undefined)}
        />
      ) : null}
      {action === "break-glass" ? (
        <BreakGlass
          patient={patient.account}
          onClose={() => setAction(undefined)}
          onOpened={() => {
            setAction(undefined);
            setPurpose("ETREAT");
            setNotice("Emergency access is open for 4 hours. The patient has been told.");
          }}
        />
      ) : null}
      {action === "observation" ? (
        <AddObservation
          patientId={patientId}
          purpose={purpose}
          onClose={() => setAction(undefined)}
          onSaved={() => void load()}
        />
      ) : null}
      {action === "note" ? (
        <AddNote
          patientId={patientId}
          purpose={purpose}
          onClose={() => setAction(undefined)}
          onSaved={() => void load()}
        />
      ) : null}
      {action === "refer" ? (
        <Refer patient={patient.account} here={here.id} onClose={() => setAction(undefined)} />
      ) : null}
    </>
  );
}

/** What the patient's grants share with me, and what they do not: stated from the grants only. */
function SharingCard({ sharing }: { sharing: Sharing | undefined }) {
  if (!sharing) return <Loading what="what the patient shares with you" />;
  return (
    <div className="grid">
      <Card title="Shared with you">
        {sharing.shared.length === 0 ? (
          <p className="muted">The patient has not shared anything with you for this purpose.</p>
        ) : (
          <ul className="row" style={CHIPS} aria-label="Shared categories">
            {sharing.shared.map((s) => (
              <li key={s.category}>
                <Badge tone={s.sensitive ? "sensitive" : "ok"}>{categoryLabel(s.category)}</Badge>{" "}
                <span className="muted">until {formatDate(s.until)}</span>
              </li>
            ))}
          </ul>
        )}
        <p className="muted">
          Apart from what is shared, you see what your organization recorded (for treatment), and during
          emergency access the non-sensitive record.
        </p>
      </Card>
      <Card title="Not shared with you">
        <p className="muted">
          <Lock size={16} aria-hidden="true" /> The patient has not shared these with you. This says nothing
          about whether the patient has any such information.
        </p>
        <ul className="row" style={CHIPS} aria-label="Categories not shared">
          {sharing.notShared
            .filter((s) => !s.sensitive)
            .map((s) => (
              <li key={s.category}>
                <Badge tone="neutral">{categoryLabel(s.category)}</Badge>
              </li>
            ))}
        </ul>
        <p className="muted">Sensitive, shared only when the patient names each one:</p>
        <ul className="row" style={CHIPS} aria-label="Sensitive categories not shared">
          {sharing.notShared
            .filter((s) => s.sensitive)
            .map((s) => (
              <li key={s.category}>
                <Badge tone="sensitive">{categoryLabel(s.category)}</Badge>
              </li>
            ))}
        </ul>
      </Card>
    </div>
  );
}
