// Exclusive lock files in the store, so two backups (or two binlog copiers) of one service never run at once.
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import { dirname } from "node:path";
import { registerDisposer } from "../base/disposers.ts";
import { judgePid, processStat } from "../base/owner.ts";

export interface LockHolder {
  pid: number;
  /** The holder's start time (/proc/<pid>/stat field 22): a pid reused by another process is not the holder. */
  startTicks?: number;
  host: string;
  since: string;
  /** What holds it, for the message: "backup of shop". */
  purpose: string;
}

/** Is this lock still held? A holder on this host whose pid is gone is stale; one on another host is never judged from here. */
export function lockState(holder: LockHolder | undefined, here: { host: string; alive: (pid: number, startTicks?: number) => boolean }): "held" | "stale" {
  if (!holder || !Number.isInteger(holder.pid) || holder.pid <= 0) return "stale";
  if (holder.host !== here.host) return "held";
  return here.alive(holder.pid, holder.startTicks) ? "held" : "stale";
}

/** Is the holder `pid` (started at `startTicks`, when it recorded it) still running here? As owner records are judged. */
export function processAlive(pid: number, startTicks?: number): boolean {
  return judgePid(pid, startTicks).state === "alive";
}

export class LockHeldError extends Error {
  override name = "LockHeldError";
  constructor(
    readonly path: string,
    readonly holder: LockHolder,
    purpose: string,
  ) {
    super(
      `cannot start the ${purpose}: the ${holder.purpose} is still running (pid ${holder.pid} on ${holder.host}, since ${holder.since}; lock file ${path}). ` +
        `Wait for it to finish; if that process no longer exists on ${holder.host}, remove the lock file`,
    );
  }
}

function readHolder(path: string): LockHolder | undefined {
  try {
    return JSON.parse(readFileSync(path, "utf8")) as LockHolder;
  } catch {
    return undefined;
  }
}

/**
 * Take the lock at `path` (O_EXCL create). A stale lock (its process gone) is replaced, saying so through `log`.
 * Returns the release function; the lock is also released on Ctrl-C and on exit through the disposer list.
 */
export async function acquireLock(path: string, purpose: string, log: (line: string) => void = () => undefined): Promise<() => Promise<void>> {
  mkdirSync(dirname(path), { recursive: true });
  const here = { host: hostname(), alive: processAlive };
  for (let attempt = 0; ; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, "wx", 0o600);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST" || attempt > 2) throw error;
      const holder = readHolder(path);
      // A lock file being written this instant reads as empty: give its writer a moment before judging it.
      if (!holder && attempt === 0) {
        await new Promise((r) => setTimeout(r, 200));
        continue;
      }
      if (holder && lockState(holder, here) === "held") throw new LockHeldError(path, holder, purpose);
      log(`removing stale lock ${path} (${holder ? `pid ${holder.pid} on ${holder.host} is gone` : "unreadable"})`);
      rmSync(path, { force: true });
      continue;
    }
    const holder: LockHolder = { pid: process.pid, startTicks: processStat(process.pid)?.startTicks, host: here.host, since: new Date().toISOString(), purpose };
    try {
      writeSync(fd, `${JSON.stringify(holder)}\n`);
    } finally {
      closeSync(fd);
    }
    return registerDisposer(`lock ${path}`, () => {
      // Only our own lock: a stale-lock takeover by someone else must not be undone by us.
      if (readHolder(path)?.pid === process.pid) rmSync(path, { force: true });
    });
  }
}
