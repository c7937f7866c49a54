// The fleet's status in one table (and the same as data): each service's newest backup and chain from the store, and
// its last verification, RTO, RPO and objective breaches from the last summary.json. Pure: src/report/statusGather.ts reads.
import { resolveChain } from "../store/chain.ts";
import type { BackupListing, ReplicaHold } from "../store/layout.ts";
import { formatDuration } from "../base/duration.ts";
import { unprovenOf, type Unproven } from "../restore/older.ts";

/** What the store says about one service (a BackupListing, plus when each green verification happened). */
export interface StoreFacts {
  complete: (Pick<BackupListing["complete"][number], "id" | "verified"> & {
    meta: Pick<BackupListing["complete"][number]["meta"], "kind" | "base" | "finishedAt" | "bytes" | "replicaHold">;
    /** From verified.json, when the backup verified green. */
    verifiedAt?: string;
  })[];
  incomplete: BackupListing["incomplete"];
}

/** What a summary.json record says about one service (only the fields status shows; later fields are ignored). */
export interface SummaryFacts {
  verdict: "pass" | "fail";
  verifiedAt: string;
  backupId: string | null;
  rtoMs: number | null;
  rpoMs: number | null;
  failedStep: string | null;
  failed: string[];
  /** The `objectives` field as summary.json carries it; undefined when the summary has none. */
  objectives?: unknown;
}

export interface ServiceStatus {
  service: string;
  /** `replicaHold`: how long that backup held its source while the baseline was read (null: not recorded). */
  newestBackup: { id: string; kind: "full" | "incremental"; finishedAt: string; ageMs: number; bytes: number; replicaHold: ReplicaHold | null } | null;
  /** Backups of the service the store skipped (no backup.json: unfinished, interrupted or damaged). */
  incompleteBackups: number;
  /** The chain that restores the newest backup: its length, or why it cannot be restored. */
  chain: { length: number } | { broken: string } | null;
  lastVerified: {
    at: string;
    verdict: "pass" | "fail";
    /** `summary`: the last summary.json; `store`: only a green verified.json (the service was not in that summary). */
    from: "summary" | "store";
    backupId: string | null;
    failedStep: string | null;
    failed: string[];
  } | null;
  rtoMs: number | null;
  rpoMs: number | null;
  /** Names of the objectives breached; null when the summary carries no objectives for the service. */
  breaches: string[] | null;
  /** How long the retained backups have gone unproven (verify.older proves them); null without a backup. */
  unproven: Unproven | null;
}

export interface FleetStatus {
  version: 1;
  generatedAt: string;
  /** The summary.json read, or why none was. */
  summary: { path: string; generatedAt: string | null; problem: string | null };
  services: ServiceStatus[];
}

/** One service's row, from its store listing and its summary.json record (either may be empty). */
export function serviceStatus(service: string, store: StoreFacts, summary: SummaryFacts | undefined, now: Date): ServiceStatus {
  const newest = store.complete.at(-1);
  let chain: ServiceStatus["chain"] = null;
  if (newest) {
    try {
      chain = { length: resolveChain(store.complete, newest.id, store.incomplete).length };
    } catch (error) {
      chain = { broken: (error as Error).message };
    }
  }
  const green = store.complete.filter((b) => b.verified && b.verifiedAt).at(-1);
  const lastVerified: ServiceStatus["lastVerified"] = summary
    ? { at: summary.verifiedAt, verdict: summary.verdict, from: "summary", backupId: summary.backupId, failedStep: summary.failedStep, failed: summary.failed }
    : green
      ? { at: green.verifiedAt as string, verdict: "pass", from: "store", backupId: green.id, failedStep: null, failed: [] }
      : null;
  return {
    service,
    newestBackup: newest
      ? {
          id: newest.id,
          kind: newest.meta.kind,
          finishedAt: newest.meta.finishedAt,
          ageMs: Math.max(0, now.getTime() - Date.parse(newest.meta.finishedAt)),
          bytes: newest.meta.bytes,
          replicaHold: newest.meta.replicaHold ?? null,
        }
      : null,
    incompleteBackups: store.incomplete.length,
    chain,
    lastVerified,
    rtoMs: summary?.rtoMs ?? null,
    rpoMs: summary?.rpoMs ?? null,
    // "-" where the service sets no objectives (or the summary predates them); "none" where all were met.
    breaches: Array.isArray(summary?.objectives) && summary.objectives.length > 0 ? objectiveBreaches(summary.objectives) : null,
    unproven: unprovenOf(
      store.complete.map((b) => ({ id: b.id, finishedAt: b.meta.finishedAt, ...(b.verified && b.verifiedAt ? { verifiedAt: b.verifiedAt } : {}) })),
      now,
    ),
  };
}

