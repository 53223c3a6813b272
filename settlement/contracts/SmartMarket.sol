// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ISmartMarket} from "./ISmartMarket.sol";

/// @dev The two ERC-20 calls the escrow makes. Tokens that return nothing (USDT-style) are accepted.
interface IERC20Transfers {
    function transfer(address to, uint256 amount) external returns (bool);
    function transferFrom(address from, address to, uint256 amount) external returns (bool);
}

/// @title SmartMarket: per-market escrow and verified settlement of uniform-price call auctions
/// @notice See ISmartMarket and docs/settlement.md.
/// @dev Storage layout, per market and trader, four words (`_escrow[market][trader]`):
///   [0], [1]  balance word of BASE, QUOTE:  free (bits 0..111) | checkpointFree (112..223) | tag (224..255)
///   [2], [3]  lock word of BASE, QUOTE:     locked (bits 0..111) | lockedEpoch (112..175)
/// `tag` is the epoch of the balance's last change plus one (0 = never changed), so a balance word that has
/// been touched once is never zero again: settlements never pay a zero-to-nonzero SSTORE for it.
/// Checkpoint rule: before the first change of `free` in epoch c, checkpointFree := free and tag := c + 1.
/// So the free balance at the start of epoch c is (tag == c + 1 ? checkpointFree : free).
contract SmartMarket is ISmartMarket {
    uint8 private constant BASE = 0;
    uint8 private constant QUOTE = 1;
    uint256 public constant override MAX_FEE_BPS = 1000;
    /// @dev One epoch of delay is necessary (see requestWithdrawal in docs/settlement.md); the second is margin.
    uint256 public constant override WITHDRAWAL_DELAY_EPOCHS = 2;
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
    uint256 private constant MASK112 = (1 << 112) - 1;

    /// @dev Memory scratch of settle() and orderDigest(), offsets from its start:
    ///   [0, 96)     ORDER_TYPEHASH, market, epoch: written once per batch
    ///   [96, 384)   the fill being verified, copied whole from calldata: side, quantity, limitPrice, nonce,
    ///               trader (so [0, 256) is the order's EIP-712 struct encoding), fill, v, r, s;
    ///               then the digest overwrites `fill`, and [256, 384) is the ecrecover input (digest, v, r, s)
    ///   [384, 450)  0x1901 || domainSeparator || structHash, the digest's preimage
    ///   [480, ...)  abi.encode(market, epoch, price, volume, Fill[]) of settle(), hashed at the end
    uint256 private constant FILL_AT = 96;
    uint256 private constant ECRECOVER_INPUT = 256;
    uint256 private constant DIGEST_INPUT = 384;
    uint256 private constant STRUCT_HASH_AT = 418;
    uint256 private constant RESULT_AT = 480;
    uint256 private constant RESULT_HEAD = 192;
    /// @dev ABI size of one SignedFill: 9 static words.
    uint256 private constant FILL_SIZE = 288;

    uint256 private immutable _cachedChainId;
    bytes32 private immutable _cachedDomainSeparator;

    /// @dev genesisTime (bits 0..63) | epochLength (64..127) | feeBps (128..143); 0 = no such market.
    /// One word, so that settle() pays one cold SLOAD for the market.
    mapping(bytes32 => uint256) private _schedule;
    /// @dev [BASE, QUOTE] token addresses.
    mapping(bytes32 => address[2]) private _tokens;
    mapping(bytes32 => mapping(address => uint256[4])) private _escrow;
    /// @dev Settled epochs as a bitmap: bit (epoch & 255) of word (epoch >> 8). After the first epoch of a
    /// word, marking costs a nonzero-to-nonzero SSTORE (5,000 gas) instead of 22,100.
    mapping(bytes32 => mapping(uint256 => uint256)) private _settled;

    constructor() {
        _cachedChainId = block.chainid;
        _cachedDomainSeparator = _buildDomainSeparator();
    }

    // ================================================================ markets

    /// @inheritdoc ISmartMarket
    function createMarket(address base, address quote, uint64 genesisTime, uint64 epochLength, uint16 feeBps)
        external
        returns (bytes32 market)
    {
        if (base == address(0) || quote == address(0)) revert ZeroTokenAddress(base, quote);
        if (base == quote) revert IdenticalTokens(base);
        if (epochLength == 0) revert ZeroEpochLength(genesisTime);
        if (feeBps > MAX_FEE_BPS) revert FeeTooHigh(feeBps, MAX_FEE_BPS);
        market = marketId(base, quote, genesisTime, epochLength, feeBps);
        if (_schedule[market] != 0) revert MarketExists(market);
        _schedule[market] = uint256(genesisTime) | (uint256(epochLength) << 64) | (uint256(feeBps) << 128);
        _tokens[market] = [base, quote];
        emit MarketCreated(market, base, quote, genesisTime, epochLength, feeBps);
    }

    /// @inheritdoc ISmartMarket
    function marketId(address base, address quote, uint64 genesisTime, uint64 epochLength, uint16 feeBps)
        public
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(base, quote, genesisTime, epochLength, feeBps));
    }

    /// @inheritdoc ISmartMarket
    function getMarket(bytes32 market)
        external
        view
        returns (address base, address quote, uint64 genesisTime, uint64 epochLength, uint16 feeBps)
    {
        uint256 schedule = _scheduleOf(market);
        address[2] storage tokens = _tokens[market];
        return (tokens[BASE], tokens[QUOTE], uint64(schedule), uint64(schedule >> 64), uint16(schedule >> 128));
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
        // the start of c, which backs the settlement of epoch c - 1 (made during c), so settle() may still
        // draw on them during c. current < 2^32 (checked by _tag), so it fits the 64-bit field.
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
        uint256 word = _escrow[market][trader][asset];
        uint256 tag = word >> 224;
        uint256 wanted = uint256(epoch) + 2; // the tag of a checkpoint taken during epoch + 1
        // tag < wanted: no change since before epoch + 1 began, the free balance is still the one at its start.
        if (tag > wanted) revert CollateralNoLongerKnown(epoch, tag - 1);
        return tag == wanted ? (word >> 112) & MASK112 : word & MASK112;
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

    // ================================================================ settlement

    /// @inheritdoc ISmartMarket
    function settle(bytes32 market, uint64 epoch, uint256 price, SignedFill[] calldata fills) external {
        uint256 schedule = _scheduleOf(market);
        uint256 current = _currentEpoch(schedule);
        if (current <= epoch) revert EpochNotClosed(epoch, current);
        if (current != uint256(epoch) + 1) revert SettlementWindowClosed(epoch, current);
        mapping(uint256 => uint256) storage settledWords = _settled[market];
        uint256 settledWord = settledWords[epoch >> 8];
        uint256 settledBit = 1 << (epoch & 255);
        if (settledWord & settledBit != 0) revert AlreadySettled(market, epoch);
        if (price == 0 || price > type(uint128).max) revert PriceOutOfRange(price);
        uint256 n = fills.length;
        if (n == 0) revert EmptySettlement(market, epoch);

        uint256 scratch = _allocScratch(market, epoch, RESULT_AT + RESULT_HEAD + 64 * n);
        uint256 tag = _tag(current);
        uint256 feeBps = uint16(schedule >> 128);
        mapping(address => uint256[4]) storage escrow = _escrow[market];
        uint256 buyVolume;
        uint256 sellVolume;
        uint256 feeTotal;
        bytes32 previousId;
        for (uint256 i; i < n;) {
            uint256 ptr; // calldata offset of fill i: the array's elements are contiguous 9-word structs
            assembly ("memory-safe") {
                ptr := add(fills.offset, mul(i, FILL_SIZE))
            }
            (uint256 side, uint256 quantity, uint256 limitPrice, address trader, uint256 fill) =
                _readFill(scratch, ptr, i);
            bytes32 id = _digest(scratch);
            // Strictly ascending ids: no order is filled twice, and the order is the result hash's.
            if (id <= previousId) revert FillsNotAscending(i, previousId, id);
            previousId = id;
            if (fill == 0) revert ZeroFill(i);
            if (fill > quantity) revert FillExceedsQuantity(i, fill, quantity);
            _checkSigner(scratch, i, id, trader);
            uint256[4] storage account = escrow[trader];
            unchecked {
                // fill < 2^128 and price < 2^128: the product fits in 256 bits. Each volume is a sum of
                // n < 2^64 (calldata-bound) terms below 2^128: no overflow.
                uint256 amount = fill * price;
                if (side == 0) {
                    if (limitPrice < price) revert LimitViolated(i, side, limitPrice, price);
                    buyVolume += fill;
                    _exchange(account, QUOTE, amount, fill, current, tag, trader);
                } else {
                    if (limitPrice > price) revert LimitViolated(i, side, limitPrice, price);
                    sellVolume += fill;
                    if (amount > MASK112) revert AmountOverflow(amount); // could not be credited anyway
                    uint256 fee = _feeRoundedDown(amount, feeBps); // amount < 2^112, feeBps < 2^16: fits
                    feeTotal += fee;
                    _exchange(account, BASE, fill, amount - fee, current, tag, trader); // fee <= amount / 10
                }
                uint256 out = scratch + RESULT_AT + RESULT_HEAD + 64 * i;
                assembly ("memory-safe") {
                    mstore(out, id)
                    mstore(add(out, 32), fill)
                }
                ++i;
            }
        }
        if (buyVolume != sellVolume) revert VolumeMismatch(buyVolume, sellVolume);
        settledWords[epoch >> 8] = settledWord | settledBit;
        // The fee stays in the market's escrow, credited to the submitter: token totals are conserved.
        if (feeTotal != 0) _credit(escrow[msg.sender], QUOTE, feeTotal, tag);
        bytes32 resultHash = _resultHash(scratch, market, epoch, price, buyVolume, n);
        emit Settled(market, epoch, price, buyVolume, resultHash, msg.sender);
    }

    /// @inheritdoc ISmartMarket
    function isSettled(bytes32 market, uint64 epoch) external view returns (bool) {
        return _settled[market][epoch >> 8] & (1 << (epoch & 255)) != 0;
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
    ) external view returns (bytes32) {
        uint256 scratch = _allocScratch(market, epoch, RESULT_AT);
        _writeOrder(scratch, side, quantity, limitPrice, nonce, trader);
        return _digest(scratch);
    }

    // ================================================================ internals

    function _buildDomainSeparator() private view returns (bytes32) {
        return keccak256(abi.encode(DOMAIN_TYPEHASH, NAME_HASH, VERSION_HASH, block.chainid, address(this)));
    }

    /// @dev Allocates `size` bytes of scratch and writes the parts of the order encoding and of the digest
    /// input that are the same for every order of the batch.
    function _allocScratch(bytes32 market, uint64 epoch, uint256 size) private view returns (uint256 scratch) {
        bytes32 separator = domainSeparator();
        bytes32 typehash = ORDER_TYPEHASH;
        uint256 epochWord = epoch; // widened in Solidity: assembly must not see dirty high bits
        assembly ("memory-safe") {
            scratch := mload(0x40)
            mstore(0x40, add(scratch, size))
            mstore(scratch, typehash)
            mstore(add(scratch, 32), market)
            mstore(add(scratch, 64), epochWord)
            mstore(add(scratch, DIGEST_INPUT), shl(240, 0x1901))
            mstore(add(scratch, add(DIGEST_INPUT, 2)), separator)
        }
    }

    /// @dev Copies fill `index` (at calldata offset `ptr`) whole into the scratch, where its first five words
    /// (side, quantity, limitPrice, nonce, trader: in EIP-712 order, by the struct's design) complete the
    /// order's struct encoding, and reads its fields from there (one CALLDATACOPY: the ABI decoder's
    /// per-field bounds checks are not needed, it checked the whole array against the calldata size at
    /// entry). Rejects values wider than their types, which the hash would otherwise include as they are.
    function _readFill(uint256 scratch, uint256 ptr, uint256 index)
        private
        pure
        returns (uint256 side, uint256 quantity, uint256 limitPrice, address trader, uint256 fill)
    {
        uint256 nonce;
        uint256 traderWord;
        assembly ("memory-safe") {
            let at := add(scratch, FILL_AT)
            calldatacopy(at, ptr, FILL_SIZE)
            side := mload(at)
            quantity := mload(add(at, 32))
            limitPrice := mload(add(at, 64))
            nonce := mload(add(at, 96))
            traderWord := mload(add(at, 128))
            fill := mload(add(at, 160))
        }
        if (side > 1) revert InvalidSide(index, side);
        if ((quantity | limitPrice | fill) >> 128 != 0 || nonce >> 64 != 0 || traderWord >> 160 != 0) {
            revert MalformedFill(index);
        }
        trader = address(uint160(traderWord));
    }

    /// @dev Writes an order's fields into the order encoding (market and epoch are already there).
    function _writeOrder(
        uint256 scratch,
        uint256 side,
        uint256 quantity,
        uint256 limitPrice,
        uint256 nonce,
        address trader
    ) private pure {
        uint256 traderWord = uint160(trader); // widened in Solidity: assembly must not see dirty high bits
        assembly ("memory-safe") {
            mstore(add(scratch, 96), side)
            mstore(add(scratch, 128), quantity)
            mstore(add(scratch, 160), limitPrice)
            mstore(add(scratch, 192), nonce)
            mstore(add(scratch, 224), traderWord)
        }
    }

    /// @dev The EIP-712 digest of the order encoded in the scratch: keccak256(0x1901 || domainSeparator ||
    /// hashStruct(order)). Two keccaks over memory, no allocation.
    function _digest(uint256 scratch) private pure returns (bytes32 id) {
        assembly ("memory-safe") {
            mstore(add(scratch, STRUCT_HASH_AT), keccak256(scratch, 256))
            id := keccak256(add(scratch, DIGEST_INPUT), 66)
        }
    }

    /// @dev Rejects malformed signatures (v not 27/28, high s) and any signature that does not recover to
    /// `trader`, including unrecoverable ones (the precompile returns nothing: recovered = 0). The fill's
    /// v, r, s follow its `fill` word in the scratch; the digest replaces `fill` (already read) to make the
    /// precompile's input (digest, v, r, s) in place.
    function _checkSigner(uint256 scratch, uint256 index, bytes32 id, address trader) private view {
        uint256 v;
        uint256 s;
        address recovered;
        assembly ("memory-safe") {
            let input := add(scratch, ECRECOVER_INPUT)
            v := mload(add(input, 32))
            s := mload(add(input, 96))
        }
        if ((v != 27 && v != 28) || s > HALF_N) revert MalformedSignature(index, v, bytes32(s));
        assembly ("memory-safe") {
            let input := add(scratch, ECRECOVER_INPUT)
            mstore(input, id)
            mstore(0x00, 0) // the output slot stays 0 when the precompile recovers nothing
            pop(staticcall(gas(), 0x01, input, 128, 0x00, 32))
            recovered := mload(0x00)
        }
        if (recovered == address(0) || recovered != trader) revert InvalidSigner(index, id, recovered, trader);
    }

    /// @dev keccak256(abi.encode(market, epoch, price, volume, (bytes32 id, uint256 fill)[])); the fills were
    /// written after the 6-word head by settle()'s loop.
    function _resultHash(uint256 scratch, bytes32 market, uint64 epoch, uint256 price, uint256 volume, uint256 n)
        private
        pure
        returns (bytes32 h)
    {
        uint256 epochWord = epoch;
        assembly ("memory-safe") {
            let head := add(scratch, RESULT_AT)
            mstore(head, market)
            mstore(add(head, 32), epochWord)
            mstore(add(head, 64), price)
            mstore(add(head, 96), volume)
            mstore(add(head, 128), 0xa0) // offset of the array: after the 5 head words
            mstore(add(head, 160), n)
            h := keccak256(head, add(RESULT_HEAD, shl(6, n)))
        }
    }

    /// @dev feeBps of `amount`, rounded down (toward the seller: the seller never pays more than feeBps).
    function _feeRoundedDown(uint256 amount, uint256 feeBps) private pure returns (uint256) {
        return amount * feeBps / BPS;
    }

    /// @dev One fill's escrow movement: `debit` of `debitAsset` out, `credit` of the other asset in. The two
    /// balance words are read and written once each, through raw slots (`account` is 4 consecutive words).
    function _exchange(
        uint256[4] storage account,
        uint256 debitAsset,
        uint256 debit,
        uint256 credit,
        uint256 current,
        uint256 tag,
        address trader
    ) private {
        uint256 slot;
        assembly ("memory-safe") {
            slot := account.slot
        }
        unchecked {
            uint256 debitSlot = slot + debitAsset;
            uint256 creditSlot = slot + (debitAsset ^ 1);
            uint256 word = _checkpoint(_load(debitSlot), tag);
            uint256 free = word & MASK112;
            if (debit <= free) {
                _store(debitSlot, word - debit);
            } else {
                _store(debitSlot, word - free);
                _debitLocked(slot + 2 + debitAsset, debitAsset, debit, free, current, trader);
            }
            word = _checkpoint(_load(creditSlot), tag);
            if (credit > MASK112 - (word & MASK112)) revert AmountOverflow(credit);
            _store(creditSlot, word + credit);
        }
    }

    /// @dev The part of a debit (`debit` - `free`) that the free balance cannot cover comes from what the
    /// trader locked during the current epoch: those funds were free at its start and back the settlement
    /// made now. Reverts InsufficientCollateral when they are not enough.
    function _debitLocked(uint256 lockSlot, uint256 asset, uint256 debit, uint256 free, uint256 current, address trader)
        private
    {
        uint256 lockWord = _load(lockSlot);
        uint256 usable = lockWord >> 112 == current ? lockWord & MASK112 : 0;
        unchecked {
            // free + usable < 2^113
            if (debit > free + usable) revert InsufficientCollateral(trader, asset, debit, free + usable);
            _store(lockSlot, lockWord - (debit - free)); // debit - free <= usable: the locked field only
        }
    }

    function _load(uint256 slot) private view returns (uint256 value) {
        assembly ("memory-safe") {
            value := sload(slot)
        }
    }

    function _store(uint256 slot, uint256 value) private {
        assembly ("memory-safe") {
            sstore(slot, value)
        }
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

    function _scheduleOf(bytes32 market) private view returns (uint256 schedule) {
        schedule = _schedule[market];
        if (schedule == 0) revert UnknownMarket(market);
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
