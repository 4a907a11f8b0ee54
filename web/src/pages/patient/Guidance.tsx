/**
 * Care guidance for the patient, in plain words with a next step, and their patient summary (the
 * International Patient Summary the node makes from their record here). Both come from the
 * patient's own record; nothing is decided in the browser.
 */
import { HeartPulse, Info, TriangleAlert } from "lucide-react";
import { useEffect, useState } from "react";
import { messageOf } from "../../api/client";
import { useSession } from "../../auth/session";
import { Alert, Badge, Empty, Loading, PageHeader } from "../../ui/components";

interface Item {
  id: string;
  indicator: "info" | "warning" | "critical";
  text: string;
  source: string;
}

interface Section {
  title: string;
  text: { div: string };
  entry?: unknown[];
}

/** The narrative table of a summary section as rows of plain text (parsed, never injected). */
function rowsOf(div: string): { head: string[]; rows: string[][] } {
  const doc = new DOMParser().parseFromString(div, "text/html");
  const cells = (tr: Element) => [...tr.querySelectorAll("th,td")].map((c) => c.textContent ?? "");
  const head = [...doc.querySelectorAll("thead tr")].map(cells)[0] ?? [];
  return { head, rows: [...doc.querySelectorAll("tbody tr")].map(cells) };
}

const TONE = { critical: "danger", warning: "warn", info: "neutral" } as const;

export default function Guidance() {
  const { api } = useSession();
  const [items, setItems] = useState<Item[] | undefined>();
  const [sections, setSections] = useState<Section[] | undefined>();
  const [error, setError] = useState<string | undefined>();

  useEffect(() => {
    api
      .get<{ guidance: Item[] }>("/patients/me/guidance")
      .then((r) => setItems(r.guidance))
      .catch((e: unknown) => setError(messageOf(e)));
    api
      .get<{ entry: { resource: { resourceType: string; section?: Section[] } }[] }>("/patients/me/summary")
      .then((b) => setSections(b.entry[0]?.resource.section ?? []))
      .catch((e: unknown) => setError(messageOf(e)));
  }, [api]);

  return (
    <>
      <PageHeader title="Guidance and summary">
        Suggestions drawn from your record at this organization, and a summary you can show any doctor.
      </PageHeader>
      {error ? (
        <Alert tone="danger" title="Your guidance could not be loaded">
          {error}
        </Alert>
      ) : null}
      <section aria-labelledby="guidance-heading">
        <h2 id="guidance-heading">For you</h2>
        {!items && !error ? <Loading what="your guidance" /> : null}
        {items && items.length === 0 ? <Empty>Nothing to suggest right now.</Empty> : null}
        {items && items.length > 0 ? (
          <ul className="list" aria-label="Guidance">
            {items.map((g) => (
              <li key={g.id} className="card row">
                {g.indicator === "info" ? (
                  <Info size={20} aria-hidden="true" />
                ) : g.indicator === "warning" ? (
                  <TriangleAlert size={20} aria-hidden="true" />
                ) : (
                  <HeartPulse size={20} aria-hidden="true" />
                )}
                <div>
                  <strong>{g.text}</strong>
                  <div className="muted">Based on: {g.source}</div>
                </div>
                <Badge tone={TONE[g.indicator]}>{g.indicator === "info" ? "suggestion" : "please act"}</Badge>
              </li>
            ))}
          </ul>
        ) : null}
      </section>
      <section aria-labelledby="summary-heading">
        <h2 id="summary-heading">Your patient summary</h2>
        {!sections && !error ? <Loading what="your summary" /> : null}
        {sections?.map((s) => {
          const { head, rows } = rowsOf(s.text.div);
          return (
            <div key={s.title} className="card">
              <h3>{s.title}</h3>
              {rows.length === 0 ? (
                <p className="muted">None recorded here.</p>
              ) : (
                <div className="table-wrap" tabIndex={0} role="region" aria-label={s.title}>
                  <table>
                    <thead>
                      <tr>
                        {head.map((h) => (
                          <th key={h} scope="col">
                            {h}
                          </th>
                        ))}
                      </tr>
                    </thead>
                    <tbody>
                      {rows.map((r, i) => (
                        <tr key={i}>
                          {r.map((c, j) => (
                            <td key={j}>{c}</td>
                          ))}
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </div>
              )}
            </div>
          );
        })}
      </section>
    </>
  );
}
