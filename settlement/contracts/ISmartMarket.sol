// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title smartmarket settlement: escrow per market and verified settlement of uniform-price call auctions
/// @notice Devices trade in epochs: epoch n of a market is [genesisTime + n*epochLength,
/// genesisTime + (n+1)*epochLength) in block.timestamp seconds. Orders are EIP-712 signed off-chain
/// (domain: name "smartmarket", version "1", chainId, verifyingContract = this contract) and cleared
/// off-chain by every node; anyone settles epoch e once, during epoch e+1, and this contract verifies
/// every fill and moves escrowed balances. It checks that a batch is valid, not that it is the batch
/// every node computed: nodes compare the `resultHash` of the `Settled` event with their own result.
/// @dev Assets are numbered BASE = 0 (the traded token, quantities) and QUOTE = 1 (the paid token, prices
/// are QUOTE base units per BASE base unit). Every amount held in escrow fits in uint112.
interface ISmartMarket {
    /// @notice One fill of a signed order, as submitted in a settlement batch. The first five fields are
    /// the order's fields after (market, epoch) in EIP-712 order; market and epoch are the batch's.
    /// @param side 0 = buy, 1 = sell
    /// @param quantity the order's quantity (BASE units)
    /// @param limitPrice the order's limit (QUOTE units per BASE unit): a buy pays at most, a sell gets at least
    /// @param nonce the order's nonce
    /// @param trader the order's signer, whose escrow pays and receives
    /// @param fill the quantity filled in this settlement, 0 < fill <= quantity
    /// @param v, r, s the trader's ECDSA signature of the order's EIP-712 digest (v in {27, 28}, s <= n/2)
    struct SignedFill {
        uint8 side;
        uint128 quantity;
        uint128 limitPrice;
        uint64 nonce;
        address trader;
        uint128 fill;
        uint8 v;
        bytes32 r;
        bytes32 s;
    }

    // ---------------------------------------------------------------- events

    /// @notice A market was created. Its id commits to every parameter.
    /// @param market keccak256(abi.encode(base, quote, genesisTime, epochLength, feeBps))
    event MarketCreated(
        bytes32 indexed market,
        address indexed base,
        address indexed quote,
        uint64 genesisTime,
        uint64 epochLength,
        uint16 feeBps
    );

    /// @notice `amount` of `asset` was moved from `trader`'s wallet into its free escrow balance in `market`.
    event Deposited(bytes32 indexed market, address indexed trader, uint8 indexed asset, uint256 amount);

    /// @notice `amount` moved from free to locked; the whole locked amount (`totalLocked`) can be withdrawn
    /// from epoch `withdrawableFromEpoch` on.
    event WithdrawalRequested(
        bytes32 indexed market,
        address indexed trader,
        uint8 indexed asset,
        uint256 amount,
        uint256 totalLocked,
        uint64 withdrawableFromEpoch
    );

    /// @notice The locked `amount` was transferred to `trader`'s wallet.
    event Withdrawn(bytes32 indexed market, address indexed trader, uint8 indexed asset, uint256 amount);

    /// @notice Epoch `epoch` of `market` was settled by `submitter` at the uniform `price` with `volume`
    /// BASE units traded. `resultHash` = keccak256(abi.encode(market, epoch, price, volume, fills)) with
    /// fills = (bytes32 orderId, uint256 quantity)[] in the batch's (strictly ascending id) order. The fills
    /// themselves are in the transaction's calldata (see docs/settlement.md).
    event Settled(
        bytes32 indexed market,
        uint64 indexed epoch,
        uint256 price,
        uint256 volume,
        bytes32 resultHash,
        address indexed submitter
    );

    // ---------------------------------------------------------------- errors: markets

    /// @notice A market token is the zero address.
    error ZeroTokenAddress(address base, address quote);
    /// @notice base and quote are the same token.
    error IdenticalTokens(address token);
    /// @notice A market's epochs must last at least one second.
    error ZeroEpochLength(uint256 genesisTime);
    /// @notice The fee exceeds MAX_FEE_BPS.
    error FeeTooHigh(uint256 feeBps, uint256 maxFeeBps);
    /// @notice A market with these parameters (hence this id) exists already.
    error MarketExists(bytes32 market);
    /// @notice No market has this id.
    error UnknownMarket(bytes32 market);

