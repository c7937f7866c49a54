// How the store's bytes are encoded: a physical tool's stream (mbstream/xbstream), zstd, age; a stored file's name says
// which (`data.mbstream.zst.age`), so it is read back the way it was written whatever services.yaml says now.
import { accessSync, constants, existsSync, readFileSync } from "node:fs";
import type { Service } from "../config/schema.ts";
import { shellQuote } from "../base/command.ts";

export interface Encoding {
  /** zstd, at `level` with `threads` (0: one per core). */
  compress: { level: number; threads: number } | null;
  /** age, to the recipient of the X25519 identity in `keyFile` (which also decrypts). */
  encrypt: { keyFile: string } | null;
}

export const PLAIN: Encoding = { compress: null, encrypt: null };

export const ZSTD_SUFFIX = ".zst";
export const AGE_SUFFIX = ".age";

/** The service's encoding for what it stores from now on (backups, their binlogs, the archive's closed files). */
export function encodingOf(backup: Pick<Service["backup"], "compress" | "compressLevel" | "compressThreads" | "encrypt">): Encoding {
  return {
    compress: backup.compress === "zstd" ? { level: backup.compressLevel, threads: backup.compressThreads } : null,
    encrypt: backup.encrypt ? { keyFile: backup.encrypt.keyFile } : null,
  };
}

export function isPlain(encoding: Encoding): boolean {
  return !encoding.compress && !encoding.encrypt;
}

/** `name` as stored: compressed, then encrypted (`.zst.age`). */
export function storedName(name: string, encoding: Encoding): string {
  return `${name}${encoding.compress ? ZSTD_SUFFIX : ""}${encoding.encrypt ? AGE_SUFFIX : ""}`;
}

/** What a stored file's name says about it: its plain name, and how it was encoded. */
export function parseStoredName(stored: string): { name: string; compressed: boolean; encrypted: boolean } {
  let name = stored;
  const encrypted = name.endsWith(AGE_SUFFIX);
  if (encrypted) name = name.slice(0, -AGE_SUFFIX.length);
  const compressed = name.endsWith(ZSTD_SUFFIX);
  if (compressed) name = name.slice(0, -ZSTD_SUFFIX.length);
  return { name, compressed, encrypted };
}

/**
 * The key file, checked before anything is read or written with it: one line that says what to do. Its content is
 * never read into a message (an age identity is a secret).
 */
export function requireKeyFile(keyFile: string | undefined, what: string): string {
  if (!keyFile) {
    throw new Error(`${what} is encrypted (age), but the service has no backup.encrypt.keyFile: set it to the age identity file the store was encrypted with`);
  }
  if (!existsSync(keyFile)) {
    throw new Error(`backup.encrypt.keyFile ${keyFile} does not exist (needed for ${what}): restore the identity file the store was encrypted with, or make a new one for new backups with: age-keygen -o ${keyFile}`);
  }
  try {
    accessSync(keyFile, constants.R_OK);
  } catch {
    throw new Error(`backup.encrypt.keyFile ${keyFile} cannot be read by this user (needed for ${what})`);
  }
  if (!/^AGE-SECRET-KEY-1[0-9A-Z]+$/m.test(readFileSync(keyFile, "utf8"))) {
    throw new Error(`backup.encrypt.keyFile ${keyFile} holds no age identity (a line AGE-SECRET-KEY-1…): make one with age-keygen -o ${keyFile}`);
  }
  return keyFile;
}

/**
 * The shell stages that encode a plain stream on stdin (`zstd … | age …`); null when nothing is to be done. `count`:
 * zstd reports the plain size it read (`-vv`: "(N B => M B"), for a stream that does not pass through this process.
 */
export function encodeScript(encoding: Encoding, options: { count?: boolean } = {}): string | null {
  const stages: string[] = [];
  if (encoding.compress) stages.push(`zstd ${options.count ? "-vv" : "-q"} -c -T${encoding.compress.threads} -${encoding.compress.level}`);
  if (encoding.encrypt) stages.push(`age -e -i ${shellQuote(requireKeyFile(encoding.encrypt.keyFile, "new backups"))}`);
  return stages.length ? stages.join(" | ") : null;
}

/** `age -d` for a stored file, when it is encrypted: decryption happens here, so the key never leaves this host. */
export function decryptArgs(keyFile: string): string[] {
  return ["-d", "-i", keyFile];
}

/** The shell stage that decompresses a stored file's stream, when it is compressed (run where it is extracted). */
export function decompressScript(compressed: boolean): string | null {
  return compressed ? "zstd -q -d -c" : null;
}

/**
 * age's own words for a wrong or damaged input, as a sentence a DBA can act on (undefined when it said something else).
 */
export function explainAgeError(stderr: string, stored: string, keyFile: string): string | undefined {
  if (/no identity matched any of the recipients/.test(stderr)) {
    return `the key in ${keyFile} does not decrypt ${stored}: it was encrypted to another key (backup.encrypt.keyFile must be the identity the backup was taken with)`;
  }
  if (/failed to decrypt and authenticate payload chunk|header MAC|unexpected EOF|parsing age header/i.test(stderr)) {
    return `${stored} does not authenticate under its key: the stored file was changed or cut short after it was written`;
  }
  return undefined;
}
