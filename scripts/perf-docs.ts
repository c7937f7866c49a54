// Regenerates the performance tables of README.md and docs/performance.md from bench/results.json (what the bench
// recorded): `npx tsx scripts/perf-docs.ts`, or `npm run bench -- … --write-docs` after a run.
import { readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { GENERATED, readResults, replaceGenerated } from "../bench/results.ts";

const ROOT = resolve(import.meta.dirname, "..");

/** Rewrites each generated table; returns the files that changed. */
export function writePerfDocs(root = ROOT): string[] {
  const results = readResults();
  const changed: string[] = [];
  for (const g of GENERATED) {
    const file = join(root, g.file);
    const before = readFileSync(file, "utf8");
    const after = replaceGenerated(before, g.name, g.table(results));
    if (after !== before) {
      writeFileSync(file, after);
      changed.push(g.file);
    }
  }
  return changed;
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename)) {
  const changed = writePerfDocs();
  process.stdout.write(changed.length ? `rewrote ${changed.join(", ")}\n` : "the performance tables are up to date\n");
}
