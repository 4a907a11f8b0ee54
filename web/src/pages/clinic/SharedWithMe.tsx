/**
 * A clinician's first page: the patients who share with them (from their grants, kept current by
 * the live grant-change stream), each opening the patient view; and, for one patient record at
 * this node, what the grants let them see, grouped by category with each resource's source
 * organization.
 */
import { FolderOpen } from "lucide-react";
import { useEffect, useMemo, useState } from "react";
import { useNavigate } from "react-router";
import { categorize } from "../../../../src/records/categorize.js";
import { messageOf, publicConfig, type PublicConfig } from "../../api/client";
import { useSession } from "../../auth/session";
import type { GrantView } from "../../consent/grant";
import { allResources, dateOf, sourceOrganization, titleOf, valueOf, type Resource } from "../../lib/fhir";
import { categoryLabel, formatDate, purposeLabel, shortAccount } from "../../lib/format";
import { Alert, Badge, Button, Card, Empty, Loading, PageHeader, TextField } from "../../ui/components";
import { choosePatient } from "./currentPatient";

interface SharedGrant extends GrantView {
  patient: string;
}

export default function SharedWithMe() {
  const { api, identity } = useSession();
  const navigate = useNavigate();
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
    const abort = new AbortController();
    const load = () =>
      api
        .get<{ grants: SharedGrant[] }>("/consents/shared-with-me")
        .then((r) => setGrants(r.grants))
        .catch((e: unknown) => setError(messageOf(e)));
    void load();
    // a grant revoked or added while the page is open: read the list again
    api.stream("/consents/shared-with-me/stream", () => void load(), abort.signal).catch(() => undefined);
    return () => abort.abort();
  }, [api]);

  const byPatient = useMemo(() => {
    const out = new Map<string, SharedGrant[]>();
    for (const g of grants ?? []) out.set(g.patient, [...(out.get(g.patient) ?? []), g]);
    return [...out.entries()];
  }, [grants]);

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
        Patients who chose to share part of their record with you, your organization or your role.
      </PageHeader>
      {error ? (
        <Alert tone="danger" title="Something went wrong">
          {error}
        </Alert>
      ) : null}
      {!grants && !error ? <Loading what="what is shared with you" /> : null}
      {grants && grants.length === 0 ? (
        <Empty>No patient shares their record with you yet. You can find a patient and ask them.</Empty>
      ) : null}
      {byPatient.length > 0 ? (
        <ul className="list" aria-label="Patients sharing with you">
          {byPatient.map(([patient, list]) => (
            <li key={patient} className="card stack">
              <div className="row">
                <strong>Patient {shortAccount(patient)}</strong>
                <Button
                  small
                  onClick={() => {
                    choosePatient({ account: patient as `0x${string}` }, identity?.account ?? "");
                    void navigate("/clinic/patient");
                  }}
                >
                  View patient
                </Button>
              </div>
              {list.map((g) => (
                <div key={g.grantId} className="row muted">
                  {g.categories.map((c) => (
                    <Badge key={c} tone="neutral">
                      {categoryLabel(c)}
                    </Badge>
                  ))}
                  <span>
                    for {g.purposes.map(purposeLabel).join(", ")} until {formatDate(g.notAfter)}
                    {g.grantee.kind !== "practitioner" ? ` (to your ${g.grantee.kind})` : ""}
                  </span>
                </div>
              ))}
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
