// MariaDB 11.8 LTS as a user runs it: a sandbox service on 11.8 backed up with 11.8's mariadb-backup as one stream
// (unpacked by 11.8's mbstream) while its source is written to, then `vitest run --project shop-118`, read back through
// JUnit and summary.json: every test green, the table drill, rejoin (the restored 11.8 server replicates from the 11.8
// source, catches up while it is written to, and matches it), and no mariadbd or directory left behind.
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runBackupJob } from "../../src/backup/job.ts";
import { findService, loadServices } from "../../src/config/load.ts";
import { readManifest } from "../../src/store/manifest.ts";
import { parseJUnit, type ParsedCase } from "../support/junit.ts";
import { mariadb118ServiceYaml } from "../support/mariadb118.ts";
import { biggestTables, sandboxServers, testStore } from "../support/services.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const store = testStore();
const config = join(store.path, "services.yaml");
const leftovers = () => readdirSync(tmpdir()).filter((d) => /^restoretest-(restore|source)-shop-118/.test(d));

let cases: ParsedCase[] = [];
let exitCode = -1;
let output = "";
let summary: { services: { verdict: string; rejoin: { failure: string | null; tablesCompared: number | null } | null }[] } | undefined;

let backupDir = "";
let tooBig: string[] = [];

beforeAll(async () => {
  const yaml = (extra: string[]) =>
    mariadb118ServiceYaml(join(store.path, "store"), "shop-118", {
      changes: true,
      backupLines: ["      format: stream", "      compress: zstd"],
      extra: ["    rejoin:", "      catchUpTimeout: 2m", "    verify:", "      tableDrill: 4", ...extra],
    });
  writeFileSync(config, yaml([]));
  backupDir = (await runBackupJob(findService(loadServices(config), "shop-118"))).dir;
  const biggest = biggestTables(backupDir, "shop");
  tooBig = biggest.names;
  writeFileSync(config, yaml([`      tableDrillMaxSize: ${biggest.sizeBytes - 1}B`]));
  const reports = join(store.path, "reports");
  const run = await execa("npx", ["vitest", "run", "--project", "shop-118"], {
    cwd: ROOT,
    reject: false,
    env: { RESTORETEST_CONFIG: config, RESTORETEST_REPORTS: reports, CI: "true" },
    all: true,
  });
  exitCode = run.exitCode ?? -1;
  output = String(run.all);
  const junit = join(reports, "junit.xml");
  cases = existsSync(junit) ? parseJUnit(readFileSync(junit, "utf8")) : [];
  summary = JSON.parse(readFileSync(join(reports, "summary.json"), "utf8")) as typeof summary;
}, 420_000);

afterAll(async () => {
  store.remove();
  expect(await sandboxServers()).toEqual([]);
});

describe("vitest run --project <a MariaDB 11.8 service>", () => {
  it("is green end to end, with JUnit for Jenkins", () => {
    expect(readManifest(join(backupDir, "manifest.json")).server.version).toMatch(/^11\.8\.\d+-MariaDB/);
    const configured = (c: ParsedCase) => c.classname === "shop-118.drill" && c.skippedMessage?.startsWith("not drilled: ");
    const failed = cases.filter((c) => c.failure !== undefined || (c.skipped && !configured(c))).map((c) => `${c.classname} › ${c.name}: ${c.failure ?? "skipped"}`);
    expect(failed, output.slice(-3000)).toEqual([]);
    expect(cases.filter(configured).map((c) => c.name)).toEqual(tooBig.map((t) => `shop.${t} restores on its own`));
    expect(existsSync(join(backupDir, "verified.json"))).toBe(true);
    expect(exitCode, output.slice(-3000)).toBe(0);
    const names = cases.map((c) => `${c.classname} › ${c.name}`);
    for (const test of ["shop-118 › restore", "shop-118.accounts › accounts", "shop-118.server › server", "shop-118.shop.customers › checksum", "shop-118.shop.prices › checksum", "shop-118.shop › events"]) {
      expect(names).toContain(test);
    }
    // 11.8's own system tables are compared as the service's too.
    expect(names).toEqual(expect.arrayContaining(["shop-118.mysql.global_priv › definition", "shop-118.mysql.time_zone_name › checksum"]));
    const drilled = cases.filter((c) => c.classname === "shop-118.drill" && !c.skipped);
    expect(drilled.length).toBeGreaterThanOrEqual(3);
    for (const c of drilled) expect(c.properties.drill).toMatch(/^delivered shop\.\w+ as shop\.\w+ on the drill server: \d+ row\(s\), by /);
    expect(summary?.services[0]?.verdict).toBe("pass");
  });

  it("rejoins: the restored 11.8 server replicates from the 11.8 source, catches up while it is written to, and matches it", () => {
    const rejoin = cases.filter((c) => c.classname === "shop-118.rejoin").map((c) => [c.name, c.failure ?? (c.skipped ? "skipped" : "passed")]);
    expect(rejoin).toEqual([
      ["replication starts", "passed"],
      ["catches up", "passed"],
      ["consistent after catch-up", "passed"],
    ]);
    expect(summary?.services[0]?.rejoin).toMatchObject({ failure: null });
    expect(summary?.services[0]?.rejoin?.tablesCompared).toBeGreaterThan(0);
  });

  it("leaves no mariadbd and no directory behind", async () => {
    expect(await sandboxServers()).toEqual([]);
    expect(leftovers()).toEqual([]);
  });
});
