/** Shared with me: the patients whose grants name me, my organization or my role there. */
import { useEffect, useMemo, useState } from "react";
import { useNavigate } from "react-router";
import { messageOf } from "../../api/client";
import { useSession } from "../../auth/session";
import { categoryLabel, formatDate, purposeLabel, shortAccount } from "../../lib/format";
import { Alert, Badge, Button, Empty, Loading, PageHeader } from "../../ui/components";
import { choosePatient } from "./currentPatient";

interface GrantView {
  grantId: string;
  patient: `0x${string}`;
  grantee: { kind: string };
  categories: string[];
  purposes: string[];
  notAfter: string;
}

export default function SharedWithMe() {
  const { api, identity } = useSession();
  const navigate = useNavigate();
  const [grants, setGrants] = useState<GrantView[] | undefined>();
  const [error, setError] = useState<string | undefined>();

  useEffect(() => {
    const abort = new AbortController();
    const load = () =>
      api
        .get<{ grants: GrantView[] }>("/consents/shared-with-me")
        .then((r) => setGrants(r.grants))
        .catch((e: unknown) => setError(messageOf(e)));
    void load();
    // a grant revoked or added while the page is open: read the list again
    api.stream("/consents/shared-with-me/stream", () => void load(), abort.signal).catch(() => undefined);
    return () => abort.abort();
  }, [api]);

  const byPatient = useMemo(() => {
    const out = new Map<string, GrantView[]>();
    for (const g of grants ?? []) out.set(g.patient, [...(out.get(g.patient) ?? []), g]);
    return [...out.entries()];
  }, [grants]);

  return (
    <>
      <PageHeader title="Shared with me">
        Patients who have shared part of their record with you, your organization or your role.
      </PageHeader>
      {error ? (
        <Alert tone="danger" title="The list could not be loaded">
          {error}
        </Alert>
      ) : null}
      {!grants && !error ? <Loading what="what is shared with you" /> : null}
      {grants && grants.length === 0 ? (
        <Empty>No patient shares anything with you right now. You can find a patient and ask them.</Empty>
      ) : null}
      <ul className="list" aria-label="Patients">
        {byPatient.map(([patient, list]) => (
          <li key={patient} className="card stack">
            <div className="row">
              <strong>
                Patient <span className="mono">{shortAccount(patient)}</span>
              </strong>
              <Button
                small
                onClick={() => {
                  choosePatient({ account: patient as `0x${string}` }, identity?.account ?? "");
                  void navigate("/clinic/patient");
                }}
              >
                Open record
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
    </>
  );
}
