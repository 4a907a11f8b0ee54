/** My access requests: what I asked which patient for, and what they answered. */
import { useState } from "react";
import { messageOf } from "../../api/client";
import { useApiGet } from "../../api/useApiGet";
import { useSession } from "../../auth/session";
import { categoryLabel, formatDate, formatDateTime, shortAccount } from "../../lib/format";
import { Alert, Badge, Button, Empty, Loading, PageHeader } from "../../ui/components";

export interface RequestView {
  id: string;
  patient: `0x${string}`;
  categories: string[];
  purposes: string[];
  notAfter: string;
  message: string;
  status: "pending" | "granted" | "declined" | "withdrawn";
  createdAt: string;
  answeredAt: string | null;
}

const TONE = { pending: "warn", granted: "ok", declined: "danger", withdrawn: "neutral" } as const;

export default function MyRequests() {
  const { api } = useSession();
  const {
    value: requests,
    error,
    setError,
    reload: load,
  } = useApiGet("/access-requests", (body: { requests: RequestView[] }) => body.requests);
  const [busy, setBusy] = useState<string | undefined>();

  const withdraw = async (id: string) => {
    setBusy(id);
    try {
      await api.send("DELETE", `/access-requests/${id}`);
      await load();
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setBusy(undefined);
    }
  };

  return (
    <>
      <PageHeader title="My requests">Access you asked patients for, and their answers.</PageHeader>
      {error ? (
        <Alert tone="danger" title="Something went wrong">
          {error}
        </Alert>
      ) : null}
      {!requests && !error ? <Loading what="your requests" /> : null}
      {requests && requests.length === 0 ? (
        <Empty>You have not asked any patient for access yet.</Empty>
      ) : null}
      <ul className="list" aria-label="Requests">
        {(requests ?? []).map((r) => (
          <li key={r.id} className="card stack">
            <div className="row">
              <strong>
                Patient <span className="mono">{shortAccount(r.patient)}</span>
              </strong>
              <Badge tone={TONE[r.status]}>{r.status}</Badge>
              {r.status === "pending" ? (
                <Button small variant="secondary" busy={busy === r.id} onClick={() => void withdraw(r.id)}>
                  Withdraw
                </Button>
              ) : null}
            </div>
            <div className="row muted">
              {r.categories.map((c) => (
                <Badge key={c} tone="neutral">
                  {categoryLabel(c)}
                </Badge>
              ))}
              <span>until {formatDate(r.notAfter)}</span>
              <span>· asked {formatDateTime(r.createdAt)}</span>
            </div>
            {r.message ? <p>{r.message}</p> : null}
          </li>
        ))}
      </ul>
    </>
  );
}
