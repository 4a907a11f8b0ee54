// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ParticipantRegistry} from "./ParticipantRegistry.sol";

/**
 * @title StudyEscrow
 * @notice Research studies across the consortium, paid in CareCredit. A research organization's
 * node registers a study (protocol hash, reward per contribution, enrollment window, maximum
 * participants, minimum k, privacy budget) and escrows reward × maximum participants. Patients
 * enroll at the nodes that hold their data: the patient signs a research consent off chain; the
 * holding node records only a participant pseudonym (a per-study commitment to the patient), the
 * patient's payout address for this study (a fresh address the patient derives per study, so
 * payouts cannot be linked across studies or to the patient's account) and a commitment to the
 * signed consent. Nothing identifying is on chain: no patient account, no criteria, no data.
 * Each release records the ε it spends and the k it reached: the study's privacy budget is summed
 * across every node's releases here, and a release below the study's k or beyond its budget is
 * refused. Each accepted contribution pays once (idempotent by contribution id, so a relayed
 * payment that is sent twice pays once). After close, what is left returns to the sponsor.
 */
contract StudyEscrow {
    using SafeERC20 for IERC20;

    struct Study {
        address sponsor;
        bytes32 organization;
        bytes32 protocolHash;
        uint256 reward;
        uint256 escrowed;
        uint64 enrollmentStart;
        uint64 enrollmentEnd;
        uint32 maxParticipants;
        uint32 enrolled;
        uint32 minK;
        uint64 epsilonBudgetMicros;
        uint64 epsilonSpentMicros;
        bool closed;
    }

    struct Participant {
        bytes32 organization;
        address payout;
        bool withdrawn;
    }

    IERC20 private immutable _credit;
    ParticipantRegistry private immutable _registry;
    mapping(bytes32 studyId => Study) private _studies;
    mapping(bytes32 studyId => mapping(bytes32 participant => Participant)) private _participants;
    mapping(bytes32 studyId => mapping(bytes32 contribution => bool)) private _paid;

    /// @notice `node` is not the node of an active organization.
    error StudyEscrowUnknownNode(address node);
    /// @notice A study with this id exists.
    error StudyEscrowStudyExists(bytes32 studyId);
    /// @notice No study with this id.
    error StudyEscrowUnknownStudy(bytes32 studyId);
    /// @notice The terms are not acceptable (zero reward or participants, empty window, k below 2, no budget).
    error StudyEscrowInvalidTerms(string rule);
    /// @notice Enrollment is closed (outside the window, study full, or study closed).
    error StudyEscrowEnrollmentClosed(bytes32 studyId);
    /// @notice The participant is enrolled already.
    error StudyEscrowAlreadyEnrolled(bytes32 studyId, bytes32 participant);
    /// @notice The participant is not enrolled (or withdrew, or was enrolled by another organization).
    error StudyEscrowNotEnrolled(bytes32 studyId, bytes32 participant);
    /// @notice Only the study's sponsor may do this.
    error StudyEscrowNotSponsor(bytes32 studyId, address caller);
    /// @notice The release reached k = `k`, below the study's minimum.
    error StudyEscrowBelowK(bytes32 studyId, uint32 k, uint32 minK);
    /// @notice The release would spend more ε than the study has left.
    error StudyEscrowBudgetExceeded(bytes32 studyId, uint64 askedMicros, uint64 leftMicros);
    /// @notice The escrow holds too little for this payout.
    error StudyEscrowInsufficientEscrow(bytes32 studyId, uint256 escrowed, uint256 reward);

    event StudyRegistered(
        bytes32 indexed studyId,
        bytes32 indexed organization,
        bytes32 protocolHash,
        uint256 reward,
        uint256 escrowed,
        uint64 enrollmentStart,
        uint64 enrollmentEnd,
        uint32 maxParticipants,
        uint32 minK,
        uint64 epsilonBudgetMicros
    );
    event ParticipantEnrolled(bytes32 indexed studyId, bytes32 indexed participant, bytes32 indexed organization, address payout, bytes32 consentCommitment);
    event ParticipantWithdrew(bytes32 indexed studyId, bytes32 indexed participant);
    event ReleaseRecorded(bytes32 indexed studyId, bytes32 indexed organization, bytes32 releaseHash, uint64 epsilonMicros, uint32 k, uint64 epsilonSpentMicros);
    event ContributionPaid(bytes32 indexed studyId, bytes32 indexed participant, bytes32 indexed contribution, address payout, uint256 amount);
    event StudyClosed(bytes32 indexed studyId, uint256 refunded);

    /**
     * @param credit_ The CareCredit token studies pay in.
     * @param registry_ The registry that says which accounts are nodes and of which organization.
     */
    constructor(IERC20 credit_, ParticipantRegistry registry_) {
        _credit = credit_;
        _registry = registry_;
    }

    /**
     * @notice Registers a study and escrows reward × maxParticipants from the caller (who must
     * have approved this contract). The caller is the node of the sponsoring organization.
     * @param studyId The study's id (e.g. a hash of the sponsor's study URI).
     * @param protocolHash Hash of the study protocol (criteria, data requested, release kind).
     * @param reward Credit units paid per accepted contribution.
     * @param maxParticipants Most participants.
     * @param enrollmentStart Unix seconds enrollment opens.
     * @param enrollmentEnd Unix seconds enrollment closes.
     * @param minK Smallest group size a release may have (k-anonymity), at least 2.
     * @param epsilonBudgetMicros The study's total ε, in millionths.
     */
    function registerStudy(
        bytes32 studyId,
        bytes32 protocolHash,
        uint256 reward,
        uint32 maxParticipants,
        uint64 enrollmentStart,
        uint64 enrollmentEnd,
        uint32 minK,
        uint64 epsilonBudgetMicros
    ) external {
        bytes32 organization = _organizationOf(msg.sender);
        if (_studies[studyId].sponsor != address(0)) revert StudyEscrowStudyExists(studyId);
        if (reward == 0) revert StudyEscrowInvalidTerms("reward");
        if (maxParticipants == 0) revert StudyEscrowInvalidTerms("maxParticipants");
        if (enrollmentEnd <= enrollmentStart) revert StudyEscrowInvalidTerms("enrollment window");
        if (minK < 2) revert StudyEscrowInvalidTerms("minK");
        if (epsilonBudgetMicros == 0) revert StudyEscrowInvalidTerms("epsilon budget");
        uint256 escrow = reward * maxParticipants;
        _studies[studyId] = Study(
            msg.sender, organization, protocolHash, reward, escrow, enrollmentStart, enrollmentEnd,
            maxParticipants, 0, minK, epsilonBudgetMicros, 0, false
        );
        _credit.safeTransferFrom(msg.sender, address(this), escrow);
        emit StudyRegistered(
            studyId, organization, protocolHash, reward, escrow, enrollmentStart, enrollmentEnd,
            maxParticipants, minK, epsilonBudgetMicros
        );
    }

    /**
     * @notice Enrolls a participant whose data the caller's organization holds, after the patient
     * signed the research consent (kept off chain; its commitment here).
     * @param studyId The study.
     * @param participant The patient's pseudonym in this study (a commitment, not the account).
     * @param payout The patient's payout address for this study.
     * @param consentCommitment Commitment to the signed research consent.
     */
    function enroll(bytes32 studyId, bytes32 participant, address payout, bytes32 consentCommitment) external {
        bytes32 organization = _organizationOf(msg.sender);
        Study storage study = _study(studyId);
        if (
            study.closed || block.timestamp < study.enrollmentStart || block.timestamp > study.enrollmentEnd
                || study.enrolled >= study.maxParticipants
        ) revert StudyEscrowEnrollmentClosed(studyId);
        Participant storage p = _participants[studyId][participant];
        if (p.payout != address(0)) revert StudyEscrowAlreadyEnrolled(studyId, participant);
        if (payout == address(0)) revert StudyEscrowInvalidTerms("payout");
        _participants[studyId][participant] = Participant(organization, payout, false);
        study.enrolled += 1;
        emit ParticipantEnrolled(studyId, participant, organization, payout, consentCommitment);
    }

    /**
     * @notice The participant withdrew (relayed by the organization that enrolled them): no
     * further payouts; what was released before stays released.
     * @param studyId The study.
     * @param participant The participant's pseudonym.
     */
    function withdraw(bytes32 studyId, bytes32 participant) external {
        bytes32 organization = _organizationOf(msg.sender);
        Participant storage p = _participants[studyId][participant];
        if (p.payout == address(0) || p.organization != organization) revert StudyEscrowNotEnrolled(studyId, participant);
        if (p.withdrawn) return;
        p.withdrawn = true;
        emit ParticipantWithdrew(studyId, participant);
    }

    /**
     * @notice Records a release by the caller's organization: the ε it spends (summed across every
     * node's releases of the study) and the k it reached.
     * @param studyId The study.
     * @param releaseHash Hash of the released data (the researcher can check what it received).
     * @param epsilonMicros ε spent by the release, in millionths (0 for an extract).
     * @param k The smallest group size in the release.
     */
    function recordRelease(bytes32 studyId, bytes32 releaseHash, uint64 epsilonMicros, uint32 k) external {
        bytes32 organization = _organizationOf(msg.sender);
        Study storage study = _study(studyId);
        if (k < study.minK) revert StudyEscrowBelowK(studyId, k, study.minK);
        uint64 left = study.epsilonBudgetMicros - study.epsilonSpentMicros;
        if (epsilonMicros > left) revert StudyEscrowBudgetExceeded(studyId, epsilonMicros, left);
        study.epsilonSpentMicros += epsilonMicros;
        emit ReleaseRecorded(studyId, organization, releaseHash, epsilonMicros, k, study.epsilonSpentMicros);
    }

    /**
     * @notice Pays one accepted contribution from the escrow to the participant's payout address.
     * Paying a contribution already paid changes nothing (a relayed payment sent twice pays once).
     * @param studyId The study.
     * @param participant The participant's pseudonym.
     * @param contribution The contribution's id (e.g. hash of release and participant).
     */
    function pay(bytes32 studyId, bytes32 participant, bytes32 contribution) external {
        bytes32 organization = _organizationOf(msg.sender);
        Study storage study = _study(studyId);
        Participant storage p = _participants[studyId][participant];
        if (p.payout == address(0) || p.organization != organization || p.withdrawn) {
            revert StudyEscrowNotEnrolled(studyId, participant);
        }
        if (_paid[studyId][contribution]) return;
        if (study.escrowed < study.reward) revert StudyEscrowInsufficientEscrow(studyId, study.escrowed, study.reward);
        _paid[studyId][contribution] = true;
        study.escrowed -= study.reward;
        _credit.safeTransfer(p.payout, study.reward);
        emit ContributionPaid(studyId, participant, contribution, p.payout, study.reward);
    }

    /**
     * @notice Closes the study (sponsor only): no more enrollment or payouts; what is left in
     * escrow returns to the sponsor.
     * @param studyId The study.
     */
    function close(bytes32 studyId) external {
        Study storage study = _study(studyId);
        if (msg.sender != study.sponsor) revert StudyEscrowNotSponsor(studyId, msg.sender);
        if (study.closed) return;
        study.closed = true;
        uint256 refund = study.escrowed;
        study.escrowed = 0;
        _credit.safeTransfer(study.sponsor, refund);
        emit StudyClosed(studyId, refund);
    }

    /// @notice A study's terms and state.
    function getStudy(bytes32 studyId) external view returns (Study memory) {
        return _study(studyId);
    }

    /// @notice A participant's state in a study.
    function getParticipant(bytes32 studyId, bytes32 participantId) external view returns (Participant memory) {
        return _participants[studyId][participantId];
    }

    /// @notice Whether a contribution was paid.
    function isPaid(bytes32 studyId, bytes32 contribution) external view returns (bool) {
        return _paid[studyId][contribution];
    }

    function _study(bytes32 studyId) private view returns (Study storage study) {
        study = _studies[studyId];
        if (study.sponsor == address(0)) revert StudyEscrowUnknownStudy(studyId);
    }

    function _organizationOf(address node) private view returns (bytes32) {
        if (!_registry.isNode(node)) revert StudyEscrowUnknownNode(node);
        return _registry.organizationOfNode(node);
    }
}
