/**
 * The public verifier (no sign-in): scan a health card's QR codes with the camera, or give a
 * picture of them, a `.smart-health-card` file, or pasted `shc:/` / `HC1:` text; the card is
 * verified here, in this browser, by the node's own verifier code against the issuers on the
 * ledger (a ledger cache kept for offline use, its age shown). A service worker keeps this page
 * and the last ledger cache, so it works offline once loaded. It only verifies what it is given:
 * it asks the node for nothing about anyone. Only a valid card's person and facts are shown: an
 * altered or revoked card proves nothing, so nothing it says is shown either.
 */
import { Camera, CameraOff, CheckCircle2, FileUp, HeartPulse, ShieldCheck, XCircle } from "lucide-react";
import { useCallback, useEffect, useRef, useState } from "react";
import { qrReader, type QrReader } from "../../lib/qrReader";
import { formatDate, formatDateTime } from "../../lib/format";
import { codeName } from "../../passport/codes";
import {
  isDccText,
  loadLedgerCache,
  verifyDccAtNode,
  verifyHere,
  type LoadedLedgerCache,
  type PassportReport,
} from "../../passport/verifier";
import { Alert, Badge, Button, Card, Loading, TextField } from "../../ui/components";

const CHECK_WORDS: Record<string, string> = {
  "payload-well-formed": "Well-formed",
  "issuer-trusted": "Issuer trusted",
  signature: "Signature",
  "key-not-revoked": "Key not revoked",
  "card-not-revoked": "Card not revoked",
  "not-before": "Not used before its time (nbf)",
  "not-expired": "Not expired",
  "content-valid": "FHIR content valid",
};

const REASON_WORDS: Record<string, string> = {
  signature_invalid: "the signature does not match: the card was altered or forged",
  untrusted_key: "no issuer on the ledger signs with this key",
  unknown_kid: "no trusted signer has this key",
  revoked: "the issuer revoked this card",
  key_revoked: "the issuer revoked the key that signed this card",
  key_expired: "the signer's certificate was not valid when it signed",
  expired: "the card has expired",
  not_yet_valid: "the card is not valid yet",
  decompression_failed: "the card's content is not compressed as the standard requires",
  malformed_shc_uri: "this is not a complete health card QR code",
  malformed_jws: "this is not a signed health card",
  malformed_payload: "the card's content is not as the standard requires",
  invalid_content: "the card's medical content is not valid",
  bad_prefix: "this is not an EU certificate",
  bad_base45: "the certificate's text is damaged",
  bad_compression: "the certificate's content is damaged",
  bad_cose_structure: "the certificate's signature structure is damaged",
};

function age(readAt: string): string {
  const seconds = Math.max(0, Math.round((Date.now() - Date.parse(readAt)) / 1000));
  if (seconds === 1) return "1 second";
  if (seconds < 90) return `${seconds} seconds`;
  if (seconds < 90 * 60) return `${Math.round(seconds / 60)} minutes`;
  if (seconds < 36 * 3600) return `${Math.round(seconds / 3600)} hours`;
  return `${Math.round(seconds / 86400)} days`;
}

