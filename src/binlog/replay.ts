// Binlog replay planning: which files and positions take a restored backup (position B) to the baseline's position P,
// or to a point in time, and the shell line that replays them into the restored server.
import type { Position } from "./position.ts";
import { shellQuote } from "../base/command.ts";

export interface ReplayPlan {
  /** Binlog files in order, first at B.file, last at P.file (or the newest one available, for a time). */
  files: string[];
  startPosition: number;
  /** Stop at this position of the last file... */
  stopPosition?: number;
  /** ...or at the first event at or after this UTC time ("YYYY-MM-DD HH:MM:SS"), for a point-in-time restore. */
  stopDatetime?: string;
}

/** The numeric suffix of a binlog file name (mysql-bin.000042 → 42). */
export function binlogSequence(file: string): number {
  const m = /\.(\d+)$/.exec(file);
  if (!m) throw new Error(`not a binlog file name: ${file}`);
  return Number(m[1]);
}

export function comparePositions(a: Pick<Position, "file" | "position">, b: Pick<Position, "file" | "position">): number {
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
  const files = fileRange(backup.file, baseline.file, available, `${backup.file}:${backup.position} to ${baseline.file}:${baseline.position}`);
  return { files, startPosition: backup.position, stopPosition: baseline.position };
}

/** The files from `first` to `last` in sequence order; throws naming every missing one. */
function fileRange(first: string, last: string, available: readonly string[], what: string): string[] {
  const bySequence = new Map(available.map((f) => [binlogSequence(f), f]));
  const files: string[] = [];
  const missing: number[] = [];
  for (let n = binlogSequence(first); n <= binlogSequence(last); n++) {
    const file = bySequence.get(n);
    if (file) files.push(file);
    else missing.push(n);
  }
  if (missing.length > 0) {
    const prefix = first.replace(/\.\d+$/, "");
    throw new Error(`binlogs needed to replay from ${what} are missing: ${missing.map((n) => `${prefix}.${String(n).padStart(6, "0")}`).join(", ")}`);
  }
  return files;
}

/** "YYYY-MM-DD HH:MM:SS" in UTC, as mariadb-binlog --stop-datetime reads it when run with TZ=UTC. */
export function binlogDatetime(time: Date): string {
  return time.toISOString().replace("T", " ").replace(/\.\d+Z$/, "");
}

/**
 * Replay from B to a point in time: every file from B's on (`available` must hold them without a gap), stopping at the
 * first event at or after `time`. Throws naming the missing files.
 */
export function planReplayToTime(backup: Position, time: Date, available: readonly string[]): ReplayPlan {
  const what = `${backup.file}:${backup.position} to ${binlogDatetime(time)} UTC`;
  const last = [...available].sort((a, b) => binlogSequence(a) - binlogSequence(b)).at(-1);
  if (!last || binlogSequence(last) < binlogSequence(backup.file)) throw new Error(`binlogs needed to replay from ${what} are missing: ${backup.file} and after`);
  return { files: fileRange(backup.file, last, available, what), startPosition: backup.position, stopDatetime: binlogDatetime(time) };
}

/**
 * The shell line that pipes the planned binlog events into the restored server (pipefail: either side failing fails it),
 * through the client option file that holds its socket and verifier account (no password on a command line).
 */
export function replayScript(plan: ReplayPlan, binlogDir: string, clientOptionFile: string, flavor: { binlog: string; client: string }): string {
  const files = plan.files.map((f) => shellQuote(`${binlogDir}/${f}`)).join(" ");
  const stop =
    plan.stopDatetime !== undefined
      ? ` --stop-datetime=${shellQuote(plan.stopDatetime)}`
      : plan.stopPosition !== undefined
        ? ` --stop-position=${plan.stopPosition}`
        : "";
  // --stop-datetime is read in the local time zone of mariadb-binlog: pinned to UTC, the plan's times mean one thing everywhere.
  const tz = plan.stopDatetime !== undefined ? "TZ=UTC " : "";
  return (
    `set -o pipefail; ${tz}${shellQuote(flavor.binlog)} --start-position=${plan.startPosition}${stop} ${files}` +
    ` | ${shellQuote(flavor.client)} --defaults-file=${shellQuote(clientOptionFile)} --binary-mode`
  );
}
