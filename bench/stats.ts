// The bench's arithmetic and verdicts, pure: medians of an odd number of runs with their spread, ratios with the
// spread of their rounds, and the verdict of a ratio against its target, where a spread across the target is noise.

/** The median of an odd number of runs (at least 3), with the runs' min and max. */
export interface Spread {
  median: number;
  min: number;
  max: number;
  runs: number;
}

export const MIN_RUNS = 3;

/**
 * The median and min–max of `xs`. An even count has no middle run ("median" of two would be one of them), and fewer
 * than three runs have no spread worth the name: both are refused, so that no caller can print either as a median.
 */
export function spreadOf(xs: readonly number[]): Spread {
  if (xs.length < MIN_RUNS || xs.length % 2 === 0) throw new Error(`a median needs an odd number of runs, at least ${MIN_RUNS}: got ${xs.length}`);
  if (xs.some((x) => !Number.isFinite(x))) throw new Error(`a run's time is not a number: ${xs.join(", ")}`);
  const sorted = [...xs].sort((a, b) => a - b);
  return { median: sorted[(sorted.length - 1) / 2] as number, min: sorted[0] as number, max: sorted.at(-1) as number, runs: xs.length };
}

/**
 * `tool` over `reference`: the ratio of the medians, and its spread. Rounds run alternately pair up (the same state of
 * the machine), so the spread is that of each round's own ratio; otherwise it is the widest the runs allow (the
 * fastest tool run over the slowest reference run, and the reverse).
 */
export function ratioOf(tool: readonly number[], reference: readonly number[], paired = tool.length === reference.length): Spread {
  const t = spreadOf(tool);
  const r = spreadOf(reference);
  if (r.min <= 0) throw new Error(`a reference run took no time: ${reference.join(", ")}`);
  const median = t.median / r.median;
  if (paired) {
    if (tool.length !== reference.length) throw new Error(`paired rounds differ in number: ${tool.length} and ${reference.length}`);
    const rounds = tool.map((x, i) => x / (reference[i] as number));
    return { median, min: Math.min(...rounds), max: Math.max(...rounds), runs: rounds.length };
  }
  return { median, min: t.min / r.max, max: t.max / r.min, runs: Math.min(t.runs, r.runs) };
}

/** A ratio's target: at most (`≤`, restoretest against its floor) or at least (`≥`, a slower way against restoretest). */
export interface Target {
  op: "≤" | "≥";
  value: number;
}

export type Verdict = "within target" | "within noise" | "OUTSIDE TARGET" | "FAIL";

/**
 * The verdict of a ratio against its target. Every round within: within target. The median within but some round
 * outside: within noise (the runs cannot tell the two apart). The median outside: OUTSIDE TARGET, whatever the best
 * round says.
 */
export function verdictOf(ratio: Spread, target: Target): Verdict {
  const within = (x: number) => (target.op === "≤" ? x <= target.value : x >= target.value);
  if (!within(ratio.median)) return "OUTSIDE TARGET";
  return within(ratio.min) && within(ratio.max) ? "within target" : "within noise";
}

/** A contender's runs, or why it failed: a failed stage or check is never timed into a ratio. */
export type Outcome = { ok: true; ms: number[] } | { ok: false; message: string };

/** `runs` timed runs of `fn`; a throw, or a run whose result `failed` names a failure, makes the whole outcome FAIL. */
export async function measure<T>(runs: number, fn: () => Promise<T>, failed: (result: T) => string | undefined = () => undefined): Promise<Outcome> {
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    let result: T;
    try {
      result = await fn();
    } catch (error) {
      return { ok: false, message: (error as Error).message.split("\n")[0] ?? String(error) };
    }
    const elapsed = performance.now() - started;
    const why = failed(result);
    if (why !== undefined) return { ok: false, message: why };
    ms.push(elapsed);
  }
  return { ok: true, ms };
}

export const fmtMs = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`);

/** "2.50 s (2.41–2.77 s, 3 runs)". */
export function formatSpread(s: Spread, unit: (x: number) => string = fmtMs): string {
  return `${unit(s.median)} (${unit(s.min)}–${unit(s.max)}, ${s.runs} runs)`;
}

const times = (x: number) => `${x.toFixed(2)}×`;

/** One ratio line's text: "0.43× (0.40–0.47×; target ≤ 1.15×: within target)", or "FAIL: …" with its message. */
export function formatRatio(ratio: Spread | { failed: string }, target: Target): string {
  if ("failed" in ratio) return `FAIL: ${ratio.failed}`;
  return `${times(ratio.median)} (${ratio.min.toFixed(2)}–${times(ratio.max)}; target ${target.op} ${target.value}×: ${verdictOf(ratio, target)})`;
}