/** `shc:/i/n/…` chunks seen so far, until all n are there. */
function chunkState(texts: readonly string[]): { total: number; have: number } {
  const seen = new Set<number>();
  let total = 1;
  for (const text of texts) {
    const match = /^shc:\/(\d+)\/(\d+)\//i.exec(text);
    if (match) {
      total = Number(match[2]);
      seen.add(Number(match[1]));
    } else if (/^shc:\//i.test(text)) seen.add(1);
  }
  return { total, have: seen.size };
}

function Report({ report, where }: { report: PassportReport; where: string }) {
  const valid = report.valid;
  return (
    <section className={`card verdict ${valid ? "valid" : "invalid"}`} aria-label="Verification result">
      <h2 className="verdict-title">
        {valid ? <CheckCircle2 size={28} aria-hidden="true" /> : <XCircle size={28} aria-hidden="true" />}
        {valid ? "Valid" : "Not valid"}
      </h2>
      {!valid && report.reason ? (
        <p className="verdict-reason" data-reason={report.reason}>
          {report.reason === "revoked" ? <strong>Revoked: </strong> : null}
          {REASON_WORDS[report.reason] ?? report.reason}
        </p>
      ) : null}
      {!valid ? (
        <p className="muted">
          What the card says is not shown: it could not be trusted, so it proves nothing about anyone.
        </p>
      ) : null}
      {valid && report.patient ? (
        <dl className="verdict-person">
          <dt>Name</dt>
          <dd>{report.patient.name}</dd>
          <dt>Birth date</dt>
          <dd>{report.patient.birthDate ? formatDate(report.patient.birthDate) : "not given"}</dd>
        </dl>
      ) : null}
      {valid && report.facts.length > 0 ? (
        <>
          <h3>{report.facts.some((f) => f.kind === "test") ? "Results" : "Vaccinations"}</h3>
          <ul className="list">
            {report.facts.map((fact, i) => (
              <li key={i}>
                <strong>{codeName(fact)}</strong>
                {fact.result ? <>: {fact.result}</> : null}
                <span className="muted">
                  {" "}
                  · {fact.date ? formatDate(fact.date) : "no date"}
                  {fact.lotNumber ? ` · lot ${fact.lotNumber}` : ""}
                </span>
              </li>
            ))}
          </ul>
        </>
      ) : null}
      <h3>Checks</h3>
      <ul className="checks">
        {report.checks.map((check) => (
          <li key={check.name} data-check={check.name} data-status={check.status}>
            <Badge tone={check.status === "pass" ? "ok" : check.status === "fail" ? "danger" : "neutral"}>
              {check.status === "pass" ? "pass" : check.status === "fail" ? "FAIL" : "not checked"}
            </Badge>{" "}
            {CHECK_WORDS[check.name] ?? check.name}
            {check.name === "issuer-trusted" && check.status === "pass" && report.issuer.name ? (
              <span className="muted"> — {report.issuer.name}</span>
            ) : null}
            {check.status === "fail" && check.reason ? (
              <span className="muted"> — {REASON_WORDS[check.reason] ?? check.reason}</span>
            ) : null}
          </li>
        ))}
      </ul>
      <p className="muted">{where}</p>
    </section>
  );
}

export default function Verifier() {
  const [ledger, setLedger] = useState<LoadedLedgerCache | undefined | null>(null);
  const [results, setResults] = useState<{ reports: PassportReport[]; where: string } | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [pasted, setPasted] = useState("");
  const [scanning, setScanning] = useState(false);
  const [scanned, setScanned] = useState<string[]>([]);
  const [offlineReady, setOfflineReady] = useState(false);
  const video = useRef<HTMLVideoElement>(null);
  const reader = useRef<QrReader | undefined>(undefined);

  useEffect(() => {
    document.title = "Verify a health card · carechain";
    void loadLedgerCache().then(setLedger);
    if ("serviceWorker" in navigator) {
      navigator.serviceWorker
        .register("/verify-sw.js", { scope: "/verify" })
        .then(() => navigator.serviceWorker.ready)
        .then(() => setOfflineReady(true))
        .catch(() => setOfflineReady(false));
    }
  }, []);

  const verify = useCallback(
    async (texts: string[]) => {
      setError(undefined);
      setResults(undefined);
      const cards = texts.map((t) => t.trim()).filter((t) => t.length > 0);
      if (cards.length === 0)
        return setError("Give a health card: scan it, pick a picture or a file, or paste it.");
      const dcc = cards.filter(isDccText);
      const shc = cards.filter((t) => !isDccText(t));
      try {
        const reports: PassportReport[] = [];
        let where = "";
        if (shc.length > 0) {
          const current = ledger ?? (await loadLedgerCache());
          if (!current) throw new Error("No list of trusted issuers yet: open this page once while online.");
          reports.push(...verifyHere(shc, current.cache));
          where = `Verified in this browser against the issuers on the ledger as read ${age(current.cache.readAt)} ago (${formatDateTime(current.cache.readAt)}).`;
        }
        if (dcc.length > 0) {
          for (const text of dcc) reports.push(...(await verifyDccAtNode(text)));
          where += " EU certificates were verified by the node.";
        }
        setResults({ reports, where: where.trim() });
      } catch (e) {
        setError(e instanceof Error ? e.message : "Verification failed.");
      }
    },
    [ledger],
  );

  // the camera: read frames until every chunk of a card is in
  useEffect(() => {
    if (!scanning) return;
    let stream: MediaStream | undefined;
    let stopped = false;
    const found: string[] = [];
    const run = async () => {
      try {
        stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
        if (stopped || !video.current) return;
        video.current.srcObject = stream;
        await video.current.play();
        reader.current ??= await qrReader();
        while (!stopped) {
          for (const text of await reader.current.detect(video.current)) {
            if (!found.includes(text)) {
              found.push(text);
              setScanned([...found]);
            }
          }
          const { total, have } = chunkState(found);
          if (found.some(isDccText) || (found.length > 0 && have >= total)) {
            setScanning(false);
            await verify(found.filter((t) => isDccText(t) || /^shc:\//i.test(t)));
            return;
          }
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
      } catch {
        setError(
          "The camera is not available here. Give a picture of the code, the file, or paste it instead.",
        );
        setScanning(false);
      }
    };
    void run();
    return () => {
      stopped = true;
      for (const track of stream?.getTracks() ?? []) track.stop();
    };
  }, [scanning, verify]);

  const fromFiles = async (files: FileList | null) => {
    if (!files || files.length === 0) return;
    setError(undefined);
    const texts: string[] = [];
    for (const file of Array.from(files)) {
      if (file.type.startsWith("image/")) {
        reader.current ??= await qrReader();
        const bitmap = await createImageBitmap(file);
        const found = await reader.current.detect(bitmap);
        bitmap.close();
        if (found.length === 0) return setError(`No QR code could be read in ${file.name}.`);
        texts.push(...found);
      } else texts.push(await file.text());
    }
    await verify(texts);
  };

  const { total, have } = chunkState(scanned);
  return (
    <div className="verifier">
      <header className="topbar">
        <span className="brand">
          <HeartPulse size={22} aria-hidden="true" /> carechain
        </span>
        <span className="whoami">Health card verifier</span>
      </header>
      <main id="main" className="main stack">
        <header className="stack">
          <h1>Verify a health card</h1>
          <p className="muted">
            Checks a SMART Health Card (or an EU Digital COVID Certificate) and shows only what it proves: the
            person's name and birth date, and the vaccinations or test results on it.
          </p>
        </header>
        {ledger === null ? <Loading what="the trusted issuers" /> : null}
        {ledger === undefined ? (
          <Alert tone="danger" title="No list of trusted issuers">
            The node could not be reached and none was kept from before. Open this page once while online.
          </Alert>
        ) : null}
        {ledger ? (
          <Alert
            tone={ledger.fresh ? "info" : "warn"}
            title={ledger.fresh ? "Issuers read from the ledger" : "Offline"}
          >
            <span data-testid="ledger-age">
              Trusted issuers as the ledger listed them {age(ledger.cache.readAt)} ago (
              {formatDateTime(ledger.cache.readAt)}).
            </span>{" "}
            {ledger.fresh ? null : "Revocations since then are not seen."}{" "}
            {offlineReady ? (
              <span>
                <ShieldCheck size={16} aria-hidden="true" /> This page works offline.
              </span>
            ) : null}
          </Alert>
        ) : null}

        <div className="grid">
          <Card title="Scan">
            {scanning ? (
              <>
                <video ref={video} className="scanner" muted playsInline aria-label="Camera view" />
                <p role="status">
                  {scanned.length === 0
                    ? "Point the camera at the QR code."
                    : `Read code ${have} of ${total}; show the next one.`}
                </p>
                <Button variant="secondary" onClick={() => setScanning(false)}>
                  <CameraOff size={18} aria-hidden="true" /> Stop
                </Button>
              </>
            ) : (
              <Button
                onClick={() => {
                  setScanned([]);
                  setScanning(true);
                }}
              >
                <Camera size={18} aria-hidden="true" /> Scan with the camera
              </Button>
            )}
          </Card>
          <Card title="Picture or file">
            <div className="field">
              <label htmlFor="verify-files">QR code pictures or a .smart-health-card file</label>
              <span className="hint">For a card of several codes, pick all the pictures.</span>
              <input
                id="verify-files"
                type="file"
                multiple
                accept="image/*,.smart-health-card,application/smart-health-card,.json,.txt"
                onChange={(e) => void fromFiles(e.target.files)}
              />
            </div>
            <p className="muted">
              <FileUp size={16} aria-hidden="true" /> Nothing is uploaded: the file is read in this browser.
            </p>
          </Card>
          <Card title="Paste">
            <TextField
              label="Card text"
              hint="shc:/… (one line per code), HC1:…, or the card's JWS"
              value={pasted}
              onChange={setPasted}
              multiline
            />
            <p>
              <Button onClick={() => void verify(pasted.split(/\s+(?=shc:\/|HC1:)/i))}>Verify</Button>
            </p>
          </Card>
        </div>

        {error ? (
          <Alert tone="danger" title="Cannot verify">
            {error}
          </Alert>
        ) : null}
        {results?.reports.map((report, i) => (
          <Report key={i} report={report} where={results.where} />
        ))}
      </main>
    </div>
  );
}
