// The bench's results file (bench/results.json): every measured line with its runs' spread, its ratio and verdict, so
// that the README's and docs/performance.md's tables are generated from what a run printed, never typed in.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { z } from "zod";
import { formatRatio, fmtMs, ratioOf, verdictOf, type Outcome, type Spread, type Target, type Verdict, spreadOf } from "./stats.ts";

export const RESULTS_FILE = resolve(import.meta.dirname, "results.json");

const SpreadSchema = z.object({ median: z.number(), min: z.number(), max: z.number(), runs: z.number().int() });

const LineSchema = z.object({
  /** Stable key, e.g. `a.verify.floor`: a later run of the same set replaces the line. */
  id: z.string(),
  /** The `--only` set that measured it. */
  set: z.string(),
  /** What is measured, in the README's words. */
  measured: z.string(),
  /** restoretest's own runs (ms), or null where it failed. */
  tool: SpreadSchema.nullable(),
  /** What it is held against, and that contender's runs (ms). */
  reference: z.object({ label: z.string(), spread: SpreadSchema.nullable() }),
  /** Which over which, e.g. "restoretest / floor". */
  ratioName: z.string(),
  ratio: SpreadSchema.nullable(),
  target: z.object({ op: z.enum(["≤", "≥"]), value: z.number() }),
  verdict: z.enum(["within target", "within noise", "OUTSIDE TARGET", "FAIL"]),
  /** Why it is FAIL: the failed stage's or check's own message. */
  failure: z.string().optional(),
  /** Shown in the README's performance table too (the headline lines). */
  readme: z.boolean().optional(),
  /**
   * A stage of data set (d): the bytes it read or moved, the datadir's sequential read limit of that run (bytes per
   * ms), and its median (ms) at each concurrency measured: the terabyte projection (projectionTable).
   */
  volume: z.object({ bytes: z.number(), readLimit: z.number(), byConcurrency: z.record(z.string(), z.number()) }).optional(),
  /** The run that measured it: when and on how many cores. */
  at: z.string(),
  cores: z.number().int(),
  /** The bench's arguments of that run, e.g. `--only a --scale 0.25`. */
  args: z.string(),
});
export type BenchLine = z.infer<typeof LineSchema>;

const ResultsSchema = z.object({ version: z.literal(1), lines: z.array(LineSchema) });
export type BenchResults = z.infer<typeof ResultsSchema>;

export interface LineInput {
  id: string;
  set: string;
  measured: string;
  tool: Outcome;
  reference: { label: string; outcome: Outcome };
  ratioName: string;
  /** The ratio is reference / tool (a slower way against restoretest, target ≥), not tool / reference. */
  inverse?: boolean;
  target: Target;
  readme?: boolean;
  /** Rounds run alternately: the ratio's spread is each round's own (stats.ratioOf). */
  paired?: boolean;
  volume?: BenchLine["volume"];
}

/** A measured line: its spreads, ratio and verdict, or FAIL with the first failure's message. */
export function lineOf(input: LineInput, run: { at: string; cores: number; args: string }): BenchLine {
  const spread = (o: Outcome): Spread | null => (o.ok ? spreadOf(o.ms) : null);
  const failure = !input.tool.ok ? `restoretest: ${input.tool.message}` : !input.reference.outcome.ok ? `${input.reference.label}: ${input.reference.outcome.message}` : undefined;
  let ratio: Spread | null = null;
  let verdict: Verdict = "FAIL";
  if (failure === undefined && input.tool.ok && input.reference.outcome.ok) {
    const [num, den] = input.inverse ? [input.reference.outcome.ms, input.tool.ms] : [input.tool.ms, input.reference.outcome.ms];
    ratio = ratioOf(num, den, input.paired ?? false);
    verdict = verdictOf(ratio, input.target);
  }
  return {
    id: input.id,
    set: input.set,
    measured: input.measured,
    tool: spread(input.tool),
    reference: { label: input.reference.label, spread: spread(input.reference.outcome) },
    ratioName: input.ratioName,
    ratio,
    target: input.target,
    verdict,
    ...(failure !== undefined ? { failure } : {}),
    ...(input.readme ? { readme: true } : {}),
    ...(input.volume ? { volume: input.volume } : {}),
    ...run,
  };
}

/** The line as the bench prints it. */
export function lineText(line: BenchLine): string {
  const ratio = line.ratio === null ? { failed: line.failure ?? "not measured" } : line.ratio;
  return `${line.ratioName.padEnd(34)} ${formatRatio(ratio, line.target)}`;
}

export function readResults(file = RESULTS_FILE): BenchResults {
  if (!existsSync(file)) return { version: 1, lines: [] };
  return ResultsSchema.parse(JSON.parse(readFileSync(file, "utf8")));
}