    // ---------------------------------------------------------------- errors: escrow

    /// @notice `asset` is neither 0 (BASE) nor 1 (QUOTE).
    error InvalidAsset(uint256 asset);
    /// @notice Deposits and withdrawal requests must move a positive amount.
    error ZeroAmount(bytes32 market, uint256 asset);
    /// @notice A value does not fit in the escrow's 112-bit balances.
    error AmountOverflow(uint256 amount);
    /// @notice The market's epoch no longer fits the escrow's 32-bit checkpoints: epoch 2^32 - 2 is reached in
    /// 2106 by a market with 1-second epochs from genesis 0, never by realistic parameters.
    error EpochOverflow(uint256 epoch);
    /// @notice A token transfer (or transferFrom) reverted, returned false, or the token has no code.
    error TokenTransferFailed(address token, address from, address to, uint256 amount);
    /// @notice A withdrawal request exceeds the free balance.
    error InsufficientBalance(address trader, uint256 asset, uint256 requested, uint256 available);
    /// @notice withdraw() with nothing locked.
    error NothingToWithdraw(bytes32 market, address trader, uint256 asset);
    /// @notice The locked funds back a settlement that may still happen; retry from `readyEpoch` on.
    error WithdrawalNotReady(uint256 currentEpoch, uint256 readyEpoch);
    /// @notice settle(epoch) or collateralOf(epoch) before `epoch` has closed (current epoch <= epoch).
    error EpochNotClosed(uint256 epoch, uint256 currentEpoch);
    /// @notice collateralOf(epoch): the balance has changed since epoch+1 began, the checkpoint of the
    /// start of epoch+1 has been overwritten (`snapshotEpoch` > epoch+1). Read it during epoch+1.
    error CollateralNoLongerKnown(uint256 epoch, uint256 snapshotEpoch);

    // ---------------------------------------------------------------- errors: settlement

    /// @notice settle(epoch) after its window: only during epoch+1.
    error SettlementWindowClosed(uint256 epoch, uint256 currentEpoch);
    /// @notice The epoch has been settled already: one settlement per epoch.
    error AlreadySettled(bytes32 market, uint256 epoch);
    /// @notice A settlement must have at least one fill.
    error EmptySettlement(bytes32 market, uint256 epoch);
    /// @notice The price must be in [1, 2^128 - 1] (limits are uint128 and positive).
    error PriceOutOfRange(uint256 price);
    /// @notice Fill `index`'s side is neither 0 (buy) nor 1 (sell).
    error InvalidSide(uint256 index, uint256 side);
    /// @notice Fill `index` has a quantity, limitPrice or fill wider than 128 bits, a nonce wider than 64 bits or
    /// a trader wider than 160 bits (calldata a standard ABI encoder never produces).
    error MalformedFill(uint256 index);
    /// @notice Fill `index` has order id `id` <= the previous one's: fills must be strictly ascending by id,
    /// which also rules out filling one order twice.
    error FillsNotAscending(uint256 index, bytes32 previousId, bytes32 id);
    /// @notice Fill `index` fills nothing: zero fills are omitted from a batch.
    error ZeroFill(uint256 index);
    /// @notice Fill `index` fills more than its order's quantity.
    error FillExceedsQuantity(uint256 index, uint256 fill, uint256 quantity);
    /// @notice The price violates fill `index`'s limit (a buy needs limit >= price, a sell limit <= price).
    error LimitViolated(uint256 index, uint256 side, uint256 limitPrice, uint256 price);
    /// @notice Fill `index`'s signature is malformed: v not in {27, 28}, or s > n/2 (the malleable twin).
    error MalformedSignature(uint256 index, uint256 v, bytes32 s);
    /// @notice Fill `index`'s signature recovers to `recovered` (zero when unrecoverable), not to the trader.
    error InvalidSigner(uint256 index, bytes32 orderId, address recovered, address trader);
    /// @notice The buy fills and the sell fills of a batch must add up to the same volume.
    error VolumeMismatch(uint256 buyVolume, uint256 sellVolume);
    /// @notice A debit exceeds the trader's escrow: its free balance, plus what it locked during this epoch.
    error InsufficientCollateral(address trader, uint256 asset, uint256 needed, uint256 available);

