/**
 * The issuer console (this node's operator, signed in with the node's key): register the issuer
 * on the ledger, rotate or revoke its signing keys, revoke a card it issued, and see its keys and
 * revocation lists as the ledger holds them (with crlVersion) and the ledger writes still pending
 * in the outbox. Refreshed every 3 seconds, so confirmations show as they land.
 */
import { Ban, KeyRound, RefreshCw, ShieldPlus, Stamp } from "lucide-react";
import { useEffect, useState } from "react";
import { Navigate, useLocation } from "react-router";
import { messageOf } from "../../api/client";
import { useApiGet } from "../../api/useApiGet";
import { useSession } from "../../auth/session";
import { formatDateTime } from "../../lib/format";
import { Alert, Badge, Button, Card, Dialog, Empty, Loading, PageHeader } from "../../ui/components";

interface IssuerState {
  iss: string;
  ledgerReadAt: string;
  ledger: { name: string; active: boolean } | null;
  keys: Array<{
    kid: string;
    status: string;
    ledgerStatus: string | null;
    revokedAt: string | null;
    crlVersion: number;
    revokedRids: string[];
  }>;
  cards: Array<{
    cardId: string;
    type: string;
    kid: string;
    rid: string;
    issuedAt: string;
    revokedAt: string | null;
  }>;
  writes: Array<{
    id: number;
    action: string;
    status: string;
    txHash: string | null;
    block: number | null;
    error: string | null;
    updatedAt: string;
  }>;
}

const shortKid = (kid: string): string => `${kid.slice(0, 10)}…`;
const STATUS_TONE: Record<string, "ok" | "warn" | "danger" | "neutral"> = {
  active: "ok",
  confirmed: "ok",
  retired: "neutral",
  pending: "warn",
  signed: "warn",
  revoked: "danger",
  failed: "danger",
};
const tone = (status: string | null) => STATUS_TONE[status ?? ""] ?? "neutral";

type Confirm = { what: string; path: string; done: string };

export default function Issuer() {
  const { identity } = useSession();
  const location = useLocation();
  if (!identity) return <Navigate to="/" replace state={{ from: location.pathname }} />;
  if (identity.kind !== "node")
    return (
      <>
        <PageHeader title="Issuer console" />
        <Alert tone="warn" title="Only this node's operator manages its issuer">
          Sign in with the node's own key (import its keystore) to register, rotate or revoke.
        </Alert>
      </>
    );
  return <IssuerConsole />;
}

