// The binlog archive: copying a service's binlogs continuously into `<store>/<service>/binlogs/`, resuming after an
// interruption, reading event times from the copies, and checking the archive is contiguous.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, rmSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { walkBinlog } from "../binlog/events.ts";
import type { Position } from "../binlog/position.ts";
import type { Service } from "../config/schema.ts";
import { binaryLogs, binlogPosition } from "../db/introspect.ts";
import { registerDisposer } from "../base/disposers.ts";
import { maskSecrets } from "../base/secrets.ts";
import { describeCommand, tail } from "../base/command.ts";
import { binlogSequence } from "../binlog/replay.ts";
import { acquireLock } from "../store/lock.ts";
import { keepsSandbox, openSource, sourceTool } from "./source.ts";
import { backupLockPath, binlogArchiveDir, binlogLockPath, listBackups } from "../store/layout.ts";
import type { BackupTool } from "./tool.ts";
import { readChecksums, writeChecksums } from "../store/checksums.ts";
import { encodeScript, encodingOf, isPlain, type Encoding } from "../store/encoding.ts";
import { decodeStored, plainCopies, sealFile, storedFileOf } from "../store/plainCopies.ts";
import { binlogFiles, listArchive } from "../store/archive.ts";

/**
 * A stored binlog's events, read without a server: a plain file in place, a sealed one (compressed, encrypted) through
 * a checked plain copy that is removed afterwards.
 */
export async function readStoredBinlogEvents(dir: string, name: string, keyFile?: string): Promise<BinlogFileEvents> {
  if (storedFileOf(dir, name) === name) return readBinlogEvents(join(dir, name));
  const copies = await plainCopies(dir, [name], { checksums: readChecksums(dir), keyFile });
  try {
    return readBinlogEvents(join(copies.dir, name));
  } finally {
    await copies.remove();
  }
}

/**
 * Seal the archive's closed files (every plain one but the newest, or all with `all`): each stored encoded in place
 * of the plain file, its size and SHA-256 taken as it is written into the archive's checksums.json. Run by the copier
 * alone (it holds the archive's lock).
 */
export async function sealArchive(dir: string, encoding: Encoding, options: { all?: boolean } = {}): Promise<string[]> {
  if (isPlain(encoding) || !existsSync(dir)) return [];
  // The key is checked before a file is opened: a stream opened for a seal that cannot start would be left open.
  const encode = encodeScript(encoding);
  const names = listArchive(dir);
  const newest = names.at(-1);
  const sealed: string[] = [];
  for (const name of names) {
    if (storedFileOf(dir, name) !== name || (name === newest && !options.all)) continue;
    const entry = await sealFile(dir, name, encoding, encode);
    // Entries of files retention pruned go with this rewrite (the copier alone writes the archive's list).
    const files = (readChecksums(dir)?.files ?? []).filter((f) => f.path !== entry.path && existsSync(join(dir, f.path)));
    writeChecksums(dir, [...files, entry]);
    rmSync(join(dir, name));
    sealed.push(name);
  }
  return sealed;
}

function describeSealing(encoding: Encoding): string {
  return [encoding.compress ? `zstd -${encoding.compress.level}` : "", encoding.encrypt ? "age" : ""].filter(Boolean).join(" + ");
}

/** The newest file, sealed when copying stopped, made plain again so the copier can fetch it anew over it. */
async function unsealNewest(dir: string, keyFile: string | undefined): Promise<void> {
  const newest = listArchive(dir).at(-1);
  const stored = newest ? storedFileOf(dir, newest) : undefined;
  if (!newest || !stored || stored === newest) return;
  const checksums = readChecksums(dir);
  const expected = checksums?.files.find((f) => f.path === stored);
  if (!expected) throw new Error(`${join(dir, stored)} has no entry in ${join(dir, "checksums.json")}: check the archive with restoretest verify-store`);
  await decodeStored(join(dir, stored), expected, join(dir, newest), keyFile);
  writeChecksums(dir, (checksums?.files ?? []).filter((f) => f.path !== stored));
  rmSync(join(dir, stored));
}

