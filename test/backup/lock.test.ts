// The per-service backup lock: one backup at a time, the holder named, a dead holder's lock replaced.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { runBackupJob } from "../../src/backup/job.ts";
import { acquireLock, lockState, processAlive } from "../../src/store/lock.ts";
import { processStat } from "../../src/base/owner.ts";
import { backupLockPath } from "../../src/store/layout.ts";
import { testService, testStore } from "../support/services.ts";

const store = testStore();
afterEach(() => store.remove());

/** A pid that surely belongs to no process: one that has just exited. */
function deadPid(): number {
  return Number(spawnSync("sh", ["-c", "echo $$"], { encoding: "utf8" }).stdout.trim());
}

describe("backup lock", () => {
  it("judges a holder on this host by its pid, and never one on another host", () => {
    const here = { host: "db1", alive: (pid: number) => pid === 42 };
    expect(lockState({ pid: 42, host: "db1", since: "", purpose: "" }, here)).toBe("held");
    expect(lockState({ pid: 43, host: "db1", since: "", purpose: "" }, here)).toBe("stale");
    expect(lockState({ pid: 43, host: "db2", since: "", purpose: "" }, here)).toBe("held");
    expect(lockState(undefined, here)).toBe("stale");
  });

  it("judges a holder that has exited but is not reaped (a zombie), or whose pid another process now has, as gone", async () => {
    // sh starts `sleep 1` and becomes `sleep 8`, which never reaps it: a zombie once it exits, as an orphan stays
    // under an init that does not reap. The child outlives the exec by a second: a `sleep 0` could end before sh
    // reaches its exec, and sh then reaped it (seen once, in a fresh clone's run of the suite).
    const parent = spawn("sh", ["-c", "sleep 1 & echo $!; exec sleep 8"], { stdio: ["ignore", "pipe", "ignore"] });
    try {
      const zombie = Number(await new Promise<string>((resolve) => parent.stdout.once("data", (d: Buffer) => resolve(d.toString().trim()))));
      const deadline = Date.now() + 5_000;
      while (processStat(zombie)?.state !== "Z" && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(processStat(zombie)?.state).toBe("Z");
      expect(processAlive(zombie)).toBe(false);
      const here = { host: hostname(), alive: processAlive };
      expect(lockState({ pid: zombie, host: hostname(), since: "", purpose: "" }, here)).toBe("stale");
      // A live process, but not the one that took the lock.
      const mine = processStat(process.pid)?.startTicks as number;
      expect(lockState({ pid: process.pid, startTicks: mine, host: hostname(), since: "", purpose: "" }, here)).toBe("held");
      expect(lockState({ pid: process.pid, startTicks: mine + 1, host: hostname(), since: "", purpose: "" }, here)).toBe("stale");
    } finally {
      parent.kill("SIGKILL");
    }
  });

  it("refuses a second backup of the service while the first holds the lock, naming the holder", async () => {
    const path = backupLockPath(store.path, "shop");
    const release = await acquireLock(path, "backup of shop");
    try {
      expect(JSON.parse(readFileSync(path, "utf8"))).toMatchObject({ pid: process.pid, startTicks: processStat(process.pid)?.startTicks, host: hostname(), purpose: "backup of shop" });
      // Refused before any source is started: the job never gets as far as the sandbox.
      await expect(runBackupJob(testService(store.path))).rejects.toThrow(
        new RegExp(`^cannot start the backup of shop: the backup of shop is still running \\(pid ${process.pid} on ${hostname()}, since .*; lock file ${path}\\)`),
      );
    } finally {
      await release();
    }
    expect(existsSync(path)).toBe(false);
  });

  it("replaces a lock whose process is gone, saying so", async () => {
    const path = backupLockPath(store.path, "shop");
    const pid = deadPid();
    mkdirSync(join(store.path, "shop"), { recursive: true });
    writeFileSync(join(store.path, "shop", ".backup.lock"), JSON.stringify({ pid, host: hostname(), since: "2026-11-25T03:00:00Z", purpose: "backup of shop" }));
    const lines: string[] = [];
    const release = await acquireLock(path, "backup of shop", (l) => lines.push(l));
    expect(lines).toEqual([`removing stale lock ${path} (pid ${pid} on ${hostname()} is gone)`]);
    expect(JSON.parse(readFileSync(path, "utf8")).pid).toBe(process.pid);
    await release();
  });
});
