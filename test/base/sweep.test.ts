// The sweep on real directories and processes: live owners' directories are never touched, dead ones' servers are
// stopped and their directories removed, and a pid in a pid file that is not the directory's server is never signalled.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { createWorkDir, installDatadir, serverArgs, serverFiles } from "../../src/hosts/sandbox.ts";
import { OWNER_FILE, currentOwner, processStat, type Owner } from "../../src/base/owner.ts";
import { describeSweep, sweepStaleRuns } from "../../src/base/sweep.ts";
import { isPartialName, parsePartialName, partialPath, writeFileAtomic } from "../../src/base/partialFile.ts";
import { runCommand } from "../../src/base/command.ts";

const base = mkdtempSync(join(tmpdir(), "sweeptest-"));
const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill("SIGKILL");
});
afterAll(() => rmSync(base, { recursive: true, force: true }));

function sleeper(): ChildProcess {
  const child = spawn("sleep", ["300"], { stdio: "ignore" });
  children.push(child);
  return child;
}

const running = (pid: number) => {
  const stat = processStat(pid);
  return stat !== undefined && stat.state !== "Z" && stat.state !== "X";
};

/** A run directory as createWorkDir makes it, owned by `pid` (another process of this machine). */
function runDir(name: string, pid: number): string {
  const dir = mkdtempSync(join(base, `restoretest-${name}-`));
  const owner: Owner = { ...currentOwner(), pid, startTicks: processStat(pid)?.startTicks as number };
  writeFileSync(join(dir, OWNER_FILE), JSON.stringify(owner), { mode: 0o600 });
  writeFileSync(join(dir, "data.bin"), Buffer.alloc(1 << 20, 1));
  return dir;
}

async function kill(child: ChildProcess): Promise<void> {
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGKILL");
  await exited;
}