export interface BinlogFileEvents {
  /** Newest event timestamp in the file (seconds since the epoch); null when it holds no event. */
  lastEventTime: number | null;
  /** The file ends inside an event: a copy cut off mid-write. */
  endsMidEvent: boolean;
  /** Bytes up to the end of the last complete event. */
  completeBytes: number;
}

/**
 * A binlog file's event headers (v4: timestamp, type, server id, event size, …), without reading the events' bodies:
 * its newest event time and whether it ends on an event boundary (the archive stage's walker, headers only).
 */
export function readBinlogEvents(path: string): BinlogFileEvents {
  const { lastEventTime, endsMidEvent, completeBytes } = walkBinlog(path, 4, { headersOnly: true });
  return { lastEventTime, endsMidEvent, completeBytes };
}

export interface ArchivedFile {
  name: string;
  size: number;
  endsMidEvent: boolean;
}

export interface ArchiveCheck {
  ok: boolean;
  /** Each gap or damage, named, for a DBA. */
  problems: string[];
  first?: string;
  last?: string;
}

function binlogName(prefix: string, n: number): string {
  return `${prefix}.${String(n).padStart(6, "0")}`;
}

/**
 * Is the archive contiguous from `from` (the oldest kept backup's position) to the server's current file? Names every
 * missing file, a file cut off mid-event (other than the one being written), and a closed file shorter than the server's.
 * `server`: the server's binlogs (`SHOW BINARY LOGS`), when it can be asked.
 */
export function checkArchive(archived: readonly ArchivedFile[], from: Position | null, server?: readonly { name: string; size: number }[]): ArchiveCheck {
  const problems: string[] = [];
  const files = [...archived].sort((a, b) => binlogSequence(a.name) - binlogSequence(b.name));
  const first = files[0];
  const last = files.at(-1);
  if (!from) return { ok: true, problems, first: first?.name, last: last?.name };
  const prefix = from.file.replace(/\.\d+$/, "");
  const start = binlogSequence(from.file);
  if (!first || !last) {
    problems.push(`the archive holds no binlogs; it must start at ${from.file} (the oldest kept backup's position ${from.file}:${from.position})`);
    return { ok: false, problems };
  }
  const present = new Set(files.map((f) => binlogSequence(f.name)));
  const end = binlogSequence(last.name);
  const missing: string[] = [];
  for (let n = start; n <= end; n++) if (!present.has(n)) missing.push(binlogName(prefix, n));
  if (missing.length > 0) {
    problems.push(
      `gap in the archive: ${missing.join(", ")} ${missing.length === 1 ? "is" : "are"} missing between ${from.file} (the oldest kept backup's position) and ${last.name}`,
    );
  }
  const serverSizes = new Map((server ?? []).map((s) => [s.name, s.size]));
  const serverLast = server?.at(-1)?.name;
  for (const f of files) {
    if (binlogSequence(f.name) < start) continue;
    const being = f === last;
    if (f.endsMidEvent && !being) problems.push(`${f.name} ends in the middle of an event: its copy was cut off and never fetched again`);
    const serverSize = serverSizes.get(f.name);
    if (!being && serverSize !== undefined && f.name !== serverLast && f.size !== serverSize) {
      problems.push(`${f.name} is ${f.size} bytes in the archive but ${serverSize} bytes on the server: the copy is incomplete`);
    }
  }
  if (serverLast && binlogSequence(serverLast) > end) {
    problems.push(`the archive ends at ${last.name} but the server is writing ${serverLast}: binlog copying is behind or not running`);
  }
  return { ok: problems.length === 0, problems, first: first.name, last: last.name };
}

