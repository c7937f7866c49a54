// The stale-run sweep: run directories whose owning run is gone (killed with its whole process tree, reapers included,
// or its machine rebooted) have their servers stopped and are removed by the next run; a live run's are never touched.
import { existsSync, lstatSync, readdirSync, readFileSync, rmSync, statSync, unlinkSync, type Dirent } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { judgeOwner, OWNER_FILE, processStat, readOwner, thisMachine, type Machine, type Owner, type ProcessStat } from "./owner.ts";
import { parsePartialName } from "./partialFile.ts";

/** Names the tool gives run directories: `restoretest-<purpose>-XXXXXX` (temp dir, restore.workDir) and `.replay-XXXXXX` (store). */
const RUN_DIR = /^(restoretest-|\.replay-)/;
/** The directories older versions made without an owner record (createWorkDir's and replayFilesDir's mkdtemp names). */
const OWNERLESS_RUN_DIR = /^(restoretest-(restore|source|backup)-[\w-]+|\.replay)-[A-Za-z0-9]{6}$/;
/** An ownerless directory untouched this long belongs to no run still going (a restore's timeout is 30 minutes by default). */
export const OWNERLESS_AGE_MS = 24 * 3_600_000;
/**
 * A directory or partial file another host (or container) owns, whose process cannot be checked from here, is swept
 * only once nothing in it changed for this long: a live backup or restore writes all along (a copy, a server's error
 * log), and none runs a day in silence. Shorter would risk a live job on a stalled shared filesystem.
 */
export const ELSEWHERE_AGE_MS = 24 * 3_600_000;
/**
 * A backup directory holding this file is complete (src/store/layout.ts BACKUP_META_FILE): never swept, whatever its
 * owner record says (a job killed after writing it, before removing its owner record).
 */
const FINISHED_BACKUP_FILE = "backup.json";

/** What a sweep needs to know about one directory. */
export interface RunDirFacts {
  name: string;
  owner: ReturnType<typeof readOwner>;
  /** Newest mtime of the directory and its direct entries (a server's error log, the transfer's target). */
  touchedMs: number;
  /** Is a server of this directory running (its command line names the directory)? Asked only of ownerless ones. */
  serverRunning: () => boolean;
  /** Newest mtime anywhere below it (a file a copy is still writing, deep in `data/`): asked only of another host's. */
  treeTouchedMs?: () => number;
}

export type SweepDecision =
  | { sweep: true; reason: string; ownerPid: number | undefined }
  | { sweep: false; reason: string; live: boolean };

/**
 * Sweep or keep one directory. With an owner record: swept when the owner is gone (judgeOwner). Without one (made by an
 * older version, or an instant old and not yet written): swept only when its name is one the tool makes, nothing in it
 * changed for `ownerlessAgeMs`, and no server of it runs — a long-running old-version restore is never guessed dead.
 */
export function decideSweep(
  dir: RunDirFacts,
  here: Machine,
  stat: (pid: number) => ProcessStat | undefined,
  now: number,
  ownerlessAgeMs = OWNERLESS_AGE_MS,
): SweepDecision {
  if ("owner" in dir.owner) {
    const verdict = judgeOwner(dir.owner.owner, here, stat);
    if (verdict.state === "gone") return { sweep: true, reason: verdict.reason, ownerPid: dir.owner.owner.pid };
    if (verdict.state === "elsewhere") {
      const silentMs = now - (dir.treeTouchedMs?.() ?? dir.touchedMs);
      if (silentMs >= ELSEWHERE_AGE_MS) return { sweep: true, reason: `${verdict.reason}, nothing in it changed for ${Math.floor(silentMs / 3_600_000)} h`, ownerPid: dir.owner.owner.pid };
    }
    return { sweep: false, reason: verdict.state === "alive" ? `its run (pid ${dir.owner.owner.pid}) is alive` : verdict.reason, live: true };
  }
  const why = "missing" in dir.owner ? "no owner record" : `owner record unreadable (${dir.owner.unreadable})`;
  if (!OWNERLESS_RUN_DIR.test(dir.name)) return { sweep: false, reason: `${why}, and not a name the tool gives run directories`, live: false };
  const ageMs = now - dir.touchedMs;
  if (ageMs < ownerlessAgeMs) return { sweep: false, reason: `${why}, changed ${Math.round(ageMs / 60_000)} min ago`, live: false };
  if (dir.serverRunning()) return { sweep: false, reason: `${why}, but its server is still running`, live: false };
  return { sweep: true, reason: `${why}, unchanged for ${Math.floor(ageMs / 3_600_000)} h`, ownerPid: undefined };
}

