// Stored files: a stream written into the store and read back out of it, every byte through SHA-256 as it passes, so a
// stored file's checksum is taken while it is written (not by a second read) and checked while it is restored.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream, renameSync, rmSync } from "node:fs";
import { open } from "node:fs/promises";
import { partialPath } from "../base/partialFile.ts";
import { PassThrough, Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { maskSecrets } from "../base/secrets.ts";
import { CommandError, describeCommand, shellQuote, tail } from "../base/command.ts";
import { decryptArgs, explainAgeError, parseStoredName, requireKeyFile } from "./encoding.ts";

/** One stored file as checksums.json lists it: path relative to its directory, size and SHA-256 as written. */
export interface StoredFile {
  path: string;
  bytes: number;
  sha256: string;
  /** Bytes before compression and encryption, when the file is encoded. */
  rawBytes?: number;
}

/** A stored file that is not what was written: named, with what differs, and what to do. */
export class StoredFileError extends Error {
  override name = "StoredFileError";
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(message);
  }
}

/** Counts and hashes what passes through. */
function hashing(onBytes?: (bytes: number) => void): { stream: Transform; bytes(): number; digest(): string } {
  const hash = createHash("sha256");
  let bytes = 0;
  let digest: string | undefined;
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      bytes += chunk.length;
      onBytes?.(bytes);
      callback(null, chunk);
    },
  });
  return { stream, bytes: () => bytes, digest: () => (digest ??= hash.digest("hex")) };
}

function counting(onBytes?: (bytes: number) => void): { stream: Transform; bytes(): number } {
  let bytes = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      bytes += chunk.length;
      onBytes?.(bytes);
      callback(null, chunk);
    },
  });
  return { stream, bytes: () => bytes };
}

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  error?: Error;
}

/** A child whose stderr tail is kept and whose exit is awaited once. */
function started(file: string, args: readonly string[], stdin: "pipe" | "ignore"): { child: ChildProcess; exit: Promise<Exit>; stderr(): string } {
  const child = spawn(file, args, { stdio: [stdin, "pipe", "pipe"] });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-16_384)));
  const exit = new Promise<Exit>((resolve) => {
    child.once("error", (error) => resolve({ code: null, signal: null, error }));
    child.once("close", (code, signal) => resolve({ code, signal }));
  });
  return { child, exit, stderr: () => stderr };
}

function failed(exit: Exit): boolean {
  return exit.error !== undefined || exit.code !== 0;
}

function commandError(command: string, exit: Exit, stderr: string, startedAt: number, timedOut: boolean): CommandError {
  return new CommandError(
    maskSecrets(command),
    exit.code ?? undefined,
    exit.signal ?? undefined,
    timedOut,
    maskSecrets(tail(exit.error ? `${exit.error.message}\n${stderr}` : stderr)),
    performance.now() - startedAt,
  );
}

export interface WriteStoredOptions {
  /** The program whose stdout is the plain stream (a backup tool with --stream), run on this host. */
  producer?: { file: string; args: string[] };
  /** Or a plain stream already open (a binlog file being sealed). */
  input?: Readable;
  /** Shell stages that encode the plain stream (encodeScript); null stores it as it is. */
  encode: string | null;
  /** The stored file; written under its partial name (partialPath: naming this process) and renamed when complete. */
  path: string;
  timeoutMs?: number;
  /** Bytes stored so far, and plain bytes where they pass through this process. */
  onProgress?: (progress: { stored: number; raw?: number }) => void;
}

/** The line a producer's exit code is reported on, inside one shell pipeline with its encoder. */
const PRODUCER_EXIT = "restoretest-producer-exit:";

/**
 * A producer and its encoder as one shell pipeline, fd to fd: the plain stream (the bigger leg, gigabytes) never passes
 * through this process; only the encoded bytes do, through SHA-256 into the file. The plain size is zstd's own count
 * (`-vv` prints it exactly), or unknown without compression.
 */
