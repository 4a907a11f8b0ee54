/**
 * My vitals: the patient's own readings from their home devices, charted per vital with the NEWS2
 * score over time; their devices (add one with a key made in this browser, stop one); and who
 * watches: everyone their consent lets see vital signs or device readings, with the way to change it.
 */
import { Eye, MonitorSmartphone, Plus, Ban } from "lucide-react";
import { useCallback, useEffect, useState } from "react";
import { Link } from "react-router";
import { messageOf } from "../../api/client";
import { useApiGet } from "../../api/useApiGet";
import { useSession } from "../../auth/session";
import type { GrantView } from "../../consent/grant";
import { allResources } from "../../lib/fhir";
import { categoryLabel, formatDate, formatDateTime, purposeLabel, shortAccount } from "../../lib/format";
import {
  Alert,
  Badge,
  Button,
  Card,
  Dialog,
  Empty,
  Loading,
  PageHeader,
  SelectField,
} from "../../ui/components";
import { COLORS, TimeChart, type Line } from "../monitoring/charts";
import {
  ACVPU_WORDS,
  RISK_WORDS,
  VITAL_LABELS,
  lastValue,
  riskTone,
  type QuantityKind,
  type VitalsView,
} from "../monitoring/vitals";

interface DeviceView {
  id: string;
  status: "active" | "inactive";
  deviceName?: Array<{ name: string }>;
  meta?: { lastUpdated?: string };
}

const WATCHED = ["vitals", "device-readings"];
const CHARTED: QuantityKind[][] = [
  ["heart-rate"],
  ["respiratory-rate"],
  ["spo2"],
  ["systolic", "diastolic"],
  ["temperature"],
  ["glucose"],
  ["oxygen-flow"],
];

function watcherText(g: GrantView): string {
  if (g.grantee.kind === "practitioner") return `Practitioner ${shortAccount(`0x${g.grantee.id.slice(26)}`)}`;
  if (g.grantee.kind === "organization") return `Everyone at organization ${shortAccount(g.grantee.id)}`;
  return `A role at organization ${shortAccount(g.grantee.id)}`;
}

function rangeText(v: number[], unit: string): string {
  if (v.length === 0) return "no readings in this period";
  const last = Math.round((v[v.length - 1] as number) * 10) / 10;
  const lo = Math.round(Math.min(...v) * 10) / 10;
  const hi = Math.round(Math.max(...v) * 10) / 10;
  return `latest ${last} ${unit}; between ${lo} and ${hi} in this period`;
}

/** A P-256 key pair made in the browser: the public key for the node, the private key for the device. */
async function newDeviceKey(): Promise<{ publicJwk: object; privatePem: string }> {
  const pair = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
    "sign",
    "verify",
  ]);
  const jwk = await crypto.subtle.exportKey("jwk", pair.publicKey);
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", pair.privateKey));
  const b64 = btoa(String.fromCharCode(...pkcs8));
  const lines = b64.match(/.{1,64}/g) ?? [];
  return {
    publicJwk: { kty: "EC", crv: "P-256", x: jwk.x, y: jwk.y },
    privatePem: `-----BEGIN PRIVATE KEY-----\n${lines.join("\n")}\n-----END PRIVATE KEY-----\n`,
  };
}

