/**
 * EIP-712 domains and types of the carechain contracts other than consent (which lives in
 * `src/model/consentTypes.ts`). The Solidity type strings must match these field for field.
 * https://eips.ethereum.org/EIPS/eip-712
 */
export const PARTICIPANT_DOMAIN = { name: "carechain ParticipantRegistry", version: "1" } as const;

export const PARTICIPANT_TYPES = {
  RegisterPatient: [{ name: "patient", type: "address" }],
} as const;

export const AUDIT_DOMAIN = { name: "carechain AuditAnchor", version: "1" } as const;

/** A signed tree head of a node's audit log (RFC 9162 section 4.10, minus the extensions). */
export const AUDIT_TYPES = {
  TreeHead: [
    { name: "node", type: "address" },
    { name: "treeSize", type: "uint64" },
    { name: "rootHash", type: "bytes32" },
    { name: "mapRoot", type: "bytes32" },
    { name: "timestamp", type: "uint64" },
  ],
} as const;
