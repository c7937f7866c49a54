// The logical path for tiny services: mariadb-dump at a recorded position, reloaded through the client, verified green.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runBackupJob } from "../../src/backup/job.ts";
import { DUMP_FILE } from "../../src/backup/tool.ts";
import { runFault } from "../faults/catalog.ts";
import { testService, testStore } from "../support/services.ts";

describe("backup.tool: dump", () => {
  const store = testStore();
  afterAll(() => store.remove());

  it("backs up with mariadb-dump, restores through the mariadb client and verifies green with every check", async () => {
    const service = testService(store.path, "      tool: dump\n      policy: incremental");
    const { dir, meta, manifest, decision } = await runBackupJob(service);
    expect(meta).toMatchObject({ tool: "dump", kind: "full", base: null, checkpoints: null });
    expect(decision.reason).toBe("dump cannot take incrementals");
    expect(meta.position).toEqual(manifest.position);
    const head = readFileSync(join(dir, "data", DUMP_FILE), "utf8").slice(0, 4096);
    expect(head).toMatch(/-- CHANGE MASTER TO MASTER_LOG_FILE='mysql-bin\.\d+', MASTER_LOG_POS=\d+;/);
    const result = await runFault(service, dir, undefined);
    expect(result.restoreError).toBeUndefined();
    expect(Object.fromEntries(result.red)).toEqual({});
  });
});
