/**
 * Share: pick who (from the registry, or by account), which categories (sensitive ones opt-in one
 * by one), for what purpose and from when until when; read in plain words what they will and will
 * not see; sign in this browser (EIP-712) and follow it until the ledger records it and the node
 * enforces it.
 */
import { Check, Lock, Search, Send } from "lucide-react";
import { useEffect, useState } from "react";
import { isAddress, type Address, type Hex } from "viem";
import {
  CATEGORIES,
  SENSITIVE_CATEGORIES,
  type Category,
  type Purpose,
} from "../../../../src/model/vocabulary.js";
import { messageOf, publicConfig } from "../../api/client";
import { searchRegistry, type RegistryEntry } from "../../api/registry";
import { useIdentity, useSession } from "../../auth/session";
import {
  buildGrant,
  grantIdOf,
  signGrant,
  type ConsentDomain,
  type Grantee,
  type GrantView,
} from "../../consent/grant";
import { categoryLabel, formatDate, purposeLabel, shortAccount } from "../../lib/format";
import { Alert, Button, Card, Checkbox, PageHeader, SelectField, TextField } from "../../ui/components";

const PURPOSE_CHOICES: Purpose[] = ["TREAT", "HPAYMT", "HOPERAT", "HRESCH", "PUBHLTH"];
const ORDINARY = CATEGORIES.filter((c) => !SENSITIVE_CATEGORIES.includes(c) && c !== "audit");

type Step = "idle" | "signing" | "mining" | "enforcing" | "done";

interface Picked {
  grantee: Grantee;
  name: string;
}

const today = () => new Date().toISOString().slice(0, 10);
const inAYear = () => new Date(Date.now() + 365 * 86_400_000).toISOString().slice(0, 10);

