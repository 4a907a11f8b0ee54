/**
 * Access requests: a practitioner asks a patient for a grant (categories, purposes, a period and
 * a message); the patient sees the request with its proposed terms, signs a grant from them in
 * their own browser (or declines); the requester follows its state. A request never decides
 * anything: only the patient's signed grant does.
 *
 * Asking reveals nothing about the patient: any account may be named, the answer is the same
 * whether the node knows the account or not, and the only refusals concern the requester's own
 * requests (one pending request per patient, a cap on pending requests). The terms and the
 * message are sealed under the patient's key, like break-glass reasons, so the database at rest
 * does not tell which categories anyone asked about, and erasing the patient erases them.
 */
import { randomUUID } from "node:crypto";
import type { Kysely, Selectable } from "kysely";
import { getAddress, isAddressEqual, type Address, type Hex } from "viem";
import type { Auditor } from "../audit/auditor.js";
import { decryptRecord, encryptRecord } from "../crypto/envelope.js";
import type { PatientKeyring } from "../crypto/patientKeys.js";
import { BaseError } from "../errors/BaseError.js";
import { requireKind, type Principal } from "../model/principal.js";
import {
  GRANTEE_KINDS,
  actionMask,
  categoriesOf,
  categoryMask,
  purposeMask,
  purposesOf,
  type Category,
  type Purpose,
} from "../model/vocabulary.js";
import type { ConsentRequestTable, Schema } from "../store/schema.js";
import type { PatientNotifications } from "./notifications.js";
import { accountToBytes32, parseSignedGrant, roleToBytes32 } from "./signConsent.js";

/** Most requests one practitioner may have pending at once, across patients. */
export const MAX_PENDING_PER_REQUESTER = 50;
/** Longest message a request may carry. */
export const MAX_REQUEST_MESSAGE = 1000;

export const REQUEST_STATUSES = ["pending", "granted", "declined", "withdrawn"] as const;
export type RequestStatus = (typeof REQUEST_STATUSES)[number];

/** What a practitioner asks for. */
export interface RequestTerms {
  categories: Category[];
  purposes: Purpose[];
  /** Unix seconds. */
  notBefore: number;
  notAfter: number;
  message: string;
}

/** An access request as its patient or its requester sees it. */
export interface ConsentRequestView {
  id: string;
  patient: Address;
  requester: { account: Address; organization: Hex; organizationName: string | null; role: string };
  categories: Category[];
  purposes: Purpose[];
  notBefore: string;
  notAfter: string;
  message: string;
  status: RequestStatus;
  grantId: Hex | null;
  createdAt: string;
  answeredAt: string | null;
  /**
   * The EIP-712 Grant the request proposes, less `patient`'s salt: what the patient's page
   * prefills and signs (src/model/consentTypes.ts); the patient may narrow it before signing.
   */
  proposedGrant: {
    patient: Address;
    granteeKind: number;
    grantee: Hex;
    role: Hex;
    categories: number;
    purposes: number;
    actions: number;
    notBefore: number;
    notAfter: number;
  };
}

export interface ConsentRequestsDeps {
  db: Kysely<Schema>;
  keyring: Pick<PatientKeyring, "keyFor" | "dataKey">;
  auditor: Auditor;
  notifications: Pick<PatientNotifications, "notify">;
  /** Relays the patient's signed grant (ConsentService.submitGrant). */
  submitGrant(
    input: unknown,
    options: { wait?: boolean },
  ): Promise<{ grantId: Hex; status: string; outboxId: number }>;
}

type Row = Selectable<ConsentRequestTable>;

const SEALED = "sealed:v1:";
/** What sealed terms are bound to: their request and patient, so they cannot move to another row. */
const termsAad = (id: string, patient: string) => `consent-request/${id}/${patient.toLowerCase()}`;

/** Access requests: made by practitioners, answered by patients, audited in the patient's log. */
export class ConsentRequests {
  constructor(private readonly d: ConsentRequestsDeps) {}

  /**
   * A practitioner asks `patient` for a grant. The answer is the same for any account.
   * @throws BaseError("conflict") when the caller already has a pending request for this account,
   *   "rate-limited" past {@link MAX_PENDING_PER_REQUESTER} pending requests
   */
  async create(principal: Principal, patient: Address, terms: RequestTerms): Promise<ConsentRequestView> {
    requireKind(principal, "practitioner");
    const { organization, role } = principal;
    if (organization === undefined || role === undefined)
      throw new BaseError("forbidden", "only a practitioner of an organization may request access");
    if (isAddressEqual(principal.account, patient))
      throw new BaseError("invalid", "a request names another account than yours", { expression: "patient" });
    if (terms.notAfter <= terms.notBefore)
      throw new BaseError("invalid", "notBefore must be before notAfter", { expression: "notAfter" });
    if (terms.notAfter <= Math.floor(Date.now() / 1000))
      throw new BaseError("invalid", "the requested period has already ended", { expression: "notAfter" });
    const requester = principal.account.toLowerCase();
    const pending = await this.d.db
      .selectFrom("consent_requests")
      .select(["patient"])
      .where("requester", "=", requester)
      .where("status", "=", "pending")
      .execute();
    if (pending.some((r) => r.patient === patient.toLowerCase()))
      throw new BaseError("conflict", "you already have a pending request for this account");
    if (pending.length >= MAX_PENDING_PER_REQUESTER)
      throw new BaseError("rate-limited", "too many pending requests: withdraw some first");
    const id = randomUUID();
    const row: Row = {
      id,
      patient: patient.toLowerCase(),
      requester,
      organization: organization.toLowerCase(),
      role,
      terms: await this.#seal(id, patient, terms),
      status: "pending",
      grant_id: null,
      created_at: Date.now(),
      answered_at: null,
    };
    await this.d.auditor.record(principal, {
      action: "consent-request",
      decision: "permit",
      patient: getAddress(patient),
      categories: terms.categories,
      reason: `access request ${id} made`,
    });
    await this.d.db.insertInto("consent_requests").values(row).execute();
    await this.d.notifications.notify(row.patient, "access-request", {
      request: id,
      requester: getAddress(requester),
      organization: row.organization,
    });
    return this.#view(row, terms, await this.#orgName(row.organization));
  }

