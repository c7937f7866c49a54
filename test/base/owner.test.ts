// Whose run directory is this, and is that run still going? The owner record and the decisions made on it.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createWorkDir } from "../../src/hosts/sandbox.ts";
import {
  OWNER_FILE,
  currentOwner,
  judgeOwner,
  parseProcStat,
  processStat,
  readOwner,
  thisMachine,
  type Owner,
  type ProcessStat,
} from "../../src/base/owner.ts";
import { commandNamesDir, decideSweep, describeSweep, sweepRoots, type RunDirFacts } from "../../src/base/sweep.ts";

const here = { host: "db1", bootId: "boot-a", pidNamespace: "pid:[4026531836]" };
const owner: Owner = { version: 1, ...here, pid: 4242, startTicks: 1000, createdAt: "2026-11-25T03:00:00.000Z" };
const procs = (table: Record<number, ProcessStat>) => (pid: number) => table[pid];

describe("is the owner alive", () => {
  it("alive: same host and boot, the pid runs and started at the recorded tick", () => {
    expect(judgeOwner(owner, here, procs({ 4242: { startTicks: 1000, state: "S" } }))).toEqual({ state: "alive" });
  });

  it("gone: the pid was reused by a process that started later", () => {
    expect(judgeOwner(owner, here, procs({ 4242: { startTicks: 9000, state: "S" } }))).toEqual({
      state: "gone",
      reason: "pid 4242 now belongs to another process (started at tick 9000, the owner at 1000)",
    });
  });

  it("gone: recorded in another boot, even when a process with that pid and tick runs now", () => {
    const verdict = judgeOwner({ ...owner, bootId: "boot-b" }, here, procs({ 4242: { startTicks: 1000, state: "S" } }));
    expect(verdict).toEqual({ state: "gone", reason: "made before this machine last booted" });
  });

  it("gone: no such process, or one that exited and waits to be reaped", () => {
    expect(judgeOwner(owner, here, procs({}))).toEqual({ state: "gone", reason: "process 4242 no longer exists" });
    expect(judgeOwner(owner, here, procs({ 4242: { startTicks: 1000, state: "Z" } }))).toEqual({ state: "gone", reason: "process 4242 has exited" });
  });

  it("never judged here: another host's directory (a shared filesystem), or another pid namespace's", () => {
    expect(judgeOwner({ ...owner, host: "db2", bootId: "boot-b" }, here, procs({}))).toEqual({ state: "elsewhere", reason: "made on host db2" });
    expect(judgeOwner({ ...owner, pidNamespace: "pid:[4026532000]" }, here, procs({})).state).toBe("elsewhere");
  });

  it("this boot's record is this machine's, even after the host was renamed", () => {
    expect(judgeOwner({ ...owner, host: "old-name" }, here, procs({}))).toEqual({ state: "gone", reason: "process 4242 no longer exists" });
    expect(judgeOwner({ ...owner, host: "old-name" }, here, procs({ 4242: { startTicks: 1000, state: "S" } }))).toEqual({ state: "alive" });
  });

  it("reads state and start time from /proc/<pid>/stat, whatever the command name holds", () => {
    const fields = Array.from({ length: 50 }, (_, i) => String(i + 3));
    fields[0] = "R";
    fields[19] = "123456";
    expect(parseProcStat(`77 (sh) x (y)) ${fields.join(" ")}`)).toEqual({ state: "R", startTicks: 123456 });
  });
});

