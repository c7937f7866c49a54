// When the world fails: a full disk during the restore, an unreachable source. Clear errors, nothing left behind.
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runBackupJob } from "../../src/backup/job.ts";
import { listBackups } from "../../src/store/layout.ts";
import { parseServices } from "../../src/config/load.ts";
import { restoreService, RestoreStepError } from "../../src/restore/pipeline.ts";
import { sandboxServers, testService, testStore } from "../support/services.ts";

const store = testStore();
const small = mkdtempSync(join(tmpdir(), "restoretest-tmpfs-"));
let mounted = false;

beforeAll(async () => {
  await runBackupJob(testService(store.path));
  // A 10 MB filesystem for the restore: the backup (~19 MB) cannot fit.
  mounted = (await execa("mount", ["-t", "tmpfs", "-o", "size=10m", "tmpfs", small], { reject: false })).exitCode === 0;
}, 120_000);

afterAll(async () => {
  if (mounted) await execa("umount", [small], { reject: false });
  rmSync(small, { recursive: true, force: true });
  store.remove();
});

describe("failures of the world", () => {
  it("a disk too small for the restore is red at once, before the copy (not cp's 'No space left' minutes later), and leaves nothing", async (ctx) => {
    if (!mounted) ctx.skip("mounting a tmpfs needs root (CI and the dev machines have it)");
    const workDir = join(small, "restores");
    mkdirSync(workDir);
    const service = testService(store.path, `    restore:\n      workDir: ${workDir}`);
    const error = await restoreService(service).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RestoreStepError);
    expect((error as RestoreStepError).step).toBe("transfer");
    expect((error as Error).message).toMatch(
      new RegExp(`^restore of shop failed at step "transfer" after 0\\.\\ds\nnot enough room in ${small}/restores \\(restore\\.workDir\\): .* needs [\\d.]+ MB \\(\\d+ bytes\\), [\\d.]+ MB \\(\\d+ bytes\\) free there; nothing was copied`),
    );
    expect(readdirSync(workDir)).toEqual([]);
    expect(await sandboxServers()).toEqual([]);
  });

  it("an unreachable source fails the backup job with where it tried, and stores nothing", async () => {
    const [service] = parseServices(
      ["services:", "  gone:", "    source:", "      host: 127.0.0.1", "      port: 1", "      user: backup", "    backup:", `      store: ${store.path}`].join("\n"),
      join(store.path, "services.yaml"),
    );
    if (!service) throw new Error("no service");
    await expect(runBackupJob(service)).rejects.toThrow(/^cannot connect to backup@127\.0\.0\.1:1: .*ECONNREFUSED/);
    expect(listBackups(store.path, "gone")).toEqual({ complete: [], incomplete: [] });
  });
});