export default function Share() {
  const { api, signer } = useSession();
  const me = useIdentity();
  const [picked, setPicked] = useState<Picked | undefined>();
  const [categories, setCategories] = useState<Set<Category>>(new Set(["labs"]));
  const [purpose, setPurpose] = useState<Purpose>("TREAT");
  const [from, setFrom] = useState(today());
  const [until, setUntil] = useState(inAYear());
  const [step, setStep] = useState<Step>("idle");
  const [error, setError] = useState<string | undefined>();
  const [grantId, setGrantId] = useState<Hex | undefined>();

  const toggle = (c: Category, on: boolean) =>
    setCategories((s) => {
      const next = new Set(s);
      if (on) next.add(c);
      else next.delete(c);
      return next;
    });

  const chosen = [...categories];
  const sensitiveChosen = chosen.filter((c) => SENSITIVE_CATEGORIES.includes(c));
  const notFrom = new Date(`${from}T00:00:00`);
  const notUntil = new Date(`${until}T23:59:59`);
  const invalid = !picked
    ? "Choose who to share with."
    : chosen.length === 0
      ? "Choose at least one kind of information."
      : !(notFrom < notUntil)
        ? "The end date must be after the start date."
        : undefined;

  const share = async () => {
    if (invalid || !picked || !signer) return;
    setError(undefined);
    setStep("signing");
    try {
      const domain = await api.get<ConsentDomain>("/consents/domain");
      const message = buildGrant({
        patient: me.account,
        grantee: picked.grantee,
        categories: chosen,
        purposes: [purpose],
        notBefore: notFrom < new Date() ? new Date(Date.now() - 60_000) : notFrom,
        notAfter: notUntil,
      });
      const signed = await signGrant(signer, domain, message);
      const id = grantIdOf(message);
      setGrantId(id);
      setStep("mining");
      const submitted = await api.send<{ status: string }>("POST", "/consents?wait=true", signed);
      if (submitted.status === "failed") throw new Error("The ledger did not accept this sharing.");
      setStep("enforcing");
      for (let i = 0; i < 100; i++) {
        const { grants } = await api.get<{ grants: GrantView[] }>("/consents");
        if (grants.some((g) => g.grantId.toLowerCase() === id.toLowerCase())) {
          setStep("done");
          return;
        }
        await new Promise((r) => setTimeout(r, 300));
      }
      throw new Error(
        "The ledger recorded the sharing, but the node has not applied it yet. Look at “Who can see what” in a moment.",
      );
    } catch (e) {
      setError(messageOf(e));
      setStep("idle");
    }
  };

  return (
    <>
      <PageHeader title="Share your record">
        You decide who sees what, for what, and until when. You can stop sharing at any time.
      </PageHeader>
      <GranteePicker picked={picked} onPick={setPicked} />
      <Card title="What to share">
        <fieldset>
          <legend>Information</legend>
          <div className="grid">
            {ORDINARY.map((c) => (
              <Checkbox
                key={c}
                label={categoryLabel(c)}
                checked={categories.has(c)}
                onChange={(on) => toggle(c, on)}
              />
            ))}
          </div>
        </fieldset>
        <fieldset className="card sensitive">
          <legend className="row">
            <Lock size={16} aria-hidden="true" /> Sensitive information: choose each one yourself
          </legend>
          <p>These are never shared unless you tick them here, one by one.</p>
          {SENSITIVE_CATEGORIES.map((c) => (
            <Checkbox
              key={c}
              label={categoryLabel(c)}
              checked={categories.has(c)}
              onChange={(on) => toggle(c, on)}
            />
          ))}
        </fieldset>
      </Card>
      <Card title="Why and for how long">
        <div className="stack">
          <SelectField<Purpose>
            label="Purpose"
            value={purpose}
            onChange={setPurpose}
            options={PURPOSE_CHOICES.map((p) => ({ value: p, label: `For ${purposeLabel(p)}` }))}
          />
          <div className="row">
            <TextField label="From" type="date" value={from} onChange={setFrom} />
            <TextField label="Until" type="date" value={until} onChange={setUntil} />
          </div>
        </div>
      </Card>
      <Card title="In plain words">
        {picked ? (
          <div className="stack" aria-live="polite">
            <p>
              <strong>{picked.name}</strong> will be able to <strong>see</strong>:{" "}
              {chosen.map(categoryLabel).join(", ") || "nothing yet"} — only for {purposeLabel(purpose)}, from{" "}
              {formatDate(notFrom.toISOString())} until {formatDate(notUntil.toISOString())}.
            </p>
            <p>
              They will <strong>not</strong> see anything else in your record
              {SENSITIVE_CATEGORIES.filter((c) => !categories.has(c)).length > 0
                ? `, including ${SENSITIVE_CATEGORIES.filter((c) => !categories.has(c))
                    .map(categoryLabel)
                    .join(", ")
                    .toLowerCase()}`
                : ""}
              . They cannot change your record. Every time they look, it is written to your access log.
            </p>
            {sensitiveChosen.length > 0 ? (
              <Alert tone="warn" title="You are sharing sensitive information">
                {sensitiveChosen.map(categoryLabel).join(", ")}.
              </Alert>
            ) : null}
          </div>
        ) : (
          <p className="muted">Choose who to share with first.</p>
        )}
      </Card>
      {error ? (
        <Alert tone="danger" title="Not shared">
          {error}
        </Alert>
      ) : null}
      {step !== "idle" ? <Progress step={step} grantId={grantId} /> : null}
      <div className="row">
        <Button
          onClick={() => void share()}
          disabled={invalid !== undefined || (step !== "idle" && step !== "done")}
          busy={step !== "idle" && step !== "done"}
        >
          <Send size={18} aria-hidden="true" /> Sign and share
        </Button>
        {invalid ? <span className="muted">{invalid}</span> : null}
      </div>
    </>
  );
}

function Progress({ step, grantId }: { step: Step; grantId: Hex | undefined }) {
  const steps: Array<[Step, string]> = [
    ["signing", "Signed in your browser"],
    ["mining", "Recorded on the ledger"],
    ["enforcing", "Enforced by the node"],
  ];
  const order: Step[] = ["signing", "mining", "enforcing", "done"];
  const at = order.indexOf(step);
  return (
    <Card title="Progress">
      <ol className="list" aria-live="polite">
        {steps.map(([s, label], i) => (
          <li key={s} className="row">
            {at > i ? (
              <Check size={18} aria-hidden="true" />
            ) : (
              <span className="spinner" aria-hidden="true" />
            )}
            <span>
              {label}
              {at > i ? " — done" : at === i ? " — in progress" : ""}
            </span>
          </li>
        ))}
      </ol>
      {step === "done" ? (
        <Alert tone="ok" title="Shared">
          The node now enforces this sharing
          {grantId ? (
            <>
              {" "}
              (grant <span className="mono">{shortAccount(grantId)}</span>)
            </>
          ) : null}
          .
        </Alert>
      ) : null}
    </Card>
  );
}

