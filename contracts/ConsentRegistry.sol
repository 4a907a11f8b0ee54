// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";

/**
 * @title ConsentRegistry
 * @notice Commitments to consents signed by patients themselves (EIP-712, optionally EIP-1271 for
 * contract wallets). The ledger never sees a grant's terms (grantee, categories, purposes,
 * actions, window): it holds only the grant id, the EIP-712 struct hash of the signed `Grant`,
 * which carries a random 256-bit salt so that it cannot be searched from the small space of
 * possible terms; the patient who signed it; and its revocation. The contract checks the
 * patient's signature of the typed-data digest of the grant id, so a grant id is recorded for a
 * patient only if that patient signed it. Commitments are kept per patient: nobody can block a
 * patient's grant by recording its id first under another account. The terms travel between the nodes that must enforce them, and
 * each node that receives them checks that they hash to a grant id this contract recorded for
 * that patient, and that it is not revoked. Anyone may relay a signed grant or revocation.
 * The field layout of `Grant` mirrors `CONSENT_TYPES` in src/model/consentTypes.ts.
 */
contract ConsentRegistry is EIP712 {
    /// @notice The interface version nodes check before using this contract (2: commitments only).
    uint8 public constant CONSENT_VERSION = 2;

    /// @notice EIP-712 type hash of `Grant`, the terms a patient signs (never passed to this contract).
    bytes32 public constant GRANT_TYPEHASH =
        keccak256(
            "Grant(address patient,uint8 granteeKind,bytes32 grantee,bytes32 role,uint32 categories,uint32 purposes,uint8 actions,uint64 notBefore,uint64 notAfter,bytes32 salt)"
        );
    /// @notice EIP-712 type hash of `Revoke`.
    bytes32 public constant REVOKE_TYPEHASH = keccak256("Revoke(address patient,bytes32 grantId,uint256 nonce)");

    /// @notice What the patient signs to revoke a grant.
    struct Revoke {
        address patient;
        bytes32 grantId;
        uint256 nonce;
    }

    /// @notice A recorded grant commitment; `grantedAt` is zero for an unknown grant id.
    struct GrantRecord {
        uint64 grantedAt;
        /// @dev Zero while the grant is in force.
        uint64 revokedAt;
    }

    mapping(address patient => uint256) private _nonces;
    mapping(address patient => mapping(bytes32 grantId => GrantRecord)) private _grants;

    /// @notice The signed nonce is not the patient's next revocation nonce.
    error ConsentInvalidNonce(address patient, uint256 expected, uint256 provided);
    /// @notice The signature does not come from `patient`.
    error ConsentInvalidSignature(address patient);
    /// @notice `patient`'s grant `grantId` is already recorded (a replay).
    error ConsentGrantExists(address patient, bytes32 grantId);
    /// @notice No grant `grantId` by this patient exists.
    error ConsentUnknownGrant(bytes32 grantId);
    /// @notice Grant `grantId` is already revoked.
    error ConsentAlreadyRevoked(bytes32 grantId);

    /// @notice `patient` signed grant `grantId` (the EIP-712 struct hash of terms this ledger never sees).
    event ConsentGranted(bytes32 indexed grantId, address indexed patient);
    /// @notice The patient revoked grant `grantId` at `revokedAt`.
    event ConsentRevoked(bytes32 indexed grantId, address indexed patient, uint64 revokedAt);

    /// @notice Sets the EIP-712 domain ("carechain ConsentRegistry", version "2").
    constructor() EIP712("carechain ConsentRegistry", "2") {}

    /**
     * @notice Records a grant commitment signed by its patient; anyone may relay it. The terms are
     * checked (window, grantee, non-empty) by the nodes that accept them, not here.
     * @param patient The patient who signed the grant.
     * @param grantId The EIP-712 struct hash of the signed `Grant`.
     * @param signature The patient's EIP-712 signature of the grant (ECDSA or EIP-1271).
     */
    function grant(address patient, bytes32 grantId, bytes calldata signature) external {
        GrantRecord storage record = _grants[patient][grantId];
        if (record.grantedAt != 0) revert ConsentGrantExists(patient, grantId);
        if (!SignatureChecker.isValidSignatureNow(patient, _hashTypedDataV4(grantId), signature))
            revert ConsentInvalidSignature(patient);
        record.grantedAt = uint64(block.timestamp);
        emit ConsentGranted(grantId, patient);
    }

    /**
     * @notice Revokes a grant on its patient's signature; anyone may relay it.
     * @param r The revocation; `r.nonce` must be the patient's next revocation nonce.
     * @param signature The patient's EIP-712 signature of `r` (ECDSA or EIP-1271).
     */
    function revoke(Revoke calldata r, bytes calldata signature) external {
        uint256 expected = _nonces[r.patient];
        if (r.nonce != expected) revert ConsentInvalidNonce(r.patient, expected, r.nonce);
        if (!SignatureChecker.isValidSignatureNow(r.patient, revokeDigest(r), signature))
            revert ConsentInvalidSignature(r.patient);
        GrantRecord storage record = _grants[r.patient][r.grantId];
        if (record.grantedAt == 0) revert ConsentUnknownGrant(r.grantId);
        if (record.revokedAt != 0) revert ConsentAlreadyRevoked(r.grantId);
        // cannot overflow: a nonce only grows by one per signed revocation
        unchecked {
            _nonces[r.patient] = expected + 1;
        }
        record.revokedAt = uint64(block.timestamp);
        emit ConsentRevoked(r.grantId, r.patient, uint64(block.timestamp));
    }

    /**
     * @notice The next nonce `patient` must sign in a revocation.
     * @param patient The patient's account.
     */
    function nonces(address patient) external view returns (uint256) {
        return _nonces[patient];
    }

    /**
     * @notice `patient`'s commitment `grantId` and its state; all zero when unknown.
     * @param patient The patient's account.
     * @param grantId The EIP-712 struct hash of the grant.
     */
    function getGrant(address patient, bytes32 grantId) external view returns (GrantRecord memory) {
        return _grants[patient][grantId];
    }

    /**
     * @notice The EIP-712 digest the patient signs for the grant whose struct hash is `grantId`.
     * @param grantId The EIP-712 struct hash of a grant.
     */
    function grantDigest(bytes32 grantId) external view returns (bytes32) {
        return _hashTypedDataV4(grantId);
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
}