  /** The caller's own requests (as requester), newest first. */
  async mine(principal: Principal, limit = 100): Promise<ConsentRequestView[]> {
    const rows = await this.d.db
      .selectFrom("consent_requests")
      .selectAll()
      .where("requester", "=", principal.account.toLowerCase())
      .orderBy("created_at", "desc")
      .limit(limit)
      .execute();
    return this.#views(rows);
  }

  /** One of the caller's requests (as requester or as its patient); not-found for any other. */
  async get(principal: Principal, id: string): Promise<ConsentRequestView> {
    return (await this.#views([await this.#own(principal, id, "either")]))[0]!;
  }

  /** The signed-in patient's requests, newest first: pending ones, or all. */
  async forPatient(
    principal: Principal,
    status: "pending" | "all",
    limit = 100,
  ): Promise<ConsentRequestView[]> {
    requireKind(principal, "patient");
    let q = this.d.db
      .selectFrom("consent_requests")
      .selectAll()
      .where("patient", "=", principal.account.toLowerCase());
    if (status === "pending") q = q.where("status", "=", "pending");
    const rows = await q.orderBy("created_at", "desc").limit(limit).execute();
    return this.#views(rows);
  }

  /**
   * The patient answers a pending request with the grant they signed in their browser (the
   * proposed terms or narrower ones). The grant must be theirs and name the requester (as a
   * practitioner, or their organization, or their role there); it is relayed like any grant.
   * @param signed - `{grant, signature}` as `POST /consents` takes it
   */
  async grant(
    principal: Principal,
    id: string,
    signed: unknown,
    options: { wait?: boolean } = {},
  ): Promise<{ request: ConsentRequestView; grantId: Hex; status: string }> {
    requireKind(principal, "patient");
    const row = await this.#own(principal, id, "patient");
    if (row.status !== "pending") throw new BaseError("conflict", "this request was already answered");
    const { message } = parseSignedGrant(signed);
    if (!isAddressEqual(message.patient, principal.account))
      throw new BaseError("invalid", "the grant names another patient", { expression: "grant.patient" });
    if (!namesRequester(message, row))
      throw new BaseError("invalid", "the grant does not name the requester", {
        expression: "grant.grantee",
      });
    const submitted = await this.d.submitGrant(signed, options);
    const answered = await this.#answer(row, "granted", submitted.grantId);
    await this.d.auditor.record(principal, {
      action: "consent-request",
      decision: "permit",
      patient: principal.account,
      reason: `access request ${id} granted`,
    });
    await this.d.notifications.notify(row.requester, "access-request.answered", {
      request: id,
      status: "granted",
    });
    return {
      request: (await this.#views([answered]))[0]!,
      grantId: submitted.grantId,
      status: submitted.status,
    };
  }

  /** The patient declines a pending request. */
  async decline(principal: Principal, id: string): Promise<ConsentRequestView> {
    requireKind(principal, "patient");
    const row = await this.#own(principal, id, "patient");
    if (row.status !== "pending") throw new BaseError("conflict", "this request was already answered");
    const answered = await this.#answer(row, "declined", null);
    await this.d.auditor.record(principal, {
      action: "consent-request",
      decision: "deny",
      patient: principal.account,
      reason: `access request ${id} declined`,
    });
    await this.d.notifications.notify(row.requester, "access-request.answered", {
      request: id,
      status: "declined",
    });
    return (await this.#views([answered]))[0]!;
  }

  /** The requester withdraws its pending request. */
  async withdraw(principal: Principal, id: string): Promise<ConsentRequestView> {
    const row = await this.#own(principal, id, "requester");
    if (row.status !== "pending") throw new BaseError("conflict", "this request was already answered");
    const answered = await this.#answer(row, "withdrawn", null);
    await this.d.auditor.record(principal, {
      action: "consent-request",
      decision: "permit",
      patient: getAddress(row.patient),
      reason: `access request ${id} withdrawn`,
    });
    return (await this.#views([answered]))[0]!;
  }

  /** Moves a pending request to its answer; conflict when another answer came first. */
  async #answer(row: Row, status: RequestStatus, grantId: Hex | null): Promise<Row> {
    const now = Date.now();
    const result = await this.d.db
      .updateTable("consent_requests")
      .set({ status, grant_id: grantId?.toLowerCase() ?? null, answered_at: now })
      .where("id", "=", row.id)
      .where("status", "=", "pending")
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) === 0)
      throw new BaseError("conflict", "this request was already answered");
    return { ...row, status, grant_id: grantId?.toLowerCase() ?? null, answered_at: now };
  }

  /** The request, when the caller is its patient or requester as `as` says; not-found otherwise. */
  async #own(principal: Principal, id: string, as: "patient" | "requester" | "either"): Promise<Row> {
    const row = await this.d.db
      .selectFrom("consent_requests")
      .selectAll()
      .where("id", "=", id)
      .executeTakeFirst();
    const me = principal.account.toLowerCase();
    const mine =
      row !== undefined &&
      ((as !== "requester" && principal.kind === "patient" && row.patient === me) ||
        (as !== "patient" && row.requester === me));
    if (!mine) throw new BaseError("not-found", "no such access request of yours");
    return row;
  }