/** The archive's files with what the check needs (event headers are walked only where sizes cannot tell). */
export function describeArchive(dir: string, server?: readonly { name: string; size: number }[]): ArchivedFile[] {
  const sizes = new Map((server ?? []).map((s) => [s.name, s.size]));
  const checksums = readChecksums(dir);
  return listArchive(dir).map((name) => {
    const stored = storedFileOf(dir, name) ?? name;
    if (stored !== name) {
      // Sealed once closed: its plain size was recorded as it was written.
      const entry = checksums?.files.find((f) => f.path === stored);
      return { name, size: entry?.rawBytes ?? statSync(join(dir, stored)).size, endsMidEvent: false };
    }
    const size = statSync(join(dir, name)).size;
    const endsMidEvent = sizes.get(name) === size ? false : readBinlogEvents(join(dir, name)).endsMidEvent;
    return { name, size, endsMidEvent };
  });
}

/**
 * Where copying (re)starts: the newest archived file — fetched again whole, since an interrupted copy may have cut it
 * off — or, with nothing archived from the oldest kept backup on, that backup's file.
 */
export function resumeFrom(archived: readonly string[], oldestBackupFile: string): string {
  const newest = binlogFiles(archived).at(-1);
  return newest && binlogSequence(newest) >= binlogSequence(oldestBackupFile) ? newest : oldestBackupFile;
}

export interface BinlogCopy {
  /** The running mariadb-binlog's pid (changes when it is restarted). */
  pid(): number | undefined;
  /** How many times mariadb-binlog was started. */
  starts(): number;
  stop(): Promise<void>;
  /** Settles when copying stops: after stop(), or with an error that cannot be retried. */
  done: Promise<void>;
}

export interface BinlogCopyOptions {
  log?: (line: string) => void;
  /** Wait before restarting a mariadb-binlog that ended (doubles up to 30 s while it keeps failing at once). */
  restartDelayMs?: number;
}

/** A detached watcher that kills `pid` when this process is gone, so a killed job leaves no copier writing the archive. */
function spawnReaper(pid: number): ChildProcess {
  const reaper = spawn("sh", ["-c", `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; kill ${pid} 2>/dev/null`], {
    stdio: "ignore",
    detached: true,
  });
  reaper.unref();
  return reaper;
}

/**
 * Copy the service's binlogs into the archive until stop(): `mariadb-binlog --read-from-remote-server --raw --stop-never`,
 * started from resumeFrom() and restarted the same way whenever it ends (server restart, network, a kill), so the
 * archive has no gaps and no duplicates. Holds `<store>/<service>/.binlogs.lock`.
 */
export async function startBinlogCopy(service: Service, options: BinlogCopyOptions = {}): Promise<BinlogCopy> {
  const log = options.log ?? (() => undefined);
  const sandbox = "sandbox" in service.source;
  if (sandbox && !keepsSandbox(service)) {
    throw new Error(
      `service ${service.name} has a sandbox source that runs only during its backup job: binlog copying needs a server that keeps running (a sandbox kept between jobs, with rejoin or backup.policy incremental, or a real server)`,
    );
  }
  const store = resolve(service.backup.store);
  const release = await lockArchive(service, store, sandbox, log);
  const { source, tool } = await openCopySource(service, log, release);
  const copier = new BinlogCopier(service, store, source, tool, options.restartDelayMs ?? 1000, log);
  mkdirSync(copier.dir, { recursive: true, mode: 0o700 });
  const done = copier.copy(release);
  // Callers await `done` (or stop()); an unhandled copy of the rejection must not crash the process.
  done.catch(() => undefined);
  const stop = () => copier.stop(done);
  if (!sandbox) return { pid: () => copier.pid(), starts: () => copier.starts, stop, done };
  // A sandbox source lives only as long as this copy: it gets its day of writes (sandbox `changes`) while it is
  // copied, and the copy stops once the archive holds its newest event (the demo's archive).
  const written = untilArchived(service, source, copier.dir, log);
  const finished = written.finally(stop).then(() => done);
  finished.catch(() => undefined);
  return { pid: () => copier.pid(), starts: () => copier.starts, stop, done: finished };
}

