/** Settings: emergency (break-glass) access, what to be told about, the key, and erasing the record. */
import { Download, Trash2 } from "lucide-react";
import { useEffect, useState } from "react";
import { messageOf } from "../../api/client";
import { exportKeystore } from "../../auth/keystoreFile";
import { useSession } from "../../auth/session";
import { allResources } from "../../lib/fhir";
import { Alert, Button, Card, Checkbox, Dialog, Loading, PageHeader, TextField } from "../../ui/components";

interface PatientSettings {
  breakGlassAllowed: boolean;
  notify: { breakGlass: boolean; denials: boolean; reads: boolean };
}

export default function Settings() {
  const { api, signer, signOut } = useSession();
  const [settings, setSettings] = useState<PatientSettings | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [saved, setSaved] = useState<string | undefined>();

  useEffect(() => {
    api
      .get<PatientSettings>("/patients/me/settings")
      .then(setSettings)
      .catch((e: unknown) => setError(messageOf(e)));
  }, [api]);

  const save = async (next: PatientSettings) => {
    setError(undefined);
    setSaved(undefined);
    try {
      setSettings(await api.send<PatientSettings>("PUT", "/patients/me/settings", next));
      setSaved("Saved.");
    } catch (e) {
      setError(messageOf(e));
    }
  };

  return (
    <>
      <PageHeader title="Settings" />
      {error ? (
        <Alert tone="danger" title="Not saved">
          {error}
        </Alert>
      ) : null}
      {saved ? <Alert tone="ok" title={saved} /> : null}
      {!settings && !error ? <Loading what="your settings" /> : null}
      {settings ? (
        <>
          <Card title="Emergency access (break-glass)">
            <p>
              In an emergency, a clinician without your permission could open your record for a short time,
              stating why. It never includes sensitive information, you are told at once, and it shows in your
              access log.
            </p>
            <Checkbox
              label="Allow emergency access to my record"
              checked={settings.breakGlassAllowed}
              onChange={(on) => void save({ ...settings, breakGlassAllowed: on })}
            />
          </Card>
          <Card title="Tell me when">
            <Checkbox
              label="Someone opens emergency access"
              checked={settings.notify.breakGlass}
              onChange={(on) => void save({ ...settings, notify: { ...settings.notify, breakGlass: on } })}
            />
            <Checkbox
              label="Someone is refused access"
              checked={settings.notify.denials}
              onChange={(on) => void save({ ...settings, notify: { ...settings.notify, denials: on } })}
            />
            <Checkbox
              label="Someone looks at my record"
              checked={settings.notify.reads}
              onChange={(on) => void save({ ...settings, notify: { ...settings.notify, reads: on } })}
            />
          </Card>
        </>
      ) : null}
      {signer?.privateKey ? <ExportKey privateKey={signer.privateKey} /> : null}
      <Erase onErased={signOut} />
    </>
  );
}

function ExportKey({ privateKey }: { privateKey: `0x${string}` }) {
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>();
  const download = async () => {
    setBusy(true);
    setError(undefined);
    try {
      if (password.length < 8) throw new Error("Choose a password of at least 8 characters.");
      const text = await exportKeystore(privateKey, password);
      const url = URL.createObjectURL(new Blob([text], { type: "application/json" }));
      const a = document.createElement("a");
      a.href = url;
      a.download = "carechain-key.json";
      a.click();
      URL.revokeObjectURL(url);
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Card title="Your key">
      <p>
        Download your key as an encrypted keystore file, to keep a copy or to use it with the carechain
        command line (<code>carechain --keystore carechain-key.json</code>, password in{" "}
        <code>CARECHAIN_PASSWORD</code>).
      </p>
      <TextField
        label="Password for the file"
        type="password"
        value={password}
        onChange={setPassword}
        autoComplete="new-password"
      />
      {error ? <Alert tone="danger">{error}</Alert> : null}
      <div>
        <Button variant="secondary" onClick={() => void download()} busy={busy}>
          <Download size={16} aria-hidden="true" /> Download keystore file
        </Button>
      </div>
    </Card>
  );
}

function Erase({ onErased }: { onErased: () => void }) {
  const { api } = useSession();
  const [open, setOpen] = useState(false);
  const [typed, setTyped] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>();
  const [done, setDone] = useState(false);
  const erase = async () => {
    setBusy(true);
    setError(undefined);
    try {
      const patients = await allResources(api, "/fhir/Patient");
      for (const p of patients)
        await api.send("POST", `/fhir/Patient/${encodeURIComponent(p.id)}/$erase`, {});
      setDone(true);
      setOpen(false);
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Card title="Erase my data">
      {done ? (
        <Alert tone="ok" title="Your record at this node is erased">
          It cannot be read by anyone any more, including you.{" "}
          <Button small variant="secondary" onClick={onErased}>
            Sign out
          </Button>
        </Alert>
      ) : (
        <>
          <p>Erase everything this node holds about you. This cannot be undone.</p>
          <div>
            <Button variant="danger" onClick={() => setOpen(true)}>
              <Trash2 size={16} aria-hidden="true" /> Erase my data…
            </Button>
          </div>
        </>
      )}
      {open ? (
        <Dialog title="Erase your record at this node?" onClose={() => setOpen(false)}>
          <p>What this means:</p>
          <ul>
            <li>
              Your record here is destroyed by deleting its encryption keys. No one can read it again, not
              you, not the hospital, not us.
            </li>
            <li>
              People you shared with lose access to it. Copies other organizations already hold are theirs to
              erase: ask them too.
            </li>
            <li>
              The access log stays (the law and your own proof need it), but the details of what was seen are
              removed; only the fact that an access happened remains.
            </li>
            <li>This cannot be undone.</li>
          </ul>
          <TextField label='Type "erase" to confirm' value={typed} onChange={setTyped} />
          {error ? (
            <Alert tone="danger" title="Not erased">
              {error}
            </Alert>
          ) : null}
          <div className="row">
            <Button
              variant="danger"
              disabled={typed.trim().toLowerCase() !== "erase"}
              busy={busy}
              onClick={() => void erase()}
            >
              Erase my record
            </Button>
            <Button variant="secondary" onClick={() => setOpen(false)}>
              Keep my record
            </Button>
          </div>
        </Dialog>
      ) : null}
    </Card>
  );
}