/** Does a command line name `dir`: an argument (or an option's value) that is the directory or a path under it? */
export function commandNamesDir(args: readonly string[], dir: string): boolean {
  const under = `${dir}/`;
  return args.some((arg) => {
    const value = arg.startsWith("-") && arg.includes("=") ? arg.slice(arg.indexOf("=") + 1) : arg;
    return value === dir || value.startsWith(under);
  });
}

/** Where the sweep looks: the OS temp dir, every `restore.workDir`, and each service's store directory (replay link dirs). */
export function sweepRoots(
  services: readonly { name: string; backup: { store: string }; restore: { workDir?: string } }[],
  temp: string = tmpdir(),
): string[] {
  const roots = [resolve(temp)];
  for (const s of services) if (s.restore.workDir) roots.push(resolve(s.restore.workDir));
  for (const s of services) roots.push(join(resolve(s.backup.store), s.name));
  return [...new Set(roots)];
}

export interface SweptDir {
  path: string;
  /** A run directory (temp dir, workDir, replay links), a backup directory its job left unfinished, a file being written. */
  kind: "run directory" | "unfinished backup" | "partial file";
  /** The dead owner's pid; undefined for an ownerless directory. */
  ownerPid: number | undefined;
  reason: string;
  /** Disk space freed (allocated blocks, not apparent sizes). */
  bytes: number;
  /** Servers of the directory that were still running and were stopped, e.g. `mariadbd pid 4242`. */
  stopped: string[];
  /** Why it could not be (fully) removed; the directory is then still there. */
  error?: string;
}

export interface SweepResult {
  roots: string[];
  swept: SweptDir[];
  /** Directories of live runs (or of another machine) left alone. */
  kept: number;
}

export interface SweepOptions {
  now?: number;
  ownerlessAgeMs?: number;
  /** How long a server gets to shut down after SIGTERM before SIGKILL. */
  stopTimeoutMs?: number;
}

/**
 * Sweep every root: stop the servers of directories whose run is gone, then remove those directories. Found by their
 * owner records: run directories (by the tool's names), backup directories a killed job left without backup.json, and
 * files being written (`<file>.partial~<writer>`) in a root or one level below it (a backup, the binlog archive).
 */
export async function sweepStaleRuns(roots: readonly string[], options: SweepOptions = {}): Promise<SweepResult> {
  const here = thisMachine();
  const now = options.now ?? Date.now();
  const result: SweptDir[] = [];
  let kept = 0;
  for (const root of roots) {
    for (const { name, kind } of listRunDirs(root)) {
      const path = join(root, name);
      const facts = readFacts(path, name);
      if (!facts) continue;
      const decision = decideSweep(facts, here, processStat, now, options.ownerlessAgeMs);
      if (!decision.sweep) {
        if (decision.live) kept++;
        continue;
      }
      result.push(await sweepDir(path, kind, decision.ownerPid, decision.reason, options.stopTimeoutMs ?? 30_000));
    }
    // Partial files live in the store; the OS temp dir's other directories (anyone's) are not read through for them.
    for (const file of resolve(root) === resolve(tmpdir()) ? [] : listPartialFiles(root)) {
      const decision = decideSweep(file.facts, here, processStat, now, options.ownerlessAgeMs);
      // A live writer's file is not counted among kept directories: it is renamed into place in a moment.
      if (!decision.sweep) continue;
      result.push(removePartialFile(file.path, decision.ownerPid, decision.reason));
    }
  }
  return { roots: [...roots], swept: result, kept };
}

