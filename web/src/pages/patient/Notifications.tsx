/** Notifications: emergency access, accesses and refusals the settings ask for, referrals; live. */
import { Bell, CheckCheck, ShieldAlert } from "lucide-react";
import { useEffect, useState } from "react";
import { messageOf } from "../../api/client";
import { useSession } from "../../auth/session";
import { formatDateTime, purposeLabel, shortAccount } from "../../lib/format";
import { Alert, Badge, Button, Empty, Loading, PageHeader } from "../../ui/components";

interface Notification {
  id: string;
  kind: string;
  createdAt: string;
  readAt: string | null;
  detail: Record<string, unknown> | null;
}

function describe(n: Notification): string {
  const d = n.detail ?? {};
  const by = typeof d.by === "string" ? shortAccount(d.by) : "someone";
  if (n.kind === "break-glass") return `Emergency access to your record was opened by ${by}.`;
  if (n.kind === "access")
    return `${by} used your record${typeof d.purpose === "string" ? ` for ${purposeLabel(d.purpose)}` : ""}.`;
  if (n.kind === "denial") return `${by} was refused access to your record.`;
  if (n.kind === "referral-requested" || n.kind === "referral-received")
    return "You were referred to another organization.";
  if (n.kind === "new-data" || n.kind === "record-added") return "New information was added to your record.";
  return `Notification: ${n.kind}.`;
}

export default function Notifications() {
  const { api } = useSession();
  const [list, setList] = useState<Notification[] | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [live, setLive] = useState(false);

  useEffect(() => {
    api
      .get<{ notifications: Notification[] }>("/patients/me/notifications")
      .then((r) => setList(r.notifications))
      .catch((e: unknown) => setError(messageOf(e)));
    const stop = new AbortController();
    setLive(true);
    api
      .stream(
        "/patients/me/notifications/stream",
        (event) => {
          if (event.event !== "notification") return;
          try {
            const n = JSON.parse(event.data) as Notification;
            setList((old) => (old?.some((o) => o.id === n.id) ? old : [n, ...(old ?? [])]));
          } catch {
            // a malformed event is skipped
          }
        },
        stop.signal,
      )
      .catch(() => undefined)
      .finally(() => setLive(false));
    return () => stop.abort();
  }, [api]);

  const markAll = async () => {
    try {
      await api.send("POST", "/patients/me/notifications/read", { all: true });
      setList((old) => old?.map((n) => ({ ...n, readAt: n.readAt ?? new Date().toISOString() })));
    } catch (e) {
      setError(messageOf(e));
    }
  };

  const unread = (list ?? []).filter((n) => n.readAt === null).length;
  return (
    <>
      <PageHeader title="Notifications">
        What happened to your record that you asked to hear about.{" "}
        {live ? "New ones appear here as they happen." : ""}
      </PageHeader>
      {error ? (
        <Alert tone="danger" title="Notifications could not be loaded">
          {error}
        </Alert>
      ) : null}
      {!list && !error ? <Loading what="your notifications" /> : null}
      {list && list.length === 0 ? <Empty>No notifications yet.</Empty> : null}
      {unread > 0 ? (
        <div>
          <Button variant="secondary" onClick={() => void markAll()}>
            <CheckCheck size={16} aria-hidden="true" /> Mark all {unread} as read
          </Button>
        </div>
      ) : null}
      {list && list.length > 0 ? (
        <ul className="list" aria-label="Notifications">
          {list.map((n) => (
            <li key={n.id} className="card row">
              {n.kind === "break-glass" ? (
                <ShieldAlert size={20} aria-hidden="true" />
              ) : (
                <Bell size={20} aria-hidden="true" />
              )}
              <div>
                <strong>{describe(n)}</strong>
                <div className="muted">{formatDateTime(n.createdAt)}</div>
              </div>
              {n.readAt === null ? <Badge tone="warn">new</Badge> : null}
              {n.kind === "break-glass" ? <Badge tone="danger">emergency</Badge> : null}
            </li>
          ))}
        </ul>
      ) : null}
    </>
  );
}
