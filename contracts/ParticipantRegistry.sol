// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";

/**
 * @title ParticipantRegistry
 * @notice Who takes part in a carechain consortium: organizations (each running one node), the
 * practitioners each organization vouches for, and patients. Nothing identifying a patient is
 * stored: a patient is an account and nothing else.
 */
contract ParticipantRegistry is AccessControl, EIP712 {
    /// @notice Role allowed to admit, change and suspend organizations.
    bytes32 public constant GOVERNOR_ROLE = keccak256("GOVERNOR_ROLE");

    /// @notice EIP-712 type a patient signs to be registered by a relayer.
    bytes32 public constant REGISTER_PATIENT_TYPEHASH = keccak256("RegisterPatient(address patient)");

    /// @dev Number of organization kinds (`ORGANIZATION_KINDS` in src/consent/model.ts).
    uint8 private constant _KIND_COUNT = 7;

    /// @notice An organization of the consortium and the node it runs.
    struct Organization {
        string name;
        uint8 kind;
        string endpoint;
        address node;
        bool active;
        bool exists;
    }

    mapping(bytes32 orgId => Organization) private _organizations;
    mapping(address node => bytes32 orgId) private _organizationOfNode;
    mapping(bytes32 orgId => mapping(address account => bytes32 role)) private _practitionerRoles;
    mapping(address account => bool) private _patients;

    /// @notice `orgId` is not a registered organization.
    error ParticipantUnknownOrganization(bytes32 orgId);
    /// @notice `orgId` is already registered.
    error ParticipantOrganizationExists(bytes32 orgId);
    /// @notice The organization id zero is reserved for "none".
    error ParticipantZeroOrganizationId();
    /// @notice The node address zero is not a node.
    error ParticipantZeroNode();
    /// @notice `caller` may not change organization `orgId`.
    error ParticipantUnauthorized(address caller, bytes32 orgId);
    /// @notice `account` is already registered (as a patient, or as a practitioner of the organization).
    error ParticipantAlreadyRegistered(address account);
    /// @notice `account` is not a practitioner of `orgId`.
    error ParticipantUnknownPractitioner(bytes32 orgId, address account);
    /// @notice The signature does not come from `patient`.
    error ParticipantInvalidSignature(address patient);
    /// @notice `kind` is not an index into the organization kinds.
    error ParticipantInvalidKind(uint8 kind);
    /// @notice `node` already runs another organization.
    error ParticipantNodeInUse(address node);
    /// @notice A practitioner needs a role.
    error ParticipantZeroRole();

    /// @notice Organization `orgId` joined with node `node`.
    event OrganizationRegistered(bytes32 indexed orgId, string name, uint8 kind, string endpoint, address indexed node);
    /// @notice Organization `orgId` now answers at `endpoint` with node `node`.
    event OrganizationUpdated(bytes32 indexed orgId, string endpoint, address indexed node);
    /// @notice Organization `orgId` was suspended (`active` false) or reinstated.
    event OrganizationActivationChanged(bytes32 indexed orgId, bool active);
    /// @notice `account` became a practitioner of `orgId` with `role`.
    event PractitionerAdded(bytes32 indexed orgId, address indexed account, bytes32 role);
    /// @notice `account` is no longer a practitioner of `orgId`.
    event PractitionerRemoved(bytes32 indexed orgId, address indexed account);
    /// @notice `account` registered as a patient.
    event PatientRegistered(address indexed account);

    /// @notice The deployer becomes admin and governor.
    constructor() EIP712("carechain ParticipantRegistry", "1") {
        _grantRole(DEFAULT_ADMIN_ROLE, msg.sender);
        _grantRole(GOVERNOR_ROLE, msg.sender);
    }

    /**
     * @notice Admits an organization to the consortium.
     * @param orgId Opaque non-zero identifier of the organization.
     * @param name Public name of the organization.
     * @param kind Index into `ORGANIZATION_KINDS` (hospital, clinic, pharmacy, lab, insurer, research, issuer).
     * @param endpoint Base URL of the organization's node.
     * @param node Account the node signs with; one node per organization.
     */
    function registerOrganization(
        bytes32 orgId,
        string calldata name,
        uint8 kind,
        string calldata endpoint,
        address node
    ) external onlyRole(GOVERNOR_ROLE) {
        if (orgId == bytes32(0)) revert ParticipantZeroOrganizationId();
        if (_organizations[orgId].exists) revert ParticipantOrganizationExists(orgId);
        if (kind >= _KIND_COUNT) revert ParticipantInvalidKind(kind);
        _claimNode(node, orgId);
        _organizations[orgId] = Organization(name, kind, endpoint, node, true, true);
        emit OrganizationRegistered(orgId, name, kind, endpoint, node);
    }

    /**
     * @notice Changes an organization's endpoint and node (key rotation). Governor or the active organization's node.
     * @param orgId The organization.
     * @param endpoint New base URL of the node.
     * @param node New node account (may be the current one).
     */
    function updateOrganization(bytes32 orgId, string calldata endpoint, address node) external {
        Organization storage org = _requireOrganizationAdmin(orgId);
        address previous = org.node;
        if (node != previous) {
            _claimNode(node, orgId);
            delete _organizationOfNode[previous];
            org.node = node;
        }
        org.endpoint = endpoint;
        emit OrganizationUpdated(orgId, endpoint, node);
    }

    /**
     * @notice Suspends or reinstates an organization; a suspended organization's node is not a node.
     * @param orgId The organization.
     * @param active False to suspend, true to reinstate.
     */
    function setOrganizationActive(bytes32 orgId, bool active) external onlyRole(GOVERNOR_ROLE) {
        Organization storage org = _requireOrganization(orgId);
        org.active = active;
        emit OrganizationActivationChanged(orgId, active);
    }

    /**
     * @notice Vouches for a practitioner of an organization. Governor or the active organization's node.
     * @param orgId The organization.
     * @param account The practitioner's account.
     * @param role bytes32 of the role name (`PRACTITIONER_ROLES` in src/consent/model.ts).
     */
    function addPractitioner(bytes32 orgId, address account, bytes32 role) external {
        _requireOrganizationAdmin(orgId);
        if (role == bytes32(0)) revert ParticipantZeroRole();
        if (_practitionerRoles[orgId][account] != bytes32(0)) revert ParticipantAlreadyRegistered(account);
        _practitionerRoles[orgId][account] = role;
        emit PractitionerAdded(orgId, account, role);
    }

    /**
     * @notice Withdraws an organization's vouching for a practitioner. Governor or the active organization's node.
     * @param orgId The organization.
     * @param account The practitioner's account.
     */
    function removePractitioner(bytes32 orgId, address account) external {
        _requireOrganizationAdmin(orgId);
        if (_practitionerRoles[orgId][account] == bytes32(0)) revert ParticipantUnknownPractitioner(orgId, account);
        delete _practitionerRoles[orgId][account];
        emit PractitionerRemoved(orgId, account);
    }

    /// @notice Registers the caller as a patient.
    function registerPatient() external {
        _registerPatient(msg.sender);
    }

    /**
     * @notice Registers `patient` on their EIP-712 signature of `RegisterPatient(patient)`; anyone may relay.
     * @param patient The patient's account (an EOA or an EIP-1271 contract wallet).
     * @param signature The patient's signature of the typed data.
     */
    function registerPatientBySig(address patient, bytes calldata signature) external {
        bytes32 digest = _hashTypedDataV4(keccak256(abi.encode(REGISTER_PATIENT_TYPEHASH, patient)));
        if (!SignatureChecker.isValidSignatureNow(patient, digest, signature)) {
            revert ParticipantInvalidSignature(patient);
        }
        _registerPatient(patient);
    }

    /**
     * @notice The organization registered as `orgId` (all fields zero when unknown).
     * @param orgId The organization.
     */
    function organization(bytes32 orgId) external view returns (Organization memory) {
        return _organizations[orgId];
    }

    /**
     * @notice The organization run by `node`, or zero.
     * @param node A node account.
     */
    function organizationOfNode(address node) external view returns (bytes32) {
        return _organizationOfNode[node];
    }

    /**
     * @notice Whether `account` is the node of an active organization.
     * @param account Any account.
     */
    function isNode(address account) external view returns (bool) {
        bytes32 orgId = _organizationOfNode[account];
        return orgId != bytes32(0) && _organizations[orgId].active;
    }

    /**
     * @notice The role of `account` in `orgId`, or zero when it is not a practitioner there.
     * @param orgId The organization.
     * @param account The practitioner's account.
     */
    function practitionerRole(bytes32 orgId, address account) external view returns (bytes32) {
        return _practitionerRoles[orgId][account];
    }

    /**
     * @notice Whether `account` is a registered patient.
     * @param account Any account.
     */
    function isPatient(address account) external view returns (bool) {
        return _patients[account];
    }

    /// @notice The EIP-712 domain separator of this contract.
    // solhint-disable-next-line func-name-mixedcase
    function DOMAIN_SEPARATOR() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    function _registerPatient(address patient) private {
        if (_patients[patient]) revert ParticipantAlreadyRegistered(patient);
        _patients[patient] = true;
        emit PatientRegistered(patient);
    }

    function _claimNode(address node, bytes32 orgId) private {
        if (node == address(0)) revert ParticipantZeroNode();
        if (_organizationOfNode[node] != bytes32(0)) revert ParticipantNodeInUse(node);
        _organizationOfNode[node] = orgId;
    }

    function _requireOrganization(bytes32 orgId) private view returns (Organization storage org) {
        org = _organizations[orgId];
        if (!org.exists) revert ParticipantUnknownOrganization(orgId);
    }

    /// @dev The organization, if the caller is a governor or the node of the organization while it is active.
    function _requireOrganizationAdmin(bytes32 orgId) private view returns (Organization storage org) {
        org = _requireOrganization(orgId);
        bool isOwnNode = msg.sender == org.node && org.active;
        if (!isOwnNode && !hasRole(GOVERNOR_ROLE, msg.sender)) {
            revert ParticipantUnauthorized(msg.sender, orgId);
        }
    }
}
