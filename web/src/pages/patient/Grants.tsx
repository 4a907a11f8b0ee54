/** Who can see what: the patient's grants, active and ended, each stoppable in one click (signed here). */
import { Ban, Share2 } from "lucide-react";
import { useCallback, useEffect, useState } from "react";
import { Link } from "react-router";
import type { Hex } from "viem";
import { messageOf } from "../../api/client";
import { useIdentity, useSession } from "../../auth/session";
import { signRevoke, type ConsentDomain, type GrantView } from "../../consent/grant";
import { categoryLabel, formatDate, formatDateTime, purposeLabel, shortAccount } from "../../lib/format";
import { Alert, Badge, Button, Empty, Loading, PageHeader } from "../../ui/components";
import { SENSITIVE_CATEGORIES } from "../../../../src/model/vocabulary.js";

function granteeText(g: GrantView): string {
  if (g.grantee.kind === "practitioner") return `Practitioner ${shortAccount(`0x${g.grantee.id.slice(26)}`)}`;
  if (g.grantee.kind === "organization") return `Organization ${shortAccount(g.grantee.id)}`;
  return `Role at organization ${shortAccount(g.grantee.id)}`;
}

export default function Grants() {
  const { api, signer } = useSession();
  const me = useIdentity();
  const [grants, setGrants] = useState<GrantView[] | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [stopping, setStopping] = useState<{ id: Hex; stage: string } | undefined>();
  const [stopped, setStopped] = useState<string | undefined>();

  const load = useCallback(async () => {
    try {
      const { grants: list } = await api.get<{ grants: GrantView[] }>("/consents");
      setGrants(list);
      return list;
    } catch (e) {
      setError(messageOf(e));
      return undefined;
    }
  }, [api]);

  useEffect(() => {
    void load();
  }, [load]);

  const revoke = async (grant: GrantView) => {
    if (!signer) return;
    setError(undefined);
    setStopped(undefined);
    setStopping({ id: grant.grantId, stage: "Signing in your browser…" });
    try {
      const domain = await api.get<ConsentDomain>("/consents/domain");
      const { nonce } = await api.get<{ nonce: string }>(`/consents/nonce/${me.account}`);
      const body = await signRevoke(signer, domain, me.account, grant.grantId, BigInt(nonce));
      setStopping({ id: grant.grantId, stage: "Waiting for the ledger…" });
      const submitted = await api.send<{ status: string }>("POST", "/consents/revoke?wait=true", body);
      if (submitted.status === "failed") throw new Error("The ledger did not accept the revocation.");
      setStopping({
        id: grant.grantId,
        stage: "Recorded on the ledger; waiting for the node to enforce it…",
      });
      for (let i = 0; i < 100; i++) {
        const list = await load();
        const now = list?.find((g) => g.grantId === grant.grantId);
        if (now?.revokedAt) {
          setStopped(`Sharing stopped: enforced since ${formatDateTime(now.revokedAt)}.`);
          break;
        }
        await new Promise((r) => setTimeout(r, 300));
      }
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setStopping(undefined);
    }
  };

  const now = Date.now();
  const active = (grants ?? []).filter((g) => !g.revokedAt && Date.parse(g.notAfter) > now);
  const ended = (grants ?? []).filter((g) => g.revokedAt || Date.parse(g.notAfter) <= now);

  return (
    <>
      <PageHeader title="Who can see what">
        Everyone you share with, and what they can see. Stopping takes effect as soon as the ledger records
        it.
      </PageHeader>
      {error ? (
        <Alert tone="danger" title="Something went wrong">
          {error}
        </Alert>
      ) : null}
      {stopped ? (
        <Alert tone="ok" title="Stopped">
          {stopped}
        </Alert>
      ) : null}
      {!grants && !error ? <Loading what="your sharing" /> : null}
      {grants && active.length === 0 ? (
        <Empty>
          You share your record with no one. <Link to="/patient/share">Share it</Link> when you want to.
        </Empty>
      ) : null}
      {active.length > 0 ? (
        <ul className="list" aria-label="Active sharing">
          {active.map((g) => (
            <li key={g.grantId} className="card stack" data-grant={g.grantId}>
              <div className="row">
                <Share2 size={18} aria-hidden="true" />
                <strong>{granteeText(g)}</strong>
                <Badge tone="ok">active</Badge>
              </div>
              <p>
                Sees {g.categories.map(categoryLabel).join(", ")} for{" "}
                {g.purposes.map(purposeLabel).join(", ")}, from {formatDate(g.notBefore)} until{" "}
                {formatDate(g.notAfter)}.
              </p>
              <div className="row">
                {g.categories
                  .filter((c) => SENSITIVE_CATEGORIES.includes(c))
                  .map((c) => (
                    <Badge key={c} tone="sensitive">
                      {categoryLabel(c)}
                    </Badge>
                  ))}
              </div>
              <div className="row">
                <Button
                  variant="danger"
                  onClick={() => void revoke(g)}
                  busy={stopping?.id === g.grantId}
                  disabled={stopping !== undefined}
                >
                  <Ban size={16} aria-hidden="true" /> Stop sharing
                </Button>
                {stopping?.id === g.grantId ? <span role="status">{stopping.stage}</span> : null}
              </div>
            </li>
          ))}
        </ul>
      ) : null}
      {ended.length > 0 ? (
        <section className="stack" aria-label="Ended sharing">
          <h2>Ended</h2>
          <ul className="list">
            {ended.map((g) => (
              <li key={g.grantId} className="card" data-grant={g.grantId}>
                <div className="row">
                  <strong>{granteeText(g)}</strong>
                  <Badge tone="neutral">
                    {g.revokedAt
                      ? `stopped ${formatDateTime(g.revokedAt)}`
                      : `ended ${formatDate(g.notAfter)}`}
                  </Badge>
                </div>
                <p className="muted">{g.categories.map(categoryLabel).join(", ")}</p>
              </li>
            ))}
          </ul>
        </section>
      ) : null}
    </>
  );
}
