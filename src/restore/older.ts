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