describe("stale-run sweep", () => {
  it("never touches the directory of a live run, on either side of two concurrent runs, and sweeps it once its run is gone", async () => {
    const other = sleeper();
    const theirs = runDir("restore-shop", other.pid as number);
    const ours = createWorkDir("restore-shop", base);
    const deadChild = sleeper();
    const dead = runDir("restore-shop", deadChild.pid as number);
    await kill(deadChild);

    const first = await sweepStaleRuns([base]);
    expect(first.swept.map((d) => d.path)).toEqual([dead]);
    expect(first.kept).toBe(2);
    expect(readdirSync(theirs).sort()).toEqual([OWNER_FILE, "data.bin"]);
    expect(existsSync(ours.path)).toBe(true);
    expect(existsSync(dead)).toBe(false);
    const line = describeSweep(first)[0];
    expect(line).toMatch(new RegExp(`^swept ${dead} \\(owner pid ${deadChild.pid}: process ${deadChild.pid} no longer exists\\); freed 1\\.\\d MB$`));

    await kill(other);
    const second = await sweepStaleRuns([base]);
    expect(second.swept.map((d) => d.path)).toEqual([theirs]);
    expect(existsSync(ours.path)).toBe(true);
    await ours.remove();
  });

  it("names a dead run's directory it could not remove, and why, and keeps it for the next sweep", async () => {
    const deadChild = sleeper();
    const dead = runDir("restore-shop", deadChild.pid as number);
    await kill(deadChild);
    // An immutable file (chattr +i): not even root removes it, as on a read-only or busy mount.
    const stuck = join(dead, "data.bin");
    await runCommand("chattr", ["+i", stuck]);
    try {
      const result = await sweepStaleRuns([base]);
      expect(result.swept).toHaveLength(1);
      expect(result.swept[0]?.error).toMatch(/cannot be removed \(EPERM: operation not permitted.*remove it by hand, then run restoretest sweep again$/);
      const lines = describeSweep(result);
      expect(lines[0]).toMatch(new RegExp(`^swept ${dead} \\(owner pid ${deadChild.pid}: process ${deadChild.pid} no longer exists\\); NOT removed: .*${stuck}`));
      expect(lines.at(-1)).toMatch(/^sweep: nothing removed, 0\.0 MB freed; 1 could not be removed$/);
      expect(existsSync(stuck)).toBe(true);
    } finally {
      await runCommand("chattr", ["-i", stuck]);
    }
    const again = await sweepStaleRuns([base]);
    expect(again.swept.map((d) => [d.path, d.error])).toEqual([[dead, undefined]]);
    expect(existsSync(dead)).toBe(false);
  });

  it("stops a dead run's server (SIGTERM, checked by its command line) before removing its directory", async () => {
    const owner = sleeper();
    const dir = runDir("restore-shop", owner.pid as number);
    const datadir = join(dir, "datadir");
    await installDatadir(datadir);
    mkdirSync(serverFiles(dir).tmpdir);
    // Started as the dead run would have: not a child the sweep knows of, only a pid file and a command line.
    const server = spawn("mariadbd", serverArgs({ dir, datadir, tcp: false, skipGrantTables: true }, undefined), { stdio: "ignore", detached: true });
    children.push(server);
    const deadline = Date.now() + 30_000;
    // Both: the server may open its socket a moment before it writes its pid file (seen at load average 9).
    while (!(existsSync(serverFiles(dir).socket) && existsSync(serverFiles(dir).pidFile)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(existsSync(serverFiles(dir).pidFile)).toBe(true);
    await kill(owner);

    const result = await sweepStaleRuns([base]);
    expect(result.swept).toEqual([
      expect.objectContaining({ path: dir, ownerPid: owner.pid, stopped: [`mariadbd pid ${server.pid}`] }),
    ]);
    expect(result.swept[0]?.error).toBeUndefined();
    expect(result.swept[0]?.bytes).toBeGreaterThan(1_000_000);
    expect(running(server.pid as number)).toBe(false);
    expect(existsSync(dir)).toBe(false);
  });

  it("never signals a process whose pid a dead run's pid file holds but whose command line is not that directory's", async () => {
    const owner = sleeper();
    const dir = runDir("restore-shop", owner.pid as number);
    // The pid was reused by an unrelated process since the dead run's server exited.
    const unrelated = sleeper();
    writeFileSync(serverFiles(dir).pidFile, `${unrelated.pid}\n`);
    await kill(owner);
    const result = await sweepStaleRuns([base]);
    expect(result.swept).toEqual([expect.objectContaining({ path: dir, stopped: [] })]);
    expect(existsSync(dir)).toBe(false);
    expect(running(unrelated.pid as number)).toBe(true);
  });

  it("sweeps ownerless directories of older versions only when they are the tool's and untouched for a day", async () => {
    const old = Date.now() / 1000 - 25 * 3600;
    const make = (name: string, age: number) => {
      const dir = join(base, name);
      mkdirSync(dir);
      writeFileSync(join(dir, "error.log"), "x");
      utimesSync(join(dir, "error.log"), age, age);
      utimesSync(dir, age, age);
      return dir;
    };
    const stale = make("restoretest-restore-shop-Old123", old);
    const fresh = make("restoretest-restore-shop-New123", Date.now() / 1000);
    const notOurs = make("restoretest-store-Old456", old);
    const result = await sweepStaleRuns([base]);
    expect(result.swept.map((d) => [d.path, d.reason])).toEqual([[stale, "no owner record, unchanged for 25 h"]]);
    expect(existsSync(fresh) && existsSync(notOurs)).toBe(true);
    rmSync(fresh, { recursive: true });
    rmSync(notOurs, { recursive: true });
  });

  it("in a store: sweeps a dead job's unfinished backup and a dead writer's partial file, keeps a live job's, a complete backup, and a live writer's file", async () => {
    const service = mkdtempSync(join(base, "store-shop-"));
    const owned = (id: string, pid: number, complete = false) => {
      const dir = join(service, id);
      mkdirSync(join(dir, "data"), { recursive: true });
      const owner: Owner = { ...currentOwner(), pid, startTicks: processStat(pid)?.startTicks as number };
      writeFileSync(join(dir, OWNER_FILE), JSON.stringify(owner));
      writeFileSync(join(dir, "data", "ibdata1"), Buffer.alloc(2 << 20, 7));
      if (complete) writeFileSync(join(dir, "backup.json"), "{}");
      return dir;
    };
    const deadJob = sleeper();
    const liveJob = sleeper();
    const unfinished = owned("2026-11-26T03-00-00Z", deadJob.pid as number);
    const live = owned("2026-11-26T04-00-00Z", liveJob.pid as number);
    // Killed after backup.json, before its owner record was removed: complete, never swept.
    const complete = owned("2026-11-26T02-00-00Z", deadJob.pid as number, true);
    mkdirSync(join(service, "binlogs"));
    // A dead copier's seal of a binlog, named by its writer as partialPath names this process's.
    const deadName = [...partialPath(join(service, "binlogs", "mysql-bin.000003.zst")).split("~").slice(0, -2), deadJob.pid, processStat(deadJob.pid as number)?.startTicks].join("~");
    expect(parsePartialName(basename(deadName))?.owner.pid).toBe(deadJob.pid);
    writeFileSync(deadName, Buffer.alloc(100_000, 1));
    const liveName = partialPath(join(service, "binlogs", "mysql-bin.000004.zst"));
    writeFileSync(liveName, "being written");
    await kill(deadJob);

    const result = await sweepStaleRuns([service]);
    expect(result.swept.map((d) => [d.kind, d.path, d.ownerPid])).toEqual([
      ["unfinished backup", unfinished, deadJob.pid],
      ["partial file", deadName, deadJob.pid],
    ]);
    expect(result.kept).toBe(1);
    expect(result.swept[0]?.bytes).toBeGreaterThan(2_000_000);
    const lines = describeSweep(result);
    expect(lines[0]).toBe(`swept unfinished backup ${unfinished} (owner pid ${deadJob.pid}: process ${deadJob.pid} no longer exists); freed ${((result.swept[0]?.bytes ?? 0) / 1e6).toFixed(1)} MB`);
    expect(lines.at(-1)).toMatch(/^sweep: 1 unfinished backup, 1 partial file removed, 2\.\d MB freed; 1 directory of a live run kept$/);
    expect([existsSync(unfinished), existsSync(deadName)]).toEqual([false, false]);
    expect([existsSync(live), existsSync(complete), existsSync(liveName)]).toEqual([true, true, true]);
  });

  it("replaces a file atomically: the new content whole, no partial file left, and a failed write leaves the old file", () => {
    const dir = mkdtempSync(join(base, "atomic-"));
    const path = join(dir, "verified.json");
    writeFileAtomic(path, "old\n");
    writeFileAtomic(path, "new\n", { mode: 0o600 });
    expect(readFileSync(path, "utf8")).toBe("new\n");
    expect(readdirSync(dir)).toEqual(["verified.json"]);
    // The temp name cannot be opened (a directory is there): the old file stays, nothing partial is left.
    mkdirSync(partialPath(path));
    expect(() => writeFileAtomic(path, "newer\n")).toThrow();
    expect(readFileSync(path, "utf8")).toBe("new\n");
    expect(readdirSync(dir).filter((n) => isPartialName(n) && !statSync(join(dir, n)).isDirectory())).toEqual([]);
  });
});
