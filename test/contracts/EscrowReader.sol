// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

// Compiled by settlement/build.ts with settlement/contracts/*.sol (bare source names). Test only.
import {ISmartMarket} from "./ISmartMarket.sol";

/// @title EscrowReader: many escrowOf() / collateralOf() reads in one eth_call (tests read every balance after
/// each step)
contract EscrowReader {
    /// @notice For each account: collateralOf(market, account, BASE, epoch), then QUOTE.
    function collaterals(ISmartMarket settlement, bytes32 market, uint64 epoch, address[] calldata accounts)
        external
        view
        returns (uint256[] memory out)
    {
        out = new uint256[](accounts.length * 2);
        for (uint256 i; i < accounts.length; ++i) {
            out[2 * i] = settlement.collateralOf(market, accounts[i], 0, epoch);
            out[2 * i + 1] = settlement.collateralOf(market, accounts[i], 1, epoch);
        }
    }

    /// @notice For each account, BASE then QUOTE: free, locked, lockedEpoch (6 words per account).
    function escrows(ISmartMarket settlement, bytes32 market, address[] calldata accounts)
        external
        view
        returns (uint256[] memory out)
    {
        out = new uint256[](accounts.length * 6);
        for (uint256 i; i < accounts.length; ++i) {
            for (uint8 asset; asset < 2; ++asset) {
                (uint256 free, uint256 locked, uint256 lockedEpoch,,,) =
                    settlement.escrowOf(market, accounts[i], asset);
                uint256 slot = i * 6 + asset * 3;
                out[slot] = free;
                out[slot + 1] = locked;
                out[slot + 2] = lockedEpoch;
            }
        }
    }
}
