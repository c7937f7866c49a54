// The restore's `transfer` step for one backup of the chain: a directory copied as it is, or a stream read from the
// store, checked against its SHA-256, decrypted here and unpacked on the target in one pass: no staging copy, no
// temp file, and over ssh the stream crosses the network still compressed.
import { PassThrough } from "node:stream";
import type { StoredBackup } from "../backup/store.ts";
import type { PhysicalBackupTool } from "../backup/tool.ts";
import type { Target } from "../hosts/types.ts";
import { CommandError, shellQuote } from "../process/command.ts";
import { readChecksums } from "../storage/checksums.ts";
import { decompressScript, decryptArgs, explainAgeError, parseStoredName } from "../storage/encoding.ts";
import { openStored, StoredFileError } from "../storage/stored.ts";

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

/** Copy one link onto the target into `into`; returns the bytes there and, for a stream, the bytes read from the store. */
export async function transferLink(t: Target, link: StoredBackup, into: string, tool: PhysicalBackupTool | undefined, options: TransferOptions = {}): Promise<TransferProgress> {
  if (link.meta.format !== "stream") {
    const bytes = await t.putDirectory(link.dataDir, into, { onProgress: (b) => options.onProgress?.({ bytes: b }) });
    return { bytes };
  }
  if (!tool?.extractCommand) throw new Error(`backup ${link.id} is a ${link.meta.format} backup, but ${link.meta.tool} cannot unpack one`);
  const { path, expected } = storedStream(link);
  const progress: TransferProgress = { bytes: 0, storedBytes: 0 };
  // On this host, age runs in the target's own pipeline (one pass of the stream through this process, not two); on
  // another host, here, so that the key never travels.
  const decryptThere = parseStoredName(path).encrypted && t.thisHost === true;
  const opened = openStored(path, expected, {
    keyFile: options.keyFile,
    decrypt: !decryptThere,
    onBytes: (b) => {
      progress.storedBytes = b;
    },
  });
  const extract = tool.extractCommand(into);
  const stages = [
    ...(decryptThere ? [["age", ...decryptArgs(options.keyFile as string)].map(shellQuote).join(" ")] : []),
    ...(opened.compressed ? [decompressScript(true) as string] : []),
    [extract.file, ...extract.args].map(shellQuote).join(" "),
  ];
  const script = `set -o pipefail; mkdir -p ${shellQuote(into)} && ${stages.join(" | ")}`;
  // The unpacked size, read on the target while it grows: progress in both units without a second stream.
  let polling = true;
  let wake: (() => void) | undefined;
  const poll = (async () => {
    while (polling) {
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, options.pollMs ?? 10_000).unref();
      });
      if (!polling) break;
      const du = await t.exec("du", ["-sb", into], { timeoutMs: 30_000 }).catch(() => undefined);
      const size = Number(/^(\d+)/.exec(du?.stdout ?? "")?.[1]);
      if (Number.isFinite(size)) progress.bytes = size;
      options.onProgress?.({ ...progress });
    }
  })();
  try {
    // The stored bytes flow only once the target's command reads them (as putDirectory's tar does).
    const gate = new PassThrough();
    gate.once("resume", () => opened.stream.pipe(gate));
    await t.exec("bash", ["-c", script], { stdin: gate, timeoutMs: options.timeoutMs });
  } catch (error) {
    opened.destroy();
    // A damaged stored file, or a key that does not open it, is the cause to name, not the unpacker's complaint.
    await opened.check();
    const explained = decryptThere && error instanceof CommandError ? explainAgeError(error.stderrTail, path, options.keyFile as string) : undefined;
    if (explained) throw new StoredFileError(path, explained);
    throw error;
  } finally {
    polling = false;
    wake?.();
    await poll;
  }
  await opened.check();
  const du = await t.exec("du", ["-sb", into], { timeoutMs: 120_000 });
  progress.bytes = Number(/^(\d+)/.exec(du.stdout)?.[1] ?? 0);
  progress.storedBytes = opened.bytesRead();
  options.onProgress?.({ ...progress });
  return progress;
}