/** The names of the objectives breached, from a summary's `objectives` list (`{ name, breached }`, src/report/summary.ts). */
export function objectiveBreaches(objectives: unknown): string[] {
  if (!Array.isArray(objectives)) return [];
  return objectives.filter((o: { breached?: unknown }) => o?.breached === true).map((o: { name?: unknown }) => String(o.name));
}

/** `3d 04h`, `2h 05m`, `4m 10s`: ages and durations at a glance. */
export function formatAge(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, "0")}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${String(m % 60).padStart(2, "0")}m`;
  return `${Math.floor(h / 24)}d ${String(h % 24).padStart(2, "0")}h`;
}

const HEADERS = ["SERVICE", "NEWEST BACKUP", "AGE", "SOURCE HELD", "CHAIN", "LAST VERIFIED", "VERDICT", "RTO", "RPO", "BREACHES", "UNPROVEN"] as const;

/** `2026-11-25 03:40Z`: minutes are enough to tell nights apart, and UTC is the same on every agent. */
function shortTime(iso: string): string {
  return iso.replace("T", " ").replace(/:\d\d(\.\d+)?Z$/, "Z");
}

/** The table, then one note per thing a reader must act on (broken chain, unverified newest backup, no summary). */
export function formatStatus(status: FleetStatus): string {
  const now = Date.parse(status.generatedAt);
  const rows = status.services.map((s) => {
    const b = s.newestBackup;
    const v = s.lastVerified;
    const verdict = !v ? "never verified" : `${v.verdict === "pass" ? "pass" : "FAIL"}${v.failedStep ? ` at ${v.failedStep}` : ""}${v.from === "store" ? " (store)" : ""}`;
    return [
      s.service,
      b ? `${b.id} (${b.kind})` : "none",
      b ? formatAge(b.ageMs) : "-",
      // The backup's cost to its source: the replica's SQL thread stopped or the snapshots open, while the baseline was read.
      b?.replicaHold ? `${formatDuration(b.replicaHold.heldMs)} ${b.replicaHold.consistency}` : "-",
      !s.chain ? "-" : "length" in s.chain ? String(s.chain.length) : "BROKEN",
      v ? `${shortTime(v.at)} (${formatAge(now - Date.parse(v.at))} ago)` : "-",
      verdict,
      // Seconds matter in a restore time; ages read well in whole units.
      s.rtoMs === null ? "-" : formatDuration(s.rtoMs),
      s.rpoMs === null ? "-" : formatAge(s.rpoMs),
      s.breaches === null ? "-" : s.breaches.length === 0 ? "none" : s.breaches.join(", "),
      // The longest any retained backup has gone without a green verification.
      s.unproven ? formatAge(s.unproven.longestMs) : "-",
    ];
  });
  const widths = HEADERS.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => c.padEnd(widths[i] as number)).join("  ").trimEnd();
  const notes: string[] = [];
  for (const s of status.services) {
    if (!s.newestBackup) notes.push(`${s.service}: no complete backup in the store: take one with restoretest backup ${s.service}`);
    if (s.chain && "broken" in s.chain) notes.push(`${s.service}: ${s.chain.broken}`);
    if (s.incompleteBackups > 0) notes.push(`${s.service}: ${s.incompleteBackups} incomplete backup(s) in the store (restoretest list names them)`);
    const v = s.lastVerified;
    if (v?.verdict === "fail" && v.failed.length > 0) notes.push(`${s.service}: failed: ${v.failed.slice(0, 3).join("; ")}${v.failed.length > 3 ? ` (+${v.failed.length - 3} more)` : ""}`);
    if (s.newestBackup && v?.backupId && v.backupId !== s.newestBackup.id) {
      notes.push(`${s.service}: the newest backup ${s.newestBackup.id} has not been verified yet (last verified: ${v.backupId})`);
    }
    const never = s.unproven?.neverVerified;
    if (never && never.id !== s.newestBackup?.id) {
      notes.push(`${s.service}: backup ${never.id} is the oldest retained backup never verified (${formatAge(never.ageMs)} old): verify.older restores it`);
    }
    if (!v && s.newestBackup) notes.push(`${s.service}: no verification on record: not in the last summary and no backup verified green in the store`);
  }
  const summary = status.summary;
  const source = summary.problem
    ? `summary: ${summary.path}: ${summary.problem}`
    : `summary: ${summary.path} (written ${summary.generatedAt ? shortTime(summary.generatedAt) : "?"})`;
  return [line(HEADERS), ...rows.map(line), "", source, ...notes].join("\n");
}
