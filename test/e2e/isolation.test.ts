// A fleet in one file: one service's bad entry or unset secret fails its own project only, in one line.
import { readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runBackupJob } from "../../src/backup/job.ts";
import { parseJUnit } from "../support/junit.ts";
import { testService, testServiceYaml, testStore } from "../support/services.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const store = testStore();
let config = "";

/** shop (a good backup), crm (a secret nobody set) and wiki (a typo): the fleet of one services.yaml. */
function fleetYaml(storeDir: string, extra = ""): string {
  const others = [
    "  crm:",
    "    source:",
    "      host: 127.0.0.1",
    "      user: restoretest",
    "      password: ${CRM_BACKUP_PASSWORD}",
    "  wiki:",
    "    source: {host: 127.0.0.1, user: restoretest}",
    "    verify: {timout: 5m}",
    extra,
    "",
  ];
  return testServiceYaml(storeDir) + others.join("\n");
}

async function vitest(args: string[], reports: string, file = config) {
  const run = await execa("npx", ["vitest", "run", ...args], {
    cwd: ROOT,
    reject: false,
    all: true,
    env: { RESTORETEST_CONFIG: file, RESTORETEST_REPORTS: reports, CI: "true", CRM_BACKUP_PASSWORD: undefined },
  });
  return { exitCode: run.exitCode ?? -1, output: String(run.all), cases: parseJUnit(readFileSync(join(reports, "junit.xml"), "utf8")) };
}

beforeAll(async () => {
  await runBackupJob(testService(store.path));
  config = join(store.path, "services.yaml");
  writeFileSync(config, fleetYaml(store.path));
}, 120_000);

afterAll(() => store.remove());

describe("one service's trouble stays its own", () => {
  it("a project runs green with another service's secret unset and another's key misspelt", async () => {
    const run = await vitest(["--project", "shop"], join(store.path, "reports-shop"));
    expect(run.exitCode, run.output).toBe(0);
    expect(run.cases.length).toBeGreaterThan(100);
    expect(run.cases.every((c) => !c.failure)).toBe(true);
  }, 180_000);

  it("the broken services fail their own projects with one test, `config`, carrying the one-line message", async () => {
    const run = await vitest(["--project", "shop", "--project", "crm", "--project", "wiki"], join(store.path, "reports-all"));
    expect(run.exitCode).toBe(1);
    const failed = run.cases.filter((c) => c.failure);
    expect(failed.map((c) => `${c.classname} › ${c.name}: ${c.failure}`).sort()).toEqual([
      `crm › config: ${config}:14 services.crm.source.password: environment variable CRM_BACKUP_PASSWORD is not set`,
      `wiki › config: ${config}:17 services.wiki.verify.timout: unknown key "timout", did you mean "timeout"? (known keys: checks, chunkMinSize, chunkRows, concurrency, extendedCheck, older, queries, queryTimeout, tableDrill, tableDrillMaxSize, timeout)`,
    ]);
    // No stack trace in the report: the message is what Jenkins shows.
    for (const c of failed) expect(c.failureBody).not.toMatch(/\n\s+at /);
    expect(run.cases.filter((c) => c.classname === "crm" || c.classname === "wiki")).toHaveLength(2);
    expect(run.cases.filter((c) => c.classname.startsWith("shop")).every((c) => !c.failure)).toBe(true);
  }, 180_000);

  it("a problem of the file itself stops vitest and the CLI with one line each, no stack trace", async () => {
    const broken = join(store.path, "broken.yaml");
    writeFileSync(broken, fleetYaml(store.path, "defaults: {restore: {timeout: soon}}"));
    const run = await execa("npx", ["vitest", "run", "--project", "shop"], {
      cwd: ROOT,
      reject: false,
      all: true,
      env: { RESTORETEST_CONFIG: broken, RESTORETEST_REPORTS: join(store.path, "reports-broken"), CI: "true" },
    });
    expect(run.exitCode).toBe(1);
    // Every problem of the file at once, one line each.
    expect(String(run.all)).toContain(
      `restoretest: ${broken}:17 services.wiki.verify.timout: unknown key "timout", did you mean "timeout"? (known keys: checks, chunkMinSize, chunkRows, concurrency, extendedCheck, older, queries, queryTimeout, tableDrill, tableDrillMaxSize, timeout)\n` +
        `restoretest: ${broken}:18 defaults.restore.timeout: expected a duration like "30m", got "soon"`,
    );
    expect(String(run.all)).not.toMatch(/\n\s+at /);
    const cli = await execa("bin/restoretest", ["backup", "crm", "--config", config], { cwd: ROOT, reject: false, all: true, env: { CRM_BACKUP_PASSWORD: undefined } });
    expect(cli.exitCode).toBe(1);
    expect(String(cli.all).trim()).toBe(`restoretest: ${config}:14 services.crm.source.password: environment variable CRM_BACKUP_PASSWORD is not set`);
    // The fleet's listing needs no secret: the broken entry is a warning line, the others are listed.
    const list = await execa("bin/restoretest", ["list", "--config", config], { cwd: ROOT, reject: false, all: true, env: { CRM_BACKUP_PASSWORD: undefined } });
    expect(list.exitCode, String(list.all)).toBe(0);
    expect(String(list.stderr)).toContain(`restoretest: warning: ${config}:17 services.wiki.verify.timout: unknown key "timout"`);
    expect(String(list.stdout)).toMatch(/^shop: 1 complete backup\(s\)/m);
  }, 180_000);
});
