/**
 * New study (researchers): who is eligible (condition codes, age range, sex, observation
 * thresholds with their units, medication codes), what is asked, how it is released, what it pays,
 * the enrollment window, the minimum k and the ε budget. The node checks the definition
 * (src/research/studyDefinition.ts); its refusal is shown beside the form, and at the field it
 * names when it names one.
 */
import { Plus, Trash2 } from "lucide-react";
import { useState, type FormEvent } from "react";
import { useNavigate } from "react-router";
import { CATEGORIES, type Category } from "../../../../src/model/vocabulary.js";
import { ApiError, messageOf } from "../../api/client";
import { useSession } from "../../auth/session";
import { categoryLabel } from "../../lib/format";
import { creditUnits, type StudyView } from "../../research/studies";
import { Alert, Button, Card, Checkbox, PageHeader, SelectField, TextField } from "../../ui/components";

const SNOMED = "http://snomed.info/sct";
const ICD10 = "http://hl7.org/fhir/sid/icd-10-cm";
const SEXES = ["female", "male", "other", "unknown"] as const;
type Comparator = "<" | "<=" | ">" | ">=";
type Statistic = "count" | "sum" | "mean" | "histogram";

interface Threshold {
  code: string;
  comparator: Comparator;
  value: string;
  unit: string;
  which: "latest" | "any";
}

const codes = (text: string) =>
  text
    .split(/[\s,;]+/)
    .map((c) => c.trim())
    .filter(Boolean);
const isoDay = (d: Date) => d.toISOString().slice(0, 10);
const num = (text: string) => (text.trim() === "" ? undefined : Number(text));

