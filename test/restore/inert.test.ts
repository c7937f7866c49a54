// A restored server holds production data: it is inert (no network, no replication, no events, read-only) and
// a restore that runs out of time is destroyed like any other failure.
import { readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runBackupJob } from "../../src/backup/job.ts";
import { restoreService, RestoreStepError } from "../../src/restore/pipeline.ts";
import { sandboxServers, testService, testStore } from "../support/services.ts";

const store = testStore();
beforeAll(async () => {
  await runBackupJob(testService(store.path));
}, 120_000);
afterAll(() => store.remove());

function restoreDirs(): string[] {
  return readdirSync(tmpdir()).filter((d) => d.startsWith("restoretest-restore-shop"));
}

describe("restored servers", () => {
  it("listen on no TCP port, replicate from nobody, fire no events and are read-only", async () => {
    const restored = await restoreService(testService(store.path));
    try {
      const [vars] = await restored.db.query<Record<string, string | number>>(
        "SELECT @@skip_networking AS net, @@read_only AS ro, @@event_scheduler AS ev, @@port AS port, @@server_id AS id",
      );
      expect(vars).toMatchObject({ net: "1", ro: "1", ev: "OFF" });
      expect(await restored.db.query("SHOW SLAVE STATUS")).toEqual([]);
      expect(restored.server.port).toBeUndefined();
    } finally {
      await restored.destroy();
    }
    expect(restoreDirs()).toEqual([]);
  });

  it("a restore that exceeds restore.timeout fails as a timeout of its step and leaves nothing", async () => {
    // Short enough that prepare cannot finish on any machine (it took 47 ms here once, with nothing to apply).
    const service = testService(store.path, "    restore:\n      timeout: 1ms");
    const error = await restoreService(service).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RestoreStepError);
    expect((error as Error).message).toMatch(/^restore of shop failed at step "prepare" after [\d.]+s\ncommand: mariadb-backup --prepare .*\nexit code: none \(timed out\)/);
    expect(restoreDirs()).toEqual([]);
    expect(await sandboxServers()).toEqual([]);
  });
});
