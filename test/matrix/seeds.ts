// Which seeds a matrix run takes: RESTORETEST_MATRIX_SEED replays; else fixed ones and one random, printed by the caller.

/** RESTORETEST_MATRIX_SEED (a comma list) when set; else `fixed` and one random seed. */
export function matrixSeeds(fixed: readonly number[], env = process.env.RESTORETEST_MATRIX_SEED): number[] {
  if (env) {
    const seeds = env.split(",").map((s) => Number(s.trim()));
    const bad = seeds.filter((s) => !Number.isSafeInteger(s));
    if (bad.length) throw new Error(`RESTORETEST_MATRIX_SEED=${env}: seeds are integers, comma-separated`);
    return seeds;
  }
  return [...fixed, Math.floor(Math.random() * 2 ** 31)];
}
