// The restore's `transfer` step for one backup of the chain: a directory copied as it is, or a stream read from the
// store, checked against its SHA-256 and unpacked into the datadir in one pass: no staging copy, no temp file. On
// another host it is decrypted here and crosses the network still compressed; on this host the pipeline reads it.
import { PassThrough } from "node:stream";
import type { StoredBackup } from "../store/layout.ts";
import type { PhysicalBackupTool } from "../backup/tool.ts";
import type { Target } from "../hosts/types.ts";
import { CommandError, shellQuote } from "../base/command.ts";
import { readChecksums } from "../store/checksums.ts";
import { decompressScript, decryptArgs, explainAgeError, parseStoredName, requireKeyFile } from "../store/encoding.ts";
import { damaged, hashFile, openStored, StoredFileError } from "../store/stored.ts";

export interface TransferProgress {
  /** Bytes on the target (unpacked). */
  bytes: number;
  /** Bytes read from the store (a stream backup). */
  storedBytes?: number;
}

export interface TransferOptions {
  keyFile?: string;
  timeoutMs?: number;
  onProgress?: (progress: TransferProgress) => void;
  /** How often the unpacked size is read on the target while a stream unpacks (default 10 s, the progress heartbeat: du of a growing datadir costs). */
  pollMs?: number;
}

/** The stored stream file of a stream backup and what checksums.json says it is; named when either is missing. */
export function storedStream(link: StoredBackup): { path: string; expected: { bytes: number; sha256: string } } {
  const path = link.dataFile;
  if (!path || !link.meta.dataFile) throw new Error(`backup ${link.id} is a stream backup without a data file in its backup.json`);
  const checksums = readChecksums(link.dir);
  const expected = checksums?.files.find((f) => f.path === link.meta.dataFile);
  if (!expected) throw new StoredFileError(path, `${path} has no entry in ${link.dir}/checksums.json: what it should hold is unknown, so it is not restored`);
  return { path, expected };
}

/** `du -sb dir` on the target (its command's error when it fails); undefined when it prints no size. */
async function sizeOn(t: Target, dir: string, timeoutMs: number): Promise<number | undefined> {
  const du = await t.exec("du", ["-sb", dir], { timeoutMs });
  const size = Number(/^(\d+)/.exec(du.stdout)?.[1]);
  return Number.isFinite(size) ? size : undefined;
}

/** The unpacked size of `dir` on the target, every `pollMs` until stopped: progress in both units without a second stream. */
function pollUnpacked(t: Target, dir: string, pollMs: number, report: (bytes: number) => void): { stop(): Promise<void> } {
  let polling = true;
  let wake: (() => void) | undefined;
  const loop = (async () => {
    while (polling) {
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, pollMs).unref();
      });
      if (!polling) break;
      const size = await sizeOn(t, dir, 30_000).catch(() => undefined);
      if (size !== undefined) report(size);
    }
  })();
  return {
    async stop() {
      polling = false;
      wake?.();
      await loop;
    },
  };
}

/** Copy one link onto the target into `into`; returns the bytes there and, for a stream, the bytes read from the store. */
export async function transferLink(t: Target, link: StoredBackup, into: string, tool: PhysicalBackupTool | undefined, options: TransferOptions = {}): Promise<TransferProgress> {
  if (link.meta.format !== "stream") {
    const bytes = await t.putDirectory(link.dataDir, into, { onProgress: (b) => options.onProgress?.({ bytes: b }) });
    return { bytes };
  }
  if (!tool?.extractCommand) throw new Error(`backup ${link.id} is a ${link.meta.format} backup, but ${link.meta.tool} cannot unpack one`);
  const { path, expected } = storedStream(link);
  const { compressed, encrypted } = parseStoredName(path);
  const progress: TransferProgress = { bytes: 0, storedBytes: 0 };
  const extract = tool.extractCommand(into);
  const poller = pollUnpacked(t, into, options.pollMs ?? 10_000, (bytes) => {
    progress.bytes = bytes;
    options.onProgress?.({ ...progress });
  });
  try {
    if (t.thisHost) await unpackHere(t, path, expected, { compressed, encrypted, extract, into, options, progress });
    else await unpackThere(t, path, expected, { compressed, extract, into, options, progress });
  } finally {
    await poller.stop();
  }
  progress.bytes = (await sizeOn(t, into, 120_000)) ?? 0;
  options.onProgress?.({ ...progress });
  return progress;
}