async function writeProduced(options: WriteStoredOptions & { producer: { file: string; args: string[] }; encode: string }) {
  const startedAt = performance.now();
  const partial = partialPath(options.path);
  const producerLine = [options.producer.file, ...options.producer.args].map(shellQuote).join(" ");
  const script = `set -o pipefail; { ${producerLine}; echo "${PRODUCER_EXIT}$?" >&2; } | ${options.encode}`;
  // Not detached: a session of its own would be a scheduling group of its own (autogroup), sharing the cores with
  // this process's hashing half and half instead of thread by thread, as the same pipe typed in a shell does.
  const child = spawn("bash", ["-c", script], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-32_768)));
  const exit = new Promise<Exit>((resolve) => {
    child.once("error", (error) => resolve({ code: null, signal: null, error }));
    child.once("close", (code, signal) => resolve({ code, signal }));
  });
  const hashed = hashing((stored) => options.onProgress?.({ stored }));
  let timedOut = false;
  const timer = options.timeoutMs
    ? setTimeout(() => {
        timedOut = true;
        // The pipeline's programs are the shell's children: stopped first, so that none is left writing.
        if (child.pid !== undefined) spawnSync("pkill", ["-TERM", "-P", String(child.pid)]);
        child.kill("SIGTERM");
      }, options.timeoutMs)
    : undefined;
  timer?.unref();
  const flow = await pipeline(child.stdout as Readable, hashed.stream, createWriteStream(partial, { mode: 0o600 })).then(
    () => undefined,
    (error: unknown) => error,
  );
  const ended = await exit;
  if (timer) clearTimeout(timer);
  try {
    const producerCode = new RegExp(`${PRODUCER_EXIT}(\\d+)`).exec(stderr)?.[1];
    const ownLines = stderr
      .split("\n")
      .filter((l) => !l.startsWith(PRODUCER_EXIT))
      .join("\n");
    if (timedOut || producerCode === undefined || producerCode !== "0") {
      const code = producerCode === undefined ? ended.code : Number(producerCode);
      throw commandError(describeCommand(options.producer.file, options.producer.args), { ...ended, code }, ownLines, startedAt, timedOut);
    }
    if (failed(ended)) throw commandError(options.encode, ended, ownLines, startedAt, timedOut);
    if (flow) throw flow instanceof Error ? flow : new Error(String(flow));
    renameSync(partial, options.path);
  } catch (error) {
    rmSync(partial, { force: true });
    throw error;
  }
  const raw = /\((\d+) B =>/.exec(stderr)?.[1];
  return { bytes: hashed.bytes(), sha256: hashed.digest(), rawBytes: raw === undefined ? undefined : Number(raw), durationMs: performance.now() - startedAt };
}

/**
 * Store a stream: producer → (encoder) → SHA-256 → file, in one pass. The producer's failure is reported as its own
 * (command, exit code, stderr tail), before the encoder's; nothing is left at `path` unless everything succeeded.
 */
export async function writeStored(options: WriteStoredOptions): Promise<{ bytes: number; sha256: string; rawBytes?: number; durationMs: number }> {
  if (options.producer && options.encode) return writeProduced({ ...options, producer: options.producer, encode: options.encode });
  const startedAt = performance.now();
  const partial = partialPath(options.path);
  const producer = options.producer ? started(options.producer.file, options.producer.args, "ignore") : undefined;
  const source = producer ? (producer.child.stdout as Readable) : options.input;
  if (!source) throw new Error("writeStored needs a producer or an input stream");
  const encoder = options.encode ? started("bash", ["-c", `set -o pipefail; ${options.encode}`], "pipe") : undefined;
  const raw = counting();
  const hashed = hashing((stored) => options.onProgress?.({ stored, raw: raw.bytes() }));
  let timedOut = false;
  const timer = options.timeoutMs
    ? setTimeout(() => {
        timedOut = true;
        producer?.child.kill("SIGTERM");
        encoder?.child.kill("SIGTERM");
      }, options.timeoutMs)
    : undefined;
  timer?.unref();
  const flows = encoder
    ? [pipeline(source, raw.stream, encoder.child.stdin as NodeJS.WritableStream), pipeline(encoder.child.stdout as Readable, hashed.stream, createWriteStream(partial, { mode: 0o600 }))]
    : [pipeline(source, raw.stream, hashed.stream, createWriteStream(partial, { mode: 0o600 }))];
  const settled = await Promise.allSettled(flows);
  const producerExit = producer ? await producer.exit : undefined;
  const encoderExit = encoder ? await encoder.exit : undefined;
  if (timer) clearTimeout(timer);
  try {
    if (producer && producerExit && (failed(producerExit) || timedOut)) {
      throw commandError(describeCommand(options.producer?.file as string, options.producer?.args ?? []), producerExit, producer.stderr(), startedAt, timedOut);
    }
    if (encoder && encoderExit && failed(encoderExit)) throw commandError(options.encode as string, encoderExit, encoder.stderr(), startedAt, timedOut);
    const rejected = settled.find((s): s is PromiseRejectedResult => s.status === "rejected");
    if (rejected) throw rejected.reason instanceof Error ? rejected.reason : new Error(String(rejected.reason));
    renameSync(partial, options.path);
  } catch (error) {
    rmSync(partial, { force: true });
    throw error;
  }
  return { bytes: hashed.bytes(), sha256: hashed.digest(), rawBytes: raw.bytes(), durationMs: performance.now() - startedAt };
}

/** Bytes read at a time by hashFile: large reads keep SHA-256, not the syscalls, the cost. */
const HASH_READ = 4 << 20;

/**
 * Size and SHA-256 of a file, read once (files a tool wrote itself, and the check of a stored file). A read loop into
 * one buffer, not a stream: 1 GB in 0.74-1.10 s against 1.36-1.85 s through createReadStream (1 MiB chunks) here, the
 * same file, alternately; `openssl dgst -sha256` takes 0.82 s.
 */
