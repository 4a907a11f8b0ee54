// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/**
 * @title CareCredit
 * @notice The consortium's credits (ERC-20, two decimals): research organizations escrow them to
 * pay patients for contributions to studies (StudyEscrow). Who may mint is governed: the admin
 * (the consortium's governor) grants MINTER_ROLE, e.g. to the node of an organization that sells
 * credits for money off chain. Credits carry no health data.
 */
contract CareCredit is ERC20, AccessControl {
    /// @notice May mint credits.
    bytes32 public constant MINTER_ROLE = keccak256("MINTER_ROLE");

    /// @param admin The account that governs minting (grants and revokes MINTER_ROLE).
    constructor(address admin) ERC20("carechain credit", "CARE") {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    /// @notice Credits have two decimals (1 CARE = 100 units).
    function decimals() public pure override returns (uint8) {
        return 2;
    }

    /**
     * @notice Mints `amount` units to `to`.
     * @param to The receiver.
     * @param amount Units (1/100 of a credit).
     */
    function mint(address to, uint256 amount) external onlyRole(MINTER_ROLE) {
        _mint(to, amount);
    }
}
