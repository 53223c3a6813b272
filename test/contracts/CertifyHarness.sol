// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

// Compiled by settlement/build.ts together with settlement/contracts/*.sol, all under bare source names, so
// "./SmartMarket.sol" is settlement/contracts/SmartMarket.sol. Test only: its artifact goes to
// test/contracts/artifacts/, never to settlement/artifacts/.
import {SmartMarket} from "./SmartMarket.sol";

/// @title CertifyHarness: SmartMarket whose coverage reads injected collateral
/// @notice For property tests of the certification: certifyWith() sets every trader's collateral for one call
/// (in transient storage, so one eth_call per book) and certifies exactly as certify() does, with no epoch
/// check; certifyUnionWith() certifies as a challenge's union (no trade accepted); injectAndCall() injects for
/// any call of the contract. Everything else is SmartMarket's.
contract CertifyHarness is SmartMarket {
    /// @notice The contract's bounds assume 112-bit collateral (escrow balances are uint112).
    error CollateralTooLarge(address trader, uint256 asset, uint256 amount);
    /// @notice traders, base and quote must have the same length.
    error LengthMismatch();

    /// @dev Injected collateral of (trader, asset), + 1 (0: none injected, collateral 0), at bit 255 | asset <<
    /// 160 | trader: a transient slot SmartMarket never uses.
    uint256 private constant INJECTED = 1 << 255;

    /// @notice certify(market, epoch, batch) with collateral base[i] (BASE) and quote[i] (QUOTE) for traders[i];
    /// a trader not listed has none.
    function certifyWith(
        bytes32 market,
        uint64 epoch,
        bytes calldata batch,
        address[] calldata traders,
        uint256[] calldata base,
        uint256[] calldata quote
    )
        external
        returns (
            uint256 price,
            uint256 volume,
            uint256[] memory fills,
            bytes32 resultHash,
            uint256 feeTotal,
            bytes32 batchHash
        )
    {
        _injectAll(traders, base, quote);
        return _certifyBatch(market, epoch, _scheduleOf(market), batch, MAX_BATCH_ORDERS);
    }

    /// @notice certifyWith() as challenge() certifies its union (header || orders): with T_NO_TRADE set, so that
    /// a no-trade result (price 0, volume 0, no fills, fee 0) is accepted, every signature checked (as for
    /// added orders), up to MAX_UNION_ORDERS orders. The same calls as challenge() makes, in the same order.
    function certifyUnionWith(
        bytes32 market,
        uint64 epoch,
        bytes calldata batch,
        address[] calldata traders,
        uint256[] calldata base,
        uint256[] calldata quote
    )
        external
        returns (
            uint256 price,
            uint256 volume,
            uint256[] memory fills,
            bytes32 resultHash,
            uint256 feeTotal,
            bytes32 batchHash
        )
    {
        _injectAll(traders, base, quote);
        assembly ("memory-safe") {
            tstore(T_NO_TRADE, 1)
        }
        (price, volume, fills, resultHash, feeTotal, batchHash) =
            _certifyBatch(market, epoch, _scheduleOf(market), batch, MAX_UNION_ORDERS);
        assembly ("memory-safe") {
            tstore(T_NO_TRADE, 0)
        }
    }

    /// @notice Injects collateral as certifyWith does, then runs `data` (a call of this contract: propose,
    /// challenge, ...) by delegatecall, so that its sender, value and transient storage are this call's. Lets a
    /// test certify against collateral the escrow does not hold, to reach the defensive checks of the effects.
    function injectAndCall(
        address[] calldata traders,
        uint256[] calldata base,
        uint256[] calldata quote,
        bytes calldata data
    ) external payable returns (bytes memory) {
        _injectAll(traders, base, quote);
        (bool ok, bytes memory ret) = address(this).delegatecall(data);
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(ret, 32), mload(ret))
            }
        }
        return ret;
    }

    function _injectAll(address[] calldata traders, uint256[] calldata base, uint256[] calldata quote) private {
        if (base.length != traders.length || quote.length != traders.length) revert LengthMismatch();
        for (uint256 i; i < traders.length; ++i) {
            _inject(traders[i], BASE, base[i]);
            _inject(traders[i], QUOTE, quote[i]);
        }
    }

    function _inject(address trader, uint256 asset, uint256 amount) private {
        if (amount >= 1 << 112) revert CollateralTooLarge(trader, asset, amount);
        uint256 slot = INJECTED | (asset << 160) | uint160(trader);
        assembly ("memory-safe") {
            tstore(slot, add(amount, 1))
        }
    }

    function _collateral(uint256[4] storage, address trader, uint256 asset, uint64)
        internal
        view
        override
        returns (uint256 amount)
    {
        uint256 slot = INJECTED | (asset << 160) | uint160(trader);
        assembly ("memory-safe") {
            amount := tload(slot)
            if amount { amount := sub(amount, 1) }
        }
    }
}
