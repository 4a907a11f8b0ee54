/** The app's small design system: accessible building blocks every page uses. */
import { AlertTriangle, CheckCircle2, Info, XCircle } from "lucide-react";
import { useEffect, useId, useRef, type ReactNode } from "react";

type Tone = "info" | "ok" | "warn" | "danger";

export function Button(props: {
  children: ReactNode;
  onClick?: () => void;
  type?: "button" | "submit";
  variant?: "primary" | "secondary" | "danger";
  small?: boolean;
  disabled?: boolean;
  busy?: boolean;
  label?: string;
}) {
  const classes = [
    "btn",
    props.variant && props.variant !== "primary" ? props.variant : "",
    props.small ? "small" : "",
  ];
  return (
    <button
      type={props.type ?? "button"}
      className={classes.filter(Boolean).join(" ")}
      onClick={props.onClick}
      disabled={props.disabled === true || props.busy === true}
      aria-busy={props.busy === true ? true : undefined}
      aria-label={props.label}
    >
      {props.busy === true ? <span className="spinner" aria-hidden="true" /> : null}
      {props.children}
    </button>
  );
}

export function Alert({ tone, title, children }: { tone: Tone; title?: string; children?: ReactNode }) {
  const Icon = { info: Info, ok: CheckCircle2, warn: AlertTriangle, danger: XCircle }[tone];
  return (
    <div className={`alert ${tone}`} role={tone === "danger" ? "alert" : "status"}>
      <Icon size={20} aria-hidden="true" />
      <div>
        {title !== undefined ? <strong>{title}</strong> : null}
        {children !== undefined ? <div>{children}</div> : null}
      </div>
    </div>
  );
}

export function Badge({
  tone,
  children,
}: {
  tone: "ok" | "warn" | "danger" | "sensitive" | "neutral";
  children: ReactNode;
}) {
  return <span className={`badge ${tone}`}>{children}</span>;
}

export function Loading({ what }: { what: string }) {
  return (
    <p className="row muted" role="status">
      <span className="spinner" aria-hidden="true" /> Loading {what}…
    </p>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <div className="empty card">{children}</div>;
}

export function Card({
  children,
  title,
  sensitive,
}: {
  children: ReactNode;
  title?: string;
  sensitive?: boolean;
}) {
  return (
    <section className={`card${sensitive === true ? " sensitive" : ""}`} aria-label={title}>
      {title !== undefined ? <h2>{title}</h2> : null}
      {children}
    </section>
  );
}

export function PageHeader({ title, children }: { title: string; children?: ReactNode }) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    document.title = `${title} · carechain`;
  }, [title]);
  return (
    <header className="stack">
      <h1 ref={ref} tabIndex={-1}>
        {title}
      </h1>
      {children !== undefined ? <div className="muted">{children}</div> : null}
    </header>
  );
}

export function TextField(props: {
  label: string;
  value: string;
  onChange: (value: string) => void;
  type?: "text" | "password" | "date" | "search";
  hint?: string;
  error?: string | undefined;
  autoComplete?: string;
  required?: boolean;
  multiline?: boolean;
  name?: string;
}) {
  const id = useId();
  const described = [props.hint ? `${id}-hint` : "", props.error ? `${id}-error` : ""]
    .filter(Boolean)
    .join(" ");
  const common = {
    id,
    name: props.name,
    value: props.value,
    required: props.required,
    "aria-invalid": props.error ? true : undefined,
    "aria-describedby": described || undefined,
  };
  return (
    <div className="field">
      <label htmlFor={id}>{props.label}</label>
      {props.hint ? (
        <span id={`${id}-hint`} className="hint">
          {props.hint}
        </span>
      ) : null}
      {props.multiline === true ? (
        <textarea {...common} onChange={(e) => props.onChange(e.target.value)} />
      ) : (
        <input
          {...common}
          type={props.type ?? "text"}
          autoComplete={props.autoComplete ?? "off"}
          onChange={(e) => props.onChange(e.target.value)}
        />
      )}
      {props.error ? (
        <span id={`${id}-error`} className="error">
          {props.error}
        </span>
      ) : null}
    </div>
  );
}

export function SelectField<T extends string>(props: {
  label: string;
  value: T;
  options: ReadonlyArray<{ value: T; label: string }>;
  onChange: (value: T) => void;
  hint?: string;
}) {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{props.label}</label>
      {props.hint ? <span className="hint">{props.hint}</span> : null}
      <select id={id} value={props.value} onChange={(e) => props.onChange(e.target.value as T)}>
        {props.options.map((o) => (
          <option key={o.value} value={o.value}>
            {o.label}
          </option>
        ))}
      </select>
    </div>
  );
}

export function Checkbox(props: {
  label: ReactNode;
  checked: boolean;
  onChange: (checked: boolean) => void;
  hint?: string;
}) {
  const id = useId();
  return (
    <div className="check">
      <input
        id={id}
        type="checkbox"
        checked={props.checked}
        onChange={(e) => props.onChange(e.target.checked)}
      />
      <label htmlFor={id}>
        {props.label}
        {props.hint ? <span className="muted"> — {props.hint}</span> : null}
      </label>
    </div>
  );
}

/** A modal dialog: focus moves into it, Escape closes it (when it may be closed), focus returns. */
export function Dialog(props: { title: string; children: ReactNode; onClose?: () => void }) {
  const ref = useRef<HTMLDivElement>(null);
  const id = useId();
  const onClose = props.onClose;
  useEffect(() => {
    const before = document.activeElement as HTMLElement | null;
    const first = ref.current?.querySelector<HTMLElement>("input, button, select, textarea, [href]");
    (first ?? ref.current)?.focus();
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape" && onClose) onClose();
    };
    document.addEventListener("keydown", onKey);
    return () => {
      document.removeEventListener("keydown", onKey);
      before?.focus();
    };
  }, [onClose]);
  return (
    <div className="dialog-backdrop">
      <div
        className="dialog stack"
        role="dialog"
        aria-modal="true"
        aria-labelledby={id}
        ref={ref}
        tabIndex={-1}
      >
        <h2 id={id}>{props.title}</h2>
        {props.children}
      </div>
    </div>
  );
}