export default function NewStudy() {
  const { api } = useSession();
  const navigate = useNavigate();
  const [title, setTitle] = useState("");
  const [description, setDescription] = useState("");
  const [conditionSystem, setConditionSystem] = useState<typeof SNOMED | typeof ICD10>(SNOMED);
  const [conditionCodes, setConditionCodes] = useState("");
  const [ageMin, setAgeMin] = useState("");
  const [ageMax, setAgeMax] = useState("");
  const [sexes, setSexes] = useState<string[]>([]);
  const [thresholds, setThresholds] = useState<Threshold[]>([]);
  const [rxnorm, setRxnorm] = useState("");
  const [categories, setCategories] = useState<Category[]>(["demographics", "conditions"]);
  const [kind, setKind] = useState<"extract" | Statistic>("extract");
  const [measure, setMeasure] = useState<"age" | "observation">("age");
  const [measureCode, setMeasureCode] = useState("");
  const [measureUnit, setMeasureUnit] = useState("");
  const [boundsLo, setBoundsLo] = useState("0");
  const [boundsHi, setBoundsHi] = useState("100");
  const [edges, setEdges] = useState("40, 50, 60, 70, 80");
  const [reward, setReward] = useState("2.50");
  const [maxParticipants, setMaxParticipants] = useState("20");
  const [budget, setBudget] = useState("50.00");
  const [start, setStart] = useState(isoDay(new Date()));
  const [end, setEnd] = useState(isoDay(new Date(Date.now() + 30 * 86_400_000)));
  const [minK, setMinK] = useState("5");
  const [epsilonBudget, setEpsilonBudget] = useState("1");
  const [busy, setBusy] = useState(false);
  const [refusal, setRefusal] = useState<{ message: string; field?: string } | undefined>();

  const setThreshold = (i: number, change: Partial<Threshold>) =>
    setThresholds((all) => all.map((t, j) => (j === i ? { ...t, ...change } : t)));

  const definition = () => {
    const criteria: object[] = [];
    if (codes(conditionCodes).length > 0)
      criteria.push({
        kind: "condition",
        codes: codes(conditionCodes).map((code) => ({ system: conditionSystem, code })),
      });
    if (ageMin.trim() !== "" || ageMax.trim() !== "")
      criteria.push({
        kind: "age",
        ...(ageMin.trim() !== "" ? { min: num(ageMin) } : {}),
        ...(ageMax.trim() !== "" ? { max: num(ageMax) } : {}),
      });
    if (sexes.length > 0) criteria.push({ kind: "sex", values: sexes });
    for (const t of thresholds)
      criteria.push({
        kind: "observation",
        code: t.code.trim(),
        comparator: t.comparator,
        value: num(t.value),
        unit: t.unit.trim(),
        which: t.which,
      });
    if (codes(rxnorm).length > 0) criteria.push({ kind: "medication", rxnorm: codes(rxnorm) });
    const measured =
      measure === "age"
        ? { of: "age" }
        : { of: "observation", code: measureCode.trim(), unit: measureUnit.trim() };
    const release =
      kind === "extract"
        ? { kind: "extract" }
        : {
            kind: "aggregate",
            statistic: kind,
            ...(kind === "count" ? {} : { measure: measured }),
            ...(kind === "sum" || kind === "mean" ? { bounds: [num(boundsLo), num(boundsHi)] } : {}),
            ...(kind === "histogram" ? { edges: codes(edges).map(Number) } : {}),
          };
    return {
      title: title.trim(),
      description: description.trim(),
      criteria,
      request: { categories },
      release,
      reward: creditUnits(reward) ?? Number.NaN,
      maxParticipants: num(maxParticipants),
      budget: creditUnits(budget) ?? Number.NaN,
      enrollment: {
        // the window is whole days in the researcher's time zone; a start of today starts now
        start: (start === isoDay(new Date()) ? new Date() : new Date(`${start}T00:00:00`)).toISOString(),
        end: new Date(`${end}T23:59:59`).toISOString(),
      },
      minK: num(minK),
      epsilonBudget: num(epsilonBudget),
    };
  };

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setRefusal(undefined);
    try {
      const created = await api.send<StudyView & { notShared?: unknown[] }>(
        "POST",
        "/research/studies",
        definition(),
      );
      void navigate(`/clinic/studies/${created.studyId}`, {
        state: { created: true, notShared: created.notShared?.length ?? 0 },
      });
    } catch (err) {
      setRefusal(
        err instanceof ApiError && err.status < 500
          ? {
              message: err.details ?? err.message,
              ...(err.expression !== undefined ? { field: err.expression } : {}),
            }
          : { message: messageOf(err) },
      );
    } finally {
      setBusy(false);
    }
  };

  /** The node's refusal, at the field it names (`criteria.0.unit` belongs to the criteria). */
  const at = (...prefixes: string[]) =>
    refusal?.field !== undefined &&
    prefixes.some((p) => refusal.field === p || refusal.field?.startsWith(`${p}.`))
      ? refusal.message
      : undefined;

  return (
    <>
      <PageHeader title="New study">
        The study is registered on the ledger with its protocol hash, and reward × participants is escrowed
        from your organization's credits. Every node of the consortium matches its own patients; only those
        who enroll are released.
      </PageHeader>
      <form className="stack" onSubmit={(e) => void submit(e)} noValidate aria-label="New study">
        {refusal ? (
          <Alert tone="danger" title="The node did not accept this study">
            {refusal.message}
          </Alert>
        ) : null}
        <Card title="About">
          <div className="stack">
            <TextField label="Title" value={title} onChange={setTitle} required error={at("title")} />
            <TextField
              label="Description"
              value={description}
              onChange={setDescription}
              multiline
              hint="Shown to matching patients: say what the study is for."
              error={at("description")}
            />
          </div>
        </Card>

        <Card title="Who is eligible">
          <div className="stack">
            <p className="muted">
              Every criterion you fill in must hold. Leave a criterion empty to not use it.
            </p>
            {at("criteria") ? (
              <Alert tone="danger" title="Criteria">
                {at("criteria")}
              </Alert>
            ) : null}
            <div className="criterion-row">
              <SelectField
                label="Condition code system"
                value={conditionSystem}
                options={[
                  { value: SNOMED, label: "SNOMED CT" },
                  { value: ICD10, label: "ICD-10-CM" },
                ]}
                onChange={setConditionSystem}
              />
              <TextField
                label="Condition codes"
                value={conditionCodes}
                onChange={setConditionCodes}
                hint="Any of these, separated by commas"
              />
            </div>
            <div className="criterion-row">
              <TextField label="Age from" value={ageMin} onChange={setAgeMin} hint="Years, inclusive" />
              <TextField label="Age to" value={ageMax} onChange={setAgeMax} hint="Years, inclusive" />
            </div>
            <fieldset className="stack">
              <legend>Sex (any of those ticked; none ticked: any)</legend>
              <div className="row">
                {SEXES.map((s) => (
                  <Checkbox
                    key={s}
                    label={s}
                    checked={sexes.includes(s)}
                    onChange={(on) => setSexes((all) => (on ? [...all, s] : all.filter((x) => x !== s)))}
                  />
                ))}
              </div>
            </fieldset>
            <fieldset className="stack">
              <legend>Observation thresholds</legend>
              {thresholds.map((t, i) => (
                <div key={i} className="criterion-row" role="group" aria-label={`Threshold ${i + 1}`}>
                  <TextField
                    label="LOINC code"
                    value={t.code}
                    onChange={(code) => setThreshold(i, { code })}
                  />
                  <SelectField
                    label="Comparison"
                    value={t.comparator}
                    options={[
                      { value: ">=", label: "at least" },
                      { value: ">", label: "above" },
                      { value: "<=", label: "at most" },
                      { value: "<", label: "below" },
                    ]}
                    onChange={(comparator) => setThreshold(i, { comparator })}
                  />
                  <TextField label="Value" value={t.value} onChange={(value) => setThreshold(i, { value })} />
                  <TextField
                    label="Unit (UCUM)"
                    value={t.unit}
                    onChange={(unit) => setThreshold(i, { unit })}
                    hint="e.g. %, mg/dL, mm[Hg]"
                  />
                  <SelectField
                    label="Which result"
                    value={t.which}
                    options={[
                      { value: "latest", label: "the latest" },
                      { value: "any", label: "any" },
                    ]}
                    onChange={(which) => setThreshold(i, { which })}
                  />
                  <Button
                    variant="secondary"
                    small
                    label={`Remove threshold ${i + 1}`}
                    onClick={() => setThresholds((all) => all.filter((_, j) => j !== i))}
                  >
                    <Trash2 size={16} aria-hidden="true" /> Remove
                  </Button>
                </div>
              ))}
              <div className="row">
                <Button
                  variant="secondary"
                  small
                  onClick={() =>
                    setThresholds((all) => [
                      ...all,
                      { code: "", comparator: ">=", value: "", unit: "", which: "latest" },
                    ])
                  }
                >
                  <Plus size={16} aria-hidden="true" /> Add a threshold
                </Button>
              </div>
            </fieldset>
            <TextField
              label="Medication codes (RxNorm)"
              value={rxnorm}
              onChange={setRxnorm}
              hint="Prescribed or taking any of these, separated by commas"
            />
          </div>
        </Card>

        <Card title="What is asked and how it is released">
          <div className="stack">
            <fieldset className="stack">
              <legend>Data requested</legend>
              {at("request") ? <span className="error">{at("request")}</span> : null}
              <div className="grid">
                {CATEGORIES.map((c) => (
                  <Checkbox
                    key={c}
                    label={categoryLabel(c)}
                    checked={categories.includes(c)}
                    onChange={(on) => setCategories((all) => (on ? [...all, c] : all.filter((x) => x !== c)))}
                  />
                ))}
              </div>
            </fieldset>
            <SelectField
              label="Release"
              value={kind}
              options={[
                { value: "extract", label: "De-identified extract (k-anonymous)" },
                { value: "count", label: "Aggregate: count (differentially private)" },
                { value: "sum", label: "Aggregate: sum (differentially private)" },
                { value: "mean", label: "Aggregate: mean (differentially private)" },
                { value: "histogram", label: "Aggregate: histogram (differentially private)" },
              ]}
              onChange={setKind}
            />
            {at("release") ? <span className="error">{at("release")}</span> : null}
            {kind !== "extract" && kind !== "count" ? (
              <div className="criterion-row">
                <SelectField
                  label="Of"
                  value={measure}
                  options={[
                    { value: "age", label: "age" },
                    { value: "observation", label: "an observation" },
                  ]}
                  onChange={setMeasure}
                />
                {measure === "observation" ? (
                  <>
                    <TextField label="Observation LOINC code" value={measureCode} onChange={setMeasureCode} />
                    <TextField
                      label="Observation unit (UCUM)"
                      value={measureUnit}
                      onChange={setMeasureUnit}
                    />
                  </>
                ) : null}
                {kind === "histogram" ? (
                  <TextField
                    label="Bin edges"
                    value={edges}
                    onChange={setEdges}
                    hint="Ascending, by commas"
                  />
                ) : (
                  <>
                    <TextField label="Lowest value counted" value={boundsLo} onChange={setBoundsLo} />
                    <TextField label="Highest value counted" value={boundsHi} onChange={setBoundsHi} />
                  </>
                )}
              </div>
            ) : null}
          </div>
        </Card>

        <Card title="Reward, window and privacy">
          <div className="criterion-row">
            <TextField
              label="Reward per contribution"
              value={reward}
              onChange={setReward}
              hint="Credits"
              error={at("reward")}
            />
            <TextField
              label="Maximum participants"
              value={maxParticipants}
              onChange={setMaxParticipants}
              error={at("maxParticipants")}
            />
            <TextField
              label="Budget"
              value={budget}
              onChange={setBudget}
              hint="Credits; at least reward × participants"
              error={at("budget")}
            />
            <TextField
              label="Enrollment from"
              type="date"
              value={start}
              onChange={setStart}
              error={at("enrollment")}
            />
            <TextField label="Enrollment until" type="date" value={end} onChange={setEnd} />
            <TextField
              label="Minimum k"
              value={minK}
              onChange={setMinK}
              hint="Release only when at least k participants look alike"
              error={at("minK")}
            />
            <TextField
              label="ε budget"
              value={epsilonBudget}
              onChange={setEpsilonBudget}
              hint="Total privacy loss over every release and count"
              error={at("epsilonBudget")}
            />
          </div>
        </Card>
        <div className="row">
          <Button type="submit" busy={busy}>
            Create and register the study
          </Button>
        </div>
      </form>
    </>
  );
}
