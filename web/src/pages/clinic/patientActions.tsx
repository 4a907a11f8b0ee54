/** What a clinician does on an open patient: each a dialog that says what it will do, in words. */
import { useEffect, useState, type FormEvent, type ReactNode } from "react";
import type { Category, Purpose } from "../../../../src/model/vocabulary.js";
import { messageOf } from "../../api/client";
import { useSession } from "../../auth/session";
import { categoryLabel } from "../../lib/format";
import { Alert, Button, Checkbox, Dialog, SelectField, TextField } from "../../ui/components";

function Form(props: {
  title: string;
  children: ReactNode;
  submit: string;
  onClose: () => void;
  run: () => Promise<string | undefined>;
  danger?: boolean;
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>();
  const [done, setDone] = useState<string | undefined>();
  const onSubmit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      setDone(await props.run());
    } catch (err) {
      setError(messageOf(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Dialog title={props.title} onClose={props.onClose}>
      {done ? (
        <>
          <Alert tone="ok">{done}</Alert>
          <div>
            <Button onClick={props.onClose}>Close</Button>
          </div>
        </>
      ) : (
        <form className="stack" onSubmit={(e) => void onSubmit(e)}>
          {props.children}
          {error ? (
            <Alert tone="danger" title="Not done">
              {error}
            </Alert>
          ) : null}
          <div className="row">
            <Button type="submit" busy={busy} variant={props.danger === true ? "danger" : "primary"}>
              {props.submit}
            </Button>
            <Button variant="secondary" onClick={props.onClose}>
              Cancel
            </Button>
          </div>
        </form>
      )}
    </Dialog>
  );
}

const inAYear = () => new Date(Date.now() + 365 * 86_400_000).toISOString().slice(0, 10);

/** Ask the patient for access: categories (sensitive ones one by one), purpose, until, message. */
export function RequestAccess(props: {
  patient: `0x${string}`;
  notShared: Array<{ category: Category; sensitive: boolean }>;
  onClose: () => void;
}) {
  const { api } = useSession();
  const [chosen, setChosen] = useState<Category[]>([]);
  const [purpose, setPurpose] = useState<Purpose>("TREAT");
  const [until, setUntil] = useState(inAYear());
  const [message, setMessage] = useState("");
  const toggle = (c: Category, on: boolean) =>
    setChosen((list) => (on ? [...list, c] : list.filter((x) => x !== c)));
  return (
    <Form
      title="Request access"
      submit="Send the request"
      onClose={props.onClose}
      run={async () => {
        if (chosen.length === 0) throw new Error("Choose at least one category.");
        await api.send("POST", "/access-requests", {
          patient: props.patient,
          categories: chosen,
          purposes: [purpose],
          notAfter: new Date(`${until}T23:59:59Z`).toISOString(),
          message,
        });
        return "Request sent. The patient decides; you will see their answer under My requests.";
      }}
    >
      <p className="muted">The patient sees who asks, for what and why, and signs a grant if they agree.</p>
      <fieldset className="stack">
        <legend>Categories</legend>
        {props.notShared
          .filter((s) => !s.sensitive)
          .map((s) => (
            <Checkbox
              key={s.category}
              label={categoryLabel(s.category)}
              checked={chosen.includes(s.category)}
              onChange={(on) => toggle(s.category, on)}
            />
          ))}
      </fieldset>
      <fieldset className="stack">
        <legend>Sensitive categories (asked for one by one)</legend>
        {props.notShared
          .filter((s) => s.sensitive)
          .map((s) => (
            <Checkbox
              key={s.category}
              label={categoryLabel(s.category)}
              checked={chosen.includes(s.category)}
              onChange={(on) => toggle(s.category, on)}
            />
          ))}
      </fieldset>
      <SelectField<Purpose>
        label="Purpose"
        value={purpose}
        onChange={setPurpose}
        options={[
          { value: "TREAT", label: "Treatment" },
          { value: "HOPERAT", label: "Operations" },
          { value: "HPAYMT", label: "Payment" },
        ]}
      />
      <TextField label="Until" type="date" value={until} onChange={setUntil} />
      <TextField label="Message to the patient" multiline value={message} onChange={setMessage} />
    </Form>
  );
}

/** Break the glass: emergency access for 4 hours, with a reason; the patient is told at once. */
export function BreakGlass(props: { patient: `0x${string}`; onClose: () => void; onOpened: () => void }) {
  const { api } = useSession();
  const [reason, setReason] = useState("");
  return (
    <Form
      title="Emergency access"
      submit="Open emergency access"
      danger
      onClose={props.onClose}
      run={async () => {
        if (reason.trim().length < 3) throw new Error("Say why: a reason is required.");
        await api.send(
          "POST",
          "/break-glass",
          { patient: props.patient, reason: reason.trim() },
          { purpose: "ETREAT" },
        );
        props.onOpened();
        return undefined;
      }}
    >
      <Alert tone="warn" title="Only in an emergency">
        You will see the patient's non-sensitive record for 4 hours, if the patient allows emergency access.
        The patient is told at once, and your reason is kept in their access log.
      </Alert>
      <TextField label="Reason" multiline value={reason} onChange={setReason} required />
    </Form>
  );
}

function needPatientId(patientId: string | undefined): string {
  if (patientId === undefined)
    throw new Error("This patient's record here is not visible to you, so nothing can be added to it.");
  return patientId;
}

/** Add an observation (a measurement or a finding) to the patient's record here. */
export function AddObservation(props: {
  patientId: string | undefined;
  purpose: Purpose;
  onClose: () => void;
  onSaved: () => void;
}) {
  const { api } = useSession();
  const [what, setWhat] = useState("");
  const [value, setValue] = useState("");
  const [unit, setUnit] = useState("");
  return (
    <Form
      title="Add an observation"
      submit="Save"
      onClose={props.onClose}
      run={async () => {
        const id = needPatientId(props.patientId);
        if (what.trim() === "" || value.trim() === "")
          throw new Error("Say what was observed and its value.");
        const number = Number(value);
        await api.send(
          "POST",
          "/fhir/Observation",
          {
            resourceType: "Observation",
            status: "final",
            code: { text: what.trim() },
            subject: { reference: `Patient/${id}` },
            effectiveDateTime: new Date().toISOString(),
            ...(Number.isFinite(number) && value.trim() !== ""
              ? { valueQuantity: { value: number, ...(unit.trim() ? { unit: unit.trim() } : {}) } }
              : { valueString: value.trim() }),
          },
          { purpose: props.purpose },
        );
        props.onSaved();
        return "Saved to the patient's record.";
      }}
    >
      <TextField label="What was observed" value={what} onChange={setWhat} hint="e.g. Body weight" />
      <TextField label="Value" value={value} onChange={setValue} />
      <TextField label="Unit" value={unit} onChange={setUnit} hint="e.g. kg (optional)" />
    </Form>
  );
}

const toBase64 = (text: string) => btoa(String.fromCharCode(...new TextEncoder().encode(text)));

/** Add a clinical note (a DocumentReference of category clinical-note). */
export function AddNote(props: {
  patientId: string | undefined;
  purpose: Purpose;
  onClose: () => void;
  onSaved: () => void;
}) {
  const { api } = useSession();
  const [text, setText] = useState("");
  return (
    <Form
      title="Add a note"
      submit="Save"
      onClose={props.onClose}
      run={async () => {
        const id = needPatientId(props.patientId);
        if (text.trim() === "") throw new Error("Write the note first.");
        await api.send(
          "POST",
          "/fhir/DocumentReference",
          {
            resourceType: "DocumentReference",
            status: "current",
            type: { coding: [{ system: "http://loinc.org", code: "11506-3", display: "Progress note" }] },
            category: [
              {
                coding: [
                  {
                    system: "http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category",
                    code: "clinical-note",
                  },
                ],
              },
            ],
            subject: { reference: `Patient/${id}` },
            date: new Date().toISOString(),
            content: [{ attachment: { contentType: "text/plain", data: toBase64(text.trim()) } }],
          },
          { purpose: props.purpose },
        );
        props.onSaved();
        return "Note saved to the patient's record.";
      }}
    >
      <TextField label="Note" multiline value={text} onChange={setText} />
    </Form>
  );
}

/** Refer the patient to another organization (they accept by granting it access). */
export function Refer(props: { patient: `0x${string}`; here: string; onClose: () => void }) {
  const { api } = useSession();
  const [organizations, setOrganizations] = useState<Array<{ value: string; label: string }>>([]);
  const [to, setTo] = useState("");
  const [categories, setCategories] = useState<Category[]>(["conditions", "medications"]);
  useEffect(() => {
    api
      .get<{ entries: Array<{ id: string; name: string }> }>("/registry/search?kind=organization&_count=100")
      .then((r) => {
        const list = r.entries
          .filter((e) => e.id.toLowerCase() !== props.here.toLowerCase())
          .map((e) => ({ value: e.id, label: e.name }));
        setOrganizations(list);
        setTo((t) => t || list[0]?.value || "");
      })
      .catch(() => undefined);
  }, [api, props.here]);
  const offered: Category[] = ["conditions", "medications", "allergies", "labs", "immunizations", "notes"];
  return (
    <Form
      title="Refer to another organization"
      submit="Refer"
      onClose={props.onClose}
      run={async () => {
        if (to === "") throw new Error("Choose an organization.");
        if (categories.length === 0) throw new Error("Choose what the referral is about.");
        await api.send("POST", "/referrals", { patient: props.patient, toOrganization: to, categories });
        return "Referral sent. The patient is asked to share these categories with that organization.";
      }}
    >
      {organizations.length === 0 ? (
        <p className="muted">No other organization found in the registry.</p>
      ) : (
        <SelectField label="Organization" value={to} onChange={setTo} options={organizations} />
      )}
      <fieldset className="stack">
        <legend>What to share for the referral</legend>
        {offered.map((c) => (
          <Checkbox
            key={c}
            label={categoryLabel(c)}
            checked={categories.includes(c)}
            onChange={(on) => setCategories((l) => (on ? [...l, c] : l.filter((x) => x !== c)))}
          />
        ))}
      </fieldset>
    </Form>
  );
}
