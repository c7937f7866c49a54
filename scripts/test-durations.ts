// Writes test/durations.json from the last `npm test`'s reports/self-test.json: each test file's time, which
// scripts/test.sh hands the sequencer (RESTORETEST_DURATIONS) so that a fresh clone starts the longest files first.
// Run after a whole green `npm test`: `npx tsx scripts/test-durations.ts`.
import { readFileSync, writeFileSync } from "node:fs";
import { relative, resolve } from "node:path";

const ROOT = resolve(import.meta.dirname, "..");
const report = JSON.parse(readFileSync(resolve(ROOT, "reports/self-test.json"), "utf8")) as { testResults: { name: string; startTime: number; endTime: number }[] };
const durations: Record<string, number> = {};
for (const r of [...report.testResults].sort((a, b) => a.name.localeCompare(b.name))) {
  durations[`restoretest:${relative(ROOT, r.name)}`] = Math.round(r.endTime - r.startTime);
}
writeFileSync(resolve(ROOT, "test/durations.json"), `${JSON.stringify(durations, null, 2)}\n`);
process.stdout.write(`test/durations.json: ${Object.keys(durations).length} files, ${Math.round(Object.values(durations).reduce((a, b) => a + b, 0) / 1000)} s in all\n`);
