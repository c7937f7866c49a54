// MySQL 9.7 as a user runs it: a MySQL sandbox service backed up with clone while its source is written to, then
// `vitest run --project shop-mysql`, read back through JUnit and summary.json: every test green, rejoin included
// (GTID auto-position while the MySQL source keeps being written), the table drill, and no mysqld or directory left
// behind.
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runBackupJob } from "../../src/backup/job.ts";
import { findService, loadServices } from "../../src/config/load.ts";
import { parseJUnit, type ParsedCase } from "../support/junit.ts";
import { mysqlServiceYaml } from "../support/mysql.ts";
import { biggestTables, sandboxServers, testStore } from "../support/services.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const store = testStore();
const config = join(store.path, "services.yaml");
const leftovers = () => readdirSync(tmpdir()).filter((d) => /^restoretest-(restore|source)-shop-mysql/.test(d));

let cases: ParsedCase[] = [];
let exitCode = -1;
let output = "";
let summary: { services: { verdict: string; rpoMs: number | null; rejoin: { failure: string | null; tablesCompared: number | null } | null }[] } | undefined;

/** The backup the run restores, and its biggest table (left out of the drill by verify.tableDrillMaxSize). */
let backupDir = "";
let tooBig: string[] = [];

beforeAll(async () => {
  const yaml = (extra: string[]) =>
    mysqlServiceYaml(join(store.path, "store"), "shop-mysql", { changes: true, extra: ["    rejoin:", "      catchUpTimeout: 2m", "    verify:", "      tableDrill: 4", ...extra] });
  writeFileSync(config, yaml([]));
  backupDir = (await runBackupJob(findService(loadServices(config), "shop-mysql"))).dir;
  const biggest = biggestTables(backupDir, "shop");
  tooBig = biggest.names;
  writeFileSync(config, yaml([`      tableDrillMaxSize: ${biggest.sizeBytes - 1}B`]));
  const reports = join(store.path, "reports");
  const run = await execa("npx", ["vitest", "run", "--project", "shop-mysql"], {
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

describe("vitest run --project <a MySQL 9.7 service>", () => {
  it("is green end to end, with JUnit for Jenkins", () => {
    const configured = (c: ParsedCase) => c.classname === "shop-mysql.drill" && c.skippedMessage?.startsWith("not drilled: ");
    const failed = cases.filter((c) => c.failure !== undefined || (c.skipped && !configured(c))).map((c) => `${c.classname} › ${c.name}: ${c.failure ?? "skipped"}`);
    expect(failed, output.slice(-3000)).toEqual([]);
    // The biggest table is over verify.tableDrillMaxSize: a skipped test says so, and the run still marks its backup verified.
    expect(cases.filter(configured).map((c) => c.name)).toEqual(tooBig.map((t) => `shop.${t} restores on its own`));
    expect(existsSync(join(backupDir, "verified.json"))).toBe(true);
    expect(exitCode, output.slice(-3000)).toBe(0);
    const names = cases.map((c) => `${c.classname} › ${c.name}`);
    for (const test of ["shop-mysql › restore", "shop-mysql.store › every stored file as written", "shop-mysql.accounts › accounts", "shop-mysql.server › server", "shop-mysql.shop.customers › checksum", "shop-mysql.shop.events_log › indexes", "shop-mysql.shop › events"]) {
      expect(names).toContain(test);
    }
    // The nightly drill on MySQL: a plain table, one with a functional index and a CHECK, an empty one and a
    // partitioned one, each delivered into a fresh MySQL server and equal to the baseline there.
    const drilled = ["audit", "customers", "empty_table", "events_log", "order_tags", "orders"].filter((t) => !tooBig.includes(t)).slice(0, 4);
    expect(drilled).toEqual(expect.arrayContaining(["customers", "events_log"]));
    for (const table of drilled) expect(names).toContain(`shop-mysql.drill › shop.${table} restores on its own`);
    const drill = (table: string) => cases.find((c) => c.classname === "shop-mysql.drill" && c.name === `shop.${table} restores on its own`)?.properties.drill;
    expect(drill("customers")).toMatch(/^delivered shop\.customers as shop\.customers on the drill server: 2001 row\(s\), by tablespace \(/);
    expect(drill("events_log")).toMatch(/, by tablespace, partition by partition \(/);
    // MySQL's own system schemas are compared as the service's too.
    expect(names.some((n) => n.startsWith("shop-mysql.mysql.time_zone_name › "))).toBe(true);
    expect(summary?.services[0]?.verdict).toBe("pass");
  });

  it("rejoins: the restored server replicates from the MySQL source by GTID, catches up while it is written to, and matches it", () => {
    const rejoin = cases.filter((c) => c.classname === "shop-mysql.rejoin").map((c) => [c.name, c.failure ?? (c.skipped ? "skipped" : "passed")]);
    expect(rejoin).toEqual([
      ["replication starts", "passed"],
      ["catches up", "passed"],
      ["consistent after catch-up", "passed"],
    ]);
    expect(summary?.services[0]?.rejoin).toMatchObject({ failure: null });
    expect(summary?.services[0]?.rejoin?.tablesCompared).toBeGreaterThan(0);
  });

  it("leaves no mysqld and no directory behind", async () => {
    expect(await sandboxServers()).toEqual([]);
    expect(leftovers()).toEqual([]);
  });
});
