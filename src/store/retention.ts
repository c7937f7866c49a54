// Retention: which chains and archived binlogs a service keeps after a backup, and deleting the rest.
import { existsSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { Position } from "../binlog/position.ts";
import { binlogSequence } from "../binlog/replay.ts";
import { groupChains, type Chain, type Link } from "./chain.ts";
import { describeReader, readersOf } from "./inUse.ts";
import { BINLOG_ARCHIVE_DIR, listBackups, serviceDir, type StoredBackup } from "./layout.ts";
import { parseStoredName } from "./encoding.ts";

export interface RetentionPlan<T extends Link> {
  keep: Chain<T>[];
  /** Oldest first. */
  remove: Chain<T>[];
  /** Kept only because a restore is reading them (they would go otherwise). */
  keptInUse: Chain<T>[];
}

/**
 * Keep the newest `keepChains` whole chains, and always the newest chain that verified green (a restore proved it),
 * however old, and every chain a restore is reading now (`inUse`). Broken chains (a link gone) older than the oldest
 * kept chain go too; newer ones stay for a person to see.
 */
export function planRetention<T extends Link & { verified: boolean }>(
  chains: readonly Chain<T>[],
  keepChains: number,
  inUse: (link: T) => boolean = () => false,
): RetentionPlan<T> {
  const whole = chains.filter((c) => !c.broken);
  const kept = new Set<Chain<T>>(whole.slice(-keepChains));
  const newestGreen = whole.findLast((c) => c.links.some((l) => l.verified));
  if (newestGreen) kept.add(newestGreen);
  const keptInUse = chains.filter((c) => !kept.has(c) && c.links.some(inUse));
  for (const chain of keptInUse) kept.add(chain);
  const oldestKept = chains.findIndex((c) => kept.has(c));
  const keep: Chain<T>[] = [];
  const remove: Chain<T>[] = [];
  for (const [i, chain] of chains.entries()) {
    if (kept.has(chain) || (chain.broken && i > oldestKept && oldestKept >= 0)) keep.push(chain);
    else remove.push(chain);
  }
  return { keep, remove, keptInUse };
}

/** Archived binlog files entirely before `oldestKept` (the oldest kept backup's position): nothing restorable needs them. */
export function binlogsToPrune(archived: readonly string[], oldestKept: Position | null): string[] {
  if (!oldestKept) return [];
  const first = binlogSequence(oldestKept.file);
  return archived.filter((f) => binlogSequence(f) < first);
}

export interface RetentionResult {
  removedBackups: string[];
  removedBinlogs: string[];
}

/** Apply the plan to the store (run under the service's backup lock). Links are removed newest first within a chain. */
export function applyRetention(store: string, service: string, keepChains: number, log: (line: string) => void = () => undefined): RetentionResult {
  const listing = listBackups(store, service);
  const readers = new Map<string, string>();
  const plan = planRetention(groupChains(listing.complete), keepChains, (link) => {
    const now = readersOf(link.dir);
    if (now.length > 0) readers.set(link.id, now.map(describeReader).join(", "));
    return now.length > 0;
  });
  for (const chain of plan.keptInUse) {
    const link = chain.links.find((l) => readers.has(l.id));
    log(`retention: keeping chain of ${chain.links[0]?.id}: ${link?.id} is being read by ${link ? readers.get(link.id) : "a restore"}`);
  }
  const result: RetentionResult = { removedBackups: [], removedBinlogs: [] };
  for (const chain of plan.remove) {
    for (const link of [...chain.links].reverse()) {
      rmSync(link.dir, { recursive: true, force: true });
      result.removedBackups.push(link.id);
    }
    log(`retention: removed chain of ${chain.links[0]?.id} (${chain.links.length} backup(s)${chain.broken ? `, broken: ${chain.broken}` : ""})`);
  }
  const oldest: StoredBackup | undefined = plan.keep[0]?.links[0];
  // Leftovers of crashed jobs older than everything kept can belong to no chain that is kept.
  for (const b of listing.incomplete) {
    if (oldest && b.id < oldest.id) {
      rmSync(join(serviceDir(store, service), b.id), { recursive: true, force: true });
      result.removedBackups.push(b.id);
      log(`retention: removed incomplete ${b.id} (${b.reason})`);
    }
  }
  const archive = join(serviceDir(store, service), BINLOG_ARCHIVE_DIR);
  if (oldest && existsSync(archive)) {
    // Sealed files (`mysql-bin.000001.zst.age`) by their plain names. Their checksums.json entries are left to the
    // copier, its only writer (sealArchive drops entries of files that are gone); verify-store notes them meanwhile.
    const files = readdirSync(archive).filter((f) => /\.\d+$/.test(parseStoredName(f).name));
    const prune = new Set(binlogsToPrune(files.map((f) => parseStoredName(f).name), oldest.meta.position));
    for (const file of files.filter((f) => prune.has(parseStoredName(f).name))) {
      rmSync(join(archive, file), { force: true });
      result.removedBinlogs.push(file);
    }
    if (result.removedBinlogs.length > 0) log(`retention: removed ${result.removedBinlogs.length} archived binlog(s) before ${oldest.meta.position?.file}`);
  }
  return result;
}