/** One line per swept directory, then the total: what `restoretest sweep` prints and a run logs. */
export function describeSweep(result: SweepResult): string[] {
  const lines = result.swept.map((d) => {
    const owner = d.ownerPid === undefined ? "no owner" : `owner pid ${d.ownerPid}`;
    const stopped = d.stopped.length > 0 ? `; stopped ${d.stopped.join(", ")}` : "";
    const outcome = d.error ? `NOT removed: ${d.error}` : `freed ${megabytes(d.bytes)}`;
    return `swept ${d.kind === "run directory" ? "" : `${d.kind} `}${d.path} (${owner}: ${d.reason})${stopped}; ${outcome}`;
  });
  const removed = result.swept.filter((d) => !d.error);
  const failed = result.swept.length - removed.length;
  const kept = result.kept === 0 ? "" : `; ${result.kept} director${result.kept === 1 ? "y of a live run" : "ies of live runs"} kept`;
  const count = (kind: SweptDir["kind"], one: string, many: string) => {
    const n = removed.filter((d) => d.kind === kind).length;
    return n === 0 ? [] : [`${n} ${n === 1 ? one : many}`];
  };
  const what = [
    ...count("run directory", "stale run directory", "stale run directories"),
    ...count("unfinished backup", "unfinished backup", "unfinished backups"),
    ...count("partial file", "partial file", "partial files"),
  ];
  const total =
    result.swept.length === 0
      ? `sweep: nothing to sweep in ${result.roots.join(", ")}${kept}`
      : `sweep: ${what.length ? what.join(", ") : "nothing"} removed, ` +
        `${megabytes(removed.reduce((n, d) => n + d.bytes, 0))} freed${failed > 0 ? `; ${failed} could not be removed` : ""}${kept}`;
  return [...lines, total];
}

/**
 * At the start of a run: sweep what `services` use, logging only what was removed. Housekeeping never fails the run
 * it precedes: a sweep that cannot finish says why and the run goes on.
 */
export async function sweepBeforeRun(
  services: Parameters<typeof sweepRoots>[0],
  log: (line: string) => void = (line) => process.stderr.write(`restoretest: ${line}\n`),
): Promise<void> {
  try {
    const result = await sweepStaleRuns(sweepRoots(services));
    if (result.swept.length > 0) describeSweep(result).forEach((line) => log(line));
  } catch (error) {
    log(`sweep of stale run directories failed: ${(error as Error).message}`);
  }
}

function megabytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

/**
 * The directories under `root` a sweep judges: run directories by the tool's names, and backup directories (of a store)
 * that carry an owner record and no backup.json: a job that died before finishing its backup.
 */
function listRunDirs(root: string): { name: string; kind: SweptDir["kind"] }[] {
  try {
    return readdirSync(root, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .flatMap((e): { name: string; kind: SweptDir["kind"] }[] => {
        if (RUN_DIR.test(e.name)) return [{ name: e.name, kind: "run directory" }];
        const dir = join(root, e.name);
        if (!e.name.startsWith(".") && existsSync(join(dir, OWNER_FILE)) && !existsSync(join(dir, FINISHED_BACKUP_FILE))) return [{ name: e.name, kind: "unfinished backup" }];
        return [];
      })
      .sort((a, b) => a.name.localeCompare(b.name));
  } catch {
    // A root that does not exist (yet) holds nothing to sweep.
    return [];
  }
}

/** Files being written (`<file>.partial~<writer>`) in `root` and in its direct subdirectories (a backup, the binlog archive). */
function listPartialFiles(root: string): { path: string; facts: RunDirFacts }[] {
  const out: { path: string; facts: RunDirFacts }[] = [];
  const look = (dir: string) => {
    let entries: Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const parsed = e.isFile() ? parsePartialName(e.name) : undefined;
      if (!parsed) continue;
      const path = join(dir, e.name);
      try {
        const stat = statSync(path);
        const uid = process.getuid?.();
        if (uid !== undefined && uid !== 0 && stat.uid !== uid) continue;
        const owner: Owner = { ...parsed.owner, createdAt: new Date(stat.birthtimeMs || stat.mtimeMs).toISOString() };
        out.push({ path, facts: { name: e.name, owner: { owner }, touchedMs: stat.mtimeMs, serverRunning: () => false } });
      } catch {
        // Renamed into place or removed meanwhile.
      }
    }
  };
  look(root);
  try {
    for (const e of readdirSync(root, { withFileTypes: true })) if (e.isDirectory() && !RUN_DIR.test(e.name)) look(join(root, e.name));
  } catch {
    // No root: nothing being written there.
  }
  return out;
}

