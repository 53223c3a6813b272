// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title smartmarket settlement, version 2: escrow per market and certified settlement of uniform-price call
/// auctions, with challenges until a deadline
/// @notice Devices trade in epochs: epoch n of a market is [genesisTime + n*epochLength,
/// genesisTime + (n+1)*epochLength) in block.timestamp seconds. Orders are EIP-712 signed off-chain
/// (domain: name "smartmarket", version "1", chainId, verifyingContract = this contract). After epoch e closes
/// anyone may propose a batch of e's signed orders; the contract itself computes the clearing of those orders
/// (docs/clearing.md: coverage, volume, price, every fill), checking a header of claimed sums in one pass, and
/// moves escrow. Until the close of epoch e+1 anyone may replace the standing result with the clearing of a
/// strictly larger set of e's orders (a challenge), taking the replaced submitter's bond. Then the result is
/// final and finalize() pays its fee and returns its bond. docs/certified-settlement.md is the specification.
/// @dev Assets are numbered BASE = 0 (the traded token, quantities) and QUOTE = 1 (the paid token, prices
/// are QUOTE base units per BASE base unit). Every amount held in escrow fits in uint112.
///
/// Batch (the `batch` argument of propose and certify), big-endian, no padding: a 432-byte header
///   price (16) | buy.better (32) | buy.equal (32) | buy.betterEdge (16) | buy.worseEdge (16)
///   | buy.remainder (32) | buy.id (32) | sell.better (32) | sell.equal (32) | sell.betterEdge (16)
///   | sell.worseEdge (16) | sell.remainder (32) | sell.id (32)
///   | buy.capLimit (16) | buy.capId (32) | sell.capLimit (16) | sell.capId (32)
/// followed by 1 <= n <= MAX_BATCH_ORDERS orders of 126 bytes, strictly ascending by order id:
///   side (1) | quantity (16) | limitPrice (16) | nonce (8) | trader (20) | v (1) | r (32) | s (32).
/// Union (the `union` argument of challenge): standing header (432) | union header (432)
///   | 1 <= n <= MAX_UNION_ORDERS entries of flag | order (126). Flag bit 0: in the standing batch; bit 1: in
///   the new batch. 0: added, in the union only (not in the new batch); 1: standing, dropped from the new batch;
///   2: added (in the new batch); 3: standing, kept. Any other flag is malformed. The union batch is the union
///   header | every entry's order; the signatures of added orders (flags 0 and 2) are checked in it.
/// The new batch (union header | the bit-1 orders, at most MAX_BATCH_ORDERS) must certify to the union's result;
/// it becomes the standing batch.
///
/// Bounds (docs/clearing.md, "Bounds"): every order has quantity >= the market's minQuantity; per (trader,
/// side), in ascending id, only the first MAX_ORDERS_PER_TRADER_SIDE orders can be kept (the later ones are
/// excluded, funded or not), and one of them is kept iff it needs at most floor(collateral /
/// MAX_ORDERS_PER_TRADER_SIDE) of the asset it spends (quantity * limitPrice QUOTE for a buy, quantity BASE for
/// a sell); per side, only the first MAX_KEPT_PER_SIDE kept orders by price priority (buys: limit
/// descending, sells: limit ascending, then id ascending) enter the clearing, the rest are cut (fill 0).
interface ISmartMarket {
    /// @notice One epoch to finalize, as logged by the last Proposed or Challenged event of that epoch.
    /// @param epoch the epoch
    /// @param batchHash keccak256 of the standing batch (the event's batchHash)
    /// @param submitter the standing result's submitter (proposer or last challenger)
    /// @param feeTotal the standing result's fee total (the event's feeTotal)
    struct Finalization {
        uint64 epoch;
        bytes32 batchHash;
        address submitter;
        uint256 feeTotal;
    }

    // ---------------------------------------------------------------- events