export async function hashFile(path: string, onBytes?: (bytes: number) => void): Promise<{ bytes: number; sha256: string }> {
  const hash = createHash("sha256");
  const file = await open(path, "r");
  try {
    const buffer = Buffer.allocUnsafe(HASH_READ);
    let bytes = 0;
    for (;;) {
      const { bytesRead } = await file.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
      bytes += bytesRead;
      onBytes?.(bytes);
    }
    return { bytes, sha256: hash.digest("hex") };
  } finally {
    await file.close();
  }
}

/** The sentence for a stored file that is not what was written. */
export function damaged(path: string, expected: Pick<StoredFile, "bytes" | "sha256">, actual: { bytes: number; sha256: string }): StoredFileError {
  const what =
    actual.bytes !== expected.bytes
      ? `is ${actual.bytes} bytes, but ${expected.bytes} were written`
      : `does not match its SHA-256 (${expected.sha256.slice(0, 16)}… when written, ${actual.sha256.slice(0, 16)}… now)`;
  return new StoredFileError(path, `stored file ${path} ${what}: the store's copy is damaged. Restore it from another copy of the store, or take a new backup`);
}

/** Throws StoredFileError when the file is not the one `expected` describes. */
export async function checkStoredFile(path: string, expected: Pick<StoredFile, "bytes" | "sha256">): Promise<void> {
  const actual = await hashFile(path).catch((error: unknown) => {
    throw new StoredFileError(path, `stored file ${path} cannot be read: ${(error as Error).message}`);
  });
  if (actual.bytes !== expected.bytes || actual.sha256 !== expected.sha256) throw damaged(path, expected, actual);
}

/** A stored file being read: the plain-or-compressed stream out (decrypted here), and how reading it went. */
export interface OpenedStored {
  /** Decrypted (when encrypted); still compressed when stored compressed. */
  stream: Readable;
  compressed: boolean;
  /** Stored bytes read so far. */
  bytesRead(): number;
  /**
   * After the stream ended or failed: throws StoredFileError when the stored file is not what was written (reading it
   * again whole if the stream stopped early), else the decryption's own error, explained; resolves when all is well.
   */
  check(): Promise<void>;
  /** Stop reading (the consumer failed). */
  destroy(): void;
}

/**
 * Read a stored file for a restore: SHA-256 over every stored byte as it is read, age decrypting here when the file
 * is encrypted (so the key stays on this host and the stream leaves it still compressed).
 */
export function openStored(
  path: string,
  expected: Pick<StoredFile, "bytes" | "sha256">,
  options: { keyFile?: string; onBytes?: (bytes: number) => void } = {},
): OpenedStored {
  const { compressed, encrypted } = parseStoredName(path);
  const keyFile = encrypted ? requireKeyFile(options.keyFile, path) : undefined;
  // 1 MiB reads: a quarter less CPU per GB hashed than the default 64 KiB.
  const file = createReadStream(path, { highWaterMark: 1 << 20 });
  const hashed = hashing(options.onBytes);
  const age = keyFile ? started("age", decryptArgs(keyFile), "pipe") : undefined;
  const flow = age ? pipeline(file, hashed.stream, age.child.stdin as NodeJS.WritableStream) : undefined;
  flow?.catch(() => undefined);
  if (!age) file.pipe(hashed.stream);
  file.once("error", (error) => hashed.stream.destroy(error));
  // Not age's stdout itself: when a child exits, Node resumes its stdio streams nobody reads yet and drops what they
  // held, and a small file is decrypted whole before a consumer that starts later (a remote command) reads it.
  const decrypted = age ? new PassThrough() : undefined;
  if (age && decrypted) pipeline(age.child.stdout as Readable, decrypted).catch(() => undefined);
  const stream = decrypted ?? hashed.stream;
  let destroyed = false;
  return {
    stream,
    compressed,
    bytesRead: hashed.bytes,
    destroy() {
      destroyed = true;
      file.destroy();
      // Its output is dropped too: a stopped reader must not hold age's stdout open (its exit waits for it).
      decrypted?.destroy();
      age?.child.stdout?.destroy();
      age?.child.kill("SIGTERM");
    },
    async check() {
      const complete = file.closed && hashed.bytes() === expected.bytes && !file.errored;
      if (complete) {
        const sha256 = hashed.digest();
        if (sha256 !== expected.sha256) throw damaged(path, expected, { bytes: hashed.bytes(), sha256 });
      } else {
        await checkStoredFile(path, expected);
      }
      if (age) {
        const exit = await age.exit;
        if (failed(exit)) {
          const explained = explainAgeError(age.stderr(), path, keyFile as string);
          if (explained) throw new StoredFileError(path, explained);
          // Stopped by destroy() (its consumer failed), on a sound file: killed, or its output's reader gone (a broken
          // pipe), age's failure is the consumer's; that error is the one to report.
          if (destroyed) return;
          throw commandError(describeCommand("age", decryptArgs(keyFile as string)), exit, age.stderr(), 0, false);
        }
      }
    },
  };
}