/** The archive's copying lock, and a kept sandbox source's backup lock too; released together. */
async function lockArchive(service: Service, store: string, sandbox: boolean, log: (line: string) => void): Promise<() => Promise<void>> {
  const releaseCopy = await acquireLock(binlogLockPath(store, service.name), `binlog copying of ${service.name}`, log);
  // A kept sandbox source is started here: no backup job or rejoin may start the same datadir meanwhile.
  const releaseSandbox = sandbox ? await acquireLock(backupLockPath(store, service.name), `binlog copying of ${service.name}`, log).catch(async (error: unknown) => {
    await releaseCopy();
    throw error;
  }) : undefined;
  return async () => {
    await releaseSandbox?.();
    await releaseCopy();
  };
}

type CopySource = Awaited<ReturnType<typeof openSource>>;

/** The source copied from and its backup tool (whose flavour names the binlog program); the locks let go if either fails. */
async function openCopySource(service: Service, log: (line: string) => void, release: () => Promise<void>): Promise<{ source: CopySource; tool: BackupTool }> {
  let source: CopySource;
  let tool: BackupTool;
  try {
    source = await openSource(service, log);
    tool = await sourceTool(service, source.db).catch(async (error: unknown) => {
      await source.close();
      throw error;
    });
  } catch (error) {
    await release();
    throw error;
  }
  return { source, tool };
}

/**
 * One service's copying, as startBinlogCopy runs it: mariadb-binlog started from where the archive ends and restarted
 * whenever it ends, closed files sealed as it goes, everything let go when it stops.
 */
