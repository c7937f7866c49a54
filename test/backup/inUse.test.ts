// A chain being restored is not deleted by retention: in-use markers, kept chains, stale markers, and the restore's own marking.
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { markInUse, readersOf } from "../../src/store/inUse.ts";
import { runBackupJob } from "../../src/backup/job.ts";
import { applyRetention } from "../../src/store/retention.ts";
import { restoreService } from "../../src/restore/pipeline.ts";
import { testService, testStore } from "../support/services.ts";
import { writeFakeBackup } from "../support/storeFixtures.ts";

const store = testStore();
afterAll(() => store.remove());

const writeBackup = (service: string, id: string, file: string) =>
  writeFakeBackup(store.path, service, id, { position: { file, position: 4, gtid: "" } });

describe("retention and restores in progress", () => {
  it("keeps a chain a restore is reading, saying so, and deletes it once the restore let go", async () => {
    const old = writeBackup("svc", "2026-11-23T03-00-00Z", "mysql-bin.000001");
    writeBackup("svc", "2026-11-24T03-00-00Z", "mysql-bin.000002");
    const release = markInUse([old], "point-in-time restore of svc");
    expect(readersOf(old).map((r) => r.purpose)).toEqual(["point-in-time restore of svc"]);
    const lines: string[] = [];
    expect(applyRetention(store.path, "svc", 1, (l) => lines.push(l)).removedBackups).toEqual([]);
    expect(lines).toEqual([
      expect.stringMatching(
        new RegExp(`^retention: keeping chain of 2026-11-23T03-00-00Z: 2026-11-23T03-00-00Z is being read by point-in-time restore of svc \\(pid ${process.pid} on ${hostname()}, since `),
      ),
    ]);
    await release();
    expect(readersOf(old)).toEqual([]);
    expect(applyRetention(store.path, "svc", 1).removedBackups).toEqual(["2026-11-23T03-00-00Z"]);
  });

  it("ignores and removes the marker of a restore that died", () => {
    const old = writeBackup("dead", "2026-11-23T03-00-00Z", "mysql-bin.000001");
    writeBackup("dead", "2026-11-24T03-00-00Z", "mysql-bin.000002");
    mkdirSync(join(old, ".in-use"));
    // pid 2^22+1 is above Linux's pid_max default: no such process on this host.
    writeFileSync(join(old, ".in-use", "gone.json"), JSON.stringify({ pid: 4_194_305, host: hostname(), since: "2026-11-25T00:00:00Z", purpose: "restore of dead" }));
    expect(readersOf(old)).toEqual([]);
    expect(existsSync(join(old, ".in-use", "gone.json"))).toBe(false);
    expect(applyRetention(store.path, "dead", 1).removedBackups).toEqual(["2026-11-23T03-00-00Z"]);
  });

  it("a restore marks its chain while it copies it and lets go after the transfer, also when it fails", async () => {
    const service = testService(store.path);
    const { dir } = await runBackupJob(service);
    const seen: Record<string, string[]> = {};
    const restored = await restoreService(service, {
      runStep: async (step, body) => {
        seen[step] ??= readersOf(dir).map((r) => r.purpose);
        return body();
      },
    });
    await restored.destroy();
    expect(seen.transfer).toEqual(["restore of shop"]);
    expect(seen.prepare).toEqual([]);
    expect(readdirSync(join(dir, ".in-use"))).toEqual([]);
    // A restore that fails mid-transfer leaves no marker behind either.
    await expect(
      restoreService(service, {
        runStep: async (step, body) => {
          if (step === "transfer") throw new Error("transfer interrupted");
          return body();
        },
      }),
    ).rejects.toThrow(/failed at step "transfer"/);
    expect(readersOf(dir)).toEqual([]);
    expect(readdirSync(join(dir, ".in-use"))).toEqual([]);
  });
});
