/**
 * Readings at rest: one encrypted chunk per accepted batch (docs/monitoring.md, "Storage"). A chunk
 * holds the batch's readings in their stored units, and the NEWS2 score they completed, as JSON
 * encrypted under the patient's key (src/crypto/envelope.ts, the same envelope as every record,
 * bound to its device and batch id). Rows are written by one group commit at a time: every batch
 * waiting while a commit runs goes into the next one, and each batch is answered only once its row
 * is durable. `(device_id, batch_id)` is unique, so a batch resent after a lost answer, a crash or
 * by a replaying attacker is stored once. On SQLite a commit runs one cached prepared insert per row
 * synchronously inside one transaction (no SQL built per commit, no await per row); on PostgreSQL,
 * one multi-row insert per 100 rows.
 */
import type Database from "better-sqlite3";
import { decryptRecord, encryptRecord } from "../crypto/envelope.js";
import { BaseError } from "../errors/BaseError.js";
import type { PatientKeyring } from "../crypto/patientKeys.js";
import type { Acvpu, News2Parameter, News2Risk, Spo2Scale } from "./news2.js";
import type { StoredReading } from "./batch.js";
import type { MonitoringBatchRow, MonitoringDb } from "./monitoringTables.js";
import type { VitalKind } from "./vitals.js";

/** A NEWS2 score as a chunk keeps it: inputs named by device and device time. */
export interface StoredScore {
  total: number;
  risk: News2Risk;
  scale: Spo2Scale;
  parts: Record<News2Parameter, number>;
  at: number;
  inputs: Partial<Record<VitalKind, [device: string, at: number, value: number | Acvpu]>>;
}

export interface Chunk {
  device: string;
  batchId: string;
  receivedAt: number;
  readings: StoredReading[];
  score?: StoredScore;
}

/** The key a monitored patient's chunks are encrypted under: the same as their records'. */
export function patientKeyId(patientId: string): string {
  return `Patient/${patientId}`;
}

function chunkAad(device: string, batchId: string): string {
  return `monitoring/${device}/${batchId}`;
}

interface Pending {
  row: MonitoringBatchRow;
  resolve: (inserted: boolean) => void;
  reject: (err: unknown) => void;
}

/** Rows per multi-row INSERT on PostgreSQL (8 columns: well under its parameter limit). */
const ROWS_PER_STATEMENT = 100;

/** The SQLite statements of a commit, prepared once. */
interface SqliteWriter {
  handle: Database.Database;
  begin: Database.Statement;
  insert: Database.Statement;
  commit: Database.Statement;
  rollback: Database.Statement;
}

export class ChunkStore {
  readonly #db: MonitoringDb;
  readonly #keyring: Pick<PatientKeyring, "keyFor" | "dataKey">;
  readonly #sqlite: SqliteWriter | undefined;
  #pending: Pending[] = [];
  #flushing = false;