    // ---------------------------------------------------------------- functions

    /// @notice Creates a market; anyone may. Returns its id, keccak256(abi.encode(base, quote, genesisTime,
    /// epochLength, feeBps)).
    /// @param feeBps fee credited to the settlement's submitter, basis points of each sell fill's QUOTE proceeds
    function createMarket(address base, address quote, uint64 genesisTime, uint64 epochLength, uint16 feeBps)
        external
        returns (bytes32 market);

    /// @notice Moves `amount` of `asset` from the caller's wallet (ERC-20 transferFrom: approve first) into
    /// its free escrow balance in `market`. Fee-on-transfer and rebasing tokens are not supported.
    function deposit(bytes32 market, uint8 asset, uint256 amount) external;

    /// @notice Moves `amount` from the caller's free balance to its locked balance; the locked balance can
    /// be withdrawn WITHDRAWAL_DELAY_EPOCHS epochs later. A new request restarts the delay of the whole
    /// locked amount. Until then the locked funds still back the settlement of the previous epoch.
    function requestWithdrawal(bytes32 market, uint8 asset, uint256 amount) external;

    /// @notice Transfers the caller's whole locked balance of `asset` to its wallet, once the delay is over.
    function withdraw(bytes32 market, uint8 asset) external;

    /// @notice Settles epoch `epoch` of `market` at the uniform `price`. Allowed once, during epoch+1.
    /// @param fills every non-zero fill with its signed order, strictly ascending by order id
    function settle(bytes32 market, uint64 epoch, uint256 price, SignedFill[] calldata fills) external;

    /// @notice The free balance of `trader` at the start of epoch `epoch + 1` (the close of `epoch`): the
    /// collateral that covers the trader's orders of `epoch`. Reverts while `epoch` is open, and with
    /// CollateralNoLongerKnown once the balance has changed after epoch+1 (read it during epoch+1).
    function collateralOf(bytes32 market, address trader, uint8 asset, uint64 epoch)
        external
        view
        returns (uint256);

    // ---------------------------------------------------------------- views

    /// @notice Epochs between a withdrawal request and the withdrawal (see requestWithdrawal).
    function WITHDRAWAL_DELAY_EPOCHS() external view returns (uint256);

    /// @notice Largest market fee, basis points.
    function MAX_FEE_BPS() external view returns (uint256);

    /// @notice keccak256 of the EIP-712 order type string.
    function ORDER_TYPEHASH() external view returns (bytes32);

    /// @notice The EIP-712 domain separator (name "smartmarket", version "1", this chain, this contract).
    function domainSeparator() external view returns (bytes32);

    /// @notice The EIP-712 digest of an order, which is its id, computed by the code settle() uses.
    function orderDigest(
        bytes32 market,
        uint64 epoch,
        uint8 side,
        uint128 quantity,
        uint128 limitPrice,
        uint64 nonce,
        address trader
    ) external view returns (bytes32);

    /// @notice keccak256(abi.encode(base, quote, genesisTime, epochLength, feeBps)).
    function marketId(address base, address quote, uint64 genesisTime, uint64 epochLength, uint16 feeBps)
        external
        pure
        returns (bytes32);

    /// @notice A market's parameters; reverts UnknownMarket.
    function getMarket(bytes32 market)
        external
        view
        returns (address base, address quote, uint64 genesisTime, uint64 epochLength, uint16 feeBps);

    /// @notice The market's epoch at block.timestamp; 0 before genesis (bookkeeping: nothing before genesis
    /// is ever settled, and a deposit made then counts as made during epoch 0).
    function currentEpoch(bytes32 market) external view returns (uint256);

    /// @notice A trader's escrow in one asset: free and locked balances, the epoch of the last withdrawal
    /// request, and the checkpoint (the epoch of the last change and the free balance at its start;
    /// checkpointEpoch is meaningless while checkpointed is false).
    function escrowOf(bytes32 market, address trader, uint8 asset)
        external
        view
        returns (
            uint256 free,
            uint256 locked,
            uint256 lockedEpoch,
            bool checkpointed,
            uint256 checkpointEpoch,
            uint256 checkpointFree
        );

    /// @notice Whether epoch `epoch` of `market` has been settled.
    function isSettled(bytes32 market, uint64 epoch) external view returns (bool);
}
