import { randomBytes } from "node:crypto";
import type { Kysely } from "kysely";
import { BaseError } from "../errors/BaseError.js";
import type { EventBus } from "../events/eventBus.js";
import type { Schema } from "../store/schema.js";

let lastMs = 0;
let seq = 0;

/**
 * A UUIDv7 (RFC 9562 §5.7) whose 12-bit `rand_a` is a counter within the millisecond, and the
 * millisecond it names (never earlier than the previous one): ids made in this process sort in the
 * order they were made, so (created_at, id) orders a stream. https://www.rfc-editor.org/rfc/rfc9562
 */
function timeOrderedId(): { id: string; ms: number } {
  let ms = Date.now();
  if (ms <= lastMs) {
    ms = lastMs;
    if (++seq > 0xfff) {
      ms = ++lastMs;
      seq = 0;
    }
  } else {
    lastMs = ms;
    seq = 0;
  }
  const r = randomBytes(8);
  const hex = ms.toString(16).padStart(12, "0");
  const variant = ((r[0]! & 0x3f) | 0x80).toString(16).padStart(2, "0");
  const tail = r.subarray(1).toString("hex");
  const id = `${hex.slice(0, 8)}-${hex.slice(8)}-7${seq.toString(16).padStart(3, "0")}-${variant}${tail.slice(0, 2)}-${tail.slice(2, 14)}`;
  return { id, ms };
}

/** One notification as the patient sees it. */
export interface PatientNotification {
  id: string;
  kind: string;
  createdAt: string;
  readAt: string | null;
  /** Where this notification sits in the account's stream (`Last-Event-ID` of the live stream). */
  cursor: string;
  detail: unknown;
}

type Row = Schema["notifications"];

/** `<created_at>.<id>`: notifications are ordered by time, then id. */
const cursorOf = (r: Pick<Row, "created_at" | "id">): string => `${Number(r.created_at)}.${r.id}`;
const CURSOR_RE = /^(\d{1,15})\.([0-9a-f-]{36})$/;

function toNotification(r: Row): PatientNotification {
  return {
    id: r.id,
    kind: r.kind,
    createdAt: new Date(Number(r.created_at)).toISOString(),
    readAt: r.read_at === null ? null : new Date(Number(r.read_at)).toISOString(),
    cursor: cursorOf(r),
    detail: JSON.parse(r.payload) as unknown,
  };
}

/**
 * Notifications for patients (break-glass flags, accesses and denials they asked to hear about,
 * referrals) in `notifications`: written at once, read from the database, so every process sees
 * every other's. A store in this process also announces each one on the event bus, for live
 * streams.
 */
export class PatientNotifications {
  constructor(
    private readonly db: Kysely<Schema>,
    private readonly events?: EventBus,
  ) {}

  /** Records a notification for the patient (or an organization, for referrals). */
  async notify(account: string, kind: string, payload: Record<string, unknown>): Promise<void> {
    const { id, ms } = timeOrderedId();
    const row = {
      id,
      account: account.toLowerCase(),
      kind,
      payload: JSON.stringify(payload),
      created_at: ms,
      read_at: null,
    };
    await this.db.insertInto("notifications").values(row).execute();
    this.events?.emit("notification.created", { account: row.account, cursor: cursorOf(row) });
  }

  /** The account's notifications, newest first. */
  async list(account: string, limit = 100): Promise<PatientNotification[]> {
    const rows = await this.db
      .selectFrom("notifications")
      .selectAll()
      .where("account", "=", account.toLowerCase())
      .orderBy("created_at", "desc")
      .orderBy("id", "desc")
      .limit(limit)
      .execute();
    return rows.map(toNotification);
  }

  /**
   * The account's notifications after `cursor` (all when undefined), oldest first, and those up
   * to `lookbackMs` before it: another API process may commit a notification stamped a moment
   * before one this process already sent, so a live stream looks back and skips what it sent.
   * @throws BaseError("invalid") for a cursor this store did not hand out
   */
  async since(
    account: string,
    cursor: string | undefined,
    options: { limit?: number; lookbackMs?: number } = {},
  ): Promise<PatientNotification[]> {
    let q = this.db.selectFrom("notifications").selectAll().where("account", "=", account.toLowerCase());
    if (cursor !== undefined) {
      const m = CURSOR_RE.exec(cursor);
      if (!m) throw new BaseError("invalid", "not a notification cursor", { expression: "Last-Event-ID" });
      const at = Number(m[1]);
      const id = m[2] ?? "";
      const lookback = options.lookbackMs ?? 0;
      q =
        lookback > 0
          ? q.where("created_at", ">=", at - lookback)
          : q.where((eb) =>
              eb.or([eb("created_at", ">", at), eb.and([eb("created_at", "=", at), eb("id", ">", id)])]),
            );
    }
    const rows = await q
      .orderBy("created_at")
      .orderBy("id")
      .limit(options.limit ?? 500)
      .execute();
    return rows.map(toNotification);
  }

  /**
   * Marks the account's notifications read: the given ones, or all of them.
   * @returns how many changed
   */
  async markRead(account: string, ids: readonly string[] | "all"): Promise<number> {
    let q = this.db
      .updateTable("notifications")
      .set({ read_at: Date.now() })
      .where("account", "=", account.toLowerCase())
      .where("read_at", "is", null);
    if (ids !== "all") {
      if (ids.length === 0) return 0;
      q = q.where("id", "in", [...ids]);
    }
    const result = await q.executeTakeFirst();
    return Number(result.numUpdatedRows);
  }
}
