// checksums.json: every file a backup (or the binlog archive) stores, with its size and SHA-256 as written, so that
// `restoretest verify-store` checks the whole store without reading a byte through a server, and a restore checks
// what it reads.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { z } from "zod";
import { writeFileAtomic } from "../base/partialFile.ts";
import { damaged, StoredFileError, type StoredFile } from "./stored.ts";
import { hashFiles, type FileHash } from "./hashFiles.ts";

/** Stored files hashed at once by checkDirectory (verify-store and the nightly's store check), each on a thread. */
const HASH_THREADS = 2;

export const CHECKSUMS_FILE = "checksums.json";

const StoredFileSchema = z.strictObject({
  path: z.string().min(1),
  bytes: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  rawBytes: z.number().int().nonnegative().optional(),
});

export const ChecksumsSchema = z.strictObject({
  version: z.literal(1),
  algorithm: z.literal("sha256"),
  files: z.array(StoredFileSchema),
});
export type Checksums = z.infer<typeof ChecksumsSchema>;

export function writeChecksums(dir: string, files: readonly StoredFile[]): void {
  const sorted = [...files].sort((a, b) => a.path.localeCompare(b.path));
  writeFileAtomic(join(dir, CHECKSUMS_FILE), `${JSON.stringify({ version: 1, algorithm: "sha256", files: sorted }, null, 2)}\n`, { mode: 0o600 });
}

/** The directory's checksums; undefined when it has none (a backup from before they were written). Throws when unreadable. */
export function readChecksums(dir: string): Checksums | undefined {
  const path = join(dir, CHECKSUMS_FILE);
  if (!existsSync(path)) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new StoredFileError(path, `${path} is not valid JSON (${(error as Error).message}): the store's list of checksums is damaged`);
  }
  const parsed = ChecksumsSchema.safeParse(json);
  if (!parsed.success) throw new StoredFileError(path, `${path} is not a valid list of checksums: ${parsed.error.issues[0]?.message ?? "unreadable"} at ${parsed.error.issues[0]?.path.join(".")}`);
  return parsed.data;
}

/** Every regular file below `dir`, relative to it. */
export function filesBelow(dir: string): string[] {
  const out: string[] = [];
  const stack = [dir];
  while (stack.length > 0) {
    const current = stack.pop() as string;
    for (const entry of readdirSync(current, { withFileTypes: true })) {
      const full = join(current, entry.name);
      if (entry.isDirectory()) stack.push(full);
      else out.push(relative(dir, full));
    }
  }
  return out.sort();
}

export interface DirectoryCheck {
  files: number;
  bytes: number;
  problems: string[];
}

/**
 * Check `dir` against its checksums: every listed file is there with its size and SHA-256, and every file there is
 * listed (but `unlisted`, the files that change after a backup is written, and whatever `ignore` accepts). Files in
 * `hashedElsewhere` (a stream the restore hashes as it reads it) are only looked for here.
 */
export async function checkDirectory(dir: string, checksums: Checksums, ignore: (path: string) => boolean, hashedElsewhere: ReadonlySet<string> = new Set()): Promise<DirectoryCheck> {
  const problems: string[] = [];
  const listed = new Map(checksums.files.map((f) => [f.path, f]));
  const present = filesBelow(dir).filter((f) => f !== CHECKSUMS_FILE && !ignore(f));
  let bytes = 0;
  for (const file of present) if (!listed.has(file)) problems.push(`${join(dir, file)} is in the store but not in ${CHECKSUMS_FILE}: it was added after the backup was written`);
  const presentSet = new Set(present);
  const toHash: { path: string; entry: (typeof checksums.files)[number] }[] = [];
  for (const entry of checksums.files) {
    const path = join(dir, entry.path);
    if (!presentSet.has(entry.path)) {
      problems.push(`${path} is listed in ${CHECKSUMS_FILE} (${entry.bytes} bytes) but is not in the store: it was deleted or never finished`);
      continue;
    }
    if (!hashedElsewhere.has(entry.path)) toHash.push({ path, entry });
  }
  // Two files at a time, each on a thread of its own: SHA-256 is one core's work per file (about 1.2 GB/s here). Problems
  // are named in the list's order, whatever finished first.
  const hashes = await hashFiles(toHash.map((f) => f.path), HASH_THREADS);
  for (const [i, { path, entry }] of toHash.entries()) {
    const actual = hashes[i] as FileHash;
    if ("error" in actual) problems.push(`stored file ${path} cannot be read: ${actual.error}`);
    else if (actual.bytes !== entry.bytes || actual.sha256 !== entry.sha256) problems.push(damaged(path, entry, actual).message);
    else bytes += entry.bytes;
  }
  return { files: checksums.files.length, bytes, problems };
}
