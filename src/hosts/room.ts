// Free space where a copy is about to land (a restore's workDir, the backup store), so that a copy that cannot fit
// fails at once, naming both numbers and the setting, rather than minutes later with cp's "No space left on device".
import { statfsSync } from "node:fs";
import type { Target } from "./types.ts";

/** Bytes an unprivileged writer may still use on the filesystem holding `path` (statfs: f_bavail × f_bsize). */
export function freeBytesHere(path: string): number {
  const stat = statfsSync(path);
  return Number(stat.bavail) * Number(stat.bsize);
}

/** `df -P -B1 <dir>` output: the "Available" column of its one data line. */
export function parseDfAvailable(output: string, dir: string): number {
  const line = output.trim().split("\n").at(-1) ?? "";
  // Filesystem 1-blocks Used Available Capacity Mounted-on; a long device name never wraps with -P.
  const fields = line.trim().split(/\s+/);
  const available = Number(fields[3]);
  if (fields.length < 6 || !Number.isFinite(available)) throw new Error(`cannot read the free space of ${dir} from df: ${JSON.stringify(output.trim().slice(0, 200))}`);
  return available;
}

/** Free bytes in the target's own directory: statfs here, `df` through the target's exec on another host. */
export async function freeBytesOn(t: Target): Promise<number> {
  if (t.thisHost) return freeBytesHere(t.workDir);
  const df = await t.exec("df", ["-P", "-B1", t.workDir], { timeoutMs: 60_000 });
  return parseDfAvailable(df.stdout, t.workDir);
}

export function formatBytes(bytes: number): string {
  return bytes >= 1e9 ? `${(bytes / 1e9).toFixed(2)} GB (${bytes} bytes)` : `${(bytes / 1e6).toFixed(1)} MB (${bytes} bytes)`;
}

/** The failure when `needed` does not fit in `free`: both numbers, where, and the setting that chose the place. */
export class NoRoomError extends Error {
  override name = "NoRoomError";
  constructor(
    readonly needed: number,
    readonly free: number,
    readonly where: string,
    readonly setting: string,
    what: string,
  ) {
    super(`not enough room in ${where} (${setting}): ${what} needs ${formatBytes(needed)}, ${formatBytes(free)} free there; nothing was copied. Free space there or point ${setting} elsewhere`);
  }
}
