// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";

/**
 * @title TestWallet1271
 * @notice Test-only EIP-1271 contract wallet: a signature is valid when its owner signed the hash.
 * Never deploy it outside tests.
 */
contract TestWallet1271 is IERC1271 {
    address private immutable _owner;

    /// @param owner_ The account whose ECDSA signatures this wallet accepts.
    constructor(address owner_) {
        _owner = owner_;
    }

    /**
     * @notice EIP-1271: the magic value when `owner` signed `hash`, else 0xffffffff.
     * @param hash The signed digest.
     * @param signature The owner's ECDSA signature.
     */
    function isValidSignature(bytes32 hash, bytes calldata signature) external view returns (bytes4) {
        (address signer, ECDSA.RecoverError err, ) = ECDSA.tryRecover(hash, signature);
        return err == ECDSA.RecoverError.NoError && signer == _owner ? IERC1271.isValidSignature.selector : bytes4(0xffffffff);
    }

    /// @notice The account whose signatures this wallet accepts.
    function owner() external view returns (address) {
        return _owner;
    }
}
