// Binlog replay planning: which files and positions take a restored backup (position B) to the baseline's position P.
import type { Position } from "../baseline/manifest.ts";

export interface ReplayPlan {
  /** Binlog files in order, first at B.file, last at P.file. */
  files: string[];
  startPosition: number;
  stopPosition: number;
}

/** The numeric suffix of a binlog file name (mysql-bin.000042 → 42). */
export function binlogSequence(file: string): number {
  const m = /\.(\d+)$/.exec(file);
  if (!m) throw new Error(`not a binlog file name: ${file}`);
  return Number(m[1]);
}

export function comparePositions(a: Position, b: Position): number {
  const byFile = binlogSequence(a.file) - binlogSequence(b.file);
  return byFile !== 0 ? byFile : a.position - b.position;
}

/**
 * Null when nothing needs replaying (P = B). Throws, saying why, when P cannot be reached from B with `available`
 * files: P before B (the baseline describes an earlier point than the backup), or a file of the range missing.
 */
export function planReplay(backup: Position, baseline: Position, available: readonly string[]): ReplayPlan | null {
  const order = comparePositions(baseline, backup);
  if (order === 0) return null;
  if (order < 0) {
    throw new Error(
      `positions do not match: the baseline describes ${baseline.file}:${baseline.position}, before the backup's ${backup.file}:${backup.position}; ` +
        `a physical backup cannot be rolled back, so this baseline can never be verified against it (take baseline and backup in one job)`,
    );
  }
  const first = binlogSequence(backup.file);
  const last = binlogSequence(baseline.file);
  const bySequence = new Map(available.map((f) => [binlogSequence(f), f]));
  const files: string[] = [];
  const missing: number[] = [];
  for (let n = first; n <= last; n++) {
    const file = bySequence.get(n);
    if (file) files.push(file);
    else missing.push(n);
  }
  if (missing.length > 0) {
    const prefix = backup.file.replace(/\.\d+$/, "");
    throw new Error(
      `binlogs needed to replay from ${backup.file}:${backup.position} to ${baseline.file}:${baseline.position} are missing: ` +
        missing.map((n) => `${prefix}.${String(n).padStart(6, "0")}`).join(", "),
    );
  }
  return { files, startPosition: backup.position, stopPosition: baseline.position };
}
