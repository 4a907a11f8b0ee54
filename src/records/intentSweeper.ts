/**
 * Completes the intents a crash left open (docs/access-rules.md, "Audit before commit"). A write or
 * an erasure writes a durable `intent` entry, commits, then writes its outcome; a process that dies
 * in between leaves an intent without outcome. The sweeper finds such intents in the log, reads
 * from the database whether the change landed, and appends the outcome that names the intent it
 * completes: `committed: completes intent 41` or `not committed: completes intent 41`. An erasure
 * whose key was shredded but whose rows were not yet marked is finished first.
 *
 * Only intents older than a grace period are decided: a younger one may still be in flight in a
 * live process (another API process on the same database). The sweep resumes from a checkpoint
 * in `meta`, so each run reads only the log appended since the last one, and only the entries whose
 * text names an intent or an outcome (a scan in the database).
 */
import type { Logger } from "pino";
import type { AuditLog, StoredAuditEntry } from "../audit/auditLog.js";
import type { Auditor } from "../audit/auditor.js";
import type { PatientKeyring } from "../crypto/patientKeys.js";
import { systemPrincipal } from "../model/principal.js";
import type { Store } from "../store/database.js";
import { getMeta, setMeta } from "../store/meta.js";
import { eraseRows } from "../store/recordRows.js";
import { erasureAtRest } from "./erasureAtRest.js";
import type { PatientLinks } from "./patientLinks.js";

const CHECKPOINT = "audit.intents.sweptThrough";
const PAGE = 1000;
/** The reasons the records layer writes around a change; the sweeper's own outcomes start alike. */
const MARKERS = ['"reason":"intent"', '"reason":"committed', '"reason":"not committed'];

export interface IntentSweeperDeps {
  store: Store;
  audit: AuditLog;
  auditor: Auditor;
  keyring: PatientKeyring;
  links: PatientLinks;
  /** Blanks what the patient's break-glass sessions said, as an erasure does. */
  forgetPatient?: (account: string) => Promise<void>;
  /** An intent younger than this may still be in flight in a live process. */
  graceMs: number;
  logger?: Logger;
  now?: () => number;
}

export interface SweepResult {
  /** Intents completed by this sweep. */
  completed: number;
  /** Intents left open because they are younger than the grace period. */
  young: number;
}

type Open = { index: number; entry: StoredAuditEntry["entry"] };

export class IntentSweeper {
  readonly #d: IntentSweeperDeps;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<SweepResult> | undefined;

  constructor(deps: IntentSweeperDeps) {
    this.#d = deps;
  }

