/**
 * Care guidance for the clinician on the patient view: the node's rules over what this clinician
 * may see of the patient here (so no card can imply what is not shared), most urgent first, each
 * with the guideline it comes from and the organizations its facts were recorded at.
 */
import { useEffect, useState } from "react";
import { messageOf } from "../../api/client";
import { useSession } from "../../auth/session";
import { Alert, Badge, Card, Loading } from "../../ui/components";

interface Item {
  id: string;
  indicator: "info" | "warning" | "critical";
  summary: string;
  detail: string;
  source: { publisher: string; title: string; version: string; date: string };
  sources: string[];
}

const TONE = { critical: "danger", warning: "warn", info: "neutral" } as const;

export function GuidancePanel({
  patientId,
  purpose,
  version,
}: {
  patientId: string;
  purpose: string;
  /** Changes when the record was reloaded, so guidance follows new data. */
  version: unknown;
}) {
  const { api } = useSession();
  const [items, setItems] = useState<Item[] | undefined>();
  const [error, setError] = useState<string | undefined>();

  useEffect(() => {
    const abort = new AbortController();
    api
      .get<{ guidance: Item[] }>(`/guidance/patients/${encodeURIComponent(patientId)}`, {
        purpose,
        signal: abort.signal,
      })
      .then((r) => setItems(r.guidance))
      .catch((e: unknown) => {
        if (!abort.signal.aborted) setError(messageOf(e));
      });
    return () => abort.abort();
  }, [api, patientId, purpose, version]);

  return (
    <Card title="Guidance">
      {error ? (
        <Alert tone="warn" title="Guidance is not available">
          {error}
        </Alert>
      ) : null}
      {!items && !error ? <Loading what="guidance" /> : null}
      {items && items.length === 0 ? (
        <p className="muted">No guidance from what you may see of this patient.</p>
      ) : null}
      {items && items.length > 0 ? (
        <ul className="list" aria-label="Guidance">
          {items.map((g) => (
            <li key={g.id} className="stack">
              <div className="row">
                <Badge tone={TONE[g.indicator]}>{g.indicator}</Badge>
                <strong>{g.summary}</strong>
              </div>
              <div className="muted">
                {g.source.publisher}: {g.source.title} ({g.source.date})
              </div>
            </li>
          ))}
        </ul>
      ) : null}
    </Card>
  );
}
