import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { listBackups, newestBackup, type BackupMeta } from "../../src/store/layout.ts";
import { parseBinlogInfo } from "../../src/backup/tool.ts";
import { testStore } from "../support/services.ts";
import { fakeMeta } from "../support/storeFixtures.ts";

const store = testStore();
afterEach(() => store.remove());

const meta = (id: string): BackupMeta => fakeMeta(id, { durationMs: 60_000, toolVersion: "mariadb-backup 10.11" });

function backup(id: string, files: { meta?: unknown; manifest?: boolean }): void {
  const dir = join(store.path, "shop", id);
  mkdirSync(dir, { recursive: true });
  if (files.meta !== undefined) writeFileSync(join(dir, "backup.json"), JSON.stringify(files.meta));
  if (files.manifest) writeFileSync(join(dir, "manifest.json"), "{}");
}

describe("backup store", () => {
  it("picks the newest complete backup and explains every skipped one", () => {
    backup("2026-11-23T03-00-00Z", { meta: meta("2026-11-23T03-00-00Z"), manifest: true });
    backup("2026-11-24T03-00-00Z", { meta: meta("2026-11-24T03-00-00Z"), manifest: true });
    backup("2026-11-25T03-00-00Z", { manifest: true });
    backup("2026-11-26T03-00-00Z", { meta: { version: 1 }, manifest: true });
    expect(newestBackup(store.path, "shop").id).toBe("2026-11-24T03-00-00Z");
    expect(listBackups(store.path, "shop").incomplete.map((b) => b.reason)).toEqual([
      "no backup.json (backup unfinished or interrupted)",
      expect.stringMatching(/^backup\.json is not valid: /),
    ]);
  });

  it("says what to run when a service has no backup at all", () => {
    expect(() => newestBackup(store.path, "shop")).toThrow(/^no complete backup of service "shop" in .*\n {2}take one with: bin\/restoretest backup shop$/);
  });

  it("reads xtrabackup_binlog_info, with and without a GTID", () => {
    expect(parseBinlogInfo("mysql-bin.000002\t1234\t0-1-55\n")).toEqual({ file: "mysql-bin.000002", position: 1234, gtid: "0-1-55" });
    expect(parseBinlogInfo("mysql-bin.000002\t1234\n")).toEqual({ file: "mysql-bin.000002", position: 1234, gtid: "" });
    expect(parseBinlogInfo("")).toBeNull();
  });
});
