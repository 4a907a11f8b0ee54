// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {ParticipantRegistry} from "./ParticipantRegistry.sol";

/**
 * @title RecordLocator
 * @notice Says which organizations hold which categories of a patient's record, so a clinician's
 * node knows whom to ask. Holds nothing identifying beyond the patient's account: a category
 * bitmask (`CATEGORIES` in src/consent/model.ts) and a time per (patient, organization). Only the
 * active node of a registered organization publishes, and only for its own organization.
 */
contract RecordLocator {
    /// @notice What one organization holds of a patient's record.
    struct Location {
        bytes32 organization;
        uint32 categories;
        uint64 updatedAt;
    }

    struct Entry {
        uint32 categories;
        uint64 updatedAt;
        bool exists;
    }

    ParticipantRegistry private immutable _registry;
    mapping(address patient => bytes32[]) private _holders;
    mapping(address patient => mapping(bytes32 organization => Entry)) private _entries;

    /// @notice `node` is not the node of an active organization.
    error RecordLocatorUnknownNode(address node);
    /// @notice The patient account is zero.
    error RecordLocatorZeroPatient();
    /// @notice A locator must name at least one category.
    error RecordLocatorNoCategories();

    /// @notice `organization` holds `categories` of `patient`'s record, last updated at `updatedAt` (unix s).
    event LocatorPublished(address indexed patient, bytes32 indexed organization, uint32 categories, uint64 updatedAt);

    /// @param registry_ The registry that says which accounts are nodes and of which organization.
    constructor(ParticipantRegistry registry_) {
        _registry = registry_;
    }

    /**
     * @notice Publishes that the caller's organization holds `categories` of `patient`'s record.
     * Categories are OR-ed into what was published before; the time only moves forward, so a
     * late relay of an older publication changes nothing. The event carries the merged entry.
     * @param patient The patient's account.
     * @param categories Category bitmask held (non-zero).
     * @param updatedAt Unix seconds of the organization's latest update to these records.
     */
    function publish(address patient, uint32 categories, uint64 updatedAt) external {
        if (!_registry.isNode(msg.sender)) revert RecordLocatorUnknownNode(msg.sender);
        if (patient == address(0)) revert RecordLocatorZeroPatient();
        if (categories == 0) revert RecordLocatorNoCategories();
        bytes32 organization = _registry.organizationOfNode(msg.sender);
        Entry storage entry = _entries[patient][organization];
        if (!entry.exists) {
            entry.exists = true;
            _holders[patient].push(organization);
        }
        entry.categories |= categories;
        if (updatedAt > entry.updatedAt) entry.updatedAt = updatedAt;
        emit LocatorPublished(patient, organization, entry.categories, entry.updatedAt);
    }

    /**
     * @notice Every organization holding part of `patient`'s record, in first-published order.
     * @param patient The patient's account.
     */
    function locations(address patient) external view returns (Location[] memory found) {
        bytes32[] storage holders = _holders[patient];
        found = new Location[](holders.length);
        for (uint256 i = 0; i < holders.length; ++i) {
            Entry storage entry = _entries[patient][holders[i]];
            found[i] = Location(holders[i], entry.categories, entry.updatedAt);
        }
    }

    /// @notice The registry consulted for nodes.
    function registry() external view returns (ParticipantRegistry) {
        return _registry;
    }
}
