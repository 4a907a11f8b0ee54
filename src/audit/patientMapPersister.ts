/**
 * Persists the patient map at anchored sizes in the background (src/store/auditRows.ts): the rows
 * of the patients changed since the last persisted size, so a start reads them instead of
 * replaying the log. At most once per `everyMs`. One persist runs at a time; a size arriving
 * meanwhile waits for it, and a later one replaces it. A failed persist is retried with the next
 * anchor (the rows it left are each consistent, and the persisted size has not moved).
 */
import { writePatientMap, type PatientMapChunkWriter } from "../store/auditRows.js";
import type { Store } from "../store/database.js";
import type { LivePatientMap } from "./patientMapLive.js";

export class PatientMapPersister {
  /** The size the persisted rows describe, when its version is kept. */
  #persistedSize: number | undefined;
  /** The running persist, and the anchored size to persist after it. */
  #persisting: Promise<void> | undefined;
  #next: number | undefined;
  #persistedAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly store: Store,
    private readonly map: LivePatientMap,
    persistedSize: number | undefined,
    private readonly everyMs: number,
    private readonly writeChunk: PatientMapChunkWriter,
  ) {
    this.#persistedSize = persistedSize;
  }

  /** The size the persisted rows describe, if any. */
  get persistedSize(): number | undefined {
    return this.#persistedSize;
  }

  /** A head of `size` was anchored: persists it unless one was persisted less than `everyMs` ago. */
  anchored(size: number): void {
    if (performance.now() - this.#persistedAt >= this.everyMs) this.#persist(size);
  }

  /** Resolves once the persists started so far are done (for tests and shutdown). */
  async settled(): Promise<number | undefined> {
    while (this.#persisting !== undefined) await this.#persisting.then(() => new Promise(setImmediate));
    return this.#persistedSize;
  }

  #persist(size: number): void {
    if (this.#persisting !== undefined) {
      this.#next = Math.max(this.#next ?? 0, size);
      return;
    }
    const rows = this.map.changes(size, this.#persistedSize);
    if (rows === undefined || (this.#persistedSize !== undefined && size <= this.#persistedSize)) return;
    this.#persistedAt = performance.now();
    this.#persisting = writePatientMap(
      this.store,
      rows.map((r) => ({ patient: r.patient, last_idx: r.last, entry_count: r.count })),
      size,
      this.writeChunk,
    ).then(
      () => {
        this.#persistedSize = size;
      },
      () => undefined,
    );
    void this.#persisting.finally(() => {
      this.#persisting = undefined;
      const next = this.#next;
      this.#next = undefined;
      if (next !== undefined) this.#persist(next);
    });
  }
}
