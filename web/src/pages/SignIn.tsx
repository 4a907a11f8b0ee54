/**
 * Sign-in: a key held in this browser (create, import a private key or a CLI keystore file, or
 * unlock one stored here), a browser wallet when one is injected, or, on a demo node only, one
 * click as a demo identity. Every way ends in the same SIWE exchange with the node.
 */
import { FlaskConical, KeyRound, Wallet } from "lucide-react";
import { useEffect, useState } from "react";
import { useLocation, useNavigate } from "react-router";
import type { Hex } from "viem";
import { messageOf, publicConfig, type PublicConfig } from "../api/client";
import { homeOf } from "../lib/home";
import { listKeys, storeKey, unlockKey, type StoredKey } from "../auth/keyVault";
import { useSession, type SignInAs } from "../auth/session";
import { injectedWallet, localSigner, walletSigner, type Signer } from "../auth/signer";
import { shortAccount } from "../lib/format";
import { Alert, Button, Card, PageHeader, SelectField, TextField } from "../ui/components";

interface DemoIdentity {
  role: string;
  address: `0x${string}`;
  privateKey: Hex;
  organization?: `0x${string}`;
}

type AsChoice = "auto" | "patient" | "practitioner";

export default function SignIn() {
  const { signIn, identity } = useSession();
  const navigate = useNavigate();
  const location = useLocation();
  const from = (location.state as { from?: string } | null)?.from;
  const [config, setConfig] = useState<PublicConfig | undefined>();
  const [demo, setDemo] = useState<DemoIdentity[]>([]);
  const [keys, setKeys] = useState<StoredKey[]>([]);
  const [error, setError] = useState<string | undefined>();
  const [busy, setBusy] = useState<string | undefined>();
  const [as, setAs] = useState<AsChoice>("auto");

  useEffect(() => {
    publicConfig()
      .then(async (c) => {
        setConfig(c);
        if (c.demo) {
          const res = await fetch("/demo/accounts");
          if (res.ok) setDemo(((await res.json()) as { accounts: DemoIdentity[] }).accounts);
        }
      })
      .catch((e: unknown) => setError(messageOf(e)));
    listKeys()
      .then(setKeys)
      .catch(() => setKeys([]));
  }, []);

  useEffect(() => {
    if (identity) void navigate(from ?? homeOf(identity), { replace: true });
  }, [identity, from, navigate]);

  const run = async (what: string, makeSigner: () => Promise<Signer>, role?: SignInAs) => {
    setBusy(what);
    setError(undefined);
    try {
      const signer = await makeSigner();
      const chosen: SignInAs | undefined = role ?? (as === "auto" ? undefined : { kind: as });
      await signIn(signer, chosen);
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setBusy(undefined);
    }
  };

  return (
    <div className="shell">
      <main id="main" className="main stack" tabIndex={-1}>
        <PageHeader title="Sign in to carechain">
          {config ? <>The node of {config.organization.name}. </> : null}
          You sign in with your own key: the node never holds it.
        </PageHeader>
        {error ? (
          <Alert tone="danger" title="Could not sign in">
            {error}
          </Alert>
        ) : null}

        {config?.demo ? (
          <section className="card demo-banner stack" aria-labelledby="demo-title">
            <h2 id="demo-title" className="row">
              <FlaskConical size={20} aria-hidden="true" /> Demo only: try it as someone
            </h2>
            <p>
              This node runs with <code>--demo</code>. These identities and their keys are synthetic and
              public; never use them for real data.
            </p>
            {demo.length === 0 ? <p>The demo data is still being seeded; reload in a few seconds.</p> : null}
            <ul className="list">
              {demo.map((d) => (
                <li key={d.address} className="row">
                  <Button
                    variant="secondary"
                    busy={busy === d.address}
                    onClick={() =>
                      void run(
                        d.address,
                        () => localSigner(d.privateKey, "demo"),
                        d.role === "patient" ? { kind: "patient" } : undefined,
                      )
                    }
                  >
                    Sign in as demo {d.role}
                  </Button>
                  <span className="mono muted">{shortAccount(d.address)}</span>
                </li>
              ))}
            </ul>
          </section>
        ) : null}

        <SelectField<AsChoice>
          label="Sign in as"
          value={as}
          onChange={setAs}
          hint="Automatic picks your only role; choose when your account is both a patient and a clinician."
          options={[
            { value: "auto", label: "Automatic" },
            { value: "patient", label: "Patient" },
            { value: "practitioner", label: "Clinician" },
          ]}
        />

        {keys.length > 0 ? <UnlockKey keys={keys} busy={busy} run={run} /> : null}
        <NewKey busy={busy} run={run} onStored={() => void listKeys().then(setKeys)} />
        {injectedWallet() ? (
          <Card title="Browser wallet">
            <p>Sign in with the wallet in your browser; it signs for you.</p>
            <Button busy={busy === "wallet"} onClick={() => void run("wallet", walletSigner)}>
              <Wallet size={18} aria-hidden="true" /> Use my wallet
            </Button>
          </Card>
        ) : null}
      </main>
    </div>
  );
}

