/**
 * Find a patient: by name or identifier among the patients this node lets me see (FHIR Patient
 * search), by account, or by scanning the QR code of the patient's account (camera or a photo).
 */
import { Camera, ImageUp } from "lucide-react";
import { useEffect, useRef, useState, type FormEvent } from "react";
import { useNavigate } from "react-router";
import { messageOf } from "../../api/client";
import { useSession } from "../../auth/session";
import { allResources, type Resource } from "../../lib/fhir";
import { formatDate, shortAccount } from "../../lib/format";
import { Alert, Button, Empty, Loading, PageHeader, TextField } from "../../ui/components";
import { ACCOUNT_RE, accountIn, choosePatient } from "./currentPatient";
import { qrReader, type QrReader } from "../../lib/qrReader";

const ACCOUNT_SYSTEM = "https://carechain.dev/fhir/sid/account";

interface Found {
  id: string;
  name: string;
  birthDate?: string;
  account?: `0x${string}`;
}

function found(r: Resource): Found {
  const names = (r.name as Array<{ text?: string; given?: string[]; family?: string }> | undefined) ?? [];
  const n = names[0];
  const name = n?.text ?? [...(n?.given ?? []), n?.family ?? ""].join(" ").trim();
  const ids = (r.identifier as Array<{ system?: string; value?: string }> | undefined) ?? [];
  const account = ids.find((i) => i.system === ACCOUNT_SYSTEM && ACCOUNT_RE.test(i.value ?? ""))?.value;
  return {
    id: r.id,
    name: name || "Name not shown",
    ...(typeof r.birthDate === "string" ? { birthDate: r.birthDate } : {}),
    ...(account ? { account: account as `0x${string}` } : {}),
  };
}

export default function FindPatient() {
  const { api, identity } = useSession();
  const navigate = useNavigate();
  const [tab, setTab] = useState<"search" | "account" | "scan">("search");
  const [query, setQuery] = useState("");
  const [results, setResults] = useState<Found[] | undefined>();
  const [account, setAccount] = useState("");
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);

  const open = (p: { account: `0x${string}`; patientId?: string; name?: string }) => {
    choosePatient(p, identity?.account ?? "");
    void navigate("/clinic/patient");
  };

  const search = async (e: FormEvent) => {
    e.preventDefault();
    setError(undefined);
    const q = query.trim();
    if (q === "") return setError("Type a name or an identifier.");
    setBusy(true);
    try {
      // a name, or an identifier (a medical record number: has a digit and no space)
      const param = /\d/.test(q) && !/\s/.test(q) ? "identifier" : "name";
      const list = await allResources(api, `/fhir/Patient?${param}=${encodeURIComponent(q)}&_count=50`, {
        max: 50,
      });
      setResults(list.filter((r) => r.resourceType === "Patient").map(found));
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  };

  const byAccount = (e: FormEvent) => {
    e.preventDefault();
    const a = accountIn(account);
    if (!a) return setError("An account is 0x followed by 40 hexadecimal characters.");
    open({ account: a });
  };

  return (
    <>
      <PageHeader title="Find a patient">
        Search the patients you may see here, type their account, or scan the QR code of their account.
      </PageHeader>
      <div className="tabs" role="tablist" aria-label="How to find the patient">
        {(
          [
            ["search", "Name or identifier"],
            ["account", "Account"],
            ["scan", "Scan QR code"],
          ] as const
        ).map(([value, label]) => (
          <button
            key={value}
            type="button"
            role="tab"
            aria-selected={tab === value}
            onClick={() => {
              setTab(value);
              setError(undefined);
            }}
          >
            {label}
          </button>
        ))}
      </div>
      {error ? (
        <Alert tone="danger" title="Could not find the patient">
          {error}
        </Alert>
      ) : null}
      {tab === "search" ? (
        <form className="card stack" onSubmit={(e) => void search(e)}>
          <TextField
            label="Name or identifier"
            type="search"
            value={query}
            onChange={setQuery}
            hint="Only patients whose details you may see here are found."
          />
          <div>
            <Button type="submit" busy={busy}>
              Search
            </Button>
          </div>
        </form>
      ) : null}
      {tab === "search" && results ? (
        results.length === 0 ? (
          <Empty>No patient you may see matches. Try their account instead.</Empty>
        ) : (
          <ul className="list" aria-label="Patients found">
            {results.map((p) => (
              <li key={p.id} className="card row">
                <strong>{p.name}</strong>
                {p.birthDate ? <span className="muted">born {formatDate(p.birthDate)}</span> : null}
                {p.account ? <span className="mono muted">{shortAccount(p.account)}</span> : null}
                {p.account ? (
                  <Button small onClick={() => open({ account: p.account!, patientId: p.id, name: p.name })}>
                    Open
                  </Button>
                ) : (
                  <span className="muted">no account linked: consent cannot name them yet</span>
                )}
              </li>
            ))}
          </ul>
        )
      ) : null}
      {tab === "account" ? (
        <form className="card stack" onSubmit={byAccount}>
          <TextField
            label="Patient's account"
            value={account}
            onChange={setAccount}
            hint="0x followed by 40 hexadecimal characters"
          />
          <div>
            <Button type="submit">Open</Button>
          </div>
        </form>
      ) : null}
      {tab === "scan" ? <Scanner onAccount={(a) => open({ account: a })} /> : null}
    </>
  );
}

