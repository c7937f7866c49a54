// Which older retained backups a night proves besides the newest (`verify.older: N`): those proven least recently.

export interface ProvenBackup {
  id: string;
  /** When the backup finished (its data's age). */
  finishedAt: string;
  /** When a restore of it last verified green; undefined when none ever did. */
  verifiedAt?: string;
}

/**
 * The `count` backups other than `newestId` to restore tonight: never verified ones first, oldest first (they have gone
 * unproven longest), then the verified ones whose last proof is oldest. Pure: the store is read by the caller.
 */
export function olderToVerify<T extends ProvenBackup>(backups: readonly T[], newestId: string, count: number): T[] {
  const since = (b: T) => Date.parse(b.verifiedAt ?? b.finishedAt);
  return backups
    .filter((b) => b.id !== newestId)
    .sort((a, b) => Number(a.verifiedAt !== undefined) - Number(b.verifiedAt !== undefined) || since(a) - since(b) || a.id.localeCompare(b.id))
    .slice(0, count);
}

/** How long the retained backups have gone unproven: the longest, and the oldest never verified. */
export interface Unproven {
  /** The longest any retained backup has gone without a green verification: now − (its last one, or its finish). */
  longestMs: number;
  /** The backup that has gone unproven that long. */
  backupId: string;
  /** The oldest retained backup never verified, and its age; null when every one was. */
  neverVerified: { id: string; ageMs: number } | null;
}

/** The retained backups' unproven time at `now`; null without any backup. */
export function unprovenOf(backups: readonly ProvenBackup[], now: Date): Unproven | null {
  let longest: { ms: number; id: string } | undefined;
  for (const b of backups) {
    const ms = Math.max(0, now.getTime() - Date.parse(b.verifiedAt ?? b.finishedAt));
    if (!longest || ms > longest.ms) longest = { ms, id: b.id };
  }
  if (!longest) return null;
  const never = backups.find((b) => b.verifiedAt === undefined);
  return { longestMs: longest.ms, backupId: longest.id, neverVerified: never ? { id: never.id, ageMs: Math.max(0, now.getTime() - Date.parse(never.finishedAt)) } : null };
}

/**
 * The retained backup taken next after `id` (by finish time): where the archive proof of `id` rolls forward to. Null for
 * the newest, or an id not among them.
 */
export function nextBackup<T extends Pick<ProvenBackup, "id" | "finishedAt">>(backups: readonly T[], id: string): T | null {
  const ordered = [...backups].sort((a, b) => Date.parse(a.finishedAt) - Date.parse(b.finishedAt) || a.id.localeCompare(b.id));
  const at = ordered.findIndex((b) => b.id === id);
  return at < 0 ? null : (ordered[at + 1] ?? null);
}
