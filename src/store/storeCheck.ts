// The nightly's `store › every stored file as written`: every stored file of the restored chain against the size and
// SHA-256 its checksums.json recorded, hashed beside the restore from its transfer on, so a file the restore
// survives (an undo tablespace, a tool's info file) is named even when every other test is green.
import { join } from "node:path";
import { BACKUP_META_FILE, VERIFIED_FILE, type StoredBackup } from "./layout.ts";
import { isPartialName } from "../base/partialFile.ts";
import { CHECKSUMS_FILE, checkDirectory, readChecksums } from "./checksums.ts";
import { hashFile, StoredFileError } from "./stored.ts";

export interface StoreCheckResult {
  /** Files listed in the chain's checksums.json (a stream's file included). */
  files: number;
  /** Bytes of them found as written. */
  bytes: number;
  /** Each file missing, cut short, changed, or in the store without an entry: named by its path. */
  problems: string[];
  /** What could not be checked, and why (a backup from before checksums were kept). */
  notes: string[];
  durationMs: number;
}

/** Files of a backup's directory its checksums.json does not list by design: written after it, or changing. */
function writtenAfter(path: string): boolean {
  return path === BACKUP_META_FILE || path === VERIFIED_FILE || path.startsWith(".") || isPartialName(path);
}

/**
 * One restore's check of the store. The pipeline calls `alongside` when its transfer starts (hashing every stored file
 * of the chain but those the transfer hashes itself as it reads them: a stream) and `transferred` with what the
 * transfer found of those; the suite's `store` test reads `result()`.
 */
export class StoreCheck {
  private running: Promise<StoreCheckResult> | undefined;
  private readonly fromTransfer: { problems: string[]; bytes: number; files: number } = { problems: [], bytes: 0, files: 0 };

  /**
   * Hash the chain's stored files while the transfer copies them, one file at a time as the copy goes (cp, tar), so
   * both read the same bytes from the disk once (the second read from the page cache). `hashedByTransfer`: paths
   * (backup dir, file) the transfer hashes as it reads them; only their presence is checked here.
   */
  alongside(chain: readonly StoredBackup[], hashedByTransfer: (link: StoredBackup) => readonly string[]): Promise<StoreCheckResult> {
    this.running ??= this.check(chain, hashedByTransfer);
    return this.running;
  }

  /** What the transfer found when it read (and hashed) a stored file: fine, or the StoredFileError naming it. */
  transferred(outcome: { bytes: number } | { error: unknown }): void {
    if ("bytes" in outcome) {
      this.fromTransfer.bytes += outcome.bytes;
      return;
    }
    if (outcome.error instanceof StoredFileError) this.fromTransfer.problems.push(outcome.error.message);
  }

  /** The check, once the transfer's hashing is done; undefined when the restore never reached the store's data. */
  async result(): Promise<StoreCheckResult | undefined> {
    const own = await this.running;
    if (!own) return undefined;
    const problems = [...own.problems];
    // The transfer's own finding on a file it hashed (a stream) replaces "not checked": it names the file too.
    for (const p of this.fromTransfer.problems) if (!problems.some((q) => q === p)) problems.push(p);
    return { ...own, bytes: own.bytes + this.fromTransfer.bytes, problems };
  }

  private async check(chain: readonly StoredBackup[], hashedByTransfer: (link: StoredBackup) => readonly string[]): Promise<StoreCheckResult> {
    const started = performance.now();
    const out: StoreCheckResult = { files: 0, bytes: 0, problems: [], notes: [], durationMs: 0 };
    for (const link of chain) {
      if (!link.meta.checksums) {
        out.notes.push(`${link.id} was taken before restoretest kept checksums: its files cannot be checked (the restore still proves it)`);
        continue;
      }
      try {
        const checksums = readChecksums(link.dir);
        if (!checksums) {
          out.problems.push(`${join(link.dir, CHECKSUMS_FILE)} is missing, though ${BACKUP_META_FILE} records its SHA-256: the list of this backup's files was deleted`);
          continue;
        }
        const own = await hashFile(join(link.dir, CHECKSUMS_FILE));
        if (own.sha256 !== link.meta.checksums) {
          out.problems.push(`${join(link.dir, CHECKSUMS_FILE)} is not the list written with the backup (${BACKUP_META_FILE} records another SHA-256): it was changed`);
        }
        const checked = await checkDirectory(link.dir, checksums, writtenAfter, new Set(hashedByTransfer(link)));
        out.files += checked.files;
        out.bytes += checked.bytes;
        out.problems.push(...checked.problems);
      } catch (error) {
        out.problems.push((error as Error).message);
      }
    }
    out.durationMs = performance.now() - started;
    return out;
  }
}

/**
 * The store test's message: the first problem on the first line (what Jenkins shows of a failure), every other one on
 * a line of its own below it.
 */
export function describeStoreProblems(result: StoreCheckResult): string {
  const [first, ...more] = result.problems;
  return [`${first ?? "no problem"}${more.length ? ` (and ${more.length} more stored file problem(s) below)` : ""}`, ...more.map((p) => `  ${p}`)].join("\n");
}
