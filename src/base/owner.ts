// Who made a run directory (host, boot, process and its start time), written inside it so a later run can tell a live
// run's directory from one whose run was killed before it could clean up.
import { readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { z } from "zod";

/** The owner record inside every run directory. */
export const OWNER_FILE = ".owner.json";

export const OwnerSchema = z.object({
  version: z.literal(1),
  host: z.string(),
  /** /proc/sys/kernel/random/boot_id: a pid from before a reboot names no process of this boot. */
  bootId: z.string(),
  /** /proc/self/ns/pid: the same pid in another container's pid namespace is another process. */
  pidNamespace: z.string(),
  pid: z.number().int().positive(),
  /** When the process started, in clock ticks since boot (/proc/<pid>/stat field 22): a reused pid has another. */
  startTicks: z.number().int().nonnegative(),
  createdAt: z.string(),
});
export type Owner = z.infer<typeof OwnerSchema>;

/** What /proc says about a pid now. */
export interface ProcessStat {
  startTicks: number;
  /** One letter (field 3): Z and X are processes that have exited and wait to be reaped. */
  state: string;
}

/** This machine, as an owner record names it. */
export interface Machine {
  host: string;
  bootId: string;
  pidNamespace: string;
}

export type OwnerVerdict =
  | { state: "alive" }
  | { state: "gone"; reason: string }
  /** Recorded by another machine (a shared filesystem) or another pid namespace: not judged from here. */
  | { state: "elsewhere"; reason: string };

/**
 * Is the run that owns a directory still running? Alive means: this boot of this machine, and its pid is a running
 * process that started at the recorded tick. A record of this host from another boot is gone (a reboot ends every
 * run); a record of another host and boot is never judged from here (a workDir on a shared filesystem).
 */
export function judgeOwner(owner: Owner, here: Machine, stat: (pid: number) => ProcessStat | undefined): OwnerVerdict {
  if (owner.bootId !== here.bootId) {
    return owner.host === here.host ? { state: "gone", reason: "made before this machine last booted" } : { state: "elsewhere", reason: `made on host ${owner.host}` };
  }
  // The same boot id is this machine (a renamed host included); the same pid in another container is another process.
  if (owner.pidNamespace && here.pidNamespace && owner.pidNamespace !== here.pidNamespace) {
    return { state: "elsewhere", reason: `made in another pid namespace (${owner.pidNamespace})` };
  }
  return judgePid(owner.pid, owner.startTicks, stat);
}

/**
 * Is `pid`, started at `startTicks` (when known), still running on this machine? An exited process nobody has reaped
 * yet (a zombie: kill(pid, 0) still succeeds on it, and an init that does not reap keeps it for ever) is gone, and so
 * is a pid that now belongs to another process. Owner records and lock holders are judged alike by it.
 */
export function judgePid(pid: number, startTicks: number | undefined, stat: (pid: number) => ProcessStat | undefined = processStat): { state: "alive" } | { state: "gone"; reason: string } {
  const now = stat(pid);
  if (!now) return { state: "gone", reason: `process ${pid} no longer exists` };
  if (now.state === "Z" || now.state === "X") return { state: "gone", reason: `process ${pid} has exited` };
  if (startTicks !== undefined && now.startTicks !== startTicks) {
    return { state: "gone", reason: `pid ${pid} now belongs to another process (started at tick ${now.startTicks}, the owner at ${startTicks})` };
  }
  return { state: "alive" };
}

/** The state and start time of `pid` from /proc/<pid>/stat; undefined when there is no such process. */
export function processStat(pid: number): ProcessStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  return parseProcStat(text);
}

/** Fields 3 (state) and 22 (starttime) of a /proc/<pid>/stat line; the command name (field 2) may hold spaces and ")". */
export function parseProcStat(text: string): ProcessStat | undefined {
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  const state = fields[0];
  const startTicks = Number(fields[19]);
  if (!state || !Number.isInteger(startTicks)) return undefined;
  return { state, startTicks };
}

export function thisMachine(): Machine {
  return { host: hostname(), bootId: readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim(), pidNamespace: pidNamespace("self") };
}

function pidNamespace(pid: string): string {
  try {
    return readlinkSync(`/proc/${pid}/ns/pid`);
  } catch {
    // Unreadable (a hardened /proc): the host and boot id still decide.
    return "";
  }
}

/** This process as the owner of a directory made now. */
export function currentOwner(now = new Date()): Owner {
  const stat = processStat(process.pid);
  if (!stat) throw new Error(`cannot read /proc/${process.pid}/stat: a run directory's owner cannot be recorded without /proc`);
  return { version: 1, ...thisMachine(), pid: process.pid, startTicks: stat.startTicks, createdAt: now.toISOString() };
}

/** Record this process as the owner of the new directory `dir` (mode 0600, like everything in a run directory). */
export function recordOwner(dir: string): void {
  writeFileSync(join(dir, OWNER_FILE), `${JSON.stringify(currentOwner())}\n`, { mode: 0o600 });
}

/** The owner recorded in `dir`: missing (made by an older version, or just being made), unreadable, or the record. */
export function readOwner(dir: string): { owner: Owner } | { missing: true } | { unreadable: string } {
  let text: string;
  try {
    text = readFileSync(join(dir, OWNER_FILE), "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { missing: true };
    return { unreadable: (error as Error).message };
  }
  try {
    const parsed = OwnerSchema.safeParse(JSON.parse(text));
    return parsed.success ? { owner: parsed.data } : { unreadable: parsed.error.issues[0]?.message ?? "not an owner record" };
  } catch (error) {
    return { unreadable: (error as Error).message };
  }
}