  /** Sweeps now (joins a sweep already running). */
  sweep(): Promise<SweepResult> {
    this.#running ??= this.#sweep().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  /** Sweeps now and then every `intervalMs`, in the background. */
  start(intervalMs: number): void {
    const run = () => {
      this.sweep().catch((err: unknown) =>
        this.#d.logger?.warn({ err }, "could not complete the intents a crash left open"),
      );
    };
    run();
    this.#timer = setInterval(run, intervalMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running?.catch(() => undefined);
  }

  async #sweep(): Promise<SweepResult> {
    const { store, audit } = this.#d;
    await audit.flush();
    const from = Number((await getMeta(store.db, CHECKPOINT)) ?? -1);
    // intents by key, oldest first; an outcome completes the oldest open intent of its key
    const open = new Map<string, Open[]>();
    const end = audit.size() - 1;
    let last = from;
    for (;;) {
      const page = await audit.entriesContaining(MARKERS, { afterIndex: last, throughIndex: end }, PAGE);
      // `opened`: a write intent's categories are in its opening, and its outcome repeats them
      for (const { index, opened: entry } of page) {
        const key = keyOf(entry);
        if (key === undefined) continue;
        if (entry.reason === "intent") {
          const list = open.get(key) ?? [];
          list.push({ index, entry });
          open.set(key, list);
        } else if (isOutcome(entry.reason)) {
          open.get(key)?.shift();
        }
      }
      if (page.length < PAGE) break;
      last = page[page.length - 1]!.index;
    }
    const pending = [...open.values()].flat().sort((a, b) => a.index - b.index);
    const cutoff = (this.#d.now ?? Date.now)() - this.#d.graceMs;
    let completed = 0;
    let young = 0;
    let checkpoint = end;
    for (const intent of pending) {
      if (Date.parse(intent.entry.time) > cutoff) {
        young++;
        checkpoint = Math.min(checkpoint, intent.index - 1);
        continue;
      }
      await this.#complete(intent);
      completed++;
    }
    if (checkpoint > from) await setMeta(store.db, CHECKPOINT, String(checkpoint));
    if (completed > 0) this.#d.logger?.info({ completed }, "completed intents a crash left open");
    return { completed, young };
  }

  async #complete({ index, entry }: Open): Promise<void> {
    const done = entry.action === "erase" ? await this.#erasure(entry.patient) : await this.#write(entry);
    const reason = `${done.committed ? "committed" : "not committed"}: ${done.detail}completes intent ${index}`;
    await this.#d.auditor.record(systemPrincipal(`intent-${index}`), {
      action: entry.action,
      decision: "permit",
      ...(entry.patient === undefined ? {} : { patient: entry.patient }),
      ...(entry.resources === undefined ? {} : { resources: entry.resources }),
      ...(entry.categories === undefined ? {} : { categories: entry.categories }),
      reason,
    });
  }

  /** Whether the version the intent names exists. */
  async #write(entry: Open["entry"]): Promise<{ committed: boolean; detail: string }> {
    const match = /^([A-Za-z]+)\/([^/]+)\/_history\/(\d+)$/.exec(entry.resources?.[0] ?? "");
    if (!match) return { committed: false, detail: "" };
    const row = await this.#d.store.db
      .selectFrom("resource_versions")
      .select("version_id")
      .where("type", "=", match[1]!)
      .where("id", "=", match[2]!)
      .where("version_id", "=", Number(match[3]))
      .executeTakeFirst();
    return { committed: row !== undefined, detail: "" };
  }

  /** An erasure landed when the key is gone; its rows are then marked (again: it is idempotent). */
  async #erasure(patient: string | undefined): Promise<{ committed: boolean; detail: string }> {
    if (patient === undefined) return { committed: false, detail: "" };
    const { keyring, links, store } = this.#d;
    const ids = patient.startsWith("patient:") ? [patient.slice(8)] : await links.patientIdsOf(patient);
    let erased = false;
    let count = 0;
    for (const id of ids) {
      if (!(await keyring.isErased(`Patient/${id}`))) continue;
      erased = true;
      const account = patient.startsWith("patient:") ? undefined : patient;
      count += await eraseRows(store.db, id, await erasureAtRest(this.#d.audit, id, account));
    }
    if (!erased) return { committed: false, detail: "" };
    if (!patient.startsWith("patient:")) await this.#d.forgetPatient?.(patient);
    return { committed: true, detail: `crypto-shredded ${count} resources; ` };
  }
}

/** What pairs an intent with its outcome: the version a write names, the patient an erasure names. */
function keyOf(entry: StoredAuditEntry["entry"]): string | undefined {
  if (entry.action === "erase") return entry.patient === undefined ? undefined : `erase|${entry.patient}`;
  if (entry.action !== "create" && entry.action !== "update" && entry.action !== "delete") return undefined;
  const ref = entry.resources?.[0];
  return ref === undefined ? undefined : `${entry.action}|${ref}`;
}

function isOutcome(reason: string | undefined): boolean {
  return (
    reason !== undefined &&
    (reason === "committed" ||
      reason === "not committed" ||
      reason.startsWith("committed:") ||
      reason.startsWith("not committed:"))
  );
}