export default function MyVitals() {
  const { api } = useSession();
  const [patientId, setPatientId] = useState<string | undefined>();
  const [minutes, setMinutes] = useState<"60" | "360" | "1440">("60");
  const [vitals, setVitals] = useState<VitalsView | undefined>();
  const [devices, setDevices] = useState<DeviceView[] | undefined>();
  const { value: watchers, error: watchersError } = useApiGet("/consents", (body: { grants: GrantView[] }) =>
    body.grants.filter(
      (g) =>
        !g.revokedAt && Date.parse(g.notAfter) > Date.now() && g.categories.some((c) => WATCHED.includes(c)),
    ),
  );
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState<string | undefined>();
  const [newKey, setNewKey] = useState<{ id: string; pem: string } | undefined>();

  useEffect(() => {
    allResources(api, "/fhir/Patient")
      .then((patients) => setPatientId(patients[0]?.id ?? ""))
      .catch((e: unknown) => setError(messageOf(e)));
  }, [api]);

  const loadDevices = useCallback(async () => {
    if (!patientId) return;
    setDevices(await api.get<DeviceView[]>(`/monitoring/devices?patient=${encodeURIComponent(patientId)}`));
  }, [api, patientId]);

  useEffect(() => {
    if (!patientId) return;
    let stop = false;
    const load = () =>
      api
        .get<VitalsView>(`/monitoring/patients/${encodeURIComponent(patientId)}/vitals?minutes=${minutes}`)
        .then((v) => !stop && setVitals(v))
        .catch((e: unknown) => !stop && setError(messageOf(e)));
    void load();
    loadDevices().catch((e: unknown) => setError(messageOf(e)));
    // new readings arrive every few seconds; the charts follow every half minute
    const timer = setInterval(() => void load(), 30_000);
    return () => {
      stop = true;
      clearInterval(timer);
    };
  }, [api, patientId, minutes, loadDevices]);

  const addDevice = async () => {
    if (!patientId) return;
    setBusy("add");
    setError(undefined);
    try {
      const key = await newDeviceKey();
      const made = await api.send<{ deviceId: string }>("POST", "/monitoring/devices", {
        patient: patientId,
        publicKey: key.publicJwk,
        model: "Home device",
      });
      setNewKey({ id: made.deviceId, pem: key.privatePem });
      await loadDevices();
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setBusy(undefined);
    }
  };

  const revoke = async (id: string) => {
    setBusy(id);
    setError(undefined);
    try {
      await api.send("POST", `/monitoring/devices/${encodeURIComponent(id)}/revoke`);
      await loadDevices();
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setBusy(undefined);
    }
  };

  const score = vitals?.latest.news2 ?? null;
  // supplemental oxygen is charted only when some was given; otherwise the summary says "room air"
  const onAir = !vitals?.vitals["oxygen-flow"]?.v.some((v) => v > 0);
  const charts = vitals
    ? CHARTED.filter(
        (kinds) =>
          kinds.some((k) => (vitals.vitals[k]?.t.length ?? 0) > 0) && !(kinds[0] === "oxygen-flow" && onAir),
      )
    : [];

  return (
    <>
      <PageHeader title="My vitals">The readings your home devices send, and who may see them.</PageHeader>
      {error || watchersError ? (
        <Alert tone="danger" title="Something went wrong">
          {error ?? watchersError}
        </Alert>
      ) : null}
      {patientId === "" ? (
        <Empty>This node holds no record of yours yet, so it keeps no vitals for you.</Empty>
      ) : null}

      <Card title="Who watches">
        {!watchers && !watchersError ? <Loading what="who can see your vitals" /> : null}
        {watchers && watchers.length === 0 ? (
          <p>Nobody: you share your vital signs and device readings with no one.</p>
        ) : null}
        {watchers && watchers.length > 0 ? (
          <ul className="list" aria-label="Who can see your vitals">
            {watchers.map((g) => (
              <li key={g.grantId} className="row">
                <Eye size={18} aria-hidden="true" />
                <strong>{watcherText(g)}</strong>
                <span>
                  sees{" "}
                  {g.categories
                    .filter((c) => WATCHED.includes(c))
                    .map(categoryLabel)
                    .join(" and ")}{" "}
                  for {g.purposes.map(purposeLabel).join(", ")}, until {formatDate(g.notAfter)}
                </span>
              </li>
            ))}
          </ul>
        ) : null}
        <p>
          Those who see your vitals are also the care team that is alerted when your readings show you are
          getting worse. <Link to="/patient/sharing">Change who can see your vitals</Link> or{" "}
          <Link to="/patient/share">share them with someone</Link>.
        </p>
      </Card>

      {patientId ? (
        <section className="stack" aria-label="Readings">
          <div className="row">
            <h2>Readings</h2>
            <SelectField
              label="Period"
              value={minutes}
              onChange={setMinutes}
              options={[
                { value: "60", label: "Last hour" },
                { value: "360", label: "Last 6 hours" },
                { value: "1440", label: "Last 24 hours" },
              ]}
            />
          </div>
          {!vitals ? <Loading what="your readings" /> : null}
          {vitals && charts.length === 0 ? <Empty>No readings in this period.</Empty> : null}
          {vitals && charts.length > 0 ? (
            <>
              <div className="card row">
                <div className={`score ${riskTone(score?.risk)}`} aria-hidden="true">
                  <span className="total">{score ? score.total : "–"}</span>
                  <span className="risk">NEWS2</span>
                </div>
                <div>
                  <strong>
                    {score
                      ? `Early warning score (NEWS2): ${score.total}, ${RISK_WORDS[score.risk]}`
                      : "Early warning score (NEWS2): not enough recent readings"}
                  </strong>
                  <div className="muted">
                    {score ? `Worked out ${formatDateTime(score.at)}. ` : ""}
                    {vitals.latest.acvpu
                      ? `Consciousness: ${ACVPU_WORDS[vitals.latest.acvpu.value] ?? vitals.latest.acvpu.value}. `
                      : ""}
                    {vitals.vitals["oxygen-flow"] && onAir ? "Breathing room air (no oxygen given). " : ""}
                    {vitals.latest.readingAt
                      ? `Last reading ${formatDateTime(vitals.latest.readingAt)}.`
                      : ""}
                  </div>
                </div>
              </div>
              <div className="charts">
                <div className="card">
                  <TimeChart
                    title="Early warning score (NEWS2)"
                    unit="points"
                    caption={rangeText(vitals.news2.v, "points")}
                    range={[0, 7]}
                    lines={[{ label: "NEWS2", t: vitals.news2.t, v: vitals.news2.v, color: COLORS[1] }]}
                  />
                </div>
                {charts.map((kinds) => {
                  const lines: Line[] = kinds.flatMap((k, i) => {
                    const s = vitals.vitals[k];
                    return s
                      ? [{ label: VITAL_LABELS[k].name, t: s.t, v: s.v, color: COLORS[i] ?? COLORS[0] }]
                      : [];
                  });
                  const first = kinds[0]!;
                  const title = kinds.length > 1 ? "Blood pressure" : VITAL_LABELS[first].name;
                  const unit = VITAL_LABELS[first].unit;
                  const caption =
                    kinds.length > 1
                      ? `latest ${lastValue(vitals.vitals.systolic) ?? "–"}/${lastValue(vitals.vitals.diastolic) ?? "–"} ${unit}`
                      : rangeText(vitals.vitals[first]?.v ?? [], unit);
                  return (
                    <div className="card" key={kinds.join("+")}>
                      <TimeChart
                        title={title}
                        unit={unit}
                        caption={caption}
                        lines={lines}
                        range={VITAL_LABELS[first].range}
                      />
                    </div>
                  );
                })}
              </div>
            </>
          ) : null}
        </section>
      ) : null}

      {patientId ? (
        <Card title="My devices">
          {!devices ? <Loading what="your devices" /> : null}
          {devices && devices.length === 0 ? <p>No device sends readings for you.</p> : null}
          {devices && devices.length > 0 ? (
            <ul className="list" aria-label="Devices">
              {devices.map((d) => (
                <li key={d.id} className="row">
                  <MonitorSmartphone size={18} aria-hidden="true" />
                  <strong>{d.deviceName?.[0]?.name ?? "Device"}</strong>
                  <span className="mono">{d.id}</span>
                  {d.status === "active" ? (
                    <Badge tone="ok">sending</Badge>
                  ) : (
                    <Badge tone="neutral">stopped {formatDate(d.meta?.lastUpdated)}</Badge>
                  )}
                  {d.status === "active" ? (
                    <Button
                      variant="danger"
                      small
                      busy={busy === d.id}
                      onClick={() => void revoke(d.id)}
                      label={`Stop device ${d.id}`}
                    >
                      <Ban size={16} aria-hidden="true" /> Stop
                    </Button>
                  ) : null}
                </li>
              ))}
            </ul>
          ) : null}
          <div>
            <Button variant="secondary" busy={busy === "add"} onClick={() => void addDevice()}>
              <Plus size={16} aria-hidden="true" /> Add a device
            </Button>
          </div>
          <p className="muted">
            A stopped device can send nothing more; what it sent stays part of your record.
          </p>
        </Card>
      ) : null}

      {newKey ? (
        <Dialog title="Your new device's key" onClose={() => setNewKey(undefined)}>
          <p>
            Device <span className="mono">{newKey.id}</span> is registered. Put this private key into the
            device (or <code>carechain monitor</code>); it signs every reading. It is shown only now and this
            node never holds it.
          </p>
          <label htmlFor="device-key">Private key</label>
          <textarea id="device-key" className="key-box" readOnly value={newKey.pem} />
          <div>
            <Button onClick={() => setNewKey(undefined)}>Done</Button>
          </div>
        </Dialog>
      ) : null}
    </>
  );
}
