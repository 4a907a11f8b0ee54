/**
 * A clinician's first page: the patients who share with them (from their grants) and, for one
 * patient record at this node, what the grants let them see, grouped by category with each
 * resource's source organization. The clinic pages (find a patient, the merged cross-organization
 * view, requests, break-glass) build on this.
 */
import { FolderOpen } from "lucide-react";
import { useEffect, useMemo, useState } from "react";
import { categorize } from "../../../../src/records/categorize.js";
import { messageOf, publicConfig, type PublicConfig } from "../../api/client";
import { useSession } from "../../auth/session";
import type { GrantView } from "../../consent/grant";
import { allResources, dateOf, sourceOrganization, titleOf, valueOf, type Resource } from "../../lib/fhir";
import { categoryLabel, formatDate, purposeLabel, shortAccount } from "../../lib/format";
import { Alert, Button, Card, Empty, Loading, PageHeader, TextField } from "../../ui/components";

interface SharedGrant extends GrantView {
  patient: string;
}

export default function SharedWithMe() {
  const { api } = useSession();
  const [grants, setGrants] = useState<SharedGrant[] | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [recordId, setRecordId] = useState("");
  const [open, setOpen] = useState<{ id: string; resources: Resource[] } | undefined>();
  const [loading, setLoading] = useState(false);
  const [config, setConfig] = useState<PublicConfig | undefined>();

  useEffect(() => {
    publicConfig()
      .then(setConfig)
      .catch(() => undefined);
    api
      .get<{ grants: SharedGrant[] }>("/consents/shared-with-me")
      .then((r) => setGrants(r.grants))
      .catch((e: unknown) => setError(messageOf(e)));
  }, [api]);

  const openRecord = async () => {
    setLoading(true);
    setError(undefined);
    try {
      const id = recordId.trim();
      const resources = await allResources(
        api,
        `/fhir/Patient/${encodeURIComponent(id)}/$everything?_count=500`,
        { purpose: "TREAT" },
      );
      setOpen({ id, resources });
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setLoading(false);
    }
  };

  const groups = useMemo(() => {
    const map = new Map<string, Resource[]>();
    for (const r of open?.resources ?? [])
      for (const c of categorize(r as never)) map.set(c, [...(map.get(c) ?? []), r]);
    return [...map.entries()];
  }, [open]);
  const here = config?.organization ?? { id: "", name: "this organization" };

  return (
    <>
      <PageHeader title="Shared with me">
        Patients who chose to share part of their record with you, and what they shared.
      </PageHeader>
      {error ? (
        <Alert tone="danger" title="Something went wrong">
          {error}
        </Alert>
      ) : null}
      {!grants && !error ? <Loading what="what is shared with you" /> : null}
      {grants && grants.length === 0 ? <Empty>No patient shares their record with you yet.</Empty> : null}
      {grants && grants.length > 0 ? (
        <ul className="list" aria-label="Grants naming you">
          {grants.map((g) => (
            <li key={g.grantId} className="card">
              <strong>Patient {shortAccount(g.patient)}</strong>
              <p>
                Shares {g.categories.map(categoryLabel).join(", ")} for{" "}
                {g.purposes.map(purposeLabel).join(", ")} until {formatDate(g.notAfter)}.
              </p>
            </li>
          ))}
        </ul>
      ) : null}
      <Card title="Open a patient's record at this node">
        <form
          className="row"
          onSubmit={(e) => {
            e.preventDefault();
            void openRecord();
          }}
        >
          <TextField
            label="Record id"
            value={recordId}
            onChange={setRecordId}
            hint="The patient's record id at this node"
          />
          <Button type="submit" busy={loading}>
            <FolderOpen size={16} aria-hidden="true" /> Open
          </Button>
        </form>
      </Card>
      {open ? (
        <section className="stack" aria-label="Patient record">
          <h2>What you may see</h2>
          {groups.length === 0 ? <Empty>Nothing in this record is shared with you.</Empty> : null}
          {groups.map(([category, list]) => (
            <Card key={category} title={`${categoryLabel(category)} (${list.length})`}>
              <ul className="list">
                {list.map((r) => (
                  <li
                    key={`${r.resourceType}/${r.id}`}
                    className="card"
                    data-resource={`${r.resourceType}/${r.id}`}
                  >
                    <strong>{titleOf(r)}</strong> {valueOf(r) ?? ""}
                    <div className="muted">
                      {formatDate(dateOf(r))} · source:{" "}
                      <span data-source="">{sourceOrganization(r, here)}</span>
                    </div>
                  </li>
                ))}
              </ul>
            </Card>
          ))}
        </section>
      ) : null}
    </>
  );
}
