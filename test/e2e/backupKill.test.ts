// A backup job killed as a CI abort kills it (SIGKILL to its whole process group) at copy, at baseline capture and at
// stream encoding leaves an unfinished backup directory with an owner record; the next backup job removes it and says
// so, `list` shows none, and a live job's directory survives every sweep. Real MariaDB (sandbox source, mariadb-backup).
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { execa } from "execa";
import { afterAll, describe, expect, it } from "vitest";
import { listBackups } from "../../src/store/layout.ts";
import { OWNER_FILE, processStat, readOwner } from "../../src/base/owner.ts";
import { isPartialName } from "../../src/base/partialFile.ts";
import { mysqlServiceYaml } from "../support/mysql.ts";
import { testServiceYaml, testStore } from "../support/services.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const CLI = join(ROOT, "bin/restoretest");

/** Processes (not zombies) whose command line names `text`. */
function processesNaming(text: string): number[] {
  const out = execFileSync("ps", ["-ww", "-eo", "pid=,args="], { encoding: "utf8" });
  return out
    .split("\n")
    .map((l) => /^\s*(\d+) (.*)$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null && m[2]?.includes(text) === true && Number(m[1]) !== process.pid)
    .map((m) => Number(m[1]))
    .filter((pid) => (processStat(pid)?.state ?? "Z") !== "Z");
}

const stores: ReturnType<typeof testStore>[] = [];
afterAll(() => {
  for (const s of stores) {
    for (const pid of processesNaming(s.path)) process.kill(pid, "SIGKILL");
    s.remove();
  }
});

function setUp(extra = "", yaml: (store: string) => string = (store) => testServiceYaml(store, extra)): { store: string; config: string } {
  const s = testStore();
  stores.push(s);
  const config = join(s.path, "services.yaml");
  writeFileSync(config, yaml(s.path));
  return { store: s.path, config };
}

/** `restoretest backup shop` in its own process group; `signal` sent to the whole group when a line matches `when`. */
async function backupJob(config: string, when?: RegExp, signal: NodeJS.Signals = "SIGKILL", onSignal?: () => Promise<void>) {
  const child = execa(CLI, ["backup", "shop", "--config", config], { cwd: ROOT, detached: true, reject: false, all: true });
  let signalled = false;
  let resumed: Promise<unknown> | undefined;
  child.all?.on("data", (chunk: Buffer) => {
    if (!signalled && when?.test(chunk.toString()) && child.pid) {
      signalled = true;
      process.kill(-child.pid, signal);
      if (onSignal) resumed = onSignal().finally(() => child.pid && process.kill(-child.pid, "SIGCONT"));
    }
  });
  const result = await child;
  // What ran while the job was stopped, its assertions included, is part of the job's result.
  await resumed;
  return { signalled, exitCode: result.exitCode, output: String(result.all) };
}

const list = async (config: string) => String((await execa(CLI, ["list", "--config", config], { cwd: ROOT, all: true })).all);

/** The one unfinished backup of the store, its owner record and proof its owner is dead. */
async function leftOver(store: string, output: string): Promise<{ dir: string; pid: number }> {
  const { incomplete } = listBackups(store, "shop");
  expect(incomplete.map((b) => b.reason), output).toEqual(["no backup.json (backup unfinished or interrupted)"]);
  const dir = join(store, "shop", incomplete[0]?.id as string);
  const owner = readOwner(dir);
  if (!("owner" in owner)) throw new Error(`no ${OWNER_FILE} in ${dir}`);
  await gone(owner.owner.pid);
  expect(processStat(owner.owner.pid)?.state ?? "gone").toMatch(/^(gone|Z)$/);
  return { dir, pid: owner.owner.pid };
}

/** A SIGKILLed process ends a moment after its group's leader is reaped: seen still running ("R") at load average 7. */
async function gone(pid: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline && !/^(gone|Z)$/.test(processStat(pid)?.state ?? "gone")) await new Promise((r) => setTimeout(r, 50));
}

/** The line the next job (or sweep) prints for a dead job's unfinished backup. */
const sweptLine = (left: { dir: string; pid: number }) =>
  new RegExp(`swept unfinished backup ${left.dir} \\(owner pid ${left.pid}: process ${left.pid} (no longer exists|has exited)\\); freed \\d+\\.\\d MB`);

