// Benchmark runner: `npm run bench` runs every group, `npm run bench -- <group> ...` the named ones.
// Prints a table and writes bench-results.json: [{"name", "value", "unit"}] for the figures of this run.
import { existsSync, writeFileSync } from "node:fs";
import type { BenchFigure, BenchGroup } from "./harness.ts";

const GROUPS = ["protocol", "clearing", "settlement", "node", "testnet", "scale"] as const;

async function main(): Promise<void> {
  const requested = process.argv.slice(2);
  for (const g of requested) {
    if (!(GROUPS as readonly string[]).includes(g)) {
      process.stderr.write(`bench: unknown group "${g}"; groups: ${GROUPS.join(", ")}\n`);
      process.exit(2);
    }
  }
  const groups = requested.length > 0 ? requested : [...GROUPS];
  const figures: BenchFigure[] = [];
  for (const group of groups) {
    const file = new URL(`./${group}.bench.ts`, import.meta.url);
    if (!existsSync(file)) {
      process.stdout.write(`# ${group}: no benchmarks yet\n`);
      continue;
    }
    process.stdout.write(`# ${group}\n`);
    const mod = (await import(file.href)) as { bench: BenchGroup };
    const out = await mod.bench((line) => process.stdout.write(`  ${line}\n`));
    figures.push(...out);
    for (const f of out) {
      process.stdout.write(
        `  ${f.name.padEnd(36)} ${String(f.value).padStart(14)} ${f.unit.padEnd(10)} ${f.target ? `target ${f.target}` : ""}\n`,
      );
    }
  }
  writeFileSync(
    "bench-results.json",
    `${JSON.stringify(
      figures.map(({ name, value, unit }) => ({ name, value, unit })),
      null,
      2,
    )}\n`,
  );
  process.stdout.write(`wrote bench-results.json (${figures.length} figures)\n`);
}

await main();