/** `lines` merged into the file: the sets they come from replace their earlier lines, every other set's stay. */
export function mergeResults(before: BenchResults, lines: readonly BenchLine[]): BenchResults {
  const sets = new Set(lines.map((l) => l.set));
  return { version: 1, lines: [...before.lines.filter((l) => !sets.has(l.set)), ...lines].sort((a, b) => a.id.localeCompare(b.id)) };
}

export function writeResults(results: BenchResults, file = RESULTS_FILE): void {
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
}

const cell = (s: Spread | null, failure?: string) => (s === null ? `FAIL${failure ? `: ${failure}` : ""}` : `${fmtMs(s.median)} (${fmtMs(s.min)}–${fmtMs(s.max)})`);
const ratioCell = (l: BenchLine) =>
  l.ratio === null ? `**FAIL**: ${l.failure ?? "not measured"}` : `${l.ratio.median.toFixed(2)}× (${l.ratio.min.toFixed(2)}–${l.ratio.max.toFixed(2)}×; ${l.target.op} ${l.target.value}×): ${l.verdict === "within target" ? l.verdict : `**${l.verdict}**`}`;

/** The README's table: the headline lines. */
export function readmeTable(results: BenchResults): string {
  const rows = results.lines.filter((l) => l.readme).map((l) => `| ${l.measured} (\`${l.args || "npm run bench"}\`) | ${cell(l.tool)} | ${l.reference.label} ${cell(l.reference.spread)} | ${ratioCell(l)} |`);
  return ["| measured | restoretest (min–max) | against (min–max) | ratio (spread; target): verdict |", "| --- | --- | --- | --- |", ...rows].join("\n");
}

/** docs/performance.md's table: every line, with the run that measured it. */
export function performanceTable(results: BenchResults): string {
  const rows = results.lines.map(
    (l) => `| ${l.measured} | ${cell(l.tool)} | ${l.reference.label} ${cell(l.reference.spread)} | ${l.ratioName} | ${ratioCell(l)} | ${l.tool?.runs ?? "–"} | \`${l.args || "(defaults)"}\`, ${l.at.slice(0, 10)}, ${l.cores} cores |`,
  );
  return ["| measured | restoretest | against | ratio | value (spread; target): verdict | runs | run |", "| --- | --- | --- | --- | --- | --- | --- |", ...rows].join("\n");
}

const HOUR = 3_600_000;

/**
 * docs/performance.md's terabyte projection: each stage of (d) that moves the data at the rate it was measured at, as
 * hours per terabyte at every concurrency measured (backup and restore have none: one stream of files), beside the
 * GB/s it reached and the share of the datadir's sequential read limit that is. A projection, not a measurement: it
 * assumes a stage's time grows with the bytes, which (d)'s runs at two sizes can confirm (docs/performance.md).
 */
export function projectionTable(results: BenchResults): string {
  const rows = results.lines
    .filter((l) => l.volume && l.tool)
    .map((l) => {
      const v = l.volume as NonNullable<BenchLine["volume"]>;
      const median = (l.tool as Spread).median;
      const rate = v.bytes / median;
      const perTb = (ms: number) => `${(((ms / v.bytes) * 1e12) / HOUR).toFixed(2)} h`;
      const one = v.byConcurrency["1"];
      const alone = one === undefined ? "– (one stream of files)" : `${perTb(one)} (one run)`;
      return `| ${l.measured} | ${(v.bytes / 1e9).toFixed(2)} GB | ${(rate / 1e6).toFixed(2)} GB/s | ${((rate / v.readLimit) * 100).toFixed(0)}% of ${(v.readLimit / 1e6).toFixed(2)} GB/s | ${perTb(median)} | ${alone} | \`${l.args}\`, ${l.at.slice(0, 10)}, ${l.cores} cores |`;
    });
  return ["| stage | bytes | reached | of the read limit | per TB, as run | per TB, concurrency 1 | run |", "| --- | --- | --- | --- | --- | --- | --- |", ...rows].join("\n");
}

/** `markdown` with the text between `<!-- bench:NAME -->` and `<!-- /bench:NAME -->` replaced by `table`. */
export function replaceGenerated(markdown: string, name: string, table: string): string {
  const open = `<!-- bench:${name} -->`;
  const close = `<!-- /bench:${name} -->`;
  const from = markdown.indexOf(open);
  const to = markdown.indexOf(close);
  if (from < 0 || to < from) throw new Error(`no ${open} … ${close} markers`);
  return `${markdown.slice(0, from + open.length)}\n${table}\n${markdown.slice(to)}`;
}

export const GENERATED = [
  { file: "README.md", name: "readme", table: readmeTable },
  { file: "docs/performance.md", name: "lines", table: performanceTable },
  { file: "docs/performance.md", name: "projection", table: projectionTable },
] as const;
