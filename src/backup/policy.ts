// The backup policy: whether the next backup of a service is a full one or an incremental on top of the newest link.
import type { BackupMeta } from "../store/layout.ts";

export interface BackupPolicy {
  policy: "full" | "incremental";
  /** Backups per chain: the full counts as one. */
  fullEvery: number;
  /** A chain whose full is this old gets a new full, whatever its length. */
  fullEveryDays?: number;
  /** The configured tool: a chain taken with another tool cannot be continued. */
  tool: { name: string; incremental: boolean };
}

export type BackupDecision = { kind: "full"; reason: string } | { kind: "incremental"; base: string; reason: string };

type ChainMeta = Pick<BackupMeta, "id" | "kind" | "tool" | "startedAt" | "checkpoints">;

const DAY_MS = 86_400_000;

/**
 * Full or incremental, and why. `chain` is the newest chain's links (full first), empty when there is none that can be
 * continued (no backup yet, or its chain is broken).
 */
export function nextBackupKind(chain: readonly ChainMeta[], policy: BackupPolicy, now: Date): BackupDecision {
  if (policy.policy === "full") return { kind: "full", reason: "backup.policy is full" };
  if (!policy.tool.incremental) return { kind: "full", reason: `${policy.tool.name} cannot take incrementals` };
  const full = chain[0];
  const newest = chain.at(-1);
  if (!full || !newest) return { kind: "full", reason: "no chain to continue" };
  if (full.kind !== "full") return { kind: "full", reason: `the newest chain has no full backup (starts with ${full.id})` };
  if (newest.tool !== policy.tool.name) return { kind: "full", reason: `the newest chain was taken with ${newest.tool}, backup.tool is ${policy.tool.name}` };
  if (!newest.checkpoints) return { kind: "full", reason: `${newest.id} recorded no LSNs (xtrabackup_checkpoints) to continue from` };
  if (chain.length >= policy.fullEvery) {
    return { kind: "full", reason: `the chain of ${full.id} has ${chain.length} backup(s) (backup.fullEvery: ${policy.fullEvery})` };
  }
  if (policy.fullEveryDays !== undefined) {
    const ageDays = (now.getTime() - Date.parse(full.startedAt)) / DAY_MS;
    if (ageDays >= policy.fullEveryDays) {
      return { kind: "full", reason: `the chain's full ${full.id} is ${ageDays.toFixed(1)} days old (backup.fullEveryDays: ${policy.fullEveryDays})` };
    }
  }
  return { kind: "incremental", base: newest.id, reason: `backup ${chain.length + 1} of ${policy.fullEvery} in the chain of ${full.id}` };
}
