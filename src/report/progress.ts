// How restore progress reads: one plain line per event, in CI logs and on a terminal alike, and when it is shown live.
import { formatDuration, parseDuration } from "../base/duration.ts";
import { scaled } from "../base/size.ts";
import type { ProgressArtifact } from "./meta.ts";

export interface ProgressSettings {
  /** A person at a terminal: one live line. Otherwise (CI, a pipe, a log file): a plain line per event. */
  interactive: boolean;
  /** How often a running step reports (its heartbeat in the worker). */
  intervalMs: number;
}

/** Interactive on a TTY outside CI; RESTORETEST_PROGRESS_INTERVAL (a duration like "10s") sets the heartbeat. */
export function progressSettings(env: NodeJS.ProcessEnv = process.env, stream: { isTTY?: boolean } = process.stderr): ProgressSettings {
  const interactive = Boolean(stream.isTTY) && !env.CI;
  const configured = env.RESTORETEST_PROGRESS_INTERVAL ? parseDuration(env.RESTORETEST_PROGRESS_INTERVAL) : undefined;
  return { interactive, intervalMs: configured ?? (interactive ? 2_000 : 10_000) };
}

export function formatBytes(bytes: number): string {
  const { value, unit, index } = scaled(bytes, 1000, ["B", "kB", "MB", "GB", "TB"]);
  return `${value.toFixed(index === 0 ? 0 : 1)} ${unit}`;
}

/**
 * `1.2 GB at 60.0 MB/s` for a step that moved bytes, `1.2 GB at 60.0 MB/s (310.5 MB read from the store)` when the
 * store holds them compressed; empty otherwise.
 */
export function transferred(bytes: number | undefined, elapsedMs: number, storedBytes?: number): string {
  if (bytes === undefined && storedBytes === undefined) return "";
  const shown = bytes ?? 0;
  const rate = elapsedMs > 0 ? `${formatBytes((shown * 1000) / elapsedMs)}/s` : "-";
  return `, ${formatBytes(shown)} at ${rate}${storedBytes === undefined ? "" : ` (${formatBytes(storedBytes)} read from the store)`}`;
}

/** One plain line for an event: what CI logs show. */
export function progressLine(p: Pick<ProgressArtifact, "service" | "step" | "phase" | "elapsedMs" | "bytes" | "storedBytes">): string {
  const where = `[restoretest] ${p.service} › ${p.step}`;
  switch (p.phase) {
    case "start":
      return `${where}: started`;
    case "running":
      return `${where}: running ${formatDuration(p.elapsedMs)}${transferred(p.bytes, p.elapsedMs, p.storedBytes)}`;
    case "done":
      return `${where}: done in ${formatDuration(p.elapsedMs)}${transferred(p.bytes, p.elapsedMs, p.storedBytes)}`;
    case "failed":
      return `${where}: FAILED after ${formatDuration(p.elapsedMs)}`;
  }
}