  /**
   * @param db - the node's database
   * @param keyring - the patients' keys
   * @param sqlite - the SQLite handle under `db` (src/store/database.ts `Store.sqlite`), for the
   *   synchronous commit path; absent on PostgreSQL
   */
  constructor(
    db: MonitoringDb,
    keyring: Pick<PatientKeyring, "keyFor" | "dataKey">,
    sqlite?: Database.Database,
  ) {
    this.#db = db;
    this.#keyring = keyring;
    this.#sqlite = sqlite && {
      handle: sqlite,
      // IMMEDIATE, as the store's own transactions: another process on the file never makes it fail late
      begin: sqlite.prepare("begin immediate"),
      insert: sqlite.prepare(
        "insert into monitoring_batches" +
          " (device_id, batch_id, patient_id, received_at, first_at, last_at, readings, blob)" +
          " values (?, ?, ?, ?, ?, ?, ?, ?) on conflict (device_id, batch_id) do nothing",
      ),
      commit: sqlite.prepare("commit"),
      rollback: sqlite.prepare("rollback"),
    };
  }

  /**
   * Encrypts and stores one batch's chunk.
   * @returns true when stored now, false when this device's batch id was stored before
   */
  async put(patientId: string, chunk: Chunk): Promise<boolean> {
    return this.write(await this.seal(patientId, chunk));
  }

  /** Encrypts one batch's chunk into the row {@link write} stores (nothing is stored yet). */
  async seal(patientId: string, chunk: Chunk): Promise<MonitoringBatchRow> {
    const plain = Buffer.from(
      JSON.stringify({ r: chunk.readings, ...(chunk.score ? { s: chunk.score } : {}) }),
      "utf8",
    );
    const { ciphertext } = await encryptRecord(
      this.#keyring,
      patientKeyId(patientId),
      plain,
      chunkAad(chunk.device, chunk.batchId),
    );
    let first = Number.POSITIVE_INFINITY;
    let last = 0;
    for (const r of chunk.readings) {
      if (r[2] < first) first = r[2];
      if (r[2] > last) last = r[2];
    }
    return {
      device_id: chunk.device,
      batch_id: chunk.batchId,
      patient_id: patientId,
      received_at: chunk.receivedAt,
      first_at: Number.isFinite(first) ? first : chunk.receivedAt,
      last_at: Math.max(last, chunk.score?.at ?? 0),
      readings: chunk.readings.length,
      blob: ciphertext,
    };
  }

  /**
   * Stores a sealed chunk in the next group commit.
   * @returns true when stored now (durable), false when this device's batch id was stored before
   */
  write(row: MonitoringBatchRow): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      this.#pending.push({ row, resolve, reject });
      if (!this.#flushing) this.#flush();
    });
  }

  #flush(): void {
    this.#flushing = true;
    setImmediate(() => {
      const batch = this.#pending;
      this.#pending = [];
      this.#write(batch)
        .then((inserted) => {
          // a second copy in the same commit was not stored: only the first waiter hears "stored"
          const told = new Set<string>();
          for (const p of batch) {
            const key = `${p.row.device_id}\0${p.row.batch_id}`;
            p.resolve(inserted.has(key) && !told.has(key));
            told.add(key);
          }
        })
        .catch((err: unknown) => {
          for (const p of batch) p.reject(err);
        })
        .finally(() => {
          if (this.#pending.length > 0) this.#flush();
          else this.#flushing = false;
        });
    });
  }

  async #write(batch: Pending[]): Promise<Set<string>> {
    const inserted = new Set<string>();
    // one device may resend a batch before the first copy commits: keep one row per key
    const unique = new Map<string, MonitoringBatchRow>();
    for (const p of batch) unique.set(`${p.row.device_id}\0${p.row.batch_id}`, p.row);
    const rows = [...unique.values()];
    const sqlite = this.#sqlite;
    if (sqlite !== undefined) {
      // holding Kysely's one connection, so no Kysely transaction is open on the handle meanwhile
      await this.#db.connection().execute(async () => {
        const { handle, insert } = sqlite;
        if (handle.inTransaction) throw new BaseError("internal", "chunk write inside an open transaction");
        sqlite.begin.run();
        try {
          for (const r of rows) {
            const { changes } = insert.run(
              r.device_id,
              r.batch_id,
              r.patient_id,
              r.received_at,
              r.first_at,
              r.last_at,
              r.readings,
              r.blob,
            );
            if (changes === 1) inserted.add(`${r.device_id}\0${r.batch_id}`);
          }
          sqlite.commit.run();
        } catch (error) {
          if (handle.inTransaction) sqlite.rollback.run();
          throw error;
        }
      });
      return inserted;
    }
    await this.#db.transaction().execute(async (tx) => {
      for (let i = 0; i < rows.length; i += ROWS_PER_STATEMENT) {
        const done = await tx
          .insertInto("monitoring_batches")
          .values(rows.slice(i, i + ROWS_PER_STATEMENT))
          .onConflict((oc) => oc.columns(["device_id", "batch_id"]).doNothing())
          .returning(["device_id", "batch_id"])
          .execute();
        for (const d of done) inserted.add(`${d.device_id}\0${d.batch_id}`);
      }
    });
    return inserted;
  }

  /** Whether the patient has any chunk whose readings may fall in [from, to] (nothing decrypted). */
  async any(patientId: string, from: number, to: number): Promise<boolean> {
    const row = await this.#inRange(patientId, from, to).select("batch_id").limit(1).executeTakeFirst();
    return row !== undefined;
  }

  #inRange(patientId: string, from: number, to: number) {
    let q = this.#db.selectFrom("monitoring_batches").where("patient_id", "=", patientId);
    // open ends are left out: PostgreSQL's bigint has no infinity
    if (Number.isFinite(from)) q = q.where("last_at", ">=", Math.floor(from));
    if (Number.isFinite(to)) q = q.where("first_at", "<=", Math.ceil(to));
    return q;
  }

  /**
   * The chunks of a patient whose readings may fall in [from, to] (device times, ms), decrypted,
   * newest first.
   */
  async read(patientId: string, from: number, to: number, limit = 10_000): Promise<Chunk[]> {
    const rows = await this.#inRange(patientId, from, to)
      .selectAll()
      .orderBy("last_at", "desc")
      .limit(limit)
      .execute();
    const out: Chunk[] = [];
    for (const row of rows) {
      const plain = await decryptRecord(
        this.#keyring,
        patientKeyId(patientId),
        row.blob,
        chunkAad(row.device_id, row.batch_id),
      );
      const body = JSON.parse(Buffer.from(plain).toString("utf8")) as { r: StoredReading[]; s?: StoredScore };
      out.push({
        device: row.device_id,
        batchId: row.batch_id,
        receivedAt: Number(row.received_at),
        readings: body.r,
        ...(body.s ? { score: body.s } : {}),
      });
    }
    return out;
  }
}