/** After a green job: one complete backup, `list` shows nothing incomplete, nothing half-written, no owner record left. */
async function clean(store: string, config: string): Promise<void> {
  const after = listBackups(store, "shop");
  expect(after.incomplete).toEqual([]);
  expect(after.complete).toHaveLength(1);
  const listed = await list(config);
  expect(listed).not.toContain("INCOMPLETE");
  expect(listed).toContain("shop: 1 complete backup(s)\n");
  const everything = readdirSync(join(store, "shop"), { recursive: true }) as string[];
  expect(everything.filter((p) => isPartialName(p) || p.endsWith(OWNER_FILE))).toEqual([]);
}

// One store, jobs in sequence: each killed job's leftover is removed by the job after it (27 s a job on 2 cores).
describe("a backup job killed with its whole process group (directory backups)", () => {
  let s: { store: string; config: string };
  let atCopy: { dir: string; pid: number };
  let atBaseline: { dir: string; pid: number };

  it("at copy: leaves an unfinished backup with its owner record; list shows it INCOMPLETE", async () => {
    s = setUp();
    const killed = await backupJob(s.config, /backing up with mariabackup into/);
    expect(killed.signalled, killed.output).toBe(true);
    atCopy = await leftOver(s.store, killed.output);
    expect(await list(s.config)).toContain(`${basename(atCopy.dir)}  INCOMPLETE: no backup.json`);
  }, 120_000);

  it("at baseline capture (after the copy): the job removed the one killed at copy, and leaves its own", async () => {
    const killed = await backupJob(s.config, /capturing baseline of shop/);
    expect(killed.signalled, killed.output).toBe(true);
    expect(killed.output).toMatch(sweptLine(atCopy));
    expect(existsSync(atCopy.dir)).toBe(false);
    atBaseline = await leftOver(s.store, killed.output);
    expect(existsSync(join(atBaseline.dir, "data", "xtrabackup_checkpoints")), readdirSync(atBaseline.dir).join(", ")).toBe(true);
  }, 120_000);

  it("the next job removes it, and its own live directory survives `restoretest sweep` run while it is stopped mid-copy", async () => {
    let swept = "";
    let liveDir = "";
    const job = await backupJob(s.config, /backing up with mariabackup into/, "SIGSTOP", async () => {
      liveDir = join(s.store, "shop", listBackups(s.store, "shop").incomplete[0]?.id ?? "none");
      swept = String((await execa(CLI, ["sweep", "--config", s.config], { cwd: ROOT, all: true, reject: false })).all);
    });
    expect(job.signalled, job.output).toBe(true);
    expect(job.exitCode, `${job.output}\n${swept}`).toBe(0);
    expect(job.output).toMatch(sweptLine(atBaseline));
    expect(job.output).toMatch(/sweep: (\d+ stale run director(y|ies), )?1 unfinished backup(, \d+ partial files?)? removed, \d+\.\d MB freed/);
    expect(swept).not.toContain("swept unfinished backup");
    expect(swept).toMatch(/\d+ director(y of a live run|ies of live runs) kept/);
    expect(existsSync(join(liveDir, "backup.json"))).toBe(true);
    await clean(s.store, s.config);
  }, 120_000);
});

/** The killed job left its unfinished backup; the next job of the service sweeps it, naming it, and ends green. */
async function nextJobSweeps(store: string, config: string, killed: { signalled: boolean; output: string }): Promise<void> {
  expect(killed.signalled, killed.output).toBe(true);
  const left = await leftOver(store, killed.output);
  const next = await backupJob(config);
  expect(next.exitCode, next.output).toBe(0);
  expect(next.output).toMatch(sweptLine(left));
  expect(existsSync(left.dir)).toBe(false);
  await clean(store, config);
}

describe("a backup job killed with its whole process group (stream backups)", () => {
  it("at stream encoding (zstd): leaves an unfinished backup; the next job removes it and list shows none", async () => {
    const { store, config } = setUp("      format: stream\n      compress: zstd\n");
    const killed = await backupJob(config, /as a stream into/);
    await nextJobSweeps(store, config, killed);
  }, 180_000);
});

describe("a backup job killed with its whole process group (MySQL 9.7, clone)", () => {
  it("at the clone: leaves an unfinished backup; the next job removes it and list shows none", async () => {
    // The clone is written by the source server itself (CLONE LOCAL DATA DIRECTORY), not by a child of the job.
    const { store, config } = setUp("", (path) => mysqlServiceYaml(path));
    const killed = await backupJob(config, /backing up with clone into/);
    await nextJobSweeps(store, config, killed);
  }, 240_000);
});
