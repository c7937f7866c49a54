// restore.optionsFile: the restored server starts with the service's own option file instead of the source's settings
// from the baseline; the safety overrides still win, and a setting that then differs from the source's is red, named.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runBackupJob } from "../../src/backup/job.ts";
import { restoreService } from "../../src/restore/pipeline.ts";
import { redFindings } from "../faults/catalog.ts";
import { testService, testStore } from "../support/services.ts";

const store = testStore();
const dir = mkdtempSync(join(tmpdir(), "options-file-"));

beforeAll(async () => {
  await runBackupJob(testService(store.path));
}, 120_000);

afterAll(() => {
  store.remove();
  rmSync(dir, { recursive: true, force: true });
});

describe("restore.optionsFile", () => {
  it("starts the restored server with the service's file under the safety overrides, and names what then differs", async () => {
    const cnf = join(dir, "my.cnf");
    const binlog = join(dir, "binlog", "service-bin");
    // A service's file names its own binary log and network port: a restored copy must use neither.
    // Its character set is the source's; its sql_mode is not, and nothing the tool passes hides that.
    const lines = ["[mysqld]", "character-set-server = utf8mb4", "collation-server = utf8mb4_unicode_ci", "sql_mode = ANSI"];
    writeFileSync(cnf, [...lines, `log-bin = ${binlog}`, "port = 3306", "bind-address = 0.0.0.0", ""].join("\n"));
    const service = testService(store.path, `    restore:\n      optionsFile: ${cnf}`);
    const restored = await restoreService(service);
    try {
      const [row] = await restored.db.query<{ mode: string; bin: string | number; net: string | number; ro: string | number }>(
        "SELECT @@GLOBAL.sql_mode AS mode, @@log_bin AS bin, @@skip_networking AS net, @@read_only AS ro",
      );
      expect(row?.mode).toMatch(/ANSI/);
      expect([Number(row?.bin), Number(row?.net), Number(row?.ro)]).toEqual([0, 1, 1]);
      expect(existsSync(join(dir, "binlog"))).toBe(false);
      const red = await redFindings(restored, service);
      expect([...red.keys()]).toEqual(["server"]);
      expect(red.get("server")).toMatch(/^the restored server's settings differ from the source's:\n {2}sql_mode is "[^"]*ANSI[^"]*", the source's is "STRICT_TRANS_TABLES,/);
    } finally {
      await restored.destroy();
    }
  });

  it("must be an absolute path on the restore host", () => {
    expect(() => testService(store.path, "    restore:\n      optionsFile: my.cnf")).toThrow(/restore\.optionsFile: must be an absolute path on the restore host/);
  });
});