type Run = (what: string, makeSigner: () => Promise<Signer>, role?: SignInAs) => Promise<void>;

function UnlockKey({ keys, busy, run }: { keys: StoredKey[]; busy: string | undefined; run: Run }) {
  const [address, setAddress] = useState(keys[0]?.address ?? "");
  const [passphrase, setPassphrase] = useState("");
  const stored = keys.find((k) => k.address === address);
  return (
    <Card title="A key stored in this browser">
      <form
        className="stack"
        onSubmit={(e) => {
          e.preventDefault();
          if (stored)
            void run("unlock", async () => localSigner(await unlockKey(stored, passphrase), "browser-key"));
        }}
      >
        <SelectField
          label="Key"
          value={address}
          onChange={setAddress}
          options={keys.map((k) => ({ value: k.address, label: `${k.label} (${shortAccount(k.address)})` }))}
        />
        <TextField
          label="Passphrase"
          type="password"
          value={passphrase}
          onChange={setPassphrase}
          autoComplete="current-password"
        />
        <div>
          <Button type="submit" busy={busy === "unlock"}>
            <KeyRound size={18} aria-hidden="true" /> Unlock and sign in
          </Button>
        </div>
      </form>
    </Card>
  );
}

function NewKey({ busy, run, onStored }: { busy: string | undefined; run: Run; onStored: () => void }) {
  const [mode, setMode] = useState<"create" | "private-key" | "keystore">("create");
  const [passphrase, setPassphrase] = useState("");
  const [label, setLabel] = useState("My key");
  const [privateKey, setPrivateKey] = useState("");
  const [file, setFile] = useState<File | undefined>();
  const [filePassword, setFilePassword] = useState("");
  const submit = () =>
    run("new", async () => {
      let key: Hex;
      if (mode === "create") key = (await import("viem/accounts")).generatePrivateKey();
      else if (mode === "private-key") {
        const k = privateKey.trim().replace(/^(?!0x)/, "0x");
        if (!/^0x[0-9a-fA-F]{64}$/.test(k)) throw new Error("A private key is 64 hexadecimal characters.");
        key = k as Hex;
      } else {
        if (!file) throw new Error("Choose your keystore file.");
        const { importKeystore } = await import("../auth/keystoreFile");
        key = await importKeystore(await file.text(), filePassword);
      }
      await storeKey(key, passphrase, label.trim() || "My key");
      onStored();
      return localSigner(key, "browser-key");
    });
  return (
    <Card title="Create or import a key">
      <form
        className="stack"
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
      >
        <SelectField
          label="How"
          value={mode}
          onChange={setMode}
          options={[
            { value: "create", label: "Create a new key" },
            { value: "private-key", label: "Import a private key" },
            { value: "keystore", label: "Import a keystore file (from the carechain CLI)" },
          ]}
        />
        {mode === "private-key" ? (
          <TextField
            label="Private key"
            type="password"
            value={privateKey}
            onChange={setPrivateKey}
            hint="0x followed by 64 hexadecimal characters"
          />
        ) : null}
        {mode === "keystore" ? (
          <>
            <div className="field">
              <label htmlFor="keystore-file">Keystore file</label>
              <input
                id="keystore-file"
                type="file"
                accept=".json,application/json"
                onChange={(e) => setFile(e.target.files?.[0])}
              />
            </div>
            <TextField
              label="The keystore file's password"
              type="password"
              value={filePassword}
              onChange={setFilePassword}
            />
          </>
        ) : null}
        <TextField label="Name of this key" value={label} onChange={setLabel} />
        <TextField
          label="Passphrase to protect it in this browser"
          type="password"
          value={passphrase}
          onChange={setPassphrase}
          autoComplete="new-password"
          hint="At least 8 characters. The key is stored encrypted in this browser; without the passphrase it cannot be used."
        />
        <div>
          <Button type="submit" busy={busy === "new"}>
            <KeyRound size={18} aria-hidden="true" />{" "}
            {mode === "create" ? "Create key and sign in" : "Import and sign in"}
          </Button>
        </div>
      </form>
    </Card>
  );
}