/** Reads a QR code with the camera, or from a photo (src/lib/qrReader.ts). */
function Scanner({ onAccount }: { onAccount: (account: `0x${string}`) => void }) {
  const video = useRef<HTMLVideoElement>(null);
  const [state, setState] = useState<"idle" | "scanning">("idle");
  const [problem, setProblem] = useState<string | undefined>();
  const [reader, setReader] = useState<QrReader | undefined>();
  useEffect(() => {
    qrReader()
      .then(setReader)
      .catch(() => setProblem("QR codes cannot be read in this browser. Type the account instead."));
  }, []);

  useEffect(() => {
    if (state !== "scanning") return;
    let stream: MediaStream | undefined;
    let stopped = false;
    const run = async () => {
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
      if (!video.current) return;
      video.current.srcObject = stream;
      await video.current.play();
      while (!stopped && reader) {
        const codes = await reader.detect(video.current);
        const account = codes.map(accountIn).find(Boolean);
        if (account) return onAccount(account);
        await new Promise((r) => setTimeout(r, 250));
      }
    };
    run().catch(() => {
      setProblem("The camera could not be used. Allow it, or upload a photo of the QR code.");
      setState("idle");
    });
    return () => {
      stopped = true;
      stream?.getTracks().forEach((t) => t.stop());
    };
  }, [state, onAccount, reader]);

  const fromFile = async (file: File | undefined) => {
    if (!file || !reader) return;
    try {
      const codes = await reader.detect(await createImageBitmap(file));
      const account = codes.map(accountIn).find(Boolean);
      if (account) onAccount(account);
      else setProblem("No account QR code was found in this picture.");
    } catch {
      setProblem("This picture could not be read.");
    }
  };

  if (!reader && !problem) return <Loading what="the QR code reader" />;
  return (
    <div className="card stack">
      {problem ? <Alert tone="warn">{problem}</Alert> : null}
      <div className="row">
        <Button onClick={() => setState(state === "scanning" ? "idle" : "scanning")}>
          <Camera size={18} aria-hidden="true" />{" "}
          {state === "scanning" ? "Stop the camera" : "Use the camera"}
        </Button>
        <label className="btn secondary">
          <ImageUp size={18} aria-hidden="true" /> Upload a photo
          <input
            type="file"
            accept="image/*"
            className="visually-hidden"
            onChange={(e) => void fromFile(e.target.files?.[0])}
          />
        </label>
      </div>
      {state === "scanning" ? (
        <video ref={video} muted playsInline aria-label="Camera" style={{ maxWidth: "100%" }} />
      ) : null}
    </div>
  );
}
