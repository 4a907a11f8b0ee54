/**
 * Access requests to me (patients): who asks, for what, why and until when; one click signs the
 * proposed grant in this browser (EIP-712) and relays it, or declines. The terms shown are the
 * terms signed.
 */
import { useState } from "react";
import { CONSENT_TYPES } from "../../../../src/model/consentTypes.js";
import { newSalt } from "../../../../src/model/grantMessage.js";
import { SENSITIVE_CATEGORIES } from "../../../../src/model/vocabulary.js";
import { messageOf } from "../../api/client";
import { useApiGet } from "../../api/useApiGet";
import { useSession } from "../../auth/session";
import { categoryLabel, formatDate, formatDateTime, purposeLabel, shortAccount } from "../../lib/format";
import { Alert, Badge, Button, Empty, Loading, PageHeader } from "../../ui/components";

interface PendingRequest {
  id: string;
  requester: { account: string; organizationName: string | null; role: string };
  categories: string[];
  purposes: string[];
  notBefore: string;
  notAfter: string;
  message: string;
  createdAt: string;
  proposedGrant: {
    patient: `0x${string}`;
    granteeKind: number;
    grantee: `0x${string}`;
    role: `0x${string}`;
    categories: number;
    purposes: number;
    actions: number;
    notBefore: number;
    notAfter: number;
  };
}

const SENSITIVE = new Set<string>(SENSITIVE_CATEGORIES);

export default function PatientRequests() {
  const { api, signer } = useSession();
  const {
    value: requests,
    error,
    setError,
    reload: load,
  } = useApiGet("/patients/me/access-requests", (body: { requests: PendingRequest[] }) => body.requests);
  const [done, setDone] = useState<string | undefined>();
  const [busy, setBusy] = useState<string | undefined>();

  const grant = async (r: PendingRequest) => {
    if (!signer) return setError("Sign in again to sign the grant.");
    setBusy(r.id);
    setError(undefined);
    try {
      const domain = await api.get<{
        name: string;
        version: string;
        chainId: number;
        verifyingContract: `0x${string}`;
      }>("/consents/domain");
      const p = r.proposedGrant;
      const grantMessage = { ...p, salt: newSalt() };
      const signature = await signer.signTypedData({
        domain,
        types: CONSENT_TYPES,
        primaryType: "Grant",
        message: { ...grantMessage, notBefore: BigInt(p.notBefore), notAfter: BigInt(p.notAfter) },
      });
      await api.send("POST", `/patients/me/access-requests/${r.id}/grant?wait=true`, {
        grant: grantMessage,
        signature,
      });
      setDone(
        `Shared with ${r.requester.organizationName ?? "the requester"}. It is recorded on the ledger and enforced now.`,
      );
      await load();
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setBusy(undefined);
    }
  };

  const decline = async (r: PendingRequest) => {
    setBusy(r.id);
    try {
      await api.send("POST", `/patients/me/access-requests/${r.id}/decline`, {});
      setDone("Declined. Nothing was shared.");
      await load();
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setBusy(undefined);
    }
  };

  return (
    <>
      <PageHeader title="Access requests">
        Clinicians who ask to see part of your record. You decide.
      </PageHeader>
      {done ? <Alert tone="ok">{done}</Alert> : null}
      {error ? (
        <Alert tone="danger" title="Something went wrong">
          {error}
        </Alert>
      ) : null}
      {!requests && !error ? <Loading what="requests" /> : null}
      {requests && requests.length === 0 ? <Empty>No one is asking for access right now.</Empty> : null}
      <ul className="list" aria-label="Pending requests">
        {(requests ?? []).map((r) => (
          <li key={r.id} className="card stack">
            <strong>
              {r.requester.organizationName ?? "An organization"} ({r.requester.role},{" "}
              <span className="mono">{shortAccount(r.requester.account)}</span>) asks to see:
            </strong>
            <div className="row">
              {r.categories.map((c) => (
                <Badge key={c} tone={SENSITIVE.has(c) ? "sensitive" : "neutral"}>
                  {categoryLabel(c)}
                </Badge>
              ))}
            </div>
            <p>
              For {r.purposes.map(purposeLabel).join(", ")}, from {formatDate(r.notBefore)} until{" "}
              {formatDate(r.notAfter)}. If you agree, this clinician can view these categories of your record
              until then, and nothing else; you can take it back at any time.
            </p>
            {r.message ? (
              <blockquote className="card">
                <span className="visually-hidden">Their message: </span>
                {r.message}
              </blockquote>
            ) : null}
            <p className="muted">Asked {formatDateTime(r.createdAt)}</p>
            <div className="row">
              <Button busy={busy === r.id} onClick={() => void grant(r)}>
                Share (sign)
              </Button>
              <Button variant="secondary" disabled={busy === r.id} onClick={() => void decline(r)}>
                Decline
              </Button>
            </div>
          </li>
        ))}
      </ul>
    </>
  );
}
