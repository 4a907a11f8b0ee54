import { EventEmitter } from "node:events";
import type { Category } from "../model/vocabulary.js";

/** In-process notifications that feed subscriptions, live views and notifications. */
export interface CarechainEvents {
  "record.stored": {
    type: string;
    id: string;
    versionId: number;
    patientId: string | undefined;
    patientAccount: string | undefined;
    categories: Category[];
  };
  /** A Patient's records at this node were crypto-shredded (`RecordRepository.erasePatient`). */
  "patient.erased": { patientId: string; patientAccount: string | undefined };
  /** A grant's terms now count at this node; `relayedHere` when this node relayed its commitment. */
  "consent.granted": { grantId: string; patient: string; relayedHere: boolean };
  "consent.revoked": { grantId: string; patient: string };
  "patient.alert": { account: string; kind: string; detail: Record<string, unknown> };
  /** A notification was stored for `account` in this process (live notification streams). */
  "notification.created": { account: string; cursor: string };
}

/** A typed in-process event bus; listeners run synchronously and must not throw. */
export class EventBus {
  readonly #emitter = new EventEmitter({ captureRejections: false });

  constructor() {
    this.#emitter.setMaxListeners(1000);
  }

  /** Publishes an event to every current listener. */
  emit<K extends keyof CarechainEvents>(name: K, payload: CarechainEvents[K]): void {
    this.#emitter.emit(name, payload);
  }

  /** Subscribes; returns the unsubscribe function. */
  on<K extends keyof CarechainEvents>(name: K, listener: (payload: CarechainEvents[K]) => void): () => void {
    this.#emitter.on(name, listener);
    return () => this.#emitter.off(name, listener);
  }
}
