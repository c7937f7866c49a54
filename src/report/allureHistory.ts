// Allure's history file (one JSON line per report) kept to what the report reads back: each test's labels go.
// Run by scripts/report.sh after `allure generate`: `tsx src/report/allureHistory.ts FILE`.
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

/**
 * One report's line without its tests' labels: more than half of every test's entry (allure-vitest writes twelve), read
 * back by no page this suite's report has (status, duration, message and identity stay). Lines without labels are kept as
 * they are.
 */
export function compactHistoryLine(line: string): string {
  if (!line.includes('"labels":')) return line;
  const point = JSON.parse(line) as { testResults?: Record<string, Record<string, unknown>> };
  for (const result of Object.values(point.testResults ?? {})) delete result.labels;
  return JSON.stringify(point);
}

/** Rewrite `file` with every line compacted (through a temporary file, so a crash leaves the old one); returns both sizes. */
export function compactHistoryFile(file: string): { before: number; after: number } {
  const text = readFileSync(file, "utf8");
  const lines = text.split("\n").filter((line) => line.trim());
  const compacted = `${lines.map(compactHistoryLine).join("\n")}\n`;
  const after = Buffer.byteLength(compacted);
  const before = Buffer.byteLength(text);
  if (after !== before) {
    writeFileSync(`${file}.tmp`, compacted);
    renameSync(`${file}.tmp`, file);
  }
  return { before, after };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const file = process.argv[2];
  if (!file) throw new Error("usage: tsx src/report/allureHistory.ts <allure-history.jsonl>");
  compactHistoryFile(file);
}
