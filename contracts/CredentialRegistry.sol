// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {Base64} from "@openzeppelin/contracts/utils/Base64.sol";
import {ParticipantRegistry} from "./ParticipantRegistry.sol";

/**
 * @title CredentialRegistry
 * @notice The SMART Health Card issuers of a consortium: each issuing organization's issuer URL,
 * its public signing keys (ES256 over P-256, named by their RFC 7638 thumbprint, which this
 * contract recomputes), key rotation and revocation, and each key's revocation list of card `rid`s
 * with the spec's timestamp rule. Verifiers read it (or a cache of it) to decide whom to trust.
 * Nothing here names a patient: a `rid` is a random identifier the issuer keeps beside the card.
 * https://spec.smarthealth.cards/#revocation
 */
contract CredentialRegistry is AccessControl {
    /// @notice Role allowed to let organizations of other kinds (labs, clinics) issue.
    bytes32 public constant GOVERNOR_ROLE = keccak256("GOVERNOR_ROLE");

    /// @dev Index of "issuer" in `ORGANIZATION_KINDS` (src/model/vocabulary.ts).
    uint8 private constant _ISSUER_KIND = 6;
    /// @dev Longest issuer URL and rid accepted (the spec caps a rid at 24 base64url characters).
    uint256 private constant _MAX_URL_LENGTH = 256;
    uint256 private constant _MAX_RID_LENGTH = 24;

    /// @notice Where a key stands: active keys sign new cards, retired ones only verify old cards.
    enum KeyStatus {
        None,
        Active,
        Retired,
        Revoked
    }

    /// @notice One issuer signing key: P-256 point, owner, status and its CRL's version.
    struct IssuerKey {
        bytes32 organization;
        bytes32 x;
        bytes32 y;
        KeyStatus status;
        uint64 revokedAt;
        uint32 crlVersion;
    }

    /// @notice An issuer as verifiers see it: its URL and its keys' kids, oldest first.
    struct Issuer {
        string url;
        bytes32[] kids;
    }

    /// @notice One revoked card: its rid and the time before which its cards are revoked (0: all).
    struct RevokedCard {
        string rid;
        uint64 revokedBefore;
    }

    ParticipantRegistry private immutable _registry;
    bytes32[] private _issuerIds;
    mapping(bytes32 organization => Issuer) private _issuers;
    mapping(bytes32 organization => bool) private _approved;
    mapping(bytes32 kid => IssuerKey) private _keys;
    mapping(bytes32 kid => RevokedCard[]) private _revocations;
    mapping(bytes32 kid => mapping(bytes32 ridHash => bool)) private _revokedRid;

    /// @notice `node` is not the node of an active organization.
    error CredentialUnknownNode(address node);
    /// @notice `organization` may not issue health cards (not of kind issuer, nor approved).
    error CredentialNotIssuer(bytes32 organization);
    /// @notice `organization` has not registered an issuer URL yet.
    error CredentialUnknownIssuer(bytes32 organization);
    /// @notice The issuer URL is empty or longer than 256 bytes.
    error CredentialInvalidUrl(uint256 length);
    /// @notice `kid` is not the RFC 7638 thumbprint of the key given (`expected` is).
    error CredentialKidMismatch(bytes32 kid, bytes32 expected);
    /// @notice `kid` is already registered.
    error CredentialKeyExists(bytes32 kid);
    /// @notice `kid` is not registered.
    error CredentialUnknownKey(bytes32 kid);
    /// @notice `kid` belongs to another organization than `organization`.
    error CredentialKeyNotOwned(bytes32 kid, bytes32 organization);
    /// @notice `kid` is not in the status the call needs (`status` is its current one).
    error CredentialKeyStatus(bytes32 kid, KeyStatus status);
    /// @notice The rid is empty or longer than 24 characters.
    error CredentialInvalidRid(uint256 length);
    /// @notice The rid is already on `kid`'s revocation list.
    error CredentialRidRevoked(bytes32 kid);

    /// @notice `organization` set its SMART Health Card issuer URL.
    event IssuerRegistered(bytes32 indexed organization, string url);
    /// @notice The governor let `organization` issue (or stopped letting it) whatever its kind.
    event IssuerApprovalChanged(bytes32 indexed organization, bool approved);
    /// @notice `organization` added the signing key `kid` (public P-256 point `x`, `y`).
    event IssuerKeyAdded(bytes32 indexed organization, bytes32 indexed kid, bytes32 x, bytes32 y);
    /// @notice `kid` no longer signs new cards (rotation); its cards stay valid.
    event IssuerKeyRetired(bytes32 indexed organization, bytes32 indexed kid);
    /// @notice `kid` was revoked at `revokedAt`: no card it signed is valid.
    event IssuerKeyRevoked(bytes32 indexed organization, bytes32 indexed kid, uint64 revokedAt);
    /// @notice Cards of `kid` with this `rid` issued before `revokedBefore` (0: all) are revoked; CRL now at `crlVersion`.
    event CardRevoked(bytes32 indexed kid, string rid, uint64 revokedBefore, uint32 crlVersion);

    /// @param registry_ The registry that says which accounts are nodes of which organization.
    constructor(ParticipantRegistry registry_) {
        _registry = registry_;
        _grantRole(DEFAULT_ADMIN_ROLE, msg.sender);
        _grantRole(GOVERNOR_ROLE, msg.sender);
    }

    /**
     * @notice Lets an organization of another kind (a lab, a clinic) issue health cards, or stops it.
     * @param organization The organization.
     * @param approved True to allow.
     */
    function setIssuerApproval(bytes32 organization, bool approved) external onlyRole(GOVERNOR_ROLE) {
        _approved[organization] = approved;
        emit IssuerApprovalChanged(organization, approved);
    }

    /**
     * @notice Sets the caller's organization's issuer URL (the `iss` of its cards; `/.well-known/jwks.json` lives under it).
     * @param url The issuer URL, without a trailing slash.
     */
    function registerIssuer(string calldata url) external {
        bytes32 organization = _issuingOrganization(msg.sender);
        uint256 length = bytes(url).length;
        if (length == 0 || length > _MAX_URL_LENGTH) revert CredentialInvalidUrl(length);
        Issuer storage found = _issuers[organization];
        if (bytes(found.url).length == 0) _issuerIds.push(organization);
        found.url = url;
        emit IssuerRegistered(organization, url);
    }

    /**
     * @notice Adds a signing key of the caller's organization.
     * @param kid SHA-256 RFC 7638 thumbprint of the key (its base64url form is the JWK `kid`).
     * @param x The P-256 point's x coordinate.
     * @param y The P-256 point's y coordinate.
     */
    function addKey(bytes32 kid, bytes32 x, bytes32 y) external {
        bytes32 organization = _registeredIssuer(msg.sender);
        _addKey(organization, kid, x, y);
    }

    /**
     * @notice Rotates: `oldKid` stops signing new cards (its cards stay valid) and `kid` is added.
     * @param oldKid The active key to retire.
     * @param kid Thumbprint of the new key.
     * @param x The new point's x coordinate.
     * @param y The new point's y coordinate.
     */
    function rotateKey(bytes32 oldKid, bytes32 kid, bytes32 x, bytes32 y) external {
        bytes32 organization = _registeredIssuer(msg.sender);
        IssuerKey storage old = _ownedKey(oldKid, organization);
        if (old.status != KeyStatus.Active) revert CredentialKeyStatus(oldKid, old.status);
        _addKey(organization, kid, x, y);
        old.status = KeyStatus.Retired;
        emit IssuerKeyRetired(organization, oldKid);
    }

    /**
     * @notice Revokes a key (compromise): every card it signed stops verifying. Final.
     * @param kid The key.
     */
    function revokeKey(bytes32 kid) external {
        bytes32 organization = _registeredIssuer(msg.sender);
        IssuerKey storage key = _ownedKey(kid, organization);
        if (key.status == KeyStatus.Revoked) revert CredentialKeyStatus(kid, key.status);
        key.status = KeyStatus.Revoked;
        key.revokedAt = uint64(block.timestamp);
        emit IssuerKeyRevoked(organization, kid, key.revokedAt);
    }

    /**
     * @notice Puts a card's `rid` on its key's revocation list; the CRL version goes up by one.
     * @param kid The key that signed the card.
     * @param rid The card's revocation identifier (base64url, at most 24 characters).
     * @param revokedBefore Cards with this rid and `nbf` before this time (unix s) are revoked; 0 for all.
     */
    function revokeCard(bytes32 kid, string calldata rid, uint64 revokedBefore) external {
        bytes32 organization = _registeredIssuer(msg.sender);
        IssuerKey storage key = _ownedKey(kid, organization);
        uint256 length = bytes(rid).length;
        if (length == 0 || length > _MAX_RID_LENGTH) revert CredentialInvalidRid(length);
        bytes32 ridHash = keccak256(bytes(rid));
        if (_revokedRid[kid][ridHash]) revert CredentialRidRevoked(kid);
        _revokedRid[kid][ridHash] = true;
        _revocations[kid].push(RevokedCard(rid, revokedBefore));
        key.crlVersion += 1;
        emit CardRevoked(kid, rid, revokedBefore, key.crlVersion);
    }

    /// @notice The registry consulted for nodes and organization kinds.
    function registry() external view returns (ParticipantRegistry) {
        return _registry;
    }

    /// @notice Every organization that ever registered as an issuer, in order.
    function issuerIds() external view returns (bytes32[] memory) {
        return _issuerIds;
    }

    /**
     * @notice An issuer's URL and its keys' kids (see `mayIssue` for whether it may still issue).
     * @param organization The organization.
     */
    function issuer(bytes32 organization) external view returns (Issuer memory) {
        return _issuers[organization];
    }

    /**
     * @notice Whether the organization may issue: of kind issuer or approved, and active in the registry.
     * @param organization The organization.
     */
    function mayIssue(bytes32 organization) public view returns (bool) {
        ParticipantRegistry.Organization memory org = _registry.organization(organization);
        return org.active && (org.kind == _ISSUER_KIND || _approved[organization]);
    }

    /**
     * @notice One key.
     * @param kid The key's thumbprint.
     */
    function issuerKey(bytes32 kid) external view returns (IssuerKey memory) {
        return _keys[kid];
    }

    /**
     * @notice The revocation list of a key, in the order the cards were revoked.
     * @param kid The key's thumbprint.
     */
    function revokedCards(bytes32 kid) external view returns (RevokedCard[] memory) {
        return _revocations[kid];
    }

    /**
     * @notice The RFC 7638 thumbprint of a P-256 key: SHA-256 over its canonical JWK members.
     * @param x The point's x coordinate.
     * @param y The point's y coordinate.
     */
    function thumbprint(bytes32 x, bytes32 y) public pure returns (bytes32) {
        return sha256(
            abi.encodePacked(
                '{"crv":"P-256","kty":"EC","x":"',
                Base64.encodeURL(abi.encodePacked(x)),
                '","y":"',
                Base64.encodeURL(abi.encodePacked(y)),
                '"}'
            )
        );
    }

    function _addKey(bytes32 organization, bytes32 kid, bytes32 x, bytes32 y) private {
        bytes32 expected = thumbprint(x, y);
        if (kid != expected) revert CredentialKidMismatch(kid, expected);
        if (_keys[kid].status != KeyStatus.None) revert CredentialKeyExists(kid);
        _keys[kid] = IssuerKey(organization, x, y, KeyStatus.Active, 0, 0);
        _issuers[organization].kids.push(kid);
        emit IssuerKeyAdded(organization, kid, x, y);
    }

    function _ownedKey(bytes32 kid, bytes32 organization) private view returns (IssuerKey storage found) {
        found = _keys[kid];
        if (found.status == KeyStatus.None) revert CredentialUnknownKey(kid);
        if (found.organization != organization) revert CredentialKeyNotOwned(kid, organization);
    }

    function _issuingOrganization(address node) private view returns (bytes32 organization) {
        if (!_registry.isNode(node)) revert CredentialUnknownNode(node);
        organization = _registry.organizationOfNode(node);
        if (!mayIssue(organization)) revert CredentialNotIssuer(organization);
    }

    function _registeredIssuer(address node) private view returns (bytes32 organization) {
        organization = _issuingOrganization(node);
        if (bytes(_issuers[organization].url).length == 0) revert CredentialUnknownIssuer(organization);
    }
}
