import { stringToHex, type Address, type Hex } from "viem";
import { ORGANIZATION_KINDS, type OrganizationKind, type PractitionerRole } from "../model/vocabulary.js";
import type { IntendOptions, Outbox } from "./outbox.js";

/**
 * Governance and organization-admin writes to ParticipantRegistry, each intended through the
 * outbox (durable, exactly once). The sender is this node's account: the consortium governor
 * for organizations, the organization's node for its practitioners.
 */
export class ParticipantAdmin {
  /**
   * @param outbox - Where the writes are intended.
   * @param options - Passed to every `intend` (a resumable process keeps committed intents).
   */
  constructor(
    private readonly outbox: Outbox,
    private readonly options: IntendOptions = {},
  ) {}

  /** Registers an organization (governor only). */
  registerOrganization(input: {
    id: Hex;
    name: string;
    kind: OrganizationKind;
    endpoint: string;
    node: Address;
  }): Promise<{ id: number; kept?: boolean }> {
    return this.outbox.intend(
      {
        key: registrationKey(input.id),
        contract: "ParticipantRegistry",
        functionName: "registerOrganization",
        args: [input.id, input.name, ORGANIZATION_KINDS.indexOf(input.kind), input.endpoint, input.node],
      },
      this.options,
    );
  }

  /**
   * Adds a practitioner with a role to an organization (its node or the governor).
   * @param key - Idempotency key; by default a new one per call (adding again after a removal is
   *   a new write). A process that must add exactly once across restarts passes a fixed key.
   */
  addPractitioner(
    organization: Hex,
    account: Address,
    role: PractitionerRole,
    key = `add-practitioner:${organization.toLowerCase()}:${account.toLowerCase()}:${role}:${Date.now()}`,
  ): Promise<{ id: number; kept?: boolean }> {
    return this.outbox.intend(
      {
        key,
        contract: "ParticipantRegistry",
        functionName: "addPractitioner",
        args: [organization, account, stringToHex(role, { size: 32 })],
      },
      this.options,
    );
  }

  /** Removes a practitioner from an organization. */
  removePractitioner(organization: Hex, account: Address): Promise<{ id: number }> {
    return this.outbox.intend({
      key: `remove-practitioner:${organization.toLowerCase()}:${account.toLowerCase()}:${Date.now()}`,
      contract: "ParticipantRegistry",
      functionName: "removePractitioner",
      args: [organization, account],
    });
  }

  /** Relays a patient's signed self-registration (EIP-712 RegisterPatient). */
  registerPatient(patient: Address, signature: Hex): Promise<{ id: number }> {
    return this.outbox.intend({
      key: `register-patient:${patient.toLowerCase()}`,
      contract: "ParticipantRegistry",
      functionName: "registerPatientBySig",
      args: [patient, signature],
    });
  }
}

/** Outbox key of an organization's registration: one registration per organization id. */
export function registrationKey(organization: Hex): string {
  return `register-organization:${organization.toLowerCase()}`;
}