  async #views(rows: Row[]): Promise<ConsentRequestView[]> {
    const names = new Map<string, string | null>();
    const out: ConsentRequestView[] = [];
    for (const row of rows) {
      if (!names.has(row.organization)) names.set(row.organization, await this.#orgName(row.organization));
      out.push(this.#view(row, await this.#unseal(row), names.get(row.organization) ?? null));
    }
    return out;
  }

  #view(row: Row, terms: RequestTerms, organizationName: string | null): ConsentRequestView {
    const patient = getAddress(row.patient);
    const requester = getAddress(row.requester);
    return {
      id: row.id,
      patient,
      requester: {
        account: requester,
        organization: row.organization as Hex,
        organizationName,
        role: row.role,
      },
      categories: terms.categories,
      purposes: terms.purposes,
      notBefore: new Date(terms.notBefore * 1000).toISOString(),
      notAfter: new Date(terms.notAfter * 1000).toISOString(),
      message: terms.message,
      status: row.status as RequestStatus,
      grantId: row.grant_id as Hex | null,
      createdAt: new Date(Number(row.created_at)).toISOString(),
      answeredAt: row.answered_at === null ? null : new Date(Number(row.answered_at)).toISOString(),
      proposedGrant: {
        patient,
        granteeKind: GRANTEE_KINDS.indexOf("practitioner"),
        grantee: accountToBytes32(requester),
        role: `0x${"0".repeat(64)}`,
        categories: categoryMask(terms.categories),
        purposes: purposeMask(terms.purposes),
        actions: actionMask(["read"]),
        notBefore: terms.notBefore,
        notAfter: terms.notAfter,
      },
    };
  }

  async #orgName(organization: string): Promise<string | null> {
    const org = await this.d.db
      .selectFrom("organizations")
      .select("name")
      .where("id", "=", organization)
      .executeTakeFirst();
    return org?.name ?? null;
  }

  async #seal(id: string, patient: Address, terms: RequestTerms): Promise<string> {
    const plain = JSON.stringify({
      c: categoryMask(terms.categories),
      p: purposeMask(terms.purposes),
      f: terms.notBefore,
      u: terms.notAfter,
      m: terms.message,
    });
    const { ciphertext } = await encryptRecord(
      this.d.keyring,
      patient.toLowerCase(),
      Buffer.from(plain, "utf8"),
      termsAad(id, patient),
    );
    return `${SEALED}${Buffer.from(ciphertext).toString("base64")}`;
  }

  /** The terms of a stored request; empty terms once the patient's key is erased. */
  async #unseal(row: Row): Promise<RequestTerms> {
    try {
      const bytes = Buffer.from(row.terms.slice(SEALED.length), "base64");
      const plain = await decryptRecord(this.d.keyring, row.patient, bytes, termsAad(row.id, row.patient));
      const t = JSON.parse(Buffer.from(plain).toString("utf8")) as {
        c: number;
        p: number;
        f: number;
        u: number;
        m: string;
      };
      return {
        categories: categoriesOf(t.c),
        purposes: purposesOf(t.p),
        notBefore: t.f,
        notAfter: t.u,
        message: t.m,
      };
    } catch {
      return { categories: [], purposes: [], notBefore: 0, notAfter: 0, message: "" };
    }
  }
}

/** The grant names the request's requester: as a practitioner, or their organization or role there. */
function namesRequester(message: { granteeKind: number; grantee: Hex; role: Hex }, row: Row): boolean {
  const kind = GRANTEE_KINDS[message.granteeKind];
  if (kind === undefined) return false;
  switch (kind) {
    case "practitioner":
      return message.grantee.toLowerCase() === accountToBytes32(getAddress(row.requester)).toLowerCase();
    case "organization":
      return message.grantee.toLowerCase() === row.organization;
    case "role":
      return (
        message.grantee.toLowerCase() === row.organization &&
        message.role.toLowerCase() === roleToBytes32(row.role).toLowerCase()
      );
  }
}
