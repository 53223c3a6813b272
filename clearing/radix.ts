// Stable least-significant-digit radix sort of element indices by fixed-width unsigned keys.
//
// Why not Array.prototype.sort: a comparator sort of a million bigint/hex keys spends most of its time
// calling the comparator (~20 million calls). Radix sort touches each element a constant number of
// times per 16-bit digit and never compares, so ranking the book costs a fraction of that; it is also
// stable, which lets clear sort by id first and then by limit to get (limit, id) order.

/** Bits per digit: 65,536 buckets keep the count array (256 KiB) in cache and the pass count low. */
const DIGIT_BITS = 16;
const BUCKETS = 1 << DIGIT_BITS;
const DIGIT_MASK = BUCKETS - 1;
/** Digit shifts inside one 32-bit word, least significant first. */
const WORD_DIGIT_SHIFTS = [0, DIGIT_BITS] as const;
/**
 * Below this many elements a comparison sort is used: each radix pass walks all BUCKETS counters (twice),
 * whatever the count. clear() of a batch's 128 orders, as every node runs it at each close, took 13–21 ms
 * the first time in a process with radix passes, 6–9 ms with comparisons.
 */
export const RADIX_MIN_ELEMENTS = 2048;

/**
 * Returns `elements` reordered by ascending key, stable (equal keys keep their order in `elements`).
 * The key of element e is the unsigned number whose 32-bit words, most significant first, are
 * `keyWords[0][e], keyWords[1][e], ...`. Inputs are not modified. O(n) per digit; digits that are
 * equal across all elements (e.g. the zero high words of small prices) cost one counting pass and no move.
 * Fewer than RADIX_MIN_ELEMENTS elements are sorted by comparisons instead (the same order).
 */
export function radixSortByWords(elements: Uint32Array, keyWords: readonly Uint32Array[]): Uint32Array {
  const n = elements.length;
  if (n < RADIX_MIN_ELEMENTS) return comparisonSortByWords(elements, keyWords);
  let order = Uint32Array.from(elements);
  // Positional copies of the key words: words[w][i] belongs to the element at order[i], so every pass
  // reads its digits sequentially instead of chasing element indices around memory.
  const words = keyWords.map((key) => {
    const positional = new Uint32Array(n);
    for (let i = 0; i < n; i++) positional[i] = key[order[i]!]!;
    return positional;
  });
  let spareOrder = new Uint32Array(n);
  const spareWords = keyWords.map(() => new Uint32Array(n));
  const counts = new Uint32Array(BUCKETS);
  const destination = new Uint32Array(n);

  for (let w = words.length - 1; w >= 0; w--) {
    for (const shift of WORD_DIGIT_SHIFTS) {
      const key = words[w]!;
      counts.fill(0);
      for (let i = 0; i < n; i++) counts[(key[i]! >>> shift) & DIGIT_MASK]!++;
      // A digit shared by every element cannot change the order: skip the move.
      if (counts[(key[0]! >>> shift) & DIGIT_MASK] === n) continue;
      let start = 0;
      for (let d = 0; d < BUCKETS; d++) {
        const count = counts[d]!;
        counts[d] = start;
        start += count;
      }
      for (let i = 0; i < n; i++) destination[i] = counts[(key[i]! >>> shift) & DIGIT_MASK]!++;
      scatter(order, spareOrder, destination);
      [order, spareOrder] = [spareOrder, order];
      // Words less significant than w are done; only words 0..w are read by later passes.
      for (let v = 0; v <= w; v++) {
        scatter(words[v]!, spareWords[v]!, destination);
        [words[v], spareWords[v]] = [spareWords[v]!, words[v]!];
      }
    }
  }
  return order;
}

/** radixSortByWords by comparisons (Array.prototype.sort is stable): for few elements. */
function comparisonSortByWords(elements: Uint32Array, keyWords: readonly Uint32Array[]): Uint32Array {
  const sorted = Array.from(elements).sort((a, b) => {
    for (const key of keyWords) {
      const x = key[a]!;
      const y = key[b]!;
      if (x !== y) return x < y ? -1 : 1;
    }
    return 0;
  });
  return Uint32Array.from(sorted);
}

function scatter(from: Uint32Array, to: Uint32Array, destination: Uint32Array): void {
  for (let i = 0; i < from.length; i++) to[destination[i]!] = from[i]!;
}