function removePartialFile(path: string, ownerPid: number | undefined, reason: string): SweptDir {
  const swept: SweptDir = { path, kind: "partial file", ownerPid, reason, bytes: 0, stopped: [] };
  try {
    swept.bytes = lstatSync(path).blocks * 512;
    rmSync(path, { force: true });
  } catch (error) {
    swept.error = (error as Error).message;
  }
  return swept;
}

function readFacts(path: string, name: string): RunDirFacts | undefined {
  try {
    const stat = statSync(path);
    // Another user's runs on a shared agent are theirs to sweep (root may sweep anyone's).
    const uid = process.getuid?.();
    if (uid !== undefined && uid !== 0 && stat.uid !== uid) return undefined;
    let touchedMs = stat.mtimeMs;
    for (const entry of readdirSync(path)) {
      touchedMs = Math.max(touchedMs, lstatSync(join(path, entry)).mtimeMs);
    }
    return { name, owner: readOwner(path), touchedMs, serverRunning: () => serverPids(path).length > 0, treeTouchedMs: () => newestMtime(path) };
  } catch {
    // Removed meanwhile (another run's sweep, a reaper): nothing left to decide.
    return undefined;
  }
}

/** Programs a run leaves working in its directory: its server, and a prepare whose parent was killed alone (OOM). */
// `ld-linux-x86-64` (15 characters, all of a process name): a server or mariadb-backup run through its own tree's loader
// (the MySQL 9.7 and MariaDB 11.8 toolchains made by scripts/install-mysql.sh and install-mariadb.sh).
const RUN_PROGRAMS = new Set(["mariadbd", "mysqld", "mariadb-backup", "mariabackup", "xtrabackup", "ld-linux-x86-64"]);

/** Processes of `dir`: the pid in its `mysqld.pid`, and any server or backup tool, if its command line names `dir`. */
function serverPids(dir: string): { pid: number; name: string }[] {
  const candidates = new Set<number>();
  try {
    const recorded = Number(readFileSync(join(dir, "mysqld.pid"), "utf8").trim());
    if (Number.isInteger(recorded) && recorded > 0) candidates.add(recorded);
  } catch {
    // No pid file: the server never started, or it stopped and removed it.
  }
  // A server killed before it wrote its pid file (or started by an older version elsewhere in the directory).
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const comm = readProc(`/proc/${entry}/comm`)?.trim();
    if (comm && RUN_PROGRAMS.has(comm)) candidates.add(Number(entry));
  }
  const servers: { pid: number; name: string }[] = [];
  for (const pid of candidates) {
    if (pid === process.pid) continue;
    const args = readProc(`/proc/${pid}/cmdline`)?.split("\0").filter(Boolean) ?? [];
    const stat = processStat(pid);
    if (!stat || stat.state === "Z" || stat.state === "X" || !commandNamesDir(args, dir)) continue;
    servers.push({ pid, name: readProc(`/proc/${pid}/comm`)?.trim() || "server" });
  }
  return servers;
}

