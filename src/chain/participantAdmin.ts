import { stringToHex, type Address, type Hex } from "viem";
import { ORGANIZATION_KINDS, type OrganizationKind, type PractitionerRole } from "../model/vocabulary.js";
import type { Outbox } from "./outbox.js";

/**
 * Governance and organization-admin writes to ParticipantRegistry, each intended through the
 * outbox (durable, exactly once). The sender is this node's account: the consortium governor
 * for organizations, the organization's node for its practitioners.
 */
export class ParticipantAdmin {
  constructor(private readonly outbox: Outbox) {}

  /** Registers an organization (governor only). */
  registerOrganization(input: {
    id: Hex;
    name: string;
    kind: OrganizationKind;
    endpoint: string;
    node: Address;
  }): Promise<{ id: number }> {
    return this.outbox.intend({
      key: `register-organization:${input.id.toLowerCase()}`,
      contract: "ParticipantRegistry",
      functionName: "registerOrganization",
      args: [input.id, input.name, ORGANIZATION_KINDS.indexOf(input.kind), input.endpoint, input.node],
    });
  }

  /** Adds a practitioner with a role to an organization (its node or the governor). */
  addPractitioner(organization: Hex, account: Address, role: PractitionerRole): Promise<{ id: number }> {
    return this.outbox.intend({
      key: `add-practitioner:${organization.toLowerCase()}:${account.toLowerCase()}:${role}:${Date.now()}`,
      contract: "ParticipantRegistry",
      functionName: "addPractitioner",
      args: [organization, account, stringToHex(role, { size: 32 })],
    });
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
