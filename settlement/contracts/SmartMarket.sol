// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ISmartMarket} from "./ISmartMarket.sol";

/// @dev The two ERC-20 calls the escrow makes. Tokens that return nothing (USDT-style) are accepted.
interface IERC20Transfers {
    function transfer(address to, uint256 amount) external returns (bool);
    function transferFrom(address from, address to, uint256 amount) external returns (bool);
}

/// @title SmartMarket: per-market escrow and certified settlement of uniform-price call auctions
/// @notice See ISmartMarket, docs/certified-settlement.md (the specification) and docs/settlement.md.
/// @dev Storage layout, per market and trader, four words (`_escrow[market][trader]`):
///   [0], [1]  balance word of BASE, QUOTE:  free (bits 0..111) | checkpointFree (112..223) | tag (224..255)
///   [2], [3]  lock word of BASE, QUOTE:     locked (bits 0..111) | lockedEpoch (112..175)
/// `tag` is the epoch of the balance's last change plus one (0 = never changed), so a balance word that has
/// been touched once is never zero again: settlements never pay a zero-to-nonzero SSTORE for it.
/// Checkpoint rule: before the first change of `free` in epoch c, checkpointFree := free and tag := c + 1.
/// So the free balance at the start of epoch c is (tag == c + 1 ? checkpointFree : free).
///
/// Bounds used by the unchecked arithmetic below (each proof refers to these):
///   (B1) a collateral (_collateral) is a 112-bit balance: < 2^112;
///   (B2) a kept order needs at most half its trader's collateral, so a kept order's quantity is < 2^112 (a
///        buy needs quantity * limitPrice >= quantity, a sell needs quantity);
///   (B3) a batch has n <= MAX_UNION_ORDERS < 2^32 orders (checked with its length), so a sum of kept
///        quantities is < 2^144;
///   (B4) price and limits are 16-byte fields: < 2^128.
contract SmartMarket is ISmartMarket {
    uint8 internal constant BASE = 0;
    uint8 internal constant QUOTE = 1;
    uint256 public constant override MAX_FEE_BPS = 1000;
    /// @dev Bounds of createMarket against markets that trap deposits: an epoch of up to 2^64 - 1 s, or a genesis
    /// far in the future, would hold every deposit behind a withdrawal delay that never ends in practice.
    uint256 public constant override MAX_EPOCH_LENGTH = 1 days;
    uint256 public constant override MAX_GENESIS_DELAY = 30 days;
    /// @dev One epoch of delay is necessary (see requestWithdrawal in docs/settlement.md); the second is margin.
    uint256 public constant override WITHDRAWAL_DELAY_EPOCHS = 2;
    /// @dev The bounds of docs/clearing.md ("Bounds"), the same as clearing/limits.ts: per (trader, side) only the
    /// first 2 orders by id can be kept, each with at most half its trader's collateral (so whether an order is
    /// kept depends on no other order than a smaller one of its own trader and side); per side at most 64
    /// in-orders (by price priority). A proposal carries at most 2 * 64 = 128 orders (a certificate is its
    /// in-orders: an in-order stays among the first 2 of its trader and side in any subset); a union at most
    /// 4 * 128 = 512 (a standing batch, an honest certificate, and for each standing order that is a 3rd or later
    /// of its trader and side, its 2 smaller siblings; 512 * 127 + 2 * 432 = 65,888 bytes).
    uint256 public constant override MAX_ORDERS_PER_TRADER_SIDE = 2;
    uint256 public constant override MAX_KEPT_PER_SIDE = 64;
    uint256 public constant override MAX_BATCH_ORDERS = 2 * MAX_KEPT_PER_SIDE;
    uint256 public constant override MAX_UNION_ORDERS = 4 * MAX_BATCH_ORDERS;
    bytes32 public constant override FINALIZED = bytes32(uint256(1));
    uint256 private constant BPS = 10_000;

    bytes32 public constant override ORDER_TYPEHASH = keccak256(
        "Order(bytes32 market,uint64 epoch,uint8 side,uint128 quantity,uint128 limitPrice,uint64 nonce,address trader)"
    );
    bytes32 private constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 private constant NAME_HASH = keccak256("smartmarket");
    bytes32 private constant VERSION_HASH = keccak256("1");
    /// @dev secp256k1 n / 2: signatures with a larger s are the malleable twins of low-s ones (EIP-2).
    uint256 private constant HALF_N = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0;
    /// @dev 2^112 - 1, as a literal so that assembly can use it.
    uint256 private constant MASK112 = 0xffffffffffffffffffffffffffff;
    uint256 private constant MASK80 = 0xffffffffffffffffffff;
    uint256 private constant BIG_BOND = 1 << 250;

    // ---------------------------------------------------------------- batch encoding

    /// @dev Batch header: 17 big-endian fields, see ISmartMarket. Offsets of the fields read by name.
    uint256 internal constant HEADER = 432;
    uint256 internal constant ORDER = 126;
    /// @dev A union entry: flag (1) then the order.
    uint256 private constant ENTRY = 127;
    uint256 private constant H_BUY_BETTER = 16;
    uint256 private constant H_BUY_EQUAL = 48;
    uint256 private constant H_BUY_BETTER_EDGE = 80;
    uint256 private constant H_BUY_WORSE_EDGE = 96;
    uint256 private constant H_BUY_REMAINDER = 112;
    uint256 private constant H_BUY_ID = 144;
    /// @dev The sell fields are the buy fields' offsets + 160.
    uint256 private constant H_SELL = 160;
    /// @dev The side-cap threshold of buys: capLimit (16 bytes), capId (32); the sell threshold is at + H_CAP_SELL.
    uint256 private constant H_CAP_LIMIT = 336;
    uint256 private constant H_CAP_ID = 352;
    uint256 private constant H_CAP_SELL = 48;

    // ---------------------------------------------------------------- memory scratch of a certification

    /// @dev The scratch lives at a fixed address, SCRATCH_AT: every access is then one constant (no base pointer on
    /// the stack, no addition). Each entry point that certifies reserves it first (_reserveScratch: the free
    /// memory pointer, still at its initial value, is moved past it), so it is memory the contract allocated.
    /// Offsets from its start:
    ///   [0, 96)     ORDER_TYPEHASH, market, epoch: written once per certification
    ///   [96, 256)   the order being certified: side, quantity, limitPrice, nonce, trader, so that [0, 256) is
    ///               its EIP-712 struct encoding
    ///   [256, 384)  ecrecover input: digest, v, r, s
    ///   [384, 450)  0x1901 || domainSeparator || structHash, the digest's preimage
    ///   [480, 704)  the pass's state: price, feeBps, coverage namespace, the market's escrow mapping slot, the
    ///               next (id, fill) and the next effect to write, the fee total so far
    ///   [704, 800)  the arguments of a failure: v, s, recovered signer
    ///   [800, 1696) the state of each side (SIDE bytes at SIDES + side * SIDE), see the S_ offsets
    ///   [1696, 1760) a zero word and a word of ones: the signature flags of "check all" and "check none"
    ///   [1760, 1792) the market's minQuantity
    uint256 private constant ORDER_AT = 96;
    uint256 private constant QUANTITY_AT = 128;
    uint256 private constant LIMIT_AT = 160;
    uint256 private constant NONCE_AT = 192;
    uint256 private constant TRADER_AT = 224;
    uint256 private constant ECRECOVER_INPUT = 256;
    uint256 private constant DIGEST_INPUT = 384;
    uint256 private constant STRUCT_HASH_AT = 418;
    uint256 private constant PRICE_AT = 480;
    uint256 private constant FEE_BPS_AT = 512;
    uint256 private constant NAMESPACE_AT = 544;
    uint256 private constant ESCROW_AT = 576;
    uint256 private constant FILLS_OUT = 608;
    uint256 private constant EFFECTS_OUT = 640;
    uint256 private constant FEE_TOTAL_AT = 672;
    uint256 private constant FAILED_V = 704;
    uint256 private constant FAILED_S = 736;
    uint256 private constant FAILED_SIGNER = 768;
    uint256 private constant SIDES = 800;
    uint256 private constant SIDE = 448;
    uint256 private constant FLAG_ALL = 1696;
    uint256 private constant FLAG_NONE = 1728;
    uint256 private constant MIN_QUANTITY_AT = 1760;
    uint256 private constant SCRATCH = 1792;
    /// @dev Above the compiler's initial free memory pointer (where via-IR's own stack spill area ends).
    uint256 private constant SCRATCH_AT = 0x800;
    /// @dev Per side: from the header, R (units left for the marginal level), L (its claimed quantity), the
    /// bonus threshold (remainder, id) and the cap threshold (limit, id); counted in the pass: the better and
    /// equal sums, the distance from the price of the closest better and of the closest worse limit (0: none),
    /// the pro-rata shares and bonuses, the kept orders that pass the cap threshold (in) and whether one did not.
    uint256 private constant S_R = 0;
    uint256 private constant S_L = 32;
    uint256 private constant S_REM = 64;
    uint256 private constant S_ID = 96;
    uint256 private constant S_BETTER = 128;
    uint256 private constant S_EQUAL = 160;
    uint256 private constant S_BETTER_DIST = 192;
    uint256 private constant S_WORSE_DIST = 224;
    uint256 private constant S_SHARES = 256;
    uint256 private constant S_BONUSES = 288;
    uint256 private constant S_CAP_LIMIT = 320;
    uint256 private constant S_CAP_ID = 352;
    uint256 private constant S_IN = 384;
    uint256 private constant S_CUT = 416;
    /// @dev The result hash's ABI encoding: 6 head words, then (id, fill) per non-zero fill.
    uint256 internal constant RESULT_HEAD = 192;

    /// @dev Which signatures a certification checks: every order's, none (the standing batch of a challenge,
    /// checked when it was submitted), or else `sigs` is the memory address of the union's first flag and the
    /// order i's is checked iff bit 0 of its flag (at sigs + 127 i) is 0 (an added order). The pass reads a flag for
    /// every order: the first two cases point it at FLAG_ALL or FLAG_NONE, with stride 0.
    uint256 internal constant SIGS_ALL = 0;
    uint256 private constant SIGS_NONE = 1;

    /// @dev The flags of a challenge's union entries each batch takes (bit f: flag f; flag bit 0 = in the standing
    /// batch, bit 1 = in the new batch): the standing batch flags 1 and 3, the union every entry (flags 0 to 3),
    /// the new batch flags 2 and 3.
    uint256 private constant STANDING_FLAGS = 0xa;
    uint256 private constant UNION_FLAGS = 0xf;
    uint256 private constant NEW_BATCH_FLAGS = 0xc;

    // ---------------------------------------------------------------- transient storage (EIP-1153)

    /// @dev Slot 0: the number of certifications so far in this transaction, their namespace. The coverage
    /// state of a trader in certification ns lives at (ns << 161) | trader, ns >= 1, one word: per side (buys:
    /// bits 0..1, sells: 2..3), the count of the trader's orders of that side met so far, saturating at
    /// MAX_ORDERS_PER_TRADER_SIDE: one TLOAD per order and one TSTORE per order that counts. The three
    /// certifications of one challenge (standing, union, new batch), or two calls in one transaction, never
    /// share a slot. Slot 1: the standing record while a challenge re-certifies the standing batch (any
    /// failure then means the batch given is not the standing one: StandingMismatch). Slot 2: below. Slots
    /// below 2^161 other than these, and slots with bit 255 set, are never used here (the test harness injects
    /// collateral there).
    uint256 private constant T_NAMESPACE = 0;
    uint256 private constant T_STANDING = 1;
    // Slot 2: 1 while challenge() certifies (its standing batch, its union and its new batch): a certification
    // then accepts no trade (V = 0). 0 otherwise (propose, certify()): V = 0 reverts NoTrade. challenge() clears
    // it after the new batch's certification, so a later call in the same transaction never sees it.
    uint256 internal constant T_NO_TRADE = 2;

    /// @dev A certified result in memory.
    struct Certificate {
        uint256 price;
        uint256 volume;
        bytes32 resultHash;
        uint256 feeTotal;
        /// number of non-zero fills
        uint256 count;
        /// memory: abi.encode(market, epoch, price, volume, (id, fill)[]) of the result hash
        uint256 fills;
        /// memory: per non-zero fill, two words: the trader's escrow slot (`_escrow[market][trader]`), and
        /// trader | side << 160 | the order's memory address << 168
        uint256 effects;
    }

    uint256 private immutable _cachedChainId;
    bytes32 private immutable _cachedDomainSeparator;

    /// @dev genesisTime (bits 0..63) | epochLength (64..127) | feeBps (128..137, <= 1000) | challengeWindow
    /// (138..169) | bond (170..249) | BIG_BOND (bit 250); 0 = no such market. One word, so that propose,
    /// challenge and finalize pay one cold SLOAD for the market. A bond of 2^80 wei or more does not fit: then
    /// the bond field is 0, BIG_BOND is set and the bond is in `_bigBond`.
    mapping(bytes32 => uint256) private _schedule;
    /// @dev The bond of markets whose bond is >= 2^80 wei.
    mapping(bytes32 => uint256) private _bigBond;
    /// @dev Per market: its minQuantity (>= 1; 0 = no such market). Its own word: the schedule word is full.
    mapping(bytes32 => uint256) private _minQuantity;
    /// @dev [BASE, QUOTE] token addresses.
    mapping(bytes32 => address[2]) private _tokens;
    mapping(bytes32 => mapping(address => uint256[4])) private _escrow;
    /// @dev Per market and epoch: 0 (nothing), FINALIZED, or the standing record
    /// keccak256(abi.encode(batchHash, submitter, feeTotal)).
    mapping(bytes32 => mapping(uint256 => bytes32)) private _records;
    /// @dev Per market and sender: the first 192 bits of its commitment | the block number (bits 0..63).
    mapping(bytes32 => mapping(address => uint256)) private _commitments;
    /// @dev Claimable bonds, wei.
    mapping(address => uint256) private _bonds;

    constructor() {
        _cachedChainId = block.chainid;
        _cachedDomainSeparator = _buildDomainSeparator();
    }

    // ================================================================ markets

    /// @inheritdoc ISmartMarket
    function createMarket(
        address base,
        address quote,
        uint64 genesisTime,
        uint64 epochLength,
        uint16 feeBps,
        uint96 bond,
        uint32 challengeWindow,
        uint128 minQuantity
    ) external returns (bytes32 market) {
        if (base == address(0) || quote == address(0)) revert ZeroTokenAddress(base, quote);
        if (base == quote) revert IdenticalTokens(base);
        if (epochLength == 0) revert ZeroEpochLength(genesisTime);
        if (epochLength > MAX_EPOCH_LENGTH) revert EpochLengthTooLong(epochLength, MAX_EPOCH_LENGTH);
        if (genesisTime > block.timestamp + MAX_GENESIS_DELAY) {
            revert GenesisTooFar(genesisTime, block.timestamp + MAX_GENESIS_DELAY);
        }
        if (feeBps > MAX_FEE_BPS) revert FeeTooHigh(feeBps, MAX_FEE_BPS);
        if (challengeWindow == 0 || challengeWindow >= epochLength) {
            revert BadChallengeWindow(challengeWindow, epochLength);
        }
        if (minQuantity == 0) revert ZeroMinQuantity();
        market = marketId(base, quote, genesisTime, epochLength, feeBps, bond, challengeWindow, minQuantity);
        if (_schedule[market] != 0) revert MarketExists(market);
        uint256 schedule = uint256(genesisTime) | (uint256(epochLength) << 64) | (uint256(feeBps) << 128)
            | (uint256(challengeWindow) << 138);
        if (bond >> 80 == 0) {
            schedule |= uint256(bond) << 170;
        } else {
            schedule |= BIG_BOND;
            _bigBond[market] = bond;
        }
        _schedule[market] = schedule;
        _minQuantity[market] = minQuantity;
        _tokens[market] = [base, quote];
        emit MarketCreated(market, base, quote, genesisTime, epochLength, feeBps, bond, challengeWindow, minQuantity);
    }

    /// @inheritdoc ISmartMarket
    function marketId(
        address base,
        address quote,
        uint64 genesisTime,
        uint64 epochLength,
        uint16 feeBps,
        uint96 bond,
        uint32 challengeWindow,
        uint128 minQuantity
    ) public pure returns (bytes32) {
        return keccak256(abi.encode(base, quote, genesisTime, epochLength, feeBps, bond, challengeWindow, minQuantity));
    }

    /// @inheritdoc ISmartMarket
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
        )
    {
        uint256 schedule = _scheduleOf(market);
        address[2] storage tokens = _tokens[market];
        return (
            tokens[BASE],
            tokens[QUOTE],
            uint64(schedule),
            uint64(schedule >> 64),
            uint16(_feeBps(schedule)),
            uint96(_bondOf(market, schedule)),
            uint32(schedule >> 138),
            uint128(_minQuantity[market])
        );
    }

    /// @inheritdoc ISmartMarket
    function currentEpoch(bytes32 market) external view returns (uint256) {
        return _currentEpoch(_scheduleOf(market));
    }

    // ================================================================ escrow

    /// @inheritdoc ISmartMarket
    function deposit(bytes32 market, uint8 asset, uint256 amount) external {
        (address token, uint256 current) = _tokenAndEpoch(market, asset);
        if (amount == 0) revert ZeroAmount(market, asset);
        bytes memory pull = abi.encodeCall(IERC20Transfers.transferFrom, (msg.sender, address(this), amount));
        _callToken(token, pull, msg.sender, address(this), amount);
        uint256 tag = _tag(current);
        uint256[4] storage account = _escrow[market][msg.sender];
        _credit(account, asset, amount, tag);
        // Touch the other asset's balance word once, at the depositor's expense: while it is zero, the first
        // settlement that credits it would pay a zero-to-nonzero SSTORE (+17,100 gas for that fill).
        uint256 other = 1 - asset;
        if (account[other] == 0) account[other] = tag << 224;
        emit Deposited(market, msg.sender, asset, amount);
    }

    /// @inheritdoc ISmartMarket
    function requestWithdrawal(bytes32 market, uint8 asset, uint256 amount) external {
        (, uint256 current) = _tokenAndEpoch(market, asset);
        if (amount == 0) revert ZeroAmount(market, asset);
        uint256[4] storage account = _escrow[market][msg.sender];
        uint256 word = _checkpoint(account[asset], _tag(current));
        uint256 free = word & MASK112;
        if (amount > free) revert InsufficientBalance(msg.sender, asset, amount, free);
        unchecked {
            account[asset] = word - amount; // amount <= free: no borrow out of the free field
        }
        uint256 locked = (account[asset + 2] & MASK112) + amount; // < 2^113: cannot overflow
        if (locked > MASK112) revert AmountOverflow(locked);
        // The lock records the request's epoch: funds locked during epoch c were part of the free balance at
        // the start of c, which backs the result of epoch c - 1 (proposed, challenged and undone during c), so
        // those may still draw on them during c. current < 2^32 (checked by _tag), so it fits the 64-bit field.
        account[asset + 2] = locked | (current << 112);
        emit WithdrawalRequested(
            market, msg.sender, asset, amount, locked, uint64(current + WITHDRAWAL_DELAY_EPOCHS)
        );
    }

    /// @inheritdoc ISmartMarket
    function withdraw(bytes32 market, uint8 asset) external {
        (address token, uint256 current) = _tokenAndEpoch(market, asset);
        uint256[4] storage account = _escrow[market][msg.sender];
        uint256 lockWord = account[asset + 2];
        uint256 locked = lockWord & MASK112;
        if (locked == 0) revert NothingToWithdraw(market, msg.sender, asset);
        uint256 ready = (lockWord >> 112) + WITHDRAWAL_DELAY_EPOCHS;
        if (current < ready) revert WithdrawalNotReady(current, ready);
        account[asset + 2] = 0;
        bytes memory push = abi.encodeCall(IERC20Transfers.transfer, (msg.sender, locked));
        _callToken(token, push, address(this), msg.sender, locked);
        emit Withdrawn(market, msg.sender, asset, locked);
    }

    /// @inheritdoc ISmartMarket
    function collateralOf(bytes32 market, address trader, uint8 asset, uint64 epoch)
        external
        view
        returns (uint256)
    {
        (, uint256 current) = _tokenAndEpoch(market, asset);
        if (current <= epoch) revert EpochNotClosed(epoch, current);
        return _collateralOf(_escrow[market][trader][asset], epoch);
    }

    /// @inheritdoc ISmartMarket
    function collateralOfMany(bytes32 market, address[] calldata traders, uint64 epoch)
        external
        view
        returns (uint256[] memory base, uint256[] memory quote)
    {
        uint256 current = _currentEpoch(_scheduleOf(market));
        if (current <= epoch) revert EpochNotClosed(epoch, current);
        mapping(address => uint256[4]) storage escrow = _escrow[market];
        base = new uint256[](traders.length);
        quote = new uint256[](traders.length);
        for (uint256 i; i < traders.length; ++i) {
            uint256[4] storage account = escrow[traders[i]];
            base[i] = _collateralOf(account[BASE], epoch);
            quote[i] = _collateralOf(account[QUOTE], epoch);
        }
    }

    /// @inheritdoc ISmartMarket
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
        )
    {
        if (asset > QUOTE) revert InvalidAsset(asset);
        uint256[4] storage account = _escrow[market][trader];
        uint256 word = account[asset];
        uint256 lockWord = account[asset + 2];
        uint256 tag = word >> 224;
        checkpointed = tag != 0;
        unchecked {
            checkpointEpoch = checkpointed ? tag - 1 : 0;
        }
        free = word & MASK112;
        locked = lockWord & MASK112;
        lockedEpoch = lockWord >> 112;
        checkpointFree = (word >> 112) & MASK112;
    }

    // ================================================================ proposals, challenges, finalization

    /// @inheritdoc ISmartMarket
    function commit(bytes32 market, bytes32 commitment) external {
        // 192 bits of the commitment and the block number in one word: one SSTORE here, one SLOAD to check.
        // Matching 192 bits of a commitment to data not yet known is a 2^192 search.
        _commitments[market][msg.sender] = (uint256(commitment) >> 64 << 64) | block.number;
    }

    /// @inheritdoc ISmartMarket
    function propose(bytes32 market, uint64 epoch, bytes calldata batch) external payable {
        _reserveScratch();
        uint256 schedule = _scheduleOf(market);
        uint256 current = _currentEpoch(schedule);
        uint256 deadline = _epochClose(schedule, uint256(epoch) + 1); // T2
        unchecked {
            // challengeWindow < epochLength <= T2 - T1: no underflow, and the proposal window is not empty.
            deadline -= uint32(schedule >> 138);
        }
        if (block.timestamp < _epochClose(schedule, epoch)) revert EpochNotClosed(epoch, current);
        if (block.timestamp >= deadline) revert ProposalWindowClosed(epoch, deadline);
        _checkBond(market, schedule);
        mapping(uint256 => bytes32) storage records = _records[market];
        if (records[epoch] != 0) revert AlreadyProposed(market, epoch);
        (uint256 ptr, uint256 n, bytes32 batchHash) = _loadBatch(batch, MAX_BATCH_ORDERS);
        _checkCommitment(market, epoch, batchHash);

        uint256 feeBps = _feeBps(schedule);
        Certificate memory c = _certify(market, epoch, feeBps, ptr, n, SIGS_ALL);
        _move(c, feeBps, current, false);
        records[epoch] = keccak256(abi.encode(batchHash, msg.sender, c.feeTotal));
        emit Proposed(market, epoch, msg.sender, c.resultHash, batchHash, c.price, c.volume, c.feeTotal);
    }

    /// @inheritdoc ISmartMarket
    function challenge(bytes32 market, uint64 epoch, address standingSubmitter, bytes calldata union)
        external
        payable
    {
        _reserveScratch();
        uint256 schedule = _scheduleOf(market);
        uint256 current = _currentEpoch(schedule);
        if (block.timestamp < _epochClose(schedule, epoch)) revert EpochNotClosed(epoch, current);
        uint256 deadline = _epochClose(schedule, uint256(epoch) + 1);
        if (block.timestamp >= deadline) revert ChallengeWindowClosed(epoch, deadline);
        uint256 bond = _checkBond(market, schedule);
        mapping(uint256 => bytes32) storage records = _records[market];
        bytes32 record = records[epoch];
        // Before T2 a record is never FINALIZED (finalize needs t >= T2).
        if (record == 0) revert NothingToChallenge(market, epoch);

        uint256 len = union.length;
        if (len < 2 * HEADER + ENTRY || (len - 2 * HEADER) % ENTRY != 0) revert MalformedBatch(len);
        uint256 n = (len - 2 * HEADER) / ENTRY;
        if (n > MAX_UNION_ORDERS) revert BatchTooLarge(n, MAX_UNION_ORDERS);
        uint256 raw = _alloc(len);
        bytes32 dataHash;
        assembly ("memory-safe") {
            calldatacopy(raw, union.offset, len)
            dataHash := keccak256(raw, len)
        }
        _checkCommitment(market, epoch, dataHash);
        // Three batches out of one union: the standing one (standing header || the orders with flag bit 0: flags 1
        // and 3), the union (union header || every order: flags 0 to 3) and the new one (union header || the
        // orders with flag bit 1: flags 2 and 3). A flag 0 is an order of the union only: an honest challenger
        // adds with it the two smaller orders of a standing order's (trader, side) that exclude it (trader-cap)
        // when they need not be in its new batch. The first extraction checks every flag (0 to 3).
        (uint256 standing, uint256 m, bytes32 standingHash) = _extract(raw, n, 0, STANDING_FLAGS);
        (uint256 joined,,) = _extract(raw, n, HEADER, UNION_FLAGS);
        (uint256 next, uint256 k, bytes32 nextHash) = _extract(raw, n, HEADER, NEW_BATCH_FLAGS);
        // A new batch of no order would stand as a record no later challenge can present (a batch has at least
        // one order): the attack, with flags 0 and 1 only, that froze a result until the deadline.
        if (k == 0) revert MalformedBatch(len);
        if (k > MAX_BATCH_ORDERS) revert BatchTooLarge(k, MAX_BATCH_ORDERS);

        uint256 feeBps = _feeBps(schedule);
        // Every certification of a challenge accepts no trade: the union may clear to nothing (it then undoes a
        // standing result that traded), and a standing batch may be such a union (it stays challengeable).
        // (Inline here, not through a helper: measured, a helper changes how the optimizer inlines the
        // certification into propose, which then costs ~75 gas more per order.)
        assembly ("memory-safe") {
            tstore(T_NO_TRADE, 1)
        }
        // Three certifications from one call site (each call site inlines the whole certification: contract size),
        // in this order. 0: the standing batch, without signatures; it was certified when it was submitted, from
        // the same collateral (collateralOf(e) does not change during e + 1), so any failure now proves it is not
        // the standing batch (StandingMismatch). 1: the union, signatures of the added orders (flags 0 and 2). 2: the
        // new batch, without signatures (its orders are standing ones or added ones just checked), from the same
        // collateral; it fails with its own errors, and must certify to the union's result.
        uint256[3] memory batches = [standing, joined, next];
        uint256[3] memory counts = [m, n, k];
        uint256[3] memory sigs = [SIGS_NONE, raw + 2 * HEADER, SIGS_NONE];
        Certificate memory old;
        Certificate memory d;
        for (uint256 i; i < 3; ++i) {
            // While the standing batch certifies, every failure is StandingMismatch (cleared for the other two).
            _setStanding(i == 0 ? record : bytes32(0));
            Certificate memory x = _certify(market, epoch, feeBps, batches[i], counts[i], sigs[i]);
            _noTradeResult(x);
            if (i == 0) {
                if (_record(standingHash, standingSubmitter, x.feeTotal) != record) revert StandingMismatch(record);
                // No entry with flag 0 or 2 (an added order): every entry is a standing one.
                if (m == n) revert NoNewOrders();
                old = x;
            } else if (i == 1) {
                if (x.resultHash == old.resultHash) revert ResultUnchanged(x.resultHash);
                d = x;
            } else if (x.resultHash != d.resultHash) {
                revert NewBatchMismatch(d.resultHash, x.resultHash);
            } else {
                d = x;
            }
        }
        assembly ("memory-safe") {
            tstore(T_NO_TRADE, 0)
        }

        _move(old, feeBps, current, true);
        _move(d, feeBps, current, false);
        if (bond != 0) _bonds[msg.sender] += bond; // the replaced submitter's bond
        records[epoch] = _record(nextHash, msg.sender, d.feeTotal);
        emit Challenged(
            market, epoch, msg.sender, standingSubmitter, d.resultHash, nextHash, d.price, d.volume, d.feeTotal
        );
    }

    /// @inheritdoc ISmartMarket
    function finalize(bytes32 market, Finalization[] calldata items) external {
        uint256 schedule = _scheduleOf(market);
        uint256 bond = _bondOf(market, schedule);
        uint256 tag = _tag(_currentEpoch(schedule));
        mapping(uint256 => bytes32) storage records = _records[market];
        mapping(address => uint256[4]) storage escrow = _escrow[market];
        // Credits are summed over consecutive items of one submitter and paid once per run.
        address payee;
        uint256 fees;
        uint256 bonds;
        for (uint256 i; i < items.length; ++i) {
            Finalization calldata item = items[i];
            uint64 epoch = item.epoch;
            uint256 deadline = _epochClose(schedule, uint256(epoch) + 1);
            if (block.timestamp < deadline) revert NotFinal(epoch, deadline);
            address submitter = item.submitter;
            uint256 feeTotal = item.feeTotal;
            if (records[epoch] != _record(item.batchHash, submitter, feeTotal)) revert NothingToFinalize(market, epoch);
            records[epoch] = FINALIZED;
            emit Finalized(market, epoch, submitter, feeTotal);
            if (submitter != payee) {
                _pay(escrow, payee, fees, bonds, tag);
                (payee, fees, bonds) = (submitter, 0, 0);
            }
            fees += feeTotal;
            bonds += bond;
        }
        _pay(escrow, payee, fees, bonds, tag);
    }

    /// @dev finalize(): `fees` QUOTE to the free balance of `payee`, `bonds` wei to its claimable bonds.
    function _pay(mapping(address => uint256[4]) storage escrow, address payee, uint256 fees, uint256 bonds, uint256 tag)
        private
    {
        if (fees != 0) _credit(escrow[payee], QUOTE, fees, tag);
        if (bonds != 0) _bonds[payee] += bonds;
    }

    /// @inheritdoc ISmartMarket
    function claimBonds() external {
        uint256 amount = _bonds[msg.sender];
        if (amount == 0) revert NothingToClaim(msg.sender);
        _bonds[msg.sender] = 0;
        (bool ok,) = msg.sender.call{value: amount}("");
        if (!ok) revert BondTransferFailed(msg.sender, amount);
        emit BondsClaimed(msg.sender, amount);
    }

    /// @inheritdoc ISmartMarket
    function certify(bytes32 market, uint64 epoch, bytes calldata batch)
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
        uint256 schedule = _scheduleOf(market);
        uint256 current = _currentEpoch(schedule);
        if (current <= epoch) revert EpochNotClosed(epoch, current);
        return _certifyBatch(market, epoch, schedule, batch, MAX_BATCH_ORDERS);
    }

    /// @inheritdoc ISmartMarket
    function recordOf(bytes32 market, uint64 epoch) external view returns (bytes32) {
        return _records[market][epoch];
    }

    /// @inheritdoc ISmartMarket
    function isSettled(bytes32 market, uint64 epoch) external view returns (bool) {
        return _records[market][epoch] != 0;
    }

    /// @inheritdoc ISmartMarket
    function bondsOf(address account) external view returns (uint256) {
        return _bonds[account];
    }

    // ================================================================ EIP-712

    /// @inheritdoc ISmartMarket
    function domainSeparator() public view returns (bytes32) {
        // Recomputed after a chain split, so that orders signed for one chain never settle on the other.
        return block.chainid == _cachedChainId ? _cachedDomainSeparator : _buildDomainSeparator();
    }

    /// @notice EIP-5267: the EIP-712 domain of this contract (name, version, chainId, verifyingContract).
    function eip712Domain()
        external
        view
        returns (
            bytes1 fields,
            string memory name,
            string memory version,
            uint256 chainId,
            address verifyingContract,
            bytes32 salt,
            uint256[] memory extensions
        )
    {
        return (hex"0f", "smartmarket", "1", block.chainid, address(this), bytes32(0), new uint256[](0));
    }

    /// @inheritdoc ISmartMarket
    function orderDigest(
        bytes32 market,
        uint64 epoch,
        uint8 side,
        uint128 quantity,
        uint128 limitPrice,
        uint64 nonce,
        address trader
    ) external view returns (bytes32 id) {
        _reserveScratch();
        _initScratch(market, epoch);
        uint256 traderWord = uint160(trader); // widened in Solidity: assembly must not see dirty high bits
        assembly ("memory-safe") {
            mstore(add(SCRATCH_AT, ORDER_AT), side)
            mstore(add(SCRATCH_AT, QUANTITY_AT), quantity)
            mstore(add(SCRATCH_AT, LIMIT_AT), limitPrice)
            mstore(add(SCRATCH_AT, NONCE_AT), nonce)
            mstore(add(SCRATCH_AT, TRADER_AT), traderWord)
            mstore(add(SCRATCH_AT, STRUCT_HASH_AT), keccak256(SCRATCH_AT, 256))
            id := keccak256(add(SCRATCH_AT, DIGEST_INPUT), 66)
        }
    }

    // ================================================================ certification

    /// @dev certify() without the epoch check, for a batch of at most `max` orders (the test harness calls it
    /// with injected collateral, and with T_NO_TRADE set to certify as a challenge's union does; otherwise a
    /// certificate of volume 0 reverted NoTrade and _noTradeResult changes nothing).
    function _certifyBatch(bytes32 market, uint64 epoch, uint256 schedule, bytes calldata batch, uint256 max)
        internal
        returns (
            uint256 price,
            uint256 volume,
            uint256[] memory fills,
            bytes32 resultHash,
            uint256 feeTotal,
            bytes32 batchHash
        )
    {
        _reserveScratch();
        (uint256 ptr, uint256 n, bytes32 hash) = _loadBatch(batch, max);
        Certificate memory c = _certify(market, epoch, _feeBps(schedule), ptr, n, SIGS_ALL);
        _noTradeResult(c);
        fills = new uint256[](n);
        uint256 fillWords = c.fills + RESULT_HEAD + 32;
        uint256 effects = c.effects;
        for (uint256 k; k < c.count; ++k) {
            uint256 order;
            uint256 fill;
            assembly ("memory-safe") {
                order := shr(168, mload(add(effects, add(shl(6, k), 32))))
                fill := mload(add(fillWords, shl(6, k)))
            }
            fills[(order - ptr - HEADER) / ORDER] = fill;
        }
        return (c.price, c.volume, fills, c.resultHash, c.feeTotal, hash);
    }

    /// @dev The certification of docs/certified-settlement.md: header checks, one pass over the n orders of the
    /// batch at memory `batch` (each order's checks, signature, coverage, class and fill), then the claimed
    /// sums and the bonus count. Reverts with the first wrong value. Writes the result hash's encoding and, per
    /// non-zero fill, (escrow slot, trader, side, index) to memory; persistent state is not touched (the coverage
    /// counts live in transient storage).
    ///
    /// Arithmetic: everything after the header checks is unchecked. When the header's sums and edges equal the
    /// batch's (which the checks after the pass establish, before anything computed here is used), R <= L (as
    /// R = V - better <= D - better = equal = L), L < 2^144 and a marginal quantity q < 2^112 (B2, B3), so
    /// R * q < 2^256, every share is <= q, and fill * price < 2^240 (B2, B4). When they differ, the values
    /// computed in the pass may wrap, but the batch reverts AggregateMismatch before any is used.
    function _certify(bytes32 market, uint64 epoch, uint256 feeBps, uint256 batch, uint256 n, uint256 sigs)
        internal
        returns (Certificate memory c)
    {
        _initScratch(market, epoch);
        (uint256 price, uint256 volume) = _readHeader(batch, SCRATCH_AT + SIDES);
        _readCaps(batch, _minQuantity[market]);
        uint256 fills = _alloc(RESULT_HEAD + 64 * n);
        uint256 effects = _alloc(64 * n);
        mapping(address => uint256[4]) storage accounts = _escrow[market];
        assembly ("memory-safe") {
            let ns := add(tload(T_NAMESPACE), 1)
            tstore(T_NAMESPACE, ns)
            mstore(add(SCRATCH_AT, PRICE_AT), price)
            mstore(add(SCRATCH_AT, FEE_BPS_AT), feeBps)
            mstore(add(SCRATCH_AT, NAMESPACE_AT), shl(161, ns))
            mstore(add(SCRATCH_AT, ESCROW_AT), accounts.slot)
            mstore(add(SCRATCH_AT, FILLS_OUT), add(fills, RESULT_HEAD))
            mstore(add(SCRATCH_AT, EFFECTS_OUT), effects)
            mstore(add(SCRATCH_AT, FEE_TOTAL_AT), 0)
        }
        // `sigs` as a flag pointer and its stride: a zero word (check all), a word with a non-zero first byte
        // (check none), or the union's flags, 127 bytes apart.
        uint256 stride;
        assembly ("memory-safe") {
            mstore(add(SCRATCH_AT, FLAG_ALL), 0)
            mstore(add(SCRATCH_AT, FLAG_NONE), not(0))
            switch sigs
            case 0 { sigs := add(SCRATCH_AT, FLAG_ALL) }
            case 1 { sigs := add(SCRATCH_AT, FLAG_NONE) }
            default { stride := ENTRY }
        }
        _pass(batch + HEADER, batch + HEADER + n * ORDER, sigs, stride, epoch);
        _checkCaps(SCRATCH_AT + SIDES);
        _checkAggregates(batch, SCRATCH_AT + SIDES, price);
        uint256 count;
        bytes32 resultHash;
        uint256 epochWord = epoch;
        assembly ("memory-safe") {
            // No trade (V = 0, a challenge only): price 0, as clearing.md's result hash of a book that does not trade.
            count := shr(6, sub(mload(add(SCRATCH_AT, FILLS_OUT)), add(fills, RESULT_HEAD)))
            mstore(fills, market)
            mstore(add(fills, 32), epochWord)
            mstore(add(fills, 64), price)
            mstore(add(fills, 96), volume)
            mstore(add(fills, 128), 0xa0) // offset of the array: after the 5 head words
            mstore(add(fills, 160), count)
            resultHash := keccak256(fills, add(RESULT_HEAD, shl(6, count)))
        }
        c = Certificate(price, volume, resultHash, _word(SCRATCH_AT, FEE_TOTAL_AT), count, fills, effects);
    }

    /// @dev Section 2 of the certification: the pass over the orders at memory [order, end). The state it
    /// needs besides the order is in the scratch (so that little lives on the stack); `sigs` is SIGS_ALL,
    /// SIGS_NONE or the address of the first order's flag (advanced with the orders).
    function _pass(uint256 order, uint256 end, uint256 flag, uint256 stride, uint64 epoch) private {
        uint256 first = order;
        bytes32 previous;
        while (order < end) {
            // Steps 2.1 to 2.3, and the coverage state of the order's (trader, asset). Every value of the order
            // is read from its fixed-width field, so none is wider than its type. The fields are written to the
            // order's EIP-712 struct encoding in the scratch ([0, 96) is the batch's typehash, market, epoch).
            uint256 failure;
            bytes32 id;
            uint256 slot;
            uint256 word;
            uint256 account;
            uint256 side;
            uint256 quantity;
            uint256 limit;
            assembly ("memory-safe") {
                let w := mload(order)
                side := shr(248, w)
                quantity := shr(128, shl(8, w))
                limit := shr(128, mload(add(order, 17)))
                let trader := shr(96, mload(add(order, 41)))
                mstore(add(SCRATCH_AT, ORDER_AT), side)
                mstore(add(SCRATCH_AT, QUANTITY_AT), quantity)
                mstore(add(SCRATCH_AT, LIMIT_AT), limit)
                mstore(add(SCRATCH_AT, NONCE_AT), shr(192, mload(add(order, 33))))
                mstore(add(SCRATCH_AT, TRADER_AT), trader)
                mstore(add(SCRATCH_AT, STRUCT_HASH_AT), keccak256(SCRATCH_AT, 256))
                id := keccak256(add(SCRATCH_AT, DIGEST_INPUT), 66)
                failure := or(gt(side, 1), or(iszero(quantity), iszero(limit)))
                // Below the market's minimum (after the side and amount checks, before the id's).
                if iszero(or(failure, iszero(lt(quantity, mload(add(SCRATCH_AT, MIN_QUANTITY_AT)))))) { failure := 2 }
                if iszero(or(failure, gt(id, previous))) { failure := 3 }
                if iszero(failure) {
                    if iszero(and(shr(248, mload(flag)), 1)) {
                        let v := shr(248, mload(add(order, 61)))
                        let s := mload(add(order, 94))
                        switch or(iszero(or(eq(v, 27), eq(v, 28))), gt(s, HALF_N))
                        case 1 {
                            failure := 4
                            mstore(add(SCRATCH_AT, FAILED_V), v)
                            mstore(add(SCRATCH_AT, FAILED_S), s)
                        }
                        default {
                            let input := add(SCRATCH_AT, ECRECOVER_INPUT)
                            mstore(input, id)
                            mstore(add(input, 32), v)
                            mstore(add(input, 64), mload(add(order, 62)))
                            mstore(add(input, 96), s)
                            mstore(0x00, 0) // stays 0 when the precompile recovers nothing
                            pop(staticcall(gas(), 0x01, input, 128, 0x00, 32))
                            let recovered := mload(0x00)
                            if or(iszero(recovered), iszero(eq(recovered, trader))) {
                                failure := 5
                                mstore(add(SCRATCH_AT, FAILED_SIGNER), recovered)
                            }
                        }
                    }
                    // Coverage (2.4): the trader's coverage word in this certification's namespace, and its
                    // escrow slot _escrow[market][trader].
                    slot := or(mload(add(SCRATCH_AT, NAMESPACE_AT)), trader)
                    word := tload(slot)
                    mstore(0x00, trader)
                    mstore(0x20, mload(add(SCRATCH_AT, ESCROW_AT)))
                    account := keccak256(0x00, 0x40)
                }
            }
            if (failure != 0) _orderFailure(failure, (order - first) / ORDER, id, previous);
            previous = id;
            // Coverage (2.4), the rule of docs/clearing.md ("Bounds"): per (trader, side), in ascending id (batch
            // order), only the first MAX_ORDERS_PER_TRADER_SIDE orders can be kept, funded or not (the 3rd and later
            // are excluded, trader-cap, checked first: no collateral is read for them); one of those is kept iff
            // need <= floor(collateral / MAX_ORDERS_PER_TRADER_SIDE) of the asset it spends. No running total: the
            // two kept orders of a side need at most the whole collateral by construction, and an order's kept
            // status depends on no other order but a smaller one of its trader and side (the attack it defeats: a
            // standing batch that carries a trader's large-id order while leaving out its smaller ones can always
            // be challenged with those two, so a challenge never needs more than MAX_UNION_ORDERS entries).
            // The trader's coverage word holds, per side, the count of its orders of that side met so far (2 bits
            // at 2 * side, saturating at 2: every order counts, kept or not). An order that counts reads its
            // collateral (its trader's escrow word: cold once, then warm; at most twice per trader and side).
            // Collateral is not cached: measured, re-reading it is cheaper than keeping it in the word.
            uint256 kept;
            unchecked {
                uint256 shift = side << 1;
                if ((word >> shift) & 3 < MAX_ORDERS_PER_TRADER_SIDE) {
                    uint256[4] storage held;
                    assembly ("memory-safe") {
                        held.slot := account
                        tstore(slot, add(word, shl(shift, 1)))
                    }
                    address trader = address(uint160(_word(SCRATCH_AT, TRADER_AT)));
                    uint256 half = _collateral(held, trader, 1 - side, epoch) / MAX_ORDERS_PER_TRADER_SIDE;
                    // A buy needs quantity * limit QUOTE (both < 2^128: the product fits), a sell quantity BASE.
                    assembly ("memory-safe") {
                        let need := quantity
                        if iszero(side) { need := mul(quantity, limit) }
                        kept := iszero(gt(need, half))
                    }
                }
            }
            // A kept order that its side's cap threshold leaves out is cut (2.5): fill 0, no sum, no edge. Then
            // the class and fill (2.6) of an in-order, the running sums, and the outputs. Better is limit > price
            // for buys, < price for sells; the edges are kept as distances from the price (of the closest better
            // and the closest worse limit), 0 for none. Unchecked: see _certify.
            assembly ("memory-safe") {
                let st := add(add(SCRATCH_AT, SIDES), mul(side, SIDE))
                if kept {
                    // in: buys limit > capLimit, sells limit < capLimit, or the same limit and id <= capId
                    let capLimit := mload(add(st, S_CAP_LIMIT))
                    switch side
                    case 0 { kept := gt(limit, capLimit) }
                    default { kept := lt(limit, capLimit) }
                    if iszero(kept) {
                        kept := and(eq(limit, capLimit), iszero(gt(id, mload(add(st, S_CAP_ID)))))
                        if iszero(kept) { mstore(add(st, S_CUT), 1) }
                    }
                    if kept { mstore(add(st, S_IN), add(mload(add(st, S_IN)), 1)) }
                }
                if kept {
                    let price := mload(add(SCRATCH_AT, PRICE_AT))
                    let fill := 0
                    switch eq(limit, price)
                    case 1 {
                        mstore(add(st, S_EQUAL), add(mload(add(st, S_EQUAL)), quantity))
                        let units := mul(mload(add(st, S_R)), quantity)
                        let level := mload(add(st, S_L))
                        // div and mod by 0 are 0: share and remainder 0 when L = 0, as the rule says
                        let share := div(units, level)
                        let rem := mod(units, level)
                        mstore(add(st, S_SHARES), add(mload(add(st, S_SHARES)), share))
                        let threshold := mload(add(st, S_REM))
                        let bonus := or(gt(rem, threshold), and(eq(rem, threshold), iszero(gt(id, mload(add(st, S_ID))))))
                        mstore(add(st, S_BONUSES), add(mload(add(st, S_BONUSES)), bonus))
                        fill := add(share, bonus)
                    }
                    default {
                        let above := gt(limit, price)
                        let distance := sub(price, limit)
                        if above { distance := sub(limit, price) }
                        let edge := add(st, S_WORSE_DIST)
                        if xor(above, side) {
                            // better: fills fully
                            fill := quantity
                            mstore(add(st, S_BETTER), add(mload(add(st, S_BETTER)), quantity))
                            edge := add(st, S_BETTER_DIST)
                        }
                        let closest := mload(edge)
                        if or(iszero(closest), lt(distance, closest)) { mstore(edge, distance) }
                    }
                    if fill {
                        let out := mload(add(SCRATCH_AT, FILLS_OUT))
                        mstore(out, id)
                        mstore(add(out, 32), fill)
                        mstore(add(SCRATCH_AT, FILLS_OUT), add(out, 64))
                        let effect := mload(add(SCRATCH_AT, EFFECTS_OUT))
                        mstore(effect, account)
                        mstore(add(effect, 32), or(mload(add(SCRATCH_AT, TRADER_AT)), or(shl(160, side), shl(168, order))))
                        mstore(add(SCRATCH_AT, EFFECTS_OUT), add(effect, 64))
                        // fill * price < 2^240 and feeBps <= 1000: no overflow (see _certify)
                        if side {
                            let fee := div(mul(mul(fill, price), mload(add(SCRATCH_AT, FEE_BPS_AT))), BPS)
                            mstore(add(SCRATCH_AT, FEE_TOTAL_AT), add(mload(add(SCRATCH_AT, FEE_TOTAL_AT)), fee))
                        }
                    }
                }
            }
            unchecked {
                order += ORDER;
                flag += stride;
            }
        }
    }

    /// @dev Reverts with the error of a failed order check (codes set by _pass: 1 side, quantity or limit,
    /// 2 below the minimum quantity, 3 order, 4 signature shape, 5 signer).
    function _orderFailure(uint256 failure, uint256 index, bytes32 id, bytes32 previous)
        private
        view
    {
        _failing();
        uint256 side = _word(SCRATCH_AT, ORDER_AT);
        if (side > 1) revert InvalidSide(index, side);
        if (failure == 1) revert MalformedOrder(index);
        if (failure == 2) {
            revert OrderBelowMinimum(index, _word(SCRATCH_AT, QUANTITY_AT), _word(SCRATCH_AT, MIN_QUANTITY_AT));
        }
        if (failure == 3) revert OrdersNotAscending(index, previous, id);
        if (failure == 4) revert MalformedSignature(index, _word(SCRATCH_AT, FAILED_V), bytes32(_word(SCRATCH_AT, FAILED_S)));
        revert InvalidSigner(
            index, id, address(uint160(_word(SCRATCH_AT, FAILED_SIGNER))), address(uint160(_word(SCRATCH_AT, TRADER_AT)))
        );
    }

    /// @dev Section 1 of the certification: reads the header, checks the price against the volume and the
    /// limits of units V and V + 1 that its sums and edges imply, and writes each side's R, L and threshold.
    /// At V = 0, _readNoTradeHeader.
    function _readHeader(uint256 batch, uint256 sides) private view returns (uint256 price, uint256 volume) {
        uint256 buyBetter;
        uint256 sellBetter;
        uint256 demand;
        uint256 supply;
        assembly ("memory-safe") {
            price := shr(128, mload(batch))
            buyBetter := mload(add(batch, H_BUY_BETTER))
            sellBetter := mload(add(batch, add(H_SELL, H_BUY_BETTER)))
        }
        if (price == 0) {
            _failing();
            revert PriceOutOfRange(price);
        }
        demand = _sum(buyBetter, _word(batch, H_BUY_EQUAL));
        supply = _sum(sellBetter, _word(batch, H_SELL + H_BUY_EQUAL));
        volume = demand < supply ? demand : supply;
        if (volume == 0) return _readNoTradeHeader(batch, sides, price);
        if (buyBetter > volume) {
            _failing();
            revert VolumeNotMaximal(0, buyBetter, volume);
        }
        if (sellBetter > volume) {
            _failing();
            revert VolumeNotMaximal(1, sellBetter, volume);
        }
        // The limits of the units V and V + 1 of each curve (0: no unit V + 1).
        uint256 buyV = buyBetter == volume ? _edge(batch, H_BUY_BETTER_EDGE) : price;
        uint256 buyNext = demand > volume ? price : _edge(batch, H_BUY_WORSE_EDGE);
        uint256 sellV = sellBetter == volume ? _edge(batch, H_SELL + H_BUY_BETTER_EDGE) : price;
        uint256 sellNext = supply > volume ? price : _edge(batch, H_SELL + H_BUY_WORSE_EDGE);
        uint256 lo = sellV > buyNext ? sellV : buyNext;
        uint256 hi = sellNext != 0 && sellNext < buyV ? sellNext : buyV;
        unchecked {
            if (lo > hi || price != lo + (hi - lo) / 2) {
                _failing();
                revert WrongPrice(price, lo, hi);
            }
        }
        assembly ("memory-safe") {
            for { let side := 0 } lt(side, 2) { side := add(side, 1) } {
                let h := add(batch, mul(side, H_SELL))
                let s := add(sides, mul(side, SIDE))
                mstore(add(s, S_R), sub(volume, mload(add(h, H_BUY_BETTER)))) // better <= volume: checked
                mstore(add(s, S_L), mload(add(h, H_BUY_EQUAL)))
                mstore(add(s, S_REM), mload(add(h, H_BUY_REMAINDER)))
                mstore(add(s, S_ID), mload(add(h, H_BUY_ID)))
                mstore(add(s, S_BETTER), 0)
                mstore(add(s, S_EQUAL), 0)
                mstore(add(s, S_BETTER_DIST), 0)
                mstore(add(s, S_WORSE_DIST), 0)
                mstore(add(s, S_SHARES), 0)
                mstore(add(s, S_BONUSES), 0)
            }
        }
    }

    /// @dev Section 1 at V = 0: NoTrade, unless a challenge certifies (T_NO_TRADE set; the standing record is not
    /// set then, so there is no StandingMismatch to report). In a challenge both better sums must be 0 (else
    /// VolumeNotMaximal with volume 0): no kept buy above p, no kept sell below it, and one side has nothing
    /// at p (V = min(buy.equal, sell.equal) = 0), so p separates the sides and nothing trades at any price.
    /// There are no units V and V + 1 (no lo, hi, WrongPrice); R = 0 on both sides, so no shares and no
    /// bonus (a threshold that selects an order fails WrongBonusCount). Returns (p, 0): the pass classifies
    /// at p; the result's price is set to 0 by _noTradeResult.
    function _readNoTradeHeader(uint256 batch, uint256 sides, uint256 price)
        private
        view
        returns (uint256, uint256)
    {
        uint256 allowed;
        assembly ("memory-safe") {
            allowed := tload(T_NO_TRADE)
        }
        if (allowed == 0) revert NoTrade();
        uint256 buyBetter = _word(batch, H_BUY_BETTER);
        if (buyBetter != 0) {
            _failing();
            revert VolumeNotMaximal(0, buyBetter, 0);
        }
        uint256 sellBetter = _word(batch, H_SELL + H_BUY_BETTER);
        if (sellBetter != 0) {
            _failing();
            revert VolumeNotMaximal(1, sellBetter, 0);
        }
        assembly ("memory-safe") {
            for { let side := 0 } lt(side, 2) { side := add(side, 1) } {
                let h := add(batch, mul(side, H_SELL))
                let s := add(sides, mul(side, SIDE))
                mstore(add(s, S_R), 0)
                mstore(add(s, S_L), mload(add(h, H_BUY_EQUAL)))
                mstore(add(s, S_REM), mload(add(h, H_BUY_REMAINDER)))
                mstore(add(s, S_ID), mload(add(h, H_BUY_ID)))
                mstore(add(s, S_BETTER), 0)
                mstore(add(s, S_EQUAL), 0)
                mstore(add(s, S_BETTER_DIST), 0)
                mstore(add(s, S_WORSE_DIST), 0)
                mstore(add(s, S_SHARES), 0)
                mstore(add(s, S_BONUSES), 0)
            }
        }
        return (price, 0);
    }

    /// @dev A certificate of volume 0 (a challenge's): price 0, and the result hash of clearing.md's no-trade
    /// result, keccak256(abi.encode(market, epoch, 0, 0, new Fill[](0))) (_certify hashed the header's price;
    /// there are no fills, fee 0). Unchanged for a certificate that trades.
    function _noTradeResult(Certificate memory c) internal pure {
        if (c.volume != 0) return;
        c.price = 0;
        uint256 fills = c.fills;
        bytes32 resultHash;
        assembly ("memory-safe") {
            mstore(add(fills, 64), 0)
            resultHash := keccak256(fills, RESULT_HEAD)
        }
        c.resultHash = resultHash;
    }

    /// @dev The market's minQuantity and each side's cap threshold (header offsets 336 and 384) to the scratch, the
    /// side's in-count and cut flag zeroed.
    function _readCaps(uint256 batch, uint256 minQuantity) private pure {
        assembly ("memory-safe") {
            mstore(add(SCRATCH_AT, MIN_QUANTITY_AT), minQuantity)
            for { let side := 0 } lt(side, 2) { side := add(side, 1) } {
                let h := add(batch, mul(side, H_CAP_SELL))
                let st := add(add(SCRATCH_AT, SIDES), mul(side, SIDE))
                mstore(add(st, S_CAP_LIMIT), shr(128, mload(add(h, H_CAP_LIMIT))))
                mstore(add(st, S_CAP_ID), mload(add(h, H_CAP_ID)))
                mstore(add(st, S_IN), 0)
                mstore(add(st, S_CUT), 0)
            }
        }
    }

    /// @dev Section 3, first: per side (buy, then sell), at most MAX_KEPT_PER_SIDE in-orders (SideOverCap), and
    /// exactly that many when the threshold cut a kept order (CapNotTight). So a threshold that cuts is the
    /// rule's: it leaves in exactly the top MAX_KEPT_PER_SIDE kept orders of the batch by price priority.
    function _checkCaps(uint256 sides) private view {
        for (uint256 side; side < 2; ++side) {
            uint256 st = sides + side * SIDE;
            uint256 count = _word(st, S_IN);
            if (count > MAX_KEPT_PER_SIDE) {
                _failing();
                revert SideOverCap(side, count, MAX_KEPT_PER_SIDE);
            }
            if (_word(st, S_CUT) != 0 && count != MAX_KEPT_PER_SIDE) {
                _failing();
                revert CapNotTight(side, count, MAX_KEPT_PER_SIDE);
            }
        }
    }

    /// @dev Section 3: the header's sums and edges equal the batch's, in header order, then the bonus counts.
    function _checkAggregates(uint256 batch, uint256 sides, uint256 price) private view {
        _checkSums(batch, sides, price, 0);
        _checkSums(batch + H_SELL, sides + SIDE, price, 1);
        _checkBonuses(sides, 0);
        _checkBonuses(sides + SIDE, 1);
    }

    /// @dev One side's four sums and edges (fields 4 * side .. 4 * side + 3); `h` is the side's header fields.
    function _checkSums(uint256 h, uint256 st, uint256 price, uint256 side) private view {
        uint256 field = side * 4;
        _match(field, _word(h, H_BUY_BETTER), _word(st, S_BETTER));
        _match(field + 1, _word(h, H_BUY_EQUAL), _word(st, S_EQUAL));
        // Distances back to limits: a buy's better limits are above the price, a sell's below.
        unchecked {
            // A distance is < 2^128 and on its side of a price < 2^128, so the limit is in (0, 2^128).
            uint256 better = _word(st, S_BETTER_DIST);
            if (better != 0) better = side == 0 ? price + better : price - better;
            _match(field + 2, _edge(h, H_BUY_BETTER_EDGE), better);
            uint256 worse = _word(st, S_WORSE_DIST);
            if (worse != 0) worse = side == 0 ? price - worse : price + worse;
            _match(field + 3, _edge(h, H_BUY_WORSE_EDGE), worse);
        }
    }

    /// @dev One side's leftover units: as many bonuses as R minus the shares.
    function _checkBonuses(uint256 st, uint256 side) private view {
        uint256 counted = _word(st, S_BONUSES);
        uint256 expected;
        unchecked {
            // The sums match: the shares are floors of R * q_i / L with L = sum of q_i, so they add up to <= R.
            expected = _word(st, S_R) - _word(st, S_SHARES);
        }
        if (counted != expected) {
            _failing();
            revert WrongBonusCount(side, counted, expected);
        }
    }

    function _match(uint256 field, uint256 claimed, uint256 actual) private view {
        if (claimed != actual) {
            _failing();
            revert AggregateMismatch(field, claimed, actual);
        }
    }

    /// @dev In a challenge's re-certification of the standing batch, every failure is StandingMismatch.
    function _failing() private view {
        uint256 record;
        assembly ("memory-safe") {
            record := tload(T_STANDING)
        }
        if (record != 0) revert StandingMismatch(bytes32(record));
    }

    function _setStanding(bytes32 record) private {
        assembly ("memory-safe") {
            tstore(T_STANDING, record)
        }
    }

    /// @dev The collateral of `trader` (whose escrow in the market is `account`) in `asset` for the orders of
    /// `epoch`: collateralOf(epoch), the free balance at the close of epoch (< 2^112). During epoch + 1 it is
    /// the same at every read. Every coverage read goes through here; the test harness overrides it to inject
    /// collateral.
    function _collateral(uint256[4] storage account, address trader, uint256 asset, uint64 epoch)
        internal
        view
        virtual
        returns (uint256)
    {
        trader; // the escrow slot is the trader's already
        uint256 word;
        uint256 amount;
        uint256 wanted = uint256(epoch) + 2; // the tag of a checkpoint taken during epoch + 1; no overflow
        assembly ("memory-safe") {
            word := sload(add(account.slot, asset))
            // the checkpoint if the balance changed during epoch + 1, else the free balance (see _collateralOf)
            amount := and(shr(mul(112, eq(shr(224, word), wanted)), word), MASK112)
        }
        if (word >> 224 > wanted) _collateralOf(word, epoch); // reverts CollateralNoLongerKnown
        return amount;
    }

    /// @dev collateralOf() of a balance word: the free balance at the start of epoch + 1.
    function _collateralOf(uint256 word, uint64 epoch) private pure returns (uint256) {
        unchecked {
            uint256 tag = word >> 224;
            uint256 wanted = uint256(epoch) + 2; // the tag of a checkpoint taken during epoch + 1; < 2^65
            // tag < wanted: no change since before epoch + 1 began, the free balance is still the one at its start.
            if (tag > wanted) revert CollateralNoLongerKnown(epoch, tag - 1);
            return tag == wanted ? (word >> 112) & MASK112 : word & MASK112;
        }
    }

    // ================================================================ effects

    /// @dev Applies (or, with `undo`, reverses) every non-zero fill of a certified result. A buy of fill f at
    /// price p pays f * p QUOTE and receives f BASE; a sell gives f BASE and receives f * p - fee QUOTE (the fee,
    /// feeBps of f * p rounded down, stays in the contract until finalize). Reversing a buy moves the same
    /// amounts as applying a sell, so one exchange serves all four cases: `debit` of one asset out (from free,
    /// then from funds locked during the current epoch), `credit` of the other in (to free), each balance word
    /// read and written once, checkpointed first (see the storage layout).
    function _move(Certificate memory c, uint256 feeBps, uint256 current, bool undo) private {
        uint256 tag = _tag(current);
        uint256 price = c.price;
        uint256 fills = c.fills;
        uint256 effects = c.effects;
        uint256 count = c.count;
        uint256 failure;
        uint256 failedTrader;
        uint256 failedAsset;
        uint256 failedAmount;
        uint256 failedAvailable;
        assembly ("memory-safe") {
            let tagWord := shl(224, tag)
            for { let k := 0 } lt(k, count) { k := add(k, 1) } {
                let effect := add(effects, shl(6, k))
                let account := mload(effect)
                let packed := mload(add(effect, 32))
                let side := and(shr(160, packed), 1)
                let fill := mload(add(fills, add(add(RESULT_HEAD, 32), shl(6, k))))
                // fill * price < 2^240 (see _certify); the fee is at most a tenth of it
                let quote := mul(fill, price)
                if side { quote := sub(quote, div(mul(quote, feeBps), BPS)) }
                // Pays QUOTE: an applied buy or an undone sell. The debited asset is then QUOTE (1), else BASE (0).
                let paysQuote := xor(iszero(side), undo)
                let debit := fill
                let credit := quote
                if paysQuote {
                    debit := quote
                    credit := fill
                }
                let slot := add(account, paysQuote)
                let word := sload(slot)
                if lt(word, tagWord) {
                    // the first change in this epoch: checkpoint (tag | free | free)
                    let free := and(word, MASK112)
                    word := or(tagWord, or(shl(112, free), free))
                }
                let free := and(word, MASK112)
                switch gt(debit, free)
                case 0 { sstore(slot, sub(word, debit)) }
                default {
                    // The rest from funds locked during the current epoch: they were free at its start.
                    let lockSlot := add(slot, 2)
                    let lockWord := sload(lockSlot)
                    let usable := 0
                    if eq(shr(112, lockWord), current) { usable := and(lockWord, MASK112) }
                    // free + usable < 2^113
                    if gt(debit, add(free, usable)) {
                        failure := 1
                        failedTrader := packed
                        failedAsset := paysQuote
                        failedAmount := debit
                        failedAvailable := add(free, usable)
                        break
                    }
                    sstore(slot, sub(word, free))
                    sstore(lockSlot, sub(lockWord, sub(debit, free))) // debit - free <= usable: the locked field only
                }
                slot := add(account, iszero(paysQuote))
                word := sload(slot)
                if lt(word, tagWord) {
                    let free2 := and(word, MASK112)
                    word := or(tagWord, or(shl(112, free2), free2))
                }
                if gt(credit, sub(MASK112, and(word, MASK112))) {
                    failure := 2
                    failedAmount := credit
                    break
                }
                sstore(slot, add(word, credit))
            }
        }
        if (failure == 1) {
            revert InsufficientCollateral(address(uint160(failedTrader)), failedAsset, failedAmount, failedAvailable);
        }
        if (failure == 2) revert AmountOverflow(failedAmount);
    }

    function _credit(uint256[4] storage account, uint256 asset, uint256 amount, uint256 tag) private {
        uint256 word = _checkpoint(account[asset], tag);
        if (amount > MASK112 - (word & MASK112)) revert AmountOverflow(amount);
        unchecked {
            account[asset] = word + amount;
        }
    }

    /// @dev The first change of a balance in an epoch records the free balance at the start of that epoch.
    function _checkpoint(uint256 word, uint256 tag) private pure returns (uint256) {
        if (word >> 224 >= tag) return word;
        uint256 free = word & MASK112;
        return (tag << 224) | (free << 112) | free;
    }

    /// @dev A checkpoint's tag is its epoch + 1, in 32 bits.
    function _tag(uint256 epoch) private pure returns (uint256) {
        if (epoch >= type(uint32).max) revert EpochOverflow(epoch);
        unchecked {
            return epoch + 1;
        }
    }

    // ================================================================ internals

    function _buildDomainSeparator() private view returns (bytes32) {
        return keccak256(abi.encode(DOMAIN_TYPEHASH, NAME_HASH, VERSION_HASH, block.chainid, address(this)));
    }

    /// @dev `size` bytes of memory (rounded up to whole words), not zeroed.
    function _alloc(uint256 size) private pure returns (uint256 ptr) {
        assembly ("memory-safe") {
            ptr := mload(0x40)
            mstore(0x40, add(ptr, and(add(size, 31), not(31))))
        }
    }

    /// @dev Reserves the scratch: called first by every entry point that uses it, while the free memory pointer
    /// is still at its initial value (below SCRATCH_AT: checked), which it moves past the scratch.
    function _reserveScratch() internal pure {
        uint256 free;
        assembly ("memory-safe") {
            free := mload(0x40)
        }
        assert(free <= SCRATCH_AT);
        assembly ("memory-safe") {
            mstore(0x40, add(SCRATCH_AT, SCRATCH))
        }
    }

    /// @dev Writes the parts of the order encoding and of the digest input that are the same for every order
    /// of a batch.
    function _initScratch(bytes32 market, uint64 epoch) private view {
        bytes32 separator = domainSeparator();
        bytes32 typehash = ORDER_TYPEHASH;
        uint256 epochWord = epoch; // widened in Solidity: assembly must not see dirty high bits
        assembly ("memory-safe") {
            mstore(SCRATCH_AT, typehash)
            mstore(add(SCRATCH_AT, 32), market)
            mstore(add(SCRATCH_AT, 64), epochWord)
            mstore(add(SCRATCH_AT, DIGEST_INPUT), shl(240, 0x1901))
            mstore(add(SCRATCH_AT, add(DIGEST_INPUT, 2)), separator)
        }
    }

    /// @dev Copies a batch to memory and hashes it; n orders. MalformedBatch unless 432 + 126 n bytes, n >= 1;
    /// BatchTooLarge if n > max.
    function _loadBatch(bytes calldata batch, uint256 max)
        internal
        pure
        returns (uint256 ptr, uint256 n, bytes32 hash)
    {
        uint256 len = batch.length;
        if (len < HEADER + ORDER || (len - HEADER) % ORDER != 0) revert MalformedBatch(len);
        n = (len - HEADER) / ORDER;
        if (n > max) revert BatchTooLarge(n, max);
        ptr = _alloc(len);
        assembly ("memory-safe") {
            calldatacopy(ptr, batch.offset, len)
            hash := keccak256(ptr, len)
        }
    }

    /// @dev From a union copied to memory (`raw`, n entries): the batch `header` (0: the standing one, HEADER: the
    /// union's) || the orders whose flag f is in `flags` (bit f set: STANDING_FLAGS, UNION_FLAGS, NEW_BATCH_FLAGS),
    /// in union order, contiguous; m orders; its keccak. MalformedBatch(length) for a flag above 3.
    function _extract(uint256 raw, uint256 n, uint256 header, uint256 flags)
        private
        pure
        returns (uint256 batch, uint256 m, bytes32 hash)
    {
        batch = _alloc(HEADER + n * ORDER);
        assembly ("memory-safe") {
            mcopy(batch, add(raw, header), HEADER)
        }
        uint256 entries = raw + 2 * HEADER;
        unchecked {
            for (uint256 i; i < n; ++i) {
                uint256 entry = entries + i * ENTRY;
                uint256 flag;
                assembly ("memory-safe") {
                    flag := shr(248, mload(entry))
                }
                if (flag > 3) revert MalformedBatch(2 * HEADER + n * ENTRY);
                if ((flags >> flag) & 1 != 0) {
                    assembly ("memory-safe") {
                        mcopy(add(batch, add(HEADER, mul(m, ORDER))), add(entry, 1), ORDER)
                    }
                    ++m;
                }
            }
        }
        assembly ("memory-safe") {
            hash := keccak256(batch, add(HEADER, mul(m, ORDER)))
        }
    }

    /// @dev keccak256(abi.encode(batchHash, submitter, feeTotal)), hashed in memory past the free pointer.
    function _record(bytes32 batchHash, address submitter, uint256 feeTotal) private pure returns (bytes32 r) {
        assembly ("memory-safe") {
            let p := mload(0x40)
            mstore(p, batchHash)
            mstore(add(p, 32), submitter)
            mstore(add(p, 64), feeTotal)
            r := keccak256(p, 96)
        }
    }

    /// @dev propose/challenge: the sender committed to (market, epoch, dataHash) in an earlier block.
    function _checkCommitment(bytes32 market, uint64 epoch, bytes32 dataHash) private view {
        bytes32 expected = keccak256(abi.encode(market, epoch, dataHash, msg.sender));
        uint256 stored = _commitments[market][msg.sender];
        if (stored >> 64 != uint256(expected) >> 64) revert NotCommitted(expected);
        uint256 blockNumber = uint64(stored);
        if (blockNumber >= block.number) revert CommitmentTooRecent(blockNumber);
    }

    function _checkBond(bytes32 market, uint256 schedule) private view returns (uint256 bond) {
        bond = _bondOf(market, schedule);
        if (msg.value != bond) revert WrongBond(msg.value, bond);
    }

    function _bondOf(bytes32 market, uint256 schedule) private view returns (uint256) {
        return schedule & BIG_BOND == 0 ? (schedule >> 170) & MASK80 : _bigBond[market];
    }

    function _feeBps(uint256 schedule) internal pure returns (uint256) {
        return (schedule >> 128) & 0x3ff;
    }

    function _word(uint256 ptr, uint256 offset) private pure returns (uint256 value) {
        assembly ("memory-safe") {
            value := mload(add(ptr, offset))
        }
    }

    /// @dev A 16-byte header field.
    function _edge(uint256 ptr, uint256 offset) private pure returns (uint256 value) {
        assembly ("memory-safe") {
            value := shr(128, mload(add(ptr, offset)))
        }
    }

    /// @dev a + b, or 2^256 - 1 if that overflows (a header sum that large is wrong anyway: true sums are < 2^144).
    function _sum(uint256 a, uint256 b) private pure returns (uint256 s) {
        unchecked {
            s = a + b;
            if (s < a) s = type(uint256).max;
        }
    }

    function _scheduleOf(bytes32 market) internal view returns (uint256 schedule) {
        schedule = _schedule[market];
        if (schedule == 0) revert UnknownMarket(market);
    }

    /// @dev The close of `epoch`: genesis + (epoch + 1) * epochLength (< 2^64 + 2^65 * 2^64: no overflow).
    function _epochClose(uint256 schedule, uint256 epoch) private pure returns (uint256) {
        unchecked {
            return uint64(schedule) + (epoch + 1) * uint64(schedule >> 64);
        }
    }

    /// @dev The epoch at block.timestamp, rounded down; 0 before genesis.
    function _currentEpoch(uint256 schedule) private view returns (uint256) {
        uint256 genesis = uint64(schedule);
        if (block.timestamp < genesis) return 0;
        unchecked {
            return (block.timestamp - genesis) / uint64(schedule >> 64); // epochLength > 0 by construction
        }
    }

    function _tokenAndEpoch(bytes32 market, uint8 asset) private view returns (address token, uint256 current) {
        uint256 schedule = _scheduleOf(market);
        if (asset > QUOTE) revert InvalidAsset(asset);
        return (_tokens[market][asset], _currentEpoch(schedule));
    }

    /// @dev Calls transfer/transferFrom and accepts success with no return data (from a contract) or `true`.
    function _callToken(address token, bytes memory data, address from, address to, uint256 amount) private {
        (bool ok, bytes memory ret) = token.call(data);
        if (ok) {
            if (ret.length == 0) ok = token.code.length != 0; // a call to an account without code "succeeds"
            else ok = ret.length == 32 && abi.decode(ret, (uint256)) == 1;
        }
        if (!ok) revert TokenTransferFailed(token, from, to, amount);
    }
}
