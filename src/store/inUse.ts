// In-use markers: a restore reading a chain from the store says so, and retention keeps that chain until it is done.
// A marker is a file per reader (`<backup>/.in-use/<host>-<pid>-<n>.json`), so readers never wait for each other.
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { registerDisposer } from "../base/disposers.ts";
import { lockState, processAlive, type LockHolder } from "./lock.ts";
import { processStat } from "../base/owner.ts";

const IN_USE_DIR = ".in-use";
let counter = 0;

/** Mark every backup directory of `dirs` in use by this process until the returned release runs (also on Ctrl-C). */
export function markInUse(dirs: readonly string[], purpose: string): () => Promise<void> {
  const holder: LockHolder = { pid: process.pid, startTicks: processStat(process.pid)?.startTicks, host: hostname(), since: new Date().toISOString(), purpose };
  const name = `${holder.host}-${holder.pid}-${++counter}.json`;
  const files: string[] = [];
  for (const dir of dirs) {
    const markers = join(dir, IN_USE_DIR);
    mkdirSync(markers, { recursive: true, mode: 0o700 });
    const file = join(markers, name);
    writeFileSync(file, `${JSON.stringify(holder)}\n`, { mode: 0o600 });
    files.push(file);
  }
  return registerDisposer(`in-use markers of ${purpose}`, () => {
    for (const file of files) rmSync(file, { force: true });
  });
}

/** Who is reading `dir` now. Markers of processes gone from this host are stale: removed here, not counted. */
export function readersOf(dir: string): LockHolder[] {
  const markers = join(dir, IN_USE_DIR);
  let names: string[];
  try {
    names = readdirSync(markers).filter((n) => n.endsWith(".json"));
  } catch {
    return [];
  }
  const here = { host: hostname(), alive: processAlive };
  const readers: LockHolder[] = [];
  for (const n of names) {
    let holder: LockHolder | undefined;
    try {
      holder = JSON.parse(readFileSync(join(markers, n), "utf8")) as LockHolder;
    } catch {
      holder = undefined;
    }
    if (holder && lockState(holder, here) === "held") readers.push(holder);
    else rmSync(join(markers, n), { force: true });
  }
  return readers;
}

export function describeReader(r: LockHolder): string {
  return `${r.purpose} (pid ${r.pid} on ${r.host}, since ${r.since})`;
}
