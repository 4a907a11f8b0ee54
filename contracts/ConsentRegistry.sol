// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";

/**
 * @title ConsentRegistry
 * @notice Consents signed by patients themselves (EIP-712, optionally EIP-1271 for contract
 * wallets). Anyone may relay a signed grant or revocation, but nobody can forge or alter one.
 * The field layout mirrors `CONSENT_TYPES` in src/consent/model.ts.
 */
contract ConsentRegistry is EIP712 {
    /// @notice Grantee kind (`GRANTEE_KINDS`): `grantee` is a practitioner's account, left-padded.
    uint8 public constant GRANTEE_PRACTITIONER = 0;
    /// @notice Grantee kind: `grantee` is an organization id.
    uint8 public constant GRANTEE_ORGANIZATION = 1;
    /// @notice Grantee kind: `grantee` is an organization id and `role` a role within it.
    uint8 public constant GRANTEE_ROLE = 2;

    /// @notice EIP-712 type hash of `Grant`.
    bytes32 public constant GRANT_TYPEHASH =
        keccak256(
            "Grant(address patient,uint8 granteeKind,bytes32 grantee,bytes32 role,uint32 categories,uint32 purposes,uint8 actions,uint64 notBefore,uint64 notAfter,uint256 nonce)"
        );
    /// @notice EIP-712 type hash of `Revoke`.
    bytes32 public constant REVOKE_TYPEHASH = keccak256("Revoke(address patient,bytes32 grantId,uint256 nonce)");

    /// @notice What the patient signs to grant access.
    struct Grant {
        address patient;
        uint8 granteeKind;
        bytes32 grantee;
        bytes32 role;
        uint32 categories;
        uint32 purposes;
        uint8 actions;
        uint64 notBefore;
        uint64 notAfter;
        uint256 nonce;
    }

    /// @notice What the patient signs to revoke a grant.
    struct Revoke {
        address patient;
        bytes32 grantId;
        uint256 nonce;
    }

    /// @notice A stored grant and its state; `grantedAt` is zero for an unknown grant id.
    struct GrantRecord {
        Grant grant;
        bool revoked;
        uint64 grantedAt;
        uint64 revokedAt;
    }

    mapping(address patient => uint256) private _nonces;
    mapping(bytes32 grantId => GrantRecord) private _grants;

    /// @notice The signed nonce is not the patient's next nonce.
    error ConsentInvalidNonce(address patient, uint256 expected, uint256 provided);
    /// @notice The signature does not come from `patient`.
    error ConsentInvalidSignature(address patient);
    /// @notice `granteeKind` is not 0 (practitioner), 1 (organization) or 2 (role).
    error ConsentInvalidGranteeKind(uint8 granteeKind);
    /// @notice A role is required for a role grant and forbidden otherwise.
    error ConsentInvalidRole();
    /// @notice The grant names no category or no action.
    error ConsentEmptyGrant();
    /// @notice The validity window is empty.
    error ConsentInvalidWindow(uint64 notBefore, uint64 notAfter);
    /// @notice The validity window ended before this block.
    error ConsentExpired(uint64 notAfter, uint64 nowTs);
    /// @notice No grant `grantId` by this patient exists.
    error ConsentUnknownGrant(bytes32 grantId);
    /// @notice Grant `grantId` is already revoked.
    error ConsentAlreadyRevoked(bytes32 grantId);

    /// @notice The patient granted access; `grantId` is the EIP-712 struct hash of the grant.
    event ConsentGranted(
        bytes32 indexed grantId,
        address indexed patient,
        uint8 granteeKind,
        bytes32 indexed grantee,
        bytes32 role,
        uint32 categories,
        uint32 purposes,
        uint8 actions,
        uint64 notBefore,
        uint64 notAfter,
        uint256 nonce
    );
    /// @notice The patient revoked grant `grantId` at `revokedAt`.
    event ConsentRevoked(bytes32 indexed grantId, address indexed patient, uint64 revokedAt);

    /// @notice Sets the EIP-712 domain ("carechain ConsentRegistry", version "1").
    constructor() EIP712("carechain ConsentRegistry", "1") {}

    /**
     * @notice Records a grant signed by its patient; anyone may relay it.
     * @param g The grant; `g.nonce` must be the patient's next nonce.
     * @param signature The patient's EIP-712 signature of `g` (ECDSA or EIP-1271).
     * @return grantId The EIP-712 struct hash of `g`.
     */
    function grant(Grant calldata g, bytes calldata signature) external returns (bytes32 grantId) {
        grantId = _hashGrant(g);
        _useNonce(g.patient, g.nonce, _hashTypedDataV4(grantId), signature);
        if (g.granteeKind > GRANTEE_ROLE) revert ConsentInvalidGranteeKind(g.granteeKind);
        if ((g.role != bytes32(0)) != (g.granteeKind == GRANTEE_ROLE)) revert ConsentInvalidRole();
        if (g.categories == 0 || g.actions == 0) revert ConsentEmptyGrant();
        if (g.notBefore >= g.notAfter) revert ConsentInvalidWindow(g.notBefore, g.notAfter);
        if (g.notAfter <= block.timestamp) revert ConsentExpired(g.notAfter, uint64(block.timestamp));

        GrantRecord storage record = _grants[grantId];
        record.grant = g;
        record.grantedAt = uint64(block.timestamp);
        emit ConsentGranted(
            grantId,
            g.patient,
            g.granteeKind,
            g.grantee,
            g.role,
            g.categories,
            g.purposes,
            g.actions,
            g.notBefore,
            g.notAfter,
            g.nonce
        );
    }

    /**
     * @notice Revokes a grant on its patient's signature; anyone may relay it.
     * @param r The revocation; `r.nonce` must be the patient's next nonce.
     * @param signature The patient's EIP-712 signature of `r` (ECDSA or EIP-1271).
     */
    function revoke(Revoke calldata r, bytes calldata signature) external {
        _useNonce(r.patient, r.nonce, revokeDigest(r), signature);
        GrantRecord storage record = _grants[r.grantId];
        if (record.grantedAt == 0 || record.grant.patient != r.patient) revert ConsentUnknownGrant(r.grantId);
        if (record.revoked) revert ConsentAlreadyRevoked(r.grantId);
        record.revoked = true;
        record.revokedAt = uint64(block.timestamp);
        emit ConsentRevoked(r.grantId, r.patient, uint64(block.timestamp));
    }

    /**
     * @notice The next nonce `patient` must sign (grants and revocations share it).
     * @param patient The patient's account.
     */
    function nonces(address patient) external view returns (uint256) {
        return _nonces[patient];
    }

    /**
     * @notice The grant `grantId` and its state; all zero when unknown.
     * @param grantId The EIP-712 struct hash of the grant.
     */
    function getGrant(bytes32 grantId) external view returns (GrantRecord memory) {
        return _grants[grantId];
    }

    /**
     * @notice The grant id of `g`: its EIP-712 struct hash (hashStruct, not the full digest).
     * @param g A grant.
     */
    function hashGrant(Grant calldata g) external pure returns (bytes32) {
        return _hashGrant(g);
    }

    /**
     * @notice The EIP-712 digest the patient signs for `g`.
     * @param g A grant.
     */
    function grantDigest(Grant calldata g) external view returns (bytes32) {
        return _hashTypedDataV4(_hashGrant(g));
    }

    /**
     * @notice The EIP-712 digest the patient signs for `r`.
     * @param r A revocation.
     */
    function revokeDigest(Revoke calldata r) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(REVOKE_TYPEHASH, r.patient, r.grantId, r.nonce)));
    }

    /// @notice The EIP-712 domain separator of this contract.
    // solhint-disable-next-line func-name-mixedcase
    function DOMAIN_SEPARATOR() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    /// @dev Every field of `Grant` is a static type, so `abi.encode(typehash, g)` is the EIP-712 `encodeData`.
    function _hashGrant(Grant calldata g) private pure returns (bytes32) {
        return keccak256(abi.encode(GRANT_TYPEHASH, g));
    }

    /// @dev Checks the nonce and the patient's signature of `digest`, then consumes the nonce.
    function _useNonce(address patient, uint256 nonce, bytes32 digest, bytes calldata signature) private {
        uint256 expected = _nonces[patient];
        if (nonce != expected) revert ConsentInvalidNonce(patient, expected, nonce);
        if (!SignatureChecker.isValidSignatureNow(patient, digest, signature)) revert ConsentInvalidSignature(patient);
        // cannot overflow: a nonce only grows by one per signed transaction
        unchecked {
            _nonces[patient] = expected + 1;
        }
    }
}
