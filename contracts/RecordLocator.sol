// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {ParticipantRegistry} from "./ParticipantRegistry.sol";

/**
 * @title RecordLocator
 * @notice Says which organizations hold data for a patient's account, so a clinician's node knows
 * whom to ask. A locator is only "organization X holds data for account P, last updated on day T":
 * no categories, no resource types, nothing from which a diagnosis can be read. What a requester
 * may receive is decided by the holding node under the patient's consent. A holder withdraws its
 * locator when the patient is erased there or opts the organization out of discovery; the entry
 * then leaves the contract's state (the event history of a ledger cannot be rewritten, which is
 * why the events carry nothing but the account, the organization and the day). Only the active
 * node of a registered organization publishes or withdraws, and only for its own organization.
 */
contract RecordLocator {
    /// @notice Version of this interface; nodes refuse a locator of another version.
    uint8 public constant LOCATOR_VERSION = 2;

    /// @notice One organization holding data for a patient's account.
    struct Location {
        bytes32 organization;
        uint64 updatedAt;
    }

    struct Entry {
        uint64 updatedAt;
        /// One plus the entry's index in `_holders[patient]`; zero when absent.
        uint64 position;
    }

    ParticipantRegistry private immutable _registry;
    mapping(address patient => bytes32[]) private _holders;
    mapping(address patient => mapping(bytes32 organization => Entry)) private _entries;

    /// @notice `node` is not the node of an active organization.
    error RecordLocatorUnknownNode(address node);
    /// @notice The patient account is zero.
    error RecordLocatorZeroPatient();

    /// @notice `organization` holds data for `patient`, last updated at `updatedAt` (unix s).
    event LocatorPublished(address indexed patient, bytes32 indexed organization, uint64 updatedAt);
    /// @notice `organization` no longer lists itself as holding data for `patient`.
    event LocatorWithdrawn(address indexed patient, bytes32 indexed organization);

    /// @param registry_ The registry that says which accounts are nodes and of which organization.
    constructor(ParticipantRegistry registry_) {
        _registry = registry_;
    }

    /**
     * @notice Publishes that the caller's organization holds data for `patient`. The time only
     * moves forward, so a late relay of an older publication changes nothing. The event carries
     * the entry as stored.
     * @param patient The patient's account.
     * @param updatedAt Unix seconds of the organization's latest update (nodes round it to the day).
     */
    function publish(address patient, uint64 updatedAt) external {
        bytes32 organization = _organizationOf(msg.sender);
        if (patient == address(0)) revert RecordLocatorZeroPatient();
        Entry storage entry = _entries[patient][organization];
        if (entry.position == 0) {
            _holders[patient].push(organization);
            entry.position = uint64(_holders[patient].length);
        }
        if (updatedAt > entry.updatedAt) entry.updatedAt = updatedAt;
        emit LocatorPublished(patient, organization, entry.updatedAt);
    }

    /**
     * @notice Removes the caller's organization from `patient`'s locators (erasure, or the patient
     * opted the organization out of discovery). Withdrawing an absent entry changes nothing and
     * emits nothing, so a retried or racing withdrawal never fails.
     * @param patient The patient's account.
     */
    function withdraw(address patient) external {
        bytes32 organization = _organizationOf(msg.sender);
        if (patient == address(0)) revert RecordLocatorZeroPatient();
        Entry storage entry = _entries[patient][organization];
        uint256 position = entry.position;
        if (position == 0) return;
        bytes32[] storage holders = _holders[patient];
        // position >= 1 and holders.length >= position (every present entry is in the array)
        unchecked {
            uint256 last = holders.length - 1;
            if (position - 1 != last) {
                bytes32 moved = holders[last];
                holders[position - 1] = moved;
                _entries[patient][moved].position = uint64(position);
            }
        }
        holders.pop();
        delete _entries[patient][organization];
        emit LocatorWithdrawn(patient, organization);
    }

    /**
     * @notice Every organization holding data for `patient` (order changes on withdrawal).
     * @param patient The patient's account.
     */
    function locations(address patient) external view returns (Location[] memory found) {
        bytes32[] storage holders = _holders[patient];
        found = new Location[](holders.length);
        for (uint256 i = 0; i < holders.length; ++i) {
            found[i] = Location(holders[i], _entries[patient][holders[i]].updatedAt);
        }
    }

    /// @notice The registry consulted for nodes.
    function registry() external view returns (ParticipantRegistry) {
        return _registry;
    }

    function _organizationOf(address node) private view returns (bytes32) {
        if (!_registry.isNode(node)) revert RecordLocatorUnknownNode(node);
        return _registry.organizationOfNode(node);
    }
}