describe("the owner record of this machine's processes", () => {
  const base = mkdtempSync(join(tmpdir(), "ownertest-"));
  afterAll(() => rmSync(base, { recursive: true, force: true }));

  it("createWorkDir records this process (mode 0600), and that owner is judged alive", async () => {
    const work = createWorkDir("owner-probe", base);
    try {
      const read = readOwner(work.path);
      if (!("owner" in read)) throw new Error(`no owner read: ${JSON.stringify(read)}`);
      expect(read.owner).toMatchObject({ version: 1, host: hostname(), pid: process.pid, bootId: readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim() });
      expect(read.owner.startTicks).toBe(processStat(process.pid)?.startTicks);
      expect(statSync(join(work.path, OWNER_FILE)).mode & 0o777).toBe(0o600);
      expect(judgeOwner(read.owner, thisMachine(), processStat)).toEqual({ state: "alive" });
    } finally {
      await work.remove();
    }
  });

  it("a real child is alive while it runs and gone once it exited", async () => {
    const child = spawn("sleep", ["60"], { stdio: "ignore" });
    const pid = child.pid as number;
    const record: Owner = { ...currentOwner(), pid, startTicks: processStat(pid)?.startTicks as number };
    expect(judgeOwner(record, thisMachine(), processStat)).toEqual({ state: "alive" });
    // The same pid with the start time of another process: a reused pid.
    expect(judgeOwner({ ...record, startTicks: record.startTicks - 1 }, thisMachine(), processStat).state).toBe("gone");
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGKILL");
    await exited;
    expect(judgeOwner(record, thisMachine(), processStat)).toEqual({ state: "gone", reason: `process ${pid} no longer exists` });
  });

  it("an unreadable owner record is reported as such, not taken for a missing one", () => {
    const dir = mkdtempSync(join(base, "restoretest-restore-x-"));
    expect(readOwner(dir)).toEqual({ missing: true });
    rmSync(dir, { recursive: true });
  });
});