function IssuerConsole() {
  const { api } = useSession();
  const {
    value: state,
    error,
    setError,
    reload,
  } = useApiGet("/passport/issuer", (body: IssuerState) => body);
  const [done, setDone] = useState<string | undefined>();
  const [busy, setBusy] = useState<string | undefined>();
  const [confirm, setConfirm] = useState<Confirm | undefined>();

  useEffect(() => {
    const timer = setInterval(() => void reload(), 3_000);
    return () => clearInterval(timer);
  }, [reload]);

  const act = async (path: string, what: string) => {
    setError(undefined);
    setDone(undefined);
    setBusy(path);
    try {
      await api.send("POST", path);
      setDone(what);
      await reload();
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setBusy(undefined);
    }
  };

  const pending = state?.writes.filter((w) => w.status === "pending" || w.status === "signed").length ?? 0;
  return (
    <>
      <PageHeader title="Issuer console">
        This node issues SMART Health Cards as <span className="mono">{state?.iss ?? "…"}</span>. Keys and
        revocations live on the ledger (CredentialRegistry); every change is a ledger write the node sends
        through its outbox.
      </PageHeader>
      {error ? (
        <Alert tone="danger" title="That did not work">
          {error}
        </Alert>
      ) : null}
      {done ? <Alert tone="ok" title={done} /> : null}
      {!state && !error ? <Loading what="the issuer's state" /> : null}
      {state ? (
        <>
          <Card title="On the ledger">
            <dl>
              <dt>Issuer</dt>
              <dd>
                {state.ledger ? (
                  <>
                    {state.ledger.name}{" "}
                    <Badge tone={state.ledger.active ? "ok" : "danger"}>
                      {state.ledger.active ? "registered" : "deactivated"}
                    </Badge>
                  </>
                ) : (
                  <Badge tone="warn">not registered</Badge>
                )}
              </dd>
              <dt>Ledger read</dt>
              <dd>{formatDateTime(state.ledgerReadAt)}</dd>
              <dt>Ledger writes waiting</dt>
              <dd>
                {pending} {pending > 0 ? <Badge tone="warn">pending</Badge> : null}
              </dd>
            </dl>
            <div className="row">
              <Button
                busy={busy === "/passport/issuer/register"}
                onClick={() => void act("/passport/issuer/register", "Registration sent to the ledger.")}
              >
                <Stamp size={18} aria-hidden="true" /> Register on the ledger
              </Button>
              <Button
                variant="secondary"
                busy={busy === "/passport/issuer/rotate-key"}
                disabled={!state.keys.some((k) => k.status === "active")}
                onClick={() =>
                  void act(
                    "/passport/issuer/rotate-key",
                    "New key made; the old one is retired on the ledger.",
                  )
                }
              >
                <RefreshCw size={18} aria-hidden="true" /> Rotate the signing key
              </Button>
              <Button
                variant="secondary"
                busy={busy === "/passport/issuer/approve"}
                onClick={() =>
                  void act(
                    "/passport/issuer/approve",
                    "Approval sent (it succeeds only from the governor's node).",
                  )
                }
              >
                <ShieldPlus size={18} aria-hidden="true" /> Approve this organization to issue
              </Button>
            </div>
            <p className="muted">
              An organization of kind issuer may register at once; any other kind needs the consortium
              governor's approval first (the governor's node can approve itself here).
            </p>
          </Card>

          <Card title="Signing keys and revocation lists">
            {state.keys.length === 0 ? (
              <Empty>No key yet: registering makes one.</Empty>
            ) : (
              <div className="table-wrap">
                <table>
                  <thead>
                    <tr>
                      <th scope="col">Key (kid)</th>
                      <th scope="col">On this node</th>
                      <th scope="col">On the ledger</th>
                      <th scope="col">crlVersion</th>
                      <th scope="col">Revoked cards (rid)</th>
                      <th scope="col">
                        <span className="visually-hidden">Action</span>
                      </th>
                    </tr>
                  </thead>
                  <tbody>
                    {state.keys.map((key) => (
                      <tr key={key.kid}>
                        <td className="mono" title={key.kid}>
                          {shortKid(key.kid)}
                        </td>
                        <td>
                          <Badge tone={tone(key.status)}>{key.status}</Badge>
                        </td>
                        <td>
                          <Badge tone={tone(key.ledgerStatus)}>{key.ledgerStatus ?? "not yet"}</Badge>
                          {key.revokedAt ? (
                            <div className="muted">{formatDateTime(key.revokedAt)}</div>
                          ) : null}
                        </td>
                        <td>{key.crlVersion}</td>
                        <td className="mono">
                          {key.revokedRids.length === 0 ? (
                            <span className="muted">none</span>
                          ) : (
                            key.revokedRids.join(", ")
                          )}
                        </td>
                        <td>
                          {key.status === "revoked" ? null : (
                            <Button
                              small
                              variant="danger"
                              label={`Revoke key ${shortKid(key.kid)}`}
                              onClick={() =>
                                setConfirm({
                                  what: `Revoke key ${shortKid(key.kid)}? Every card it signed stops verifying, for good.`,
                                  path: `/passport/issuer/keys/${key.kid}/revoke`,
                                  done: "Key revocation sent to the ledger.",
                                })
                              }
                            >
                              <KeyRound size={16} aria-hidden="true" /> Revoke key
                            </Button>
                          )}
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
          </Card>

          <Card title="Cards issued">
            {state.cards.length === 0 ? (
              <Empty>No card issued yet.</Empty>
            ) : (
              <div className="table-wrap">
                <table>
                  <thead>
                    <tr>
                      <th scope="col">Card</th>
                      <th scope="col">Type</th>
                      <th scope="col">Key</th>
                      <th scope="col">rid</th>
                      <th scope="col">Issued</th>
                      <th scope="col">State</th>
                      <th scope="col">
                        <span className="visually-hidden">Action</span>
                      </th>
                    </tr>
                  </thead>
                  <tbody>
                    {state.cards.map((card) => (
                      <tr key={card.cardId}>
                        <td className="mono">{card.cardId.slice(0, 8)}</td>
                        <td>{card.type}</td>
                        <td className="mono">{shortKid(card.kid)}</td>
                        <td className="mono">{card.rid}</td>
                        <td>{formatDateTime(card.issuedAt)}</td>
                        <td>
                          {card.revokedAt ? (
                            <Badge tone="danger">revoked</Badge>
                          ) : (
                            <Badge tone="ok">valid</Badge>
                          )}
                        </td>
                        <td>
                          {card.revokedAt ? null : (
                            <Button
                              small
                              variant="secondary"
                              label={`Revoke card ${card.cardId.slice(0, 8)}`}
                              onClick={() =>
                                setConfirm({
                                  what: `Revoke card ${card.cardId.slice(0, 8)}? Verifiers see it revoked once the ledger has it.`,
                                  path: `/passport/cards/${card.cardId}/revoke`,
                                  done: "Card revocation sent to the ledger.",
                                })
                              }
                            >
                              <Ban size={16} aria-hidden="true" /> Revoke card
                            </Button>
                          )}
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
          </Card>

          <Card title="Ledger writes (outbox)">
            {state.writes.length === 0 ? (
              <Empty>No ledger write yet.</Empty>
            ) : (
              <div className="table-wrap">
                <table>
                  <thead>
                    <tr>
                      <th scope="col">#</th>
                      <th scope="col">Write</th>
                      <th scope="col">State</th>
                      <th scope="col">Block</th>
                      <th scope="col">Updated</th>
                    </tr>
                  </thead>
                  <tbody>
                    {state.writes.map((write) => (
                      <tr key={write.id}>
                        <td>{write.id}</td>
                        <td className="mono">{write.action}</td>
                        <td>
                          <Badge tone={tone(write.status)}>{write.status}</Badge>
                          {write.error ? <div className="error">{write.error}</div> : null}
                        </td>
                        <td>{write.block ?? "—"}</td>
                        <td>{formatDateTime(write.updatedAt)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
          </Card>
        </>
      ) : null}
      {confirm ? (
        <Dialog title="Are you sure?" onClose={() => setConfirm(undefined)}>
          <p>{confirm.what}</p>
          <div className="row">
            <Button
              variant="danger"
              busy={busy === confirm.path}
              onClick={() => {
                const { path, done: message } = confirm;
                setConfirm(undefined);
                void act(path, message);
              }}
            >
              Revoke
            </Button>
            <Button variant="secondary" onClick={() => setConfirm(undefined)}>
              Cancel
            </Button>
          </div>
        </Dialog>
      ) : null}
    </>
  );
}
