// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {ParticipantRegistry} from "./ParticipantRegistry.sol";

/**
 * @title AuditAnchor
 * @notice Anchors the signed tree heads of each node's append-only audit log (RFC 9162 hashing).
 * Every anchor after a node's first carries an RFC 9162 consistency proof from the node's last
 * anchored head, verified here with the SHA-256 precompile: a node cannot anchor a log that
 * rewrites what it anchored before. Beside the log root each head carries the root of the node's
 * patient map (src/audit/patientMap.ts), which the contract stores but does not interpret. The
 * type mirrors `AUDIT_TYPES` in src/chain/eip712.ts.
 */
contract AuditAnchor is EIP712 {
    /// @notice EIP-712 type hash of `TreeHead`.
    bytes32 public constant TREE_HEAD_TYPEHASH =
        keccak256("TreeHead(address node,uint64 treeSize,bytes32 rootHash,bytes32 mapRoot,uint64 timestamp)");

    /// @notice A tree head signed by `node`.
    struct TreeHead {
        address node;
        uint64 treeSize;
        bytes32 rootHash;
        bytes32 mapRoot;
        uint64 timestamp;
    }

    /// @notice An anchored tree head and the block that anchored it.
    struct Anchor {
        uint64 treeSize;
        uint64 timestamp;
        uint64 blockNumber;
        bytes32 rootHash;
        bytes32 mapRoot;
    }

    ParticipantRegistry private immutable _registry;
    mapping(address node => Anchor[]) private _anchors;
    /// @dev Index + 1 into `_anchors[node]` of the anchor at a tree size; zero when never anchored.
    mapping(address node => mapping(uint64 treeSize => uint256)) private _indexBySize;

    /// @notice `node` is not the node of an active organization.
    error AuditAnchorUnknownNode(address node);
    /// @notice The signature does not come from `node`.
    error AuditAnchorInvalidSignature(address node);
    /// @notice The tree size must grow with each anchor (and the first one must be above zero).
    error AuditAnchorSizeNotIncreased(uint64 previous, uint64 proposed);
    /// @notice The timestamp went backwards.
    error AuditAnchorTimestampDecreased(uint64 previous, uint64 proposed);
    /// @notice A consistency proof from `fromSize` to `toSize` has `expected` hashes, not `length`.
    error AuditAnchorBadProofLength(uint64 fromSize, uint64 toSize, uint256 length, uint256 expected);
    /// @notice The proof does not show the tree of `fromSize` (the last anchor) to be a prefix of the tree of `toSize`.
    error AuditAnchorInconsistent(uint64 fromSize, uint64 toSize);
    /// @notice `node` has only `count` anchors.
    error AuditAnchorIndexOutOfBounds(address node, uint256 index, uint256 count);

    /// @notice `node` anchored the root `rootHash` of its log at `treeSize` entries.
    event TreeHeadAnchored(
        address indexed node,
        uint64 indexed treeSize,
        bytes32 rootHash,
        bytes32 mapRoot,
        uint64 timestamp
    );

    /// @param registry_ The registry that says which accounts are nodes.
    constructor(ParticipantRegistry registry_) EIP712("carechain AuditAnchor", "1") {
        _registry = registry_;
    }

    /**
     * @notice Anchors a tree head signed by its node; anyone may relay it.
     * @param th The tree head; its size must exceed the node's last anchored size.
     * @param signature The node's EIP-712 signature of `th` (ECDSA or EIP-1271).
     * @param proof The RFC 9162 consistency proof from the node's last anchored head to `th`
     * (empty for the node's first anchor).
     */
    function anchor(TreeHead calldata th, bytes calldata signature, bytes32[] calldata proof) external {
        if (!_registry.isNode(th.node)) revert AuditAnchorUnknownNode(th.node);
        if (!SignatureChecker.isValidSignatureNow(th.node, treeHeadDigest(th), signature)) {
            revert AuditAnchorInvalidSignature(th.node);
        }
        Anchor[] storage anchors = _anchors[th.node];
        uint256 count = anchors.length;
        if (count == 0) {
            if (th.treeSize == 0) revert AuditAnchorSizeNotIncreased(0, 0);
            if (proof.length != 0) revert AuditAnchorBadProofLength(0, th.treeSize, proof.length, 0);
        } else {
            Anchor storage last = anchors[count - 1];
            if (th.timestamp < last.timestamp) revert AuditAnchorTimestampDecreased(last.timestamp, th.timestamp);
            verifyConsistency(last.treeSize, th.treeSize, last.rootHash, th.rootHash, proof);
        }

        anchors.push(Anchor(th.treeSize, th.timestamp, uint64(block.number), th.rootHash, th.mapRoot));
        _indexBySize[th.node][th.treeSize] = count + 1;
        emit TreeHeadAnchored(th.node, th.treeSize, th.rootHash, th.mapRoot, th.timestamp);
    }

    /**
     * @notice Reverts unless `proof` shows the tree of `fromSize` leaves with root `fromRoot` to be
     * a prefix of the tree of `toSize` leaves with root `toRoot` (RFC 9162 section 2.1.4.2, with
     * node hashes SHA-256(0x01 || left || right) from the precompile).
     * @param fromSize The earlier size (at least 1).
     * @param toSize The later size; must exceed `fromSize`.
     * @param fromRoot The root at `fromSize`.
     * @param toRoot The root at `toSize`.
     * @param proof The consistency proof.
     */
    function verifyConsistency(
        uint64 fromSize,
        uint64 toSize,
        bytes32 fromRoot,
        bytes32 toRoot,
        bytes32[] calldata proof
    ) public view {
        if (fromSize == 0 || toSize <= fromSize) revert AuditAnchorSizeNotIncreased(fromSize, toSize);
        uint256 expected = consistencyProofLength(fromSize, toSize);
        if (proof.length != expected) revert AuditAnchorBadProofLength(fromSize, toSize, proof.length, expected);
        uint256 fn = fromSize - 1;
        uint256 sn = toSize - 1;
        while (fn & 1 == 1) {
            fn >>= 1;
            sn >>= 1;
        }
        uint256 i = 0;
        bytes32 fr = fromRoot;
        // When the old tree is not a complete subtree, the proof starts with its right-edge node.
        if (fromSize & (fromSize - 1) != 0) fr = proof[i++];
        bytes32 sr = fr;
        for (; i < proof.length; ++i) {
            bytes32 c = proof[i];
            if (fn & 1 == 1 || fn == sn) {
                fr = _nodeHash(c, fr);
                sr = _nodeHash(c, sr);
                while (fn & 1 == 0 && fn != 0) {
                    fn >>= 1;
                    sn >>= 1;
                }
            } else {
                sr = _nodeHash(sr, c);
            }
            fn >>= 1;
            sn >>= 1;
        }
        if (fr != fromRoot || sr != toRoot) revert AuditAnchorInconsistent(fromSize, toSize);
    }

    /**
     * @notice How many hashes the consistency proof from `fromSize` to `toSize` has (at most
     * about 2 log2(toSize)): the steps of the RFC 9162 verifier until the new tree's index runs out.
     * @param fromSize The earlier size (at least 1).
     * @param toSize The later size (above `fromSize`).
     */
    function consistencyProofLength(uint64 fromSize, uint64 toSize) public pure returns (uint256 length) {
        if (fromSize == 0 || toSize <= fromSize) revert AuditAnchorSizeNotIncreased(fromSize, toSize);
        uint256 fn = fromSize - 1;
        uint256 sn = toSize - 1;
        while (fn & 1 == 1) {
            fn >>= 1;
            sn >>= 1;
        }
        length = fromSize & (fromSize - 1) == 0 ? 0 : 1;
        while (sn != 0) {
            if (fn & 1 == 1 || fn == sn) {
                while (fn & 1 == 0 && fn != 0) {
                    fn >>= 1;
                    sn >>= 1;
                }
            }
            fn >>= 1;
            sn >>= 1;
            ++length;
        }
    }

    /**
     * @notice The latest anchored tree head of `node` (all zero when none).
     * @param node A node account.
     */
    function latest(
        address node
    ) external view returns (uint64 treeSize, bytes32 rootHash, bytes32 mapRoot, uint64 timestamp) {
        Anchor[] storage anchors = _anchors[node];
        if (anchors.length == 0) return (0, bytes32(0), bytes32(0), 0);
        Anchor storage last = anchors[anchors.length - 1];
        return (last.treeSize, last.rootHash, last.mapRoot, last.timestamp);
    }

    /**
     * @notice How many tree heads `node` has anchored.
     * @param node A node account.
     */
    function anchorCount(address node) external view returns (uint256) {
        return _anchors[node].length;
    }

    /**
     * @notice The `index`-th anchor of `node`, oldest first.
     * @param node A node account.
     * @param index Position in the node's anchors.
     */
    function anchorAt(address node, uint256 index) external view returns (Anchor memory) {
        Anchor[] storage anchors = _anchors[node];
        if (index >= anchors.length) revert AuditAnchorIndexOutOfBounds(node, index, anchors.length);
        return anchors[index];
    }

    /**
     * @notice The log root and patient-map root `node` anchored at exactly `treeSize` entries, or
     * zeros if it never did.
     * @param node A node account.
     * @param treeSize A tree size.
     */
    function rootAt(
        address node,
        uint64 treeSize
    ) external view returns (bytes32 root, bytes32 mapRoot, uint64 timestamp) {
        uint256 indexPlusOne = _indexBySize[node][treeSize];
        if (indexPlusOne == 0) return (bytes32(0), bytes32(0), 0);
        Anchor storage found = _anchors[node][indexPlusOne - 1];
        return (found.rootHash, found.mapRoot, found.timestamp);
    }

    /**
     * @notice The EIP-712 digest a node signs for `th`.
     * @param th A tree head.
     */
    function treeHeadDigest(TreeHead calldata th) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(TREE_HEAD_TYPEHASH, th)));
    }

    /// @dev SHA-256(0x01 || left || right) through the precompile at address 2, in scratch memory.
    function _nodeHash(bytes32 left, bytes32 right) private view returns (bytes32 h) {
        assembly ("memory-safe") {
            let p := mload(0x40)
            mstore8(p, 0x01)
            mstore(add(p, 1), left)
            mstore(add(p, 33), right)
            if iszero(staticcall(gas(), 0x02, p, 65, 0x00, 0x20)) {
                revert(0, 0)
            }
            h := mload(0x00)
        }
    }

    /// @notice The registry consulted for nodes.
    function registry() external view returns (ParticipantRegistry) {
        return _registry;
    }

    /// @notice The EIP-712 domain separator of this contract.
    // solhint-disable-next-line func-name-mixedcase
    function DOMAIN_SEPARATOR() external view returns (bytes32) {
        return _domainSeparatorV4();
    }
}
