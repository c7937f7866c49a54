// The stale-run sweep: run directories whose owning run is gone (killed with its whole process tree, reapers included,
// or its machine rebooted) have their servers stopped and are removed by the next run; a live run's are never touched.
import { lstatSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { judgeOwner, processStat, readOwner, thisMachine, type Machine, type ProcessStat } from "./owner.ts";

/** Names the tool gives run directories: `restoretest-<purpose>-XXXXXX` (temp dir, restore.workDir) and `.replay-XXXXXX` (store). */
const RUN_DIR = /^(restoretest-|\.replay-)/;
/** The directories older versions made without an owner record (createWorkDir's and replayFilesDir's mkdtemp names). */
const OWNERLESS_RUN_DIR = /^(restoretest-(restore|source|backup)-[\w-]+|\.replay)-[A-Za-z0-9]{6}$/;
/** An ownerless directory untouched this long belongs to no run still going (a restore's timeout is 30 minutes by default). */
export const OWNERLESS_AGE_MS = 24 * 3_600_000;

/** What a sweep needs to know about one directory. */
export interface RunDirFacts {
  name: string;
  owner: ReturnType<typeof readOwner>;
  /** Newest mtime of the directory and its direct entries (a server's error log, the transfer's target). */
  touchedMs: number;
  /** Is a server of this directory running (its command line names the directory)? Asked only of ownerless ones. */
  serverRunning: () => boolean;
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

/** Sweep every root: stop the servers of directories whose run is gone, then remove those directories. */
export async function sweepStaleRuns(roots: readonly string[], options: SweepOptions = {}): Promise<SweepResult> {
  const here = thisMachine();
  const result: SweepResult = { roots: [...roots], swept: [], kept: 0 };
  for (const root of roots) {
    for (const name of listRunDirs(root)) {
      const path = join(root, name);
      const facts = readFacts(path, name);
      if (!facts) continue;
      const decision = decideSweep(facts, here, processStat, options.now ?? Date.now(), options.ownerlessAgeMs);
      if (!decision.sweep) {
        if (decision.live) result.kept++;
        continue;
      }
      result.swept.push(await sweepDir(path, decision.ownerPid, decision.reason, options.stopTimeoutMs ?? 30_000));
    }
  }
  return result;
}

/** One line per swept directory, then the total: what `restoretest sweep` prints and a run logs. */
export function describeSweep(result: SweepResult): string[] {
  const lines = result.swept.map((d) => {
    const owner = d.ownerPid === undefined ? "no owner" : `owner pid ${d.ownerPid}`;
    const stopped = d.stopped.length > 0 ? `; stopped ${d.stopped.join(", ")}` : "";
    const outcome = d.error ? `NOT removed: ${d.error}` : `freed ${megabytes(d.bytes)}`;
    return `swept ${d.path} (${owner}: ${d.reason})${stopped}; ${outcome}`;
  });
  const removed = result.swept.filter((d) => !d.error);
  const failed = result.swept.length - removed.length;
  const kept = result.kept === 0 ? "" : `; ${result.kept} director${result.kept === 1 ? "y of a live run" : "ies of live runs"} kept`;
  const total =
    result.swept.length === 0
      ? `sweep: nothing to sweep in ${result.roots.join(", ")}${kept}`
      : `sweep: ${removed.length} stale run director${removed.length === 1 ? "y" : "ies"} removed, ` +
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

function listRunDirs(root: string): string[] {
  try {
    return readdirSync(root, { withFileTypes: true })
      .filter((e) => e.isDirectory() && RUN_DIR.test(e.name))
      .map((e) => e.name)
      .sort();
  } catch {
    // A root that does not exist (yet) holds nothing to sweep.
    return [];
  }
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
    return { name, owner: readOwner(path), touchedMs, serverRunning: () => serverPids(path).length > 0 };
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

async function sweepDir(path: string, ownerPid: number | undefined, reason: string, stopTimeoutMs: number): Promise<SweptDir> {
  const swept: SweptDir = { path, ownerPid, reason, bytes: 0, stopped: [] };
  try {
    for (const server of serverPids(path)) {
      await stopProcess(server.pid, stopTimeoutMs);
      swept.stopped.push(`${server.name} pid ${server.pid}`);
    }
    swept.bytes = allocatedBytes(path);
    rmSync(path, { recursive: true, force: true });
  } catch (error) {
    swept.error = (error as Error).message;
  }
  return swept;
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