class BinlogCopier {
  readonly dir: string;
  starts = 0;
  private child: ChildProcess | undefined;
  private stopping = false;
  private wake: (() => void) | undefined;
  // Closed files are sealed (compressed, encrypted) as the copier goes, and every file once it stops: at rest, the
  // archive holds plain only the file being written.
  private readonly encoding: Encoding;
  private readonly keyFile: string | undefined;
  private sealing: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly service: Service,
    private readonly store: string,
    private readonly source: CopySource,
    private readonly tool: BackupTool,
    private readonly baseDelay: number,
    private readonly log: (line: string) => void,
  ) {
    this.dir = binlogArchiveDir(store, service.name);
    this.encoding = encodingOf(service.backup);
    this.keyFile = service.backup.encrypt?.keyFile;
  }

  pid(): number | undefined {
    return this.child?.pid;
  }

  /** Copies until stop() or an error it cannot retry; then seals every file, closes the source and lets the locks go. */
  async copy(release: () => Promise<void>): Promise<void> {
    const { service, store, dir, tool, log } = this;
    const sealer = isPlain(this.encoding) ? undefined : setInterval(() => void this.seal(), 5000);
    sealer?.unref();
    try {
      encodeScript(this.encoding);
      let delay = this.baseDelay;
      while (!this.stopping) {
        const oldest = listBackups(store, service.name).complete[0]?.meta.position;
        if (!oldest) {
          throw new Error(`no backup of ${service.name} with a binlog position in ${store}: binlog copying starts at the oldest kept backup's position; take a backup first`);
        }
        await this.sealing;
        await unsealNewest(dir, this.keyFile);
        const ended = await this.runOnce(resumeFrom(listArchive(dir), oldest.file));
        if (this.stopping) break;
        log(
          `${tool.flavor.binlog} ended (${ended.signal ? `killed by ${ended.signal}` : `exit code ${ended.code}`})` +
            `${ended.stderr ? `: ${ended.stderr}` : ""}; resuming in ${(delay / 1000).toFixed(1)}s`,
        );
        await new Promise<void>((r) => {
          this.wake = r;
          setTimeout(r, delay).unref();
        });
        // A copier that ran a while was cut off, not refused: retry quickly again; one that keeps failing at once backs off.
        delay = ended.ms > 10_000 ? this.baseDelay : Math.min(delay * 2, 30_000);
      }
    } finally {
      if (sealer) clearInterval(sealer);
      await this.seal(true);
      await this.source.close();
      await release();
    }
  }

  async stop(done: Promise<void>): Promise<void> {
    this.stopping = true;
    this.wake?.();
    this.child?.kill("SIGTERM");
    await done.catch(() => undefined);
  }

  /** One mariadb-binlog run from `first` until it ends: how it ended, its stderr's tail and how long it ran. */
  private runOnce(first: string): Promise<{ code: number | null; signal: string | null; stderr: string; ms: number }> {
    const { service, dir, tool, log } = this;
    return new Promise((done) => {
      const args = [`--defaults-extra-file=${this.source.optionFile}`, "--read-from-remote-server", "--raw", "--stop-never", `--result-file=${dir}/`, first];
      const started = performance.now();
      const proc = spawn(tool.flavor.binlog, args, { stdio: ["ignore", "ignore", "pipe"] });
      this.child = proc;
      this.starts++;
      let stderr = "";
      proc.stderr?.on("data", (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-8192)));
      const reaper = proc.pid === undefined ? undefined : spawnReaper(proc.pid);
      const dispose = registerDisposer(`${tool.flavor.binlog} pid ${proc.pid} copying into ${dir}`, () => {
        if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGTERM");
      });
      log(`copying binlogs of ${service.name} from ${first} into ${dir} (pid ${proc.pid}): ${describeCommand(tool.flavor.binlog, args)}`);
      proc.once("error", (error) => (stderr += error.message));
      proc.once("close", (code, signal) => {
        reaper?.kill("SIGKILL");
        void dispose();
        this.child = undefined;
        done({ code, signal, stderr: maskSecrets(tail(stderr, 5)), ms: performance.now() - started });
      });
    });
  }

  /** The archive's closed files sealed (all of them with `all`), one sealing after another; a failure is said, not thrown. */
  private seal(all = false): Promise<unknown> {
    const { dir, encoding, log } = this;
    return (this.sealing = this.sealing
      .then(() => sealArchive(dir, encoding, { all }))
      .then((names) => names.length && log(`sealed ${names.join(", ")} (${describeSealing(encoding)})`))
      .catch((error: unknown) => log(`sealing the archive's closed files failed, they stay plain for now: ${(error as Error).message}`)));
  }
}

/** A sandbox source's day of writes applied, and the archive followed until it holds the source's newest event. */
async function untilArchived(service: Service, source: CopySource, dir: string, log: (line: string) => void): Promise<void> {
  await source.applyChanges();
  await source.db.query("FLUSH BINARY LOGS");
  const head = await binlogPosition(source.db);
  if (!head) throw new Error(`the sandbox source of ${service.name} has no binary log`);
  const deadline = Date.now() + 120_000;
  for (;;) {
    const newest = listArchive(dir).at(-1);
    if (newest === head.file && readBinlogEvents(join(dir, newest)).completeBytes >= head.position) break;
    if (Date.now() > deadline) throw new Error(`the archive did not reach the sandbox source's ${head.file}:${head.position} within 120 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
  log(`the archive of ${service.name} holds the sandbox source's newest event (${head.file}:${head.position}); stopping`);
}

/** The archive checked against the oldest kept backup and the server's binlogs (when the server can be asked). */
export async function checkServiceArchive(service: Service, log: (line: string) => void = () => undefined): Promise<ArchiveCheck> {
  const store = resolve(service.backup.store);
  const dir = binlogArchiveDir(store, service.name);
  const oldest = listBackups(store, service.name).complete[0]?.meta.position ?? null;
  let server: { name: string; size: number }[] | undefined;
  if (!("sandbox" in service.source)) {
    const source = await openSource(service, log);
    try {
      server = await binaryLogs(source.db);
    } finally {
      await source.close();
    }
  }
  return checkArchive(describeArchive(dir, server), oldest, server);
}
