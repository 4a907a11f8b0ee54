/**
 * The monitoring room on a real database (SQLite or PostgreSQL), real patient keys, the real
 * consent decision over a grant index the test fills, and an auditor whose entries the test reads:
 * for the room's integration tests and its bench.
 */
import { randomBytes } from "node:crypto";
import { toHex, type Address, type Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { Auditor } from "../../src/audit/auditor.js";
import type { AuditEntry } from "../../src/audit/auditEntry.js";
import { ConsentGate } from "../../src/consent/consentGate.js";
import { GrantIndex } from "../../src/consent/grantIndex.js";
import { accountToBytes32 } from "../../src/consent/signConsent.js";
import { LocalKeyProvider } from "../../src/crypto/keyProvider.js";
import { PatientKeyring } from "../../src/crypto/patientKeys.js";
import type { Principal } from "../../src/model/principal.js";
import {
  actionMask,
  categoryMask,
  purposeMask,
  type Action,
  type Category,
  type PractitionerRole,
} from "../../src/model/vocabulary.js";
import { MonitoringService, type MonitoringDeps } from "../../src/monitoring/monitoringService.js";
import type { Store } from "../../src/store/database.js";

export interface Harness {
  monitoring: MonitoringService;
  keyring: PatientKeyring;
  index: GrantIndex;
  entries: AuditEntry[];
  /** Links a FHIR Patient id to a new patient account; returns the patient's principal. */
  addPatient(patientId: string): Principal;
  practitioner(role: PractitionerRole, organization?: Hex): Principal;
  grant(patient: Principal, to: Principal, categories: Category[], actions?: Action[]): void;
}

let grantCounter = 0;

export function monitoringHarness(store: Store, overrides: Partial<MonitoringDeps> = {}): Harness {
  const keyring = new PatientKeyring(store, new LocalKeyProvider(randomBytes(32)));
  const index = new GrantIndex();
  const gate = new ConsentGate(index, { active: () => undefined });
  const entries: AuditEntry[] = [];
  let n = 0;
  const auditor = new Auditor(
    {
      enqueue: (entry) => {
        entries.push(entry);
        return Promise.resolve(n++);
      },
    },
    privateKeyToAccount(generatePrivateKey()).address,
  );
  const accounts = new Map<string, Address>();
  const monitoring = new MonitoringService({
    store,
    keyring,
    gate,
    auditor,
    patients: { accountOf: (id) => Promise.resolve(accounts.get(id)) },
    ...overrides,
  });
  const principal = (kind: Principal["kind"], extra: Partial<Principal> = {}): Principal => ({
    account: privateKeyToAccount(generatePrivateKey()).address,
    kind,
    purpose: kind === "patient" ? "PATRQT" : "TREAT",
    authenticatedBy: "siwe-session",
    requestId: `req-${grantCounter++}`,
    ...extra,
  });
  return {
    monitoring,
    keyring,
    index,
    entries,
    addPatient(patientId) {
      const p = principal("patient");
      accounts.set(patientId, p.account);
      return p;
    },
    practitioner(role, organization = `0x${"0a".repeat(32)}`) {
      return principal("practitioner", { role, organization });
    },
    grant(patient, to, categories, actions = ["read"]) {
      grantCounter++;
      const now = Math.floor(Date.now() / 1000);
      index.add({
        grantId: toHex(grantCounter + 1_000_000, { size: 32 }),
        patient: patient.account,
        granteeKind: "practitioner",
        grantee: accountToBytes32(to.account),
        role: `0x${"0".repeat(64)}`,
        categories: categoryMask(categories),
        purposes: purposeMask(["TREAT"]),
        actions: actionMask(actions),
        notBefore: now - 60,
        notAfter: now + 86_400,
        salt: toHex(grantCounter, { size: 32 }),
      });
    },
  };
}
