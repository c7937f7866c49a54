// A sandbox source with backup.policy incremental (the demo's way to chains): kept between jobs, its changes carried by
// the incrementals and replayed from binlogs, surviving a job that died with the server up.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runBackupJob } from "../../src/backup/job.ts";
import { parseServices } from "../../src/config/load.ts";
import { startKeptSourceSandbox } from "../../src/hosts/sourceSandbox.ts";
import { restoreService } from "../../src/restore/pipeline.ts";
import { redFindings } from "../faults/catalog.ts";
import { testServiceYaml, testStore } from "../support/services.ts";


describe("a kept sandbox source with backup.policy: incremental", () => {
  const store = testStore();
  afterAll(() => store.remove());

  it("takes a full, then an incremental after a job died with the source up, and the chain verifies green", async () => {
    const yaml = testServiceYaml(store.path, "      policy: incremental", "shop", { changes: true });
    const [service] = parseServices(yaml, join(store.path, "services.yaml"));
    if (!service) throw new Error("no service");
    const lines: string[] = [];
    const full = await runBackupJob(service, (l) => lines.push(l));
    expect(full.meta.kind).toBe("full");
    const keepDir = join(store.path, "shop", ".source");
    expect(existsSync(join(keepDir, "stopped-cleanly"))).toBe(true);

    // A job that died with the server up: its random root password is still set and the clean-stop marker is gone.
    const crashed = await startKeptSourceSandbox("shop", keepDir);
    expect(crashed.fresh).toBe(false);
    await crashed.server.stop();
    // With the server gone, destroy() cannot empty the password again: it only removes the run directory.
    await expect(crashed.destroy()).rejects.toThrow();
    expect(existsSync(join(keepDir, "stopped-cleanly"))).toBe(false);

    lines.length = 0;
    const incremental = await runBackupJob(service, (l) => lines.push(l));
    expect(lines.join("\n")).toMatch(/started the kept sandbox source of shop/);
    expect(incremental.meta).toMatchObject({ kind: "incremental", base: full.meta.id });
    // The changes were applied after the backup: the baseline is ahead of it, so the restore replays binlogs.
    expect(incremental.manifest.position?.position).not.toBe(incremental.meta.position?.position);

    const restored = await restoreService(service);
    try {
      expect(restored.steps.map((s) => s.step)).toContain("apply-incremental");
      expect(restored.steps.find((s) => s.step === "replay")?.command).toMatch(/--stop-position=/);
      expect(Object.fromEntries(await redFindings(restored, service))).toEqual({});
    } finally {
      await restored.destroy();
    }
  });
});