function readProc(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

/** SIGTERM (a clean shutdown), then SIGKILL after `timeoutMs`; resolves when the process has exited. */
async function stopProcess(pid: number, timeoutMs: number): Promise<void> {
  const started = processStat(pid)?.startTicks;
  const exited = () => {
    const now = processStat(pid);
    return !now || now.state === "Z" || now.state === "X" || now.startTicks !== started;
  };
  const waitExit = async (ms: number) => {
    const deadline = Date.now() + ms;
    while (!exited() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    return exited();
  };
  signal(pid, "SIGTERM");
  if (await waitExit(timeoutMs)) return;
  signal(pid, "SIGKILL");
  if (!(await waitExit(10_000))) throw new Error(`pid ${pid} did not exit after SIGKILL`);
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch (error) {
    // ESRCH: it exited on its own meanwhile.
    if ((error as NodeJS.ErrnoException).code !== "ESRCH") throw error;
  }
}

async function sweepDir(path: string, kind: SweptDir["kind"], ownerPid: number | undefined, reason: string, stopTimeoutMs: number): Promise<SweptDir> {
  const swept: SweptDir = { path, kind, ownerPid, reason, bytes: 0, stopped: [] };
  try {
    for (const server of serverPids(path)) {
      await stopProcess(server.pid, stopTimeoutMs);
      swept.stopped.push(`${server.name} pid ${server.pid}`);
    }
    swept.bytes = allocatedBytes(path);
    // The owner record last: a directory that cannot be removed whole keeps it, and the next sweep knows it again.
    for (const entry of readdirSync(path)) if (entry !== OWNER_FILE) rmSync(join(path, entry), { recursive: true, force: true });
    rmSync(path, { recursive: true, force: true });
  } catch (error) {
    swept.error = whyNotRemoved(path, error as Error);
  }
  return swept;
}

/**
 * What keeps a directory from being removed, in the words a DBA can act on. rmSync's own error can name the wrong cause
 * (a file root may not unlink, chattr +i, gives "ENOTDIR: scandir" from its retry): the first file still there, and
 * why unlinking it fails.
 */
function whyNotRemoved(path: string, error: Error): string {
  const stack = [path];
  while (stack.length > 0) {
    const current = stack.pop() as string;
    let entries: Dirent[];
    try {
      entries = readdirSync(current, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const entry of entries) {
      const full = join(current, entry.name);
      if (entry.isDirectory()) {
        stack.push(full);
        continue;
      }
      // The owner record stays for the next sweep.
      if (current === path && entry.name === OWNER_FILE) continue;
      try {
        unlinkSync(full);
      } catch (cause) {
        return `${full} cannot be removed (${(cause as Error).message}); remove it by hand, then run restoretest sweep again`;
      }
    }
  }
  return error.message;
}

/** Disk space a tree takes (allocated blocks: a sparse InnoDB file frees less than its apparent size). */
function allocatedBytes(path: string): number {
  let total = 0;
  const stack = [path];
  while (stack.length > 0) {
    const current = stack.pop() as string;
    let entries: string[];
    try {
      const stat = lstatSync(current);
      // A hard link (a replay dir's link to an archived binlog) frees nothing while the archive keeps the file.
      if (!(stat.isFile() && stat.nlink > 1)) total += stat.blocks * 512;
      if (!stat.isDirectory()) continue;
      entries = readdirSync(current);
    } catch {
      continue;
    }
    for (const entry of entries) stack.push(join(current, entry));
  }
  return total;
}

/** The newest mtime of anything in a tree (a file still being written deep below it counts). */
function newestMtime(path: string): number {
  let newest = 0;
  const stack = [path];
  while (stack.length > 0) {
    const current = stack.pop() as string;
    try {
      const stat = lstatSync(current);
      newest = Math.max(newest, stat.mtimeMs);
      if (stat.isDirectory()) for (const entry of readdirSync(current)) stack.push(join(current, entry));
    } catch {
      // Removed meanwhile.
    }
  }
  return newest;
}
