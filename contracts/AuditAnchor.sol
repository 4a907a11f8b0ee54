// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {ParticipantRegistry} from "./ParticipantRegistry.sol";

/**
 * @title AuditAnchor
 * @notice Anchors the signed tree heads of each node's append-only audit log (RFC 9162 hashing).
 * A node's anchored sizes only grow, so a consistency proof between two anchors exposes any
 * rewrite of its log. The type mirrors `AUDIT_TYPES` in src/chain/eip712.ts.
 */
contract AuditAnchor is EIP712 {
    /// @notice EIP-712 type hash of `TreeHead`.
    bytes32 public constant TREE_HEAD_TYPEHASH =
        keccak256("TreeHead(address node,uint64 treeSize,bytes32 rootHash,uint64 timestamp)");

    /// @notice A tree head signed by `node`.
    struct TreeHead {
        address node;
        uint64 treeSize;
        bytes32 rootHash;
        uint64 timestamp;
    }

    /// @notice An anchored tree head and the block that anchored it.
    struct Anchor {
        uint64 treeSize;
        uint64 timestamp;
        uint64 blockNumber;
        bytes32 rootHash;
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
    /// @notice `node` has only `count` anchors.
    error AuditAnchorIndexOutOfBounds(address node, uint256 index, uint256 count);

    /// @notice `node` anchored the root `rootHash` of its log at `treeSize` entries.
    event TreeHeadAnchored(address indexed node, uint64 indexed treeSize, bytes32 rootHash, uint64 timestamp);

    /// @param registry_ The registry that says which accounts are nodes.
    constructor(ParticipantRegistry registry_) EIP712("carechain AuditAnchor", "1") {
        _registry = registry_;
    }

    /**
     * @notice Anchors a tree head signed by its node; anyone may relay it.
     * @param th The tree head; its size must exceed the node's last anchored size.
     * @param signature The node's EIP-712 signature of `th` (ECDSA or EIP-1271).
     */
    function anchor(TreeHead calldata th, bytes calldata signature) external {
        if (!_registry.isNode(th.node)) revert AuditAnchorUnknownNode(th.node);
        if (!SignatureChecker.isValidSignatureNow(th.node, treeHeadDigest(th), signature)) {
            revert AuditAnchorInvalidSignature(th.node);
        }
        Anchor[] storage anchors = _anchors[th.node];
        uint256 count = anchors.length;
        uint64 previousSize = 0;
        uint64 previousTimestamp = 0;
        if (count > 0) {
            Anchor storage last = anchors[count - 1];
            previousSize = last.treeSize;
            previousTimestamp = last.timestamp;
        }
        if (th.treeSize <= previousSize) revert AuditAnchorSizeNotIncreased(previousSize, th.treeSize);
        if (th.timestamp < previousTimestamp) revert AuditAnchorTimestampDecreased(previousTimestamp, th.timestamp);

        anchors.push(Anchor(th.treeSize, th.timestamp, uint64(block.number), th.rootHash));
        _indexBySize[th.node][th.treeSize] = count + 1;
        emit TreeHeadAnchored(th.node, th.treeSize, th.rootHash, th.timestamp);
    }

    /**
     * @notice The latest anchored tree head of `node` (all zero when none).
     * @param node A node account.
     */
    function latest(address node) external view returns (uint64 treeSize, bytes32 rootHash, uint64 timestamp) {
        Anchor[] storage anchors = _anchors[node];
        if (anchors.length == 0) return (0, bytes32(0), 0);
        Anchor storage last = anchors[anchors.length - 1];
        return (last.treeSize, last.rootHash, last.timestamp);
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
     * @notice The root `node` anchored at exactly `treeSize` entries, or zero if it never did.
     * @param node A node account.
     * @param treeSize A tree size.
     */
    function rootAt(address node, uint64 treeSize) external view returns (bytes32 root, uint64 timestamp) {
        uint256 indexPlusOne = _indexBySize[node][treeSize];
        if (indexPlusOne == 0) return (bytes32(0), 0);
        Anchor storage found = _anchors[node][indexPlusOne - 1];
        return (found.rootHash, found.timestamp);
    }

    /**
     * @notice The EIP-712 digest a node signs for `th`.
     * @param th A tree head.
     */
    function treeHeadDigest(TreeHead calldata th) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(TREE_HEAD_TYPEHASH, th)));
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