describe("what the sweep decides", () => {
  const now = Date.parse("2026-11-26T03:00:00Z");
  const dir = (facts: Partial<RunDirFacts>): RunDirFacts => ({
    name: "restoretest-restore-shop-AbC123",
    owner: { missing: true },
    touchedMs: now - 25 * 3_600_000,
    serverRunning: () => false,
    ...facts,
  });
  const alive = procs({ 4242: { startTicks: 1000, state: "S" } });

  it("sweeps a directory whose owner is gone, never one whose owner is alive or elsewhere", () => {
    expect(decideSweep(dir({ owner: { owner } }), here, procs({}), now)).toEqual({ sweep: true, reason: "process 4242 no longer exists", ownerPid: 4242 });
    // Touched a moment ago by its live run: kept.
    expect(decideSweep(dir({ owner: { owner }, touchedMs: now }), here, alive, now)).toMatchObject({ sweep: false, live: true });
    expect(decideSweep(dir({ owner: { owner: { ...owner, host: "db2", bootId: "boot-b" } }, touchedMs: now - 23 * 3_600_000 }), here, procs({}), now)).toMatchObject({ sweep: false, live: true });
  });

  it("sweeps another host's directory only once nothing anywhere in it changed for 24 h (a shared store)", () => {
    const theirs = { owner: { ...owner, host: "db2", bootId: "boot-b" } };
    // Its top level is old, but a file deep in data/ is being written: a live copy on db2.
    expect(decideSweep(dir({ owner: theirs, treeTouchedMs: () => now - 60_000 }), here, procs({}), now)).toMatchObject({ sweep: false, live: true });
    expect(decideSweep(dir({ owner: theirs, treeTouchedMs: () => now - 25 * 3_600_000 }), here, procs({}), now)).toEqual({
      sweep: true,
      reason: "made on host db2, nothing in it changed for 25 h",
      ownerPid: 4242,
    });
  });

  it("sweeps an ownerless directory only by a tool's name, untouched for 24 h, with no server running", () => {
    expect(decideSweep(dir({}), here, procs({}), now)).toEqual({ sweep: true, reason: "no owner record, unchanged for 25 h", ownerPid: undefined });
    expect(decideSweep(dir({ touchedMs: now - 23 * 3_600_000 }), here, procs({}), now)).toMatchObject({ sweep: false });
    expect(decideSweep(dir({ serverRunning: () => true }), here, procs({}), now)).toEqual({
      sweep: false,
      reason: "no owner record, but its server is still running",
      live: false,
    });
    // The test stores and other directories that only share the prefix are not run directories.
    expect(decideSweep(dir({ name: "restoretest-store-AbC123" }), here, procs({}), now)).toMatchObject({ sweep: false });
    expect(decideSweep(dir({ name: ".replay-AbC123" }), here, procs({}), now)).toMatchObject({ sweep: true });
    expect(decideSweep(dir({ owner: { unreadable: "Unexpected end of JSON input" } }), here, procs({}), now)).toMatchObject({
      sweep: true,
      reason: "owner record unreadable (Unexpected end of JSON input), unchanged for 25 h",
    });
  });

  it("stops only a server whose command line names the directory", () => {
    const d = "/tmp/restoretest-restore-shop-AbC123";
    expect(commandNamesDir(["mariadbd", "--no-defaults", `--datadir=${d}/datadir`, `--pid-file=${d}/mysqld.pid`], d)).toBe(true);
    expect(commandNamesDir(["mariadbd", `--datadir=${d}X/datadir`], d)).toBe(false);
    expect(commandNamesDir(["sleep", "60"], d)).toBe(false);
    expect(commandNamesDir(["less", `${d}/error.log`], d)).toBe(true);
  });

  it("looks in the temp dir, every restore.workDir and each service's store directory, once each", () => {
    const services = [
      { name: "a", backup: { store: "/srv/backups" }, restore: { workDir: "/var/tmp/restores" } },
      { name: "b", backup: { store: "/srv/backups" }, restore: { workDir: "/var/tmp/restores" } },
      { name: "c", backup: { store: "/srv/other" }, restore: {} },
    ];
    expect(sweepRoots(services, "/tmp")).toEqual(["/tmp", "/var/tmp/restores", "/srv/backups/a", "/srv/backups/b", "/srv/other/c"]);
  });

  it("prints one line per swept directory and a total", () => {
    const lines = describeSweep({
      roots: ["/tmp"],
      kept: 1,
      swept: [
        { path: "/tmp/restoretest-restore-shop-AbC123", kind: "run directory", ownerPid: 4242, reason: "process 4242 no longer exists", bytes: 241_300_000, stopped: ["mariadbd pid 4250"] },
        { path: "/tmp/restoretest-backup-shop-XyZ789", kind: "run directory", ownerPid: undefined, reason: "no owner record, unchanged for 30 h", bytes: 8192, stopped: [] },
      ],
    });
    expect(lines).toEqual([
      "swept /tmp/restoretest-restore-shop-AbC123 (owner pid 4242: process 4242 no longer exists); stopped mariadbd pid 4250; freed 241.3 MB",
      "swept /tmp/restoretest-backup-shop-XyZ789 (no owner: no owner record, unchanged for 30 h); freed 0.0 MB",
      "sweep: 2 stale run directories removed, 241.3 MB freed; 1 directory of a live run kept",
    ]);
    expect(describeSweep({ roots: ["/tmp", "/srv/b/shop"], kept: 0, swept: [] })).toEqual(["sweep: nothing to sweep in /tmp, /srv/b/shop"]);
  });

  it("names an unfinished backup and a partial file of the store as such, with their sizes", () => {
    const lines = describeSweep({
      roots: ["/srv/b/shop"],
      kept: 0,
      swept: [
        { path: "/srv/b/shop/2026-11-26T03-00-00Z", kind: "unfinished backup", ownerPid: 4242, reason: "process 4242 no longer exists", bytes: 74_000_000, stopped: [] },
        { path: "/srv/b/shop/binlogs/mysql-bin.000003.zst.partial~db1~b~1~4243~5", kind: "partial file", ownerPid: 4243, reason: "process 4243 no longer exists", bytes: 4096, stopped: [] },
      ],
    });
    expect(lines).toEqual([
      "swept unfinished backup /srv/b/shop/2026-11-26T03-00-00Z (owner pid 4242: process 4242 no longer exists); freed 74.0 MB",
      "swept partial file /srv/b/shop/binlogs/mysql-bin.000003.zst.partial~db1~b~1~4243~5 (owner pid 4243: process 4243 no longer exists); freed 0.0 MB",
      "sweep: 1 unfinished backup, 1 partial file removed, 74.0 MB freed",
    ]);
  });
});