function GranteePicker({
  picked,
  onPick,
}: {
  picked: Picked | undefined;
  onPick: (p: Picked | undefined) => void;
}) {
  const { api } = useSession();
  const [query, setQuery] = useState("");
  const [results, setResults] = useState<RegistryEntry[] | undefined>();
  const [noRegistry, setNoRegistry] = useState(false);
  const [demo, setDemo] = useState<Array<{ role: string; address: Address }>>([]);
  const [manualKind, setManualKind] = useState<"practitioner" | "organization">("practitioner");
  const [manual, setManual] = useState("");
  const [error, setError] = useState<string | undefined>();

  useEffect(() => {
    publicConfig()
      .then(async (c) => {
        if (!c.demo) return;
        const res = await fetch("/demo/accounts");
        if (res.ok)
          setDemo(
            ((await res.json()) as { accounts: Array<{ role: string; address: Address }> }).accounts.filter(
              (a) => a.role !== "patient",
            ),
          );
      })
      .catch(() => setDemo([]));
  }, []);

  const search = async () => {
    setError(undefined);
    try {
      const found = await searchRegistry(api, query.trim());
      if (found === undefined) setNoRegistry(true);
      setResults(found ?? []);
    } catch (e) {
      setError(messageOf(e));
    }
  };
  const useManual = () => {
    const v = manual.trim();
    if (manualKind === "practitioner") {
      if (!isAddress(v))
        return setError("A practitioner's account is 0x followed by 40 hexadecimal characters.");
      onPick({ grantee: { kind: "practitioner", account: v }, name: `practitioner ${shortAccount(v)}` });
    } else {
      if (!/^0x[0-9a-fA-F]{64}$/.test(v))
        return setError("An organization id is 0x followed by 64 hexadecimal characters.");
      onPick({
        grantee: { kind: "organization", organization: v as Hex },
        name: `organization ${shortAccount(v)}`,
      });
    }
    setError(undefined);
  };

  return (
    <Card title="Who">
      {picked ? (
        <div className="row">
          <Alert tone="info" title="Sharing with">
            {picked.name}
          </Alert>
          <Button variant="secondary" small onClick={() => onPick(undefined)}>
            Change
          </Button>
        </div>
      ) : (
        <div className="stack">
          <form
            className="row"
            role="search"
            onSubmit={(e) => {
              e.preventDefault();
              void search();
            }}
          >
            <TextField
              label="Search practitioners and organizations"
              type="search"
              value={query}
              onChange={setQuery}
            />
            <Button type="submit" variant="secondary">
              <Search size={16} aria-hidden="true" /> Search
            </Button>
          </form>
          {noRegistry ? (
            <p className="muted">
              This node has no registry search yet: enter the account or organization id below.
            </p>
          ) : null}
          {results && results.length > 0 ? (
            <ul className="list">
              {results.map((r) => (
                <li key={`${r.kind}-${r.id}`} className="row">
                  <Button
                    variant="secondary"
                    small
                    onClick={() =>
                      onPick({
                        grantee:
                          r.kind === "practitioner"
                            ? { kind: "practitioner", account: r.id }
                            : { kind: "organization", organization: r.id },
                        name: r.organization ? `${r.name} (${r.organization.name})` : r.name,
                      })
                    }
                  >
                    Choose
                  </Button>
                  <span>
                    {r.name}
                    {r.role ? `, ${r.role}` : ""}
                    {r.organization ? ` at ${r.organization.name}` : ""}
                  </span>
                </li>
              ))}
            </ul>
          ) : results && !noRegistry ? (
            <p className="muted">No one found.</p>
          ) : null}
          {demo.length > 0 ? (
            <div className="stack">
              <span className="label">Demo practitioners (demo only)</span>
              <div className="row">
                {demo.map((d) => (
                  <Button
                    key={d.address}
                    variant="secondary"
                    small
                    onClick={() =>
                      onPick({
                        grantee: { kind: "practitioner", account: d.address },
                        name: `demo ${d.role}`,
                      })
                    }
                  >
                    {d.role}
                  </Button>
                ))}
              </div>
            </div>
          ) : null}
          <details>
            <summary>Enter an account or organization id</summary>
            <div className="stack">
              <SelectField
                label="Kind"
                value={manualKind}
                onChange={setManualKind}
                options={[
                  { value: "practitioner", label: "A practitioner (account)" },
                  { value: "organization", label: "An organization (id)" },
                ]}
              />
              <TextField label="Account or organization id" value={manual} onChange={setManual} />
              <div>
                <Button variant="secondary" onClick={useManual}>
                  Use this
                </Button>
              </div>
            </div>
          </details>
          {error ? <Alert tone="danger">{error}</Alert> : null}
        </div>
      )}
    </Card>
  );
}
