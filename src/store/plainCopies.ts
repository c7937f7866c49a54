// Plain copies of stored binlog files, for replay and roll-forward: hard links of plain files, and sealed files
// (compressed, encrypted) decoded once, each checked against its SHA-256 as it is read.
import { copyFileSync, createReadStream, existsSync, linkSync, mkdtempSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { registerDisposer } from "../base/disposers.ts";
import { recordOwner } from "../base/owner.ts";
import type { Checksums } from "./checksums.ts";
import { AGE_SUFFIX, ZSTD_SUFFIX, decompressScript, storedName, type Encoding } from "./encoding.ts";
import { openStored, StoredFileError, writeStored, type StoredFile } from "./stored.ts";

/** The name `name` is stored under in `dir`: plain, or sealed (`.zst`, `.age`, `.zst.age`); undefined when absent. */
export function storedFileOf(dir: string, name: string): string | undefined {
  return [name, `${name}${ZSTD_SUFFIX}${AGE_SUFFIX}`, `${name}${ZSTD_SUFFIX}`, `${name}${AGE_SUFFIX}`].find((n) => existsSync(join(dir, n)));
}

/**
 * Write the plain content of the sealed file `path` to `destination`, checked against `expected` as it is read: a
 * damaged file or a key that does not open it is named (StoredFileError) rather than the decoder's complaint.
 */
export async function decodeStored(path: string, expected: Pick<StoredFile, "bytes" | "sha256">, destination: string, keyFile?: string): Promise<void> {
  const opened = openStored(path, expected, { keyFile });
  try {
    await writeStored({ input: opened.stream, encode: decompressScript(opened.compressed), path: destination });
  } catch (error) {
    opened.destroy();
    await opened.check();
    throw error;
  }
  await opened.check();
}

/**
 * Store the plain file `dir/name` sealed (`encode`: encodeScript's stages) beside it as `storedName(name, encoding)`,
 * hashed as it is written; the plain file stays for the caller to remove once the seal is recorded.
 */
export async function sealFile(dir: string, name: string, encoding: Encoding, encode: string | null): Promise<StoredFile> {
  const stored = storedName(name, encoding);
  const written = await writeStored({ input: createReadStream(join(dir, name)), encode, path: join(dir, stored) });
  return { path: stored, bytes: written.bytes, sha256: written.sha256, ...(written.rawBytes === undefined ? {} : { rawBytes: written.rawBytes }) };
}

export interface PlainCopies {
  dir: string;
  remove(): Promise<void>;
}

export interface PlainCopyOptions {
  /** The checksums sealed files are checked against (their paths relative to `checksumsBase`). */
  checksums?: Checksums;
  /** `binlogs/` when the list is the backup's own checksums.json; "" for the archive's. */
  checksumsPrefix?: string;
  keyFile?: string;
}

/**
 * A directory beside `sourceDir` holding `names` in plain form, removed by `remove()` or at exit: hard links (copies
 * across filesystems) of plain files, so a long archive is not copied whole, and decoded copies of sealed ones.
 * Dot-named, so the store's listing skips it; beside the source, because a hard link needs the same filesystem.
 */
export async function plainCopies(sourceDir: string, names: readonly string[], options: PlainCopyOptions = {}): Promise<PlainCopies> {
  const dir = mkdtempSync(join(dirname(sourceDir), ".replay-"));
  recordOwner(dir);
  const remove = registerDisposer(`directory ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
  try {
    for (const name of names) {
      const stored = storedFileOf(sourceDir, name);
      if (!stored) throw new StoredFileError(join(sourceDir, name), `${join(sourceDir, name)} is not in the store (neither plain nor sealed)`);
      if (stored === name) {
        try {
          linkSync(join(sourceDir, name), join(dir, name));
        } catch {
          copyFileSync(join(sourceDir, name), join(dir, name));
        }
        continue;
      }
      const path = join(sourceDir, stored);
      const expected = options.checksums?.files.find((f) => f.path === `${options.checksumsPrefix ?? ""}${stored}`);
      if (!expected) throw new StoredFileError(path, `${path} has no entry in its checksums.json: what it should hold is unknown, so it is not used`);
      await decodeStored(path, expected, join(dir, name), options.keyFile);
    }
  } catch (error) {
    await remove();
    throw error;
  }
  return { dir, remove };
}
