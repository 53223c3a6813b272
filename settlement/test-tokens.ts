// The test tokens every dev chain of this repo deploys (anvil's embedded chain, `smartmarket deploy
// --test-tokens`, the testnet's markets). Their symbols are the display units everywhere (CLI, live
// view, report): a whole energy token is 1 kWh (1 unit = 1 Wh), a whole dollar token 1 USD (1 unit = 1 µ$).
import type { TestTokenSpec } from "./client.ts";

export interface TestTokenPair {
  readonly base: TestTokenSpec;
  readonly quote: TestTokenSpec;
}

/** The energy market: 1 base unit = 1 Wh (3 decimals: a whole token is 1 kWh), 1 quote unit = 1 µ$. */
export const ENERGY_TEST_TOKENS: TestTokenPair = {
  base: { name: "Test Energy", symbol: "kWh", decimals: 3 },
  quote: { name: "Test Dollar", symbol: "USD", decimals: 6 },
};

/** The data market's own pair: 1 base unit = 1 reading, 1 quote unit = 1 µ$ of a second stable-coin. */
export const DATA_TEST_TOKENS: TestTokenPair = {
  base: { name: "Test Readings", symbol: "reading", decimals: 0 },
  quote: { name: "Test USD Coin", symbol: "USDC", decimals: 6 },
};
