// Ctrl-C and kill during each restore step: no restored server, temp directory or process survives.
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runBackupJob } from "../../src/backup/job.ts";
import { interruptSuite } from "../support/interrupt.ts";
import { sandboxServers, testService, testServiceYaml, testStore } from "../support/services.ts";

const store = testStore();
const config = join(store.path, "services.yaml");

function restoreDirs(): string[] {
  return readdirSync(tmpdir()).filter((d) => d.startsWith("restoretest-restore-shop"));
}

beforeAll(async () => {
  await runBackupJob(testService(store.path));
  writeFileSync(config, testServiceYaml(store.path));
}, 120_000);

afterAll(() => store.remove());

/** Signal the suite's process group when the progress line says `step` has started. */
const interrupt = (step: string, signal: "SIGINT" | "SIGTERM") =>
  interruptSuite({ project: "shop", config, reports: join(store.path, "reports"), when: new RegExp(`shop( ›|:) ${step}(…|: started)`), signal });

describe("cleanup on signals", () => {
  const cases: [string, "SIGINT" | "SIGTERM"][] = [
    ["transfer", "SIGINT"],
    ["prepare", "SIGTERM"],
    ["start", "SIGTERM"],
    ["replay", "SIGINT"],
  ];
  for (const [step, signal] of cases) {
    it(`${signal} during ${step} leaves no restored server or directory`, async () => {
      const before = restoreDirs();
      const { signalled, output } = await interrupt(step, signal);
      expect(signalled, output).toBe(true);
      const deadline = Date.now() + 10_000;
      while ((restoreDirs().length > before.length || (await sandboxServers()).length > 0) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(restoreDirs()).toEqual(before);
      expect(await sandboxServers()).toEqual([]);
      expect(existsSync(join(store.path, "shop"))).toBe(true);
    });
  }
});