interface Unpack {
  compressed: boolean;
  extract: { file: string; args: string[] };
  into: string;
  options: TransferOptions;
  progress: TransferProgress;
}

/**
 * The target is this host: the pipeline reads the stored file itself (`age -d -i KEY FILE | zstd -d | mbstream -x`,
 * as a DBA would type it), while the same bytes are hashed here from the page cache as they are read; a mismatch, or
 * a key that does not open the file, is the failure named, not the unpacker's complaint.
 */
async function unpackHere(t: Target, path: string, expected: { bytes: number; sha256: string }, u: Unpack & { encrypted: boolean }): Promise<void> {
  const keyFile = u.encrypted ? requireKeyFile(u.options.keyFile, path) : undefined;
  const q = (args: readonly string[]) => args.map(shellQuote).join(" ");
  const stages = keyFile
    ? [q(["age", ...decryptArgs(keyFile), path]), ...(u.compressed ? [decompressScript(true) as string] : []), q([u.extract.file, ...u.extract.args])]
    : u.compressed
      ? [`${decompressScript(true) as string} ${shellQuote(path)}`, q([u.extract.file, ...u.extract.args])]
      : [`${q([u.extract.file, ...u.extract.args])} < ${shellQuote(path)}`];
  const hashing = hashFile(path, (bytes) => (u.progress.storedBytes = bytes));
  const unpacking = t.exec("bash", ["-c", `set -o pipefail; mkdir -p ${shellQuote(u.into)} && ${stages.join(" | ")}`], { timeoutMs: u.options.timeoutMs });
  const [hashed, unpacked] = await Promise.allSettled([hashing, unpacking]);
  if (hashed.status === "rejected") throw new StoredFileError(path, `stored file ${path} cannot be read: ${(hashed.reason as Error).message}`);
  if (hashed.value.bytes !== expected.bytes || hashed.value.sha256 !== expected.sha256) throw damaged(path, expected, hashed.value);
  u.progress.storedBytes = hashed.value.bytes;
  if (unpacked.status === "rejected") {
    const error = unpacked.reason as unknown;
    const explained = keyFile && error instanceof CommandError ? explainAgeError(error.stderrTail, path, keyFile) : undefined;
    if (explained) throw new StoredFileError(path, explained);
    throw error;
  }
}

/**
 * The target is another host: the stored file is read here, hashed as it is read, decrypted here (the key never
 * travels) and sent still compressed to the target's `zstd -d | mbstream -x`.
 */
async function unpackThere(t: Target, path: string, expected: { bytes: number; sha256: string }, u: Unpack): Promise<void> {
  const opened = openStored(path, expected, { keyFile: u.options.keyFile, onBytes: (b) => (u.progress.storedBytes = b) });
  const stages = [...(u.compressed ? [decompressScript(true) as string] : []), [u.extract.file, ...u.extract.args].map(shellQuote).join(" ")];
  try {
    // The stored bytes flow only once the target's command reads them (as putDirectory's tar does).
    const gate = new PassThrough();
    gate.once("resume", () => opened.stream.pipe(gate));
    await t.exec("bash", ["-c", `set -o pipefail; mkdir -p ${shellQuote(u.into)} && ${stages.join(" | ")}`], { stdin: gate, timeoutMs: u.options.timeoutMs });
  } catch (error) {
    opened.destroy();
    // A damaged stored file, or a key that does not open it, is the cause to name, not the unpacker's complaint.
    await opened.check();
    throw error;
  }
  await opened.check();
  u.progress.storedBytes = opened.bytesRead();
}
