// Ctrl-C and kill during each restore step: no restored server, temp directory or process survives.
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runBackupJob } from "../../src/backup/job.ts";
import { sandboxServers, testService, testServiceYaml, testStore } from "../support/services.ts";

const ROOT = resolve(import.meta.dirname, "../..");
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

/** Run the suite in its own process group, signal the group when `marker` appears on stderr, as a terminal's Ctrl-C does. */
async function interrupt(step: string, signal: "SIGINT" | "SIGTERM"): Promise<{ signalled: boolean; output: string }> {
  const child = execa("node", [join(ROOT, "node_modules/vitest/vitest.mjs"), "run", "--project", "shop"], {
    cwd: ROOT,
    detached: true,
    reject: false,
    all: true,
    env: { RESTORETEST_CONFIG: config, RESTORETEST_REPORTS: join(store.path, "reports"), CI: "true" },
  });
  let signalled = false;
  child.all?.on("data", (chunk: Buffer) => {
    // The progress line that says the step has started.
    if (!signalled && new RegExp(`shop( ›|:) ${step}(…|: started)`).test(chunk.toString()) && child.pid) {
      signalled = true;
      process.kill(-child.pid, signal);
    }
  });
  const result = await child;
  return { signalled, output: String(result.all) };
}

describe("cleanup on signals", () => {
  const cases: [string, "SIGINT" | "SIGTERM"][] = [
    ["transfer", "SIGINT"],
    ["prepare", "SIGTERM"],
    ["copy-back", "SIGINT"],
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
