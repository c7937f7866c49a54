// Backup chains: a full backup and the incrementals on top of it, found in the store and checked link by link (LSNs).
import { existsSync } from "node:fs";
import { join } from "node:path";
import { DATA_DIR, type BackupListing, type BackupMeta, type StoredBackup } from "./layout.ts";

/** What `xtrabackup_checkpoints` says: the kind of backup and the InnoDB LSN range its data covers. */
export interface Checkpoints {
  /** `full-backuped`, `incremental`, `log-applied`, `full-prepared`. */
  backupType: string;
  fromLsn: number;
  toLsn: number;
}

/** What the chain check needs of a backup tool (src/backup/tool.ts): whether it makes incrementals, and their LSNs. */
export type ChainTool =
  | { name: string; kind: "physical"; incremental: boolean; checkpointFiles?: readonly string[]; readCheckpoints(infoDir: string): Checkpoints | null }
  | { name: string; kind: "logical" };

/** What chain logic needs of a stored backup. */
export interface Link {
  id: string;
  meta: Pick<BackupMeta, "kind" | "base">;
}

export interface Chain<T extends Link = StoredBackup> {
  /** Full first, then each incremental in the order it applies. */
  links: T[];
  /** Why the chain cannot be restored (its full or a middle link is gone); undefined when whole. */
  broken?: string;
}

/** Group backups (oldest first) into chains, oldest chain first; an incremental whose base is gone starts a broken one. */
export function groupChains<T extends Link>(backups: readonly T[]): Chain<T>[] {
  const chains: Chain<T>[] = [];
  const chainOf = new Map<string, Chain<T>>();
  for (const backup of backups) {
    const base = backup.meta.base;
    let chain = backup.meta.kind === "incremental" && base ? chainOf.get(base) : undefined;
    if (!chain) {
      chain = { links: [] };
      if (backup.meta.kind === "incremental") chain.broken = `its base ${base ?? "(not recorded)"} is not in the store`;
      chains.push(chain);
    }
    chain.links.push(backup);
    chainOf.set(backup.id, chain);
  }
  return chains;
}

/**
 * The chain that restores `newestId`: its base links back to the full, full first. Throws naming the missing link
 * (and why the store skipped it, when it is there but incomplete).
 */
export function resolveChain<T extends Link>(backups: readonly T[], newestId: string, incomplete: BackupListing["incomplete"] = []): T[] {
  const byId = new Map(backups.map((b) => [b.id, b]));
  const links: T[] = [];
  let current = byId.get(newestId);
  if (!current) throw new Error(`backup ${newestId} is not a complete backup in the store`);
  for (;;) {
    links.unshift(current);
    if (current.meta.kind === "full") return links;
    const base = current.meta.base;
    if (!base) throw new Error(`incremental backup ${current.id} does not record its base (backup.json has no "base"): its chain cannot be found`);
    if (links.some((l) => l.id === base)) throw new Error(`backup chain of ${newestId} loops at ${base}`);
    const next = byId.get(base);
    if (!next) {
      const skipped = incomplete.find((b) => b.id === base);
      const why = skipped ? `is incomplete (${skipped.reason})` : "is missing from the store (deleted?)";
      const after = links.map((l) => l.id).join(" → ");
      throw new Error(
        `backup chain of ${newestId} is broken: link ${base}, the base of incremental ${current.id}, ${why}; ` +
          `the links after it (${after}) cannot be restored. Take a full backup (backup.policy: full once, or fullEvery) to start a new chain`,
      );
    }
    current = next;
  }
}

/**
 * Refuse a chain whose LSNs do not join: the first link must be a full backup, and each incremental must start at
 * the LSN where the link before it ends. Names the link at fault and what is missing.
 */
export function checkChainLsns(links: readonly { id: string; checkpoints: Checkpoints | null; file?: string }[]): void {
  let previous: { id: string; checkpoints: Checkpoints } | undefined;
  for (const [i, link] of links.entries()) {
    const c = link.checkpoints;
    const file = link.file ?? `${link.id}/${DATA_DIR}/xtrabackup_checkpoints`;
    if (!c) throw new Error(`backup chain link ${link.id} has no readable ${file}: its LSN range is unknown, so the chain cannot be checked`);
    if (i === 0) {
      if (c.backupType === "incremental") {
        throw new Error(`backup chain starts with incremental ${link.id} (from_lsn ${c.fromLsn}): the full backup the chain needs is missing`);
      }
    } else if (c.backupType !== "incremental") {
      throw new Error(`backup chain link ${link.id} is a ${c.backupType} backup, not an incremental: it cannot be applied on top of ${previous?.id}`);
    } else if (previous && c.fromLsn !== previous.checkpoints.toLsn) {
      const detail =
        c.fromLsn > previous.checkpoints.toLsn
          ? `the changes between LSN ${previous.checkpoints.toLsn} and ${c.fromLsn} are missing: a link ending at LSN ${c.fromLsn} is not in the chain`
          : `it was taken on an older base than ${previous.id} (out of order, or a link was replaced)`;
      throw new Error(
        `backup chain does not join at ${link.id}: it starts at LSN ${c.fromLsn} but ${previous.id} ends at LSN ${previous.checkpoints.toLsn}; ${detail}`,
      );
    }
    previous = { id: link.id, checkpoints: c };
  }
}

/** Read each link's checkpoints file (`xtrabackup_checkpoints`, `mariadb_backup_checkpoints`) from the store and check the chain joins (physical tools only). */
export function checkStoredChain(links: readonly StoredBackup[], tool: ChainTool): void {
  // A full-only tool (a dump, a clone) has no LSN range to join: its chain is its one backup.
  if (tool.kind !== "physical" || !tool.incremental) {
    if (links.length > 1) throw new Error(`backup chain of ${links.at(-1)?.id} has incrementals, but ${tool.name} backups cannot have any`);
    return;
  }
  // The file the tool wrote (MariaDB 11.8: mariadb_backup_checkpoints), or every name it could have had.
  const names = tool.checkpointFiles ?? ["xtrabackup_checkpoints"];
  const file = (dir: string) => join(dir, names.find((n) => existsSync(join(dir, n))) ?? (names.length > 1 ? `{${names.join(",")}}` : (names[0] as string)));
  checkChainLsns(links.map((l) => ({ id: l.id, checkpoints: tool.readCheckpoints(l.infoDir), file: file(l.infoDir) })));
}