    /// @notice A market was created. Its id commits to every parameter.
    /// @param market keccak256(abi.encode(base, quote, genesisTime, epochLength, feeBps, bond, challengeWindow,
    /// minQuantity))
    /// @param minQuantity the smallest order quantity the market accepts, BASE units (>= 1)
    event MarketCreated(
        bytes32 indexed market,
        address indexed base,
        address indexed quote,
        uint64 genesisTime,
        uint64 epochLength,
        uint16 feeBps,
        uint96 bond,
        uint32 challengeWindow,
        uint128 minQuantity
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

    /// @notice `submitter` proposed a result for `epoch`: the certified clearing of the batch whose keccak256 is
    /// `batchHash` (the batch is the propose call's calldata). `resultHash` = keccak256(abi.encode(market,
    /// epoch, price, volume, (bytes32 orderId, uint256 fill)[])) over the non-zero fills in ascending id order,
    /// the same hash as clearing/'s. The fills are applied to escrow now; the fee `feeTotal` is paid to the
    /// submitter of the final result at finalize().
    event Proposed(
        bytes32 indexed market,
        uint64 indexed epoch,
        address indexed submitter,
        bytes32 resultHash,
        bytes32 batchHash,
        uint256 price,
        uint256 volume,
        uint256 feeTotal
    );

    /// @notice `challenger` replaced the standing result of `epoch`, submitted by `replaced`, with the certified
    /// clearing of a strictly larger batch (`batchHash`: keccak256 of the new batch, union header || the orders
    /// flagged for it, the batch a later challenge presents as the standing one). The standing fills were undone and these applied;
    /// `replaced`'s bond was credited to `challenger` (bondsOf). Price and volume are 0 when the union clears
    /// to no trade.
    event Challenged(
        bytes32 indexed market,
        uint64 indexed epoch,
        address indexed challenger,
        address replaced,
        bytes32 resultHash,
        bytes32 batchHash,
        uint256 price,
        uint256 volume,
        uint256 feeTotal
    );

    /// @notice The result of `epoch` is final: `feeTotal` QUOTE was credited to `submitter`'s free balance in
    /// `market` and its bond to its claimable bonds.
    event Finalized(bytes32 indexed market, uint64 indexed epoch, address indexed submitter, uint256 feeTotal);

    /// @notice `account` was sent its claimable bonds, `amount` wei.
    event BondsClaimed(address indexed account, uint256 amount);

    // ---------------------------------------------------------------- errors: markets

    /// @notice A market token is the zero address.
    error ZeroTokenAddress(address base, address quote);
    /// @notice base and quote are the same token.
    error IdenticalTokens(address token);
    /// @notice A market's epochs must last at least one second.
    error ZeroEpochLength(uint256 genesisTime);
    /// @notice The fee exceeds MAX_FEE_BPS.
    error FeeTooHigh(uint256 feeBps, uint256 maxFeeBps);
    /// @notice The challenge window must satisfy 1 <= challengeWindow < epochLength (seconds).
    error BadChallengeWindow(uint256 challengeWindow, uint256 epochLength);
    /// @notice A market's epochs may last at most MAX_EPOCH_LENGTH seconds (a longer epoch, up to 2^64 - 1 s,
    /// would hold every deposit behind a withdrawal delay that never ends).
    error EpochLengthTooLong(uint256 epochLength, uint256 maxEpochLength);
    /// @notice A market's epoch 0 may start at most MAX_GENESIS_DELAY seconds after the block creating it
    /// (deposits made before genesis count as made during epoch 0 and could not be withdrawn until then).
    error GenesisTooFar(uint256 genesisTime, uint256 latestGenesisTime);
    /// @notice A market with these parameters (hence this id) exists already.
    error MarketExists(bytes32 market);
    /// @notice createMarket with minQuantity 0: every market has a minimum order quantity of at least 1.
    error ZeroMinQuantity();
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
    /// @notice propose(epoch), challenge(epoch), certify(epoch) or collateralOf(epoch) before `epoch` has closed
    /// (current epoch <= epoch).
    error EpochNotClosed(uint256 epoch, uint256 currentEpoch);
    /// @notice collateralOf(epoch): the balance has changed since epoch+1 began, the checkpoint of the
    /// start of epoch+1 has been overwritten (`snapshotEpoch` > epoch+1). Read it during epoch+1.
    error CollateralNoLongerKnown(uint256 epoch, uint256 snapshotEpoch);
    /// @notice A debit exceeds the trader's escrow: its free balance, plus what it locked during this epoch.
    /// Never raised by a certified result (docs/certified-settlement.md, "why the undo never fails").
    error InsufficientCollateral(address trader, uint256 asset, uint256 needed, uint256 available);

    // ---------------------------------------------------------------- errors: proposals, challenges, bonds

    /// @notice propose/challenge with no commitment of the caller to exactly this (market, epoch, data), or a
    /// commitment that has been replaced. `commitment` is the one expected:
    /// keccak256(abi.encode(market, epoch, keccak256(data), msg.sender)).
    error NotCommitted(bytes32 commitment);
    /// @notice The commitment was made in block `blockNumber`, which is not earlier than this one.
    error CommitmentTooRecent(uint256 blockNumber);
    /// @notice msg.value must equal the market's bond.
    error WrongBond(uint256 sent, uint256 required);
    /// @notice A result stands (or is final) for this epoch already: challenge it instead.
    error AlreadyProposed(bytes32 market, uint256 epoch);
    /// @notice Proposals for `epoch` are accepted until `deadline` (exclusive): the close of epoch+1 minus the
    /// challenge window, so that every proposal can be challenged for at least challengeWindow seconds.
    error ProposalWindowClosed(uint256 epoch, uint256 deadline);
    /// @notice Challenges of `epoch` are accepted until `deadline` (exclusive), the close of epoch+1.
    error ChallengeWindowClosed(uint256 epoch, uint256 deadline);
    /// @notice challenge() of an epoch for which no result stands.
    error NothingToChallenge(bytes32 market, uint256 epoch);
    /// @notice The standing batch given by a challenge (standing header || its flag-1 and flag-3 orders), with
    /// the given standing submitter and its certified fee, does not hash to the stored `record`: it is not the
    /// standing batch (replayed, truncated, reordered or altered), or not its submitter.
    error StandingMismatch(bytes32 record);
    /// @notice A challenge must add at least one order (an entry with flag 0 or 2) to the standing batch.
    error NoNewOrders();
    /// @notice The new batch of a challenge (union header || its flag-2 and flag-3 orders) certifies to
    /// `newBatchResultHash`, not to the union's `unionResultHash`. (A new batch that fails its certification
    /// reverts with that certification's own error.)
    error NewBatchMismatch(bytes32 unionResultHash, bytes32 newBatchResultHash);
    /// @notice The union clears to the standing result (`resultHash`): nothing to replace.
    error ResultUnchanged(bytes32 resultHash);
    /// @notice finalize(): `epoch` is final from `deadline` (the close of epoch+1) on.
    error NotFinal(uint256 epoch, uint256 deadline);
    /// @notice finalize(): nothing stands for `epoch` with this (batchHash, submitter, feeTotal), or it was
    /// finalized already.
    error NothingToFinalize(bytes32 market, uint256 epoch);
    /// @notice claimBonds() with no claimable bonds.
    error NothingToClaim(address account);
    /// @notice Sending the claimable bonds to `to` failed (it reverted or refused ether).
    error BondTransferFailed(address to, uint256 amount);

    // ---------------------------------------------------------------- errors: certification

    /// @notice The batch is not 432 + 126*n bytes with n >= 1, or the union not 864 + 127*n bytes with n >= 1,
    /// every flag 0, 1, 2 or 3 and at least one entry in the new batch (flag 2 or 3).
    error MalformedBatch(uint256 length);
    /// @notice A batch of propose or certify has more than MAX_BATCH_ORDERS orders, or a union more than
    /// MAX_UNION_ORDERS entries (`orders` of them, `max` allowed): checked with the length, before the commitment;
    /// or a challenge's new batch has more than MAX_BATCH_ORDERS orders (checked with the flags).
    error BatchTooLarge(uint256 orders, uint256 max);
    /// @notice The header's price must be in [1, 2^128 - 1] (limits are uint128 and positive).
    error PriceOutOfRange(uint256 price);
    /// @notice propose (or certify) of a batch whose header's sums give volume 0 (min(buy.better + buy.equal,
    /// sell.better + sell.equal)): nothing to settle. A challenge's union may certify to no trade (its header's
    /// price then separates the kept buys from the kept sells), replacing a standing result that traded.
    error NoTrade();
    /// @notice The header's `better` sum of `side` (0 buy, 1 sell) exceeds the volume: a price on that side of
    /// the header's would trade more, so the header's price is not the clearing price.
    error VolumeNotMaximal(uint256 side, uint256 better, uint256 volume);
    /// @notice The header's price is not the midpoint rounded down of [lo, hi], the clearing interval its sums
    /// and edges give (or lo > hi).
    error WrongPrice(uint256 price, uint256 lo, uint256 hi);
    /// @notice Order `index`'s side is neither 0 (buy) nor 1 (sell).
    error InvalidSide(uint256 index, uint256 side);
    /// @notice Order `index` has quantity 0 or limitPrice 0.
    error MalformedOrder(uint256 index);
    /// @notice Order `index` has `quantity` below the market's `minQuantity`: no such order is valid. Checked for
    /// every order (the standing ones of a challenge included), after InvalidSide and MalformedOrder.
    error OrderBelowMinimum(uint256 index, uint256 quantity, uint256 minQuantity);
    /// @notice More than `max` (MAX_KEPT_PER_SIDE) kept orders of `side` (0 buy, 1 sell) pass the header's cap
    /// threshold of that side: `count` of them. Checked after the pass, before the aggregates.
    error SideOverCap(uint256 side, uint256 count, uint256 max);
    /// @notice The header's cap threshold of `side` cuts a kept order while only `count` < `max`
    /// (MAX_KEPT_PER_SIDE) kept orders of the side pass it: a cut must leave exactly the top `max` in.
    error CapNotTight(uint256 side, uint256 count, uint256 max);
    /// @notice Order `index` has id `id` <= the previous one's: orders must be strictly ascending by id, which
    /// also rules out one order twice.
    error OrdersNotAscending(uint256 index, bytes32 previousId, bytes32 id);
    /// @notice Order `index`'s signature is malformed: v not in {27, 28}, or s > n/2 (the malleable twin).
    error MalformedSignature(uint256 index, uint256 v, bytes32 s);
    /// @notice Order `index`'s signature recovers to `recovered` (zero when unrecoverable), not to the trader.
    error InvalidSigner(uint256 index, bytes32 orderId, address recovered, address trader);
    /// @notice A header sum or edge differs from the batch's: `field` 0..3 = buy.better, buy.equal,
    /// buy.betterEdge, buy.worseEdge; 4..7 = the same of sells. Checked in this order after the pass.
    error AggregateMismatch(uint256 field, uint256 claimed, uint256 actual);
    /// @notice The header's bonus threshold of `side` gives `counted` leftover units to marginal orders where
    /// the rule gives `expected` (R - sum of the pro-rata shares).
    error WrongBonusCount(uint256 side, uint256 counted, uint256 expected);

    // ---------------------------------------------------------------- functions: markets and escrow

    /// @notice Creates a market; anyone may. Returns its id, keccak256(abi.encode(base, quote, genesisTime,
    /// epochLength, feeBps, bond, challengeWindow, minQuantity)).
    /// @param feeBps fee paid to the final result's submitter, basis points of each sell fill's QUOTE proceeds
    /// @param bond wei that every proposal and every challenge locks (msg.value)
    /// @param genesisTime start of epoch 0, unix seconds; at most MAX_GENESIS_DELAY after block.timestamp
    /// (else GenesisTooFar)
    /// @param epochLength seconds, 1 <= epochLength <= MAX_EPOCH_LENGTH (else ZeroEpochLength or
    /// EpochLengthTooLong)
    /// @param challengeWindow seconds, 1 <= challengeWindow < epochLength: proposals for epoch e close this long
    /// before the close of e+1, challenges at the close of e+1
    /// @param minQuantity the smallest order quantity, BASE units, >= 1 (else ZeroMinQuantity): a batch holding an
    /// order with a smaller quantity reverts OrderBelowMinimum
    function createMarket(
        address base,
        address quote,
        uint64 genesisTime,
        uint64 epochLength,
        uint16 feeBps,
        uint96 bond,
        uint32 challengeWindow,
        uint128 minQuantity
    ) external returns (bytes32 market);

    /// @notice Moves `amount` of `asset` from the caller's wallet (ERC-20 transferFrom: approve first) into
    /// its free escrow balance in `market`. Fee-on-transfer and rebasing tokens are not supported.
    function deposit(bytes32 market, uint8 asset, uint256 amount) external;

    /// @notice Moves `amount` from the caller's free balance to its locked balance; the locked balance can
    /// be withdrawn WITHDRAWAL_DELAY_EPOCHS epochs later. A new request restarts the delay of the whole
    /// locked amount. Until then the locked funds still back the result of the previous epoch (and an undo
    /// of it by a challenge may take from them).
    function requestWithdrawal(bytes32 market, uint8 asset, uint256 amount) external;

    /// @notice Transfers the caller's whole locked balance of `asset` to its wallet, once the delay is over.
    function withdraw(bytes32 market, uint8 asset) external;

    /// @notice The free balance of `trader` at the start of epoch `epoch + 1` (the close of `epoch`): the
    /// collateral that covers the trader's orders of `epoch`. Reverts while `epoch` is open, and with
    /// CollateralNoLongerKnown once the balance has changed after epoch+1 (read it during epoch+1).
    function collateralOf(bytes32 market, address trader, uint8 asset, uint64 epoch)
        external
        view
        returns (uint256);

    /// @notice collateralOf(market, traders[i], BASE, epoch) and (..., QUOTE, epoch) of every trader, in one
    /// call: a node reads the collateral of a whole epoch in one round trip, however many traders sent orders.
    /// Reverts as collateralOf does (EpochNotClosed; CollateralNoLongerKnown for the first such trader).
    function collateralOfMany(bytes32 market, address[] calldata traders, uint64 epoch)
        external
        view
        returns (uint256[] memory base, uint256[] memory quote);

    // ---------------------------------------------------------------- functions: settlement

    /// @notice Stores `commitment` for (market, caller) with this block's number, replacing the caller's
    /// previous one in this market. A propose or challenge is accepted only with a commitment of its sender
    /// from an earlier block: keccak256(abi.encode(bytes32 market, uint64 epoch, bytes32 keccak256(data),
    /// address sender)), data being the batch (propose) or the union (challenge). Copied calldata sent from
    /// another account reverts NotCommitted. Only the first 192 bits are stored with the block number.
    function commit(bytes32 market, bytes32 commitment) external;

    /// @notice Proposes the result of `epoch`: allowed from the close of epoch (T1) until challengeWindow
    /// seconds before the close of epoch+1 (T2), when nothing stands for the epoch; msg.value must be the bond.
    /// Certifies the batch, applies its fills to escrow, stores the record
    /// keccak256(abi.encode(keccak256(batch), msg.sender, feeTotal)).
    function propose(bytes32 market, uint64 epoch, bytes calldata batch) external payable;

    /// @notice Replaces the standing result of `epoch` (before T2) with the certified clearing of the union of
    /// the standing batch and at least one added order, if that result differs; msg.value must be the bond.
    /// Undoes the standing fills, applies the union's, credits the standing bond to the caller's claimable
    /// bonds and stores the record of the new batch (the flag-2 and flag-3 orders, which certify to the
    /// union's result). The union's clearing may be no trade (price 0, volume 0, no fills,
    /// fee 0): then the standing fills are undone and nothing is applied.
    /// @param standingSubmitter the submitter of the standing result (its Proposed/Challenged event)
    /// @param union standing header || union header || entries (flag || order), see the interface notes
    function challenge(bytes32 market, uint64 epoch, address standingSubmitter, bytes calldata union)
        external
        payable;

    /// @notice Finalizes epochs whose challenge deadline (T2) has passed: for each, credits its fee to the
    /// submitter's free QUOTE in `market`, its bond to the submitter's claimable bonds, and marks it FINALIZED.
    function finalize(bytes32 market, Finalization[] calldata items) external;

    /// @notice Sends the caller its claimable bonds (returned at finalization, or won by a challenge).
    function claimBonds() external;

    /// @notice The certification of `batch` as the result of `epoch`, exactly as propose() would compute it
    /// now: price, volume, every order's fill (in batch order, 0 for orders that do not fill or are not
    /// covered), the result hash, the fee total and keccak256(batch). Reverts with the first wrong value.
    /// Not `view` because it keeps its coverage running totals in transient storage (EIP-1153), which a view
    /// may not write; it changes no persistent state: call it with eth_call. Coverage uses collateralOf(epoch),
    /// so it reverts EpochNotClosed before the epoch closes and CollateralNoLongerKnown once a balance of an
    /// order's trader has changed after epoch+1.
    function certify(bytes32 market, uint64 epoch, bytes calldata batch)
        external
        returns (
            uint256 price,
            uint256 volume,
            uint256[] memory fills,
            bytes32 resultHash,
            uint256 feeTotal,
            bytes32 batchHash
        );

    // ---------------------------------------------------------------- views

    /// @notice Epochs between a withdrawal request and the withdrawal (see requestWithdrawal).
    function WITHDRAWAL_DELAY_EPOCHS() external view returns (uint256);

    /// @notice Largest market fee, basis points.
    function MAX_FEE_BPS() external view returns (uint256);

    /// @notice Longest epoch of a market, seconds (one day).
    function MAX_EPOCH_LENGTH() external view returns (uint256);

    /// @notice Latest genesis of a new market, seconds after the block that creates it (30 days).
    function MAX_GENESIS_DELAY() external view returns (uint256);

    /// @notice Orders per trader, side and epoch that can be kept: the smallest ids (2); the later ones are
    /// excluded, funded or not. Also the number of shares a collateral is split into: one of them is kept iff it
    /// needs at most floor(collateral / 2) of the asset it spends.
    function MAX_ORDERS_PER_TRADER_SIDE() external view returns (uint256);

    /// @notice Kept orders per side that enter the clearing, by price priority (64); the rest are cut.
    function MAX_KEPT_PER_SIDE() external view returns (uint256);

    /// @notice Most orders of a proposal's (or certify's) batch, and of a challenge's new batch: 2 *
    /// MAX_KEPT_PER_SIDE (128), the in-orders of both sides (a certificate needs no other order).
    function MAX_BATCH_ORDERS() external view returns (uint256);

    /// @notice Most entries of a challenge's union: 4 * MAX_BATCH_ORDERS (512): a standing batch, an honest
    /// certificate, and the two smaller orders of each standing order that is a 3rd or later of its (trader, side).
    function MAX_UNION_ORDERS() external view returns (uint256);

    /// @notice recordOf() of a finalized epoch.
    function FINALIZED() external view returns (bytes32);

    /// @notice keccak256 of the EIP-712 order type string.
    function ORDER_TYPEHASH() external view returns (bytes32);

    /// @notice The EIP-712 domain separator (name "smartmarket", version "1", this chain, this contract).
    function domainSeparator() external view returns (bytes32);

    /// @notice The EIP-712 digest of an order, which is its id, computed by the code certification uses.
    function orderDigest(
        bytes32 market,
        uint64 epoch,
        uint8 side,
        uint128 quantity,
        uint128 limitPrice,
        uint64 nonce,
        address trader
    ) external view returns (bytes32);

    /// @notice keccak256(abi.encode(base, quote, genesisTime, epochLength, feeBps, bond, challengeWindow,
    /// minQuantity)).
    function marketId(
        address base,
        address quote,
        uint64 genesisTime,
        uint64 epochLength,
        uint16 feeBps,
        uint96 bond,
        uint32 challengeWindow,
        uint128 minQuantity
    ) external pure returns (bytes32);

    /// @notice A market's parameters; reverts UnknownMarket.
    function getMarket(bytes32 market)
        external
        view
        returns (
            address base,
            address quote,
            uint64 genesisTime,
            uint64 epochLength,
            uint16 feeBps,
            uint96 bond,
            uint32 challengeWindow,
            uint128 minQuantity
        );

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

    /// @notice The record of `epoch`: 0 if nothing was proposed, FINALIZED (1) once final and paid, else the
    /// standing record keccak256(abi.encode(batchHash, submitter, feeTotal)).
    function recordOf(bytes32 market, uint64 epoch) external view returns (bytes32);

    /// @notice Whether a result of `epoch` stands or is final (recordOf != 0).
    function isSettled(bytes32 market, uint64 epoch) external view returns (bool);

    /// @notice Wei that `account` can claim with claimBonds().
    function bondsOf(address account) external view returns (uint256);
}
