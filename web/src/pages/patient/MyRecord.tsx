/** My record: everything this node holds about me, as a timeline or by category; sensitive categories apart. */
import { Lock } from "lucide-react";
import { useEffect, useMemo, useState } from "react";
import { categorize } from "../../../../src/records/categorize.js";
import { SENSITIVE_CATEGORIES, type Category } from "../../../../src/model/vocabulary.js";
import { messageOf, publicConfig, type PublicConfig } from "../../api/client";
import { useSession } from "../../auth/session";
import { allResources, dateOf, sourceOrganization, titleOf, valueOf, type Resource } from "../../lib/fhir";
import { categoryLabel, formatDate } from "../../lib/format";
import { Alert, Badge, Card, Empty, Loading, PageHeader } from "../../ui/components";

interface Item {
  resource: Resource;
  categories: Category[];
  sensitive: boolean;
  date: string | undefined;
}

export default function MyRecord() {
  const { api } = useSession();
  const [items, setItems] = useState<Item[] | undefined>();
  const [config, setConfig] = useState<PublicConfig | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [view, setView] = useState<"timeline" | "category">("timeline");

  useEffect(() => {
    const load = async () => {
      setConfig(await publicConfig());
      const patients = await allResources(api, "/fhir/Patient");
      const all: Resource[] = [...patients];
      for (const p of patients) {
        const everything = await allResources(
          api,
          `/fhir/Patient/${encodeURIComponent(p.id)}/$everything?_count=500`,
        );
        for (const r of everything) if (r.resourceType !== "Patient") all.push(r);
      }
      setItems(
        all.map((resource) => {
          const categories = categorize(resource as never);
          return {
            resource,
            categories,
            sensitive: categories.some((c) => SENSITIVE_CATEGORIES.includes(c)),
            date: dateOf(resource),
          };
        }),
      );
    };
    load().catch((e: unknown) => setError(messageOf(e)));
  }, [api]);

  const timeline = useMemo(
    () =>
      [...(items ?? [])]
        .filter((i) => !i.sensitive)
        .sort((a, b) => (b.date ?? "").localeCompare(a.date ?? "")),
    [items],
  );
  const sensitive = useMemo(() => (items ?? []).filter((i) => i.sensitive), [items]);
  const byCategory = useMemo(() => {
    const groups = new Map<Category, Item[]>();
    for (const i of items ?? []) {
      if (i.sensitive) continue;
      for (const c of i.categories.length > 0 ? i.categories : (["documents"] as Category[]))
        groups.set(c, [...(groups.get(c) ?? []), i]);
    }
    return [...groups.entries()].sort((a, b) => categoryLabel(a[0]).localeCompare(categoryLabel(b[0])));
  }, [items]);

  const here = config?.organization ?? { id: "", name: "this organization" };
  return (
    <>
      <PageHeader title="My record">
        Everything {here.name} holds about you. Only you and the people you share with can see it.
      </PageHeader>
      {error ? (
        <Alert tone="danger" title="Your record could not be loaded">
          {error}
        </Alert>
      ) : null}
      {!items && !error ? <Loading what="your record" /> : null}
      {items && items.length === 0 ? <Empty>This node holds no records about you yet.</Empty> : null}
      {items && items.length > 0 ? (
        <>
          <div className="tabs" role="tablist" aria-label="How to show your record">
            <button
              type="button"
              role="tab"
              aria-selected={view === "timeline"}
              onClick={() => setView("timeline")}
            >
              Timeline
            </button>
            <button
              type="button"
              role="tab"
              aria-selected={view === "category"}
              onClick={() => setView("category")}
            >
              By category
            </button>
          </div>
          {view === "timeline" ? (
            <section aria-label="Timeline" className="timeline">
              <ul className="list">
                {timeline.map((i) => (
                  <RecordItem
                    key={`${i.resource.resourceType}/${i.resource.id}`}
                    item={i}
                    source={sourceOrganization(i.resource, here)}
                  />
                ))}
              </ul>
            </section>
          ) : (
            <div className="stack">
              {byCategory.map(([category, list]) => (
                <details key={category} className="card">
                  <summary>
                    <strong>{categoryLabel(category)}</strong> <span className="muted">({list.length})</span>
                  </summary>
                  <ul className="list">
                    {list.map((i) => (
                      <RecordItem
                        key={`${category}-${i.resource.resourceType}/${i.resource.id}`}
                        item={i}
                        source={sourceOrganization(i.resource, here)}
                      />
                    ))}
                  </ul>
                </details>
              ))}
            </div>
          )}
          <Card title="Sensitive information" sensitive>
            <p className="row">
              <Lock size={18} aria-hidden="true" /> Mental health, sexual health, substance use and genetic
              information are kept apart: they are never shared unless you name each one when you share.
            </p>
            {sensitive.length === 0 ? (
              <p className="muted">Nothing in your record here is in a sensitive category.</p>
            ) : (
              <ul className="list">
                {sensitive.map((i) => (
                  <RecordItem
                    key={`s-${i.resource.resourceType}/${i.resource.id}`}
                    item={i}
                    source={sourceOrganization(i.resource, here)}
                  />
                ))}
              </ul>
            )}
          </Card>
        </>
      ) : null}
    </>
  );
}

function RecordItem({ item, source }: { item: Item; source: string }) {
  const value = valueOf(item.resource);
  return (
    <li className="card">
      <div className="row">
        <strong>{titleOf(item.resource)}</strong>
        {value ? <span>{value}</span> : null}
      </div>
      <div className="row muted">
        <span>{formatDate(item.date)}</span>
        <span>· {item.resource.resourceType}</span>
        <span>· from {source}</span>
        {item.categories.map((c) => (
          <Badge key={c} tone={SENSITIVE_CATEGORIES.includes(c) ? "sensitive" : "neutral"}>
            {categoryLabel(c)}
          </Badge>
        ))}
      </div>
    </li>
  );
}
