// The generic suite run as a user runs it (`vitest run --project <service>`), read back through its JUnit and Allure output.
import { closeSync, cpSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runBackupJob } from "../../src/backup/job.ts";
import { readManifest } from "../../src/store/manifest.ts";
import { parseJUnit, type ParsedCase } from "../support/junit.ts";
import { biggestTables, SMALL_SEED, sandboxServers, testService, testStore } from "../support/services.ts";

const ROOT = resolve(import.meta.dirname, "../..");
// One table of every kind but the sequence (partitioned, system-versioned, Aria, MyISAM, InnoDB) gets every table check.
const TABLES = ["audit", "customers", "empty_table", "events_log", "notes", "order_tags", "orders", "prices"];
const CHECKS = ["checksum", "definition", "rowCount", "integrity", "indexes", "autoIncrement"];
const DB_CHECKS = ["tables", "views", "triggers", "routines", "events", "database"];

/** The tests of the system schemas, as the backup's manifest recorded their checks (coverage.ts decided them). */
function systemTests(dir: string): string[] {
  const manifest = readManifest(join(dir, "manifest.json"));
  return manifest.databases
    .filter((d) => d.system)
    .flatMap((d) => [
      ...Object.keys(d.checks).map((c) => `shop.${d.name} › ${c}`),
      ...d.tables.flatMap((t) => Object.keys(t.checks).map((c) => `shop.${d.name}.${t.name} › ${c}`)),
    ]);
}

/** Every test a clean run of the small seed's backup has. */
function expectedTests(dir: string): string[] {
  return [
    "shop › restore",
    "shop.store › every stored file as written",
    "shop.accounts › accounts",
    "shop.server › server",
    ...DB_CHECKS.map((c) => `shop.shop › ${c}`),
    ...TABLES.flatMap((t) => CHECKS.map((c) => `shop.shop.${t} › ${c}`)),
    "shop.shop.invoice_seq › checksum",
    "shop.shop.invoice_seq › definition",
    ...systemTests(dir),
  ];
}

const store = testStore();
let backupDir = "";

/** A copy of the good backup in a store of its own, optionally damaged, and a services.yaml pointing at it. */
function variant(name: string, damage?: (backupDir: string) => void, extra: string[] = []): { config: string; reports: string } {
  const dir = join(store.path, name);
  const copy = join(dir, "store", "shop", "copy");
  mkdirSync(copy, { recursive: true });
  cpSync(backupDir, copy, { recursive: true });
  damage?.(copy);
  const config = join(dir, "services.yaml");
  writeFileSync(
    config,
    [
      "services:",
      "  shop:",
      "    source:",
      "      sandbox:",
      `        seed: ${SMALL_SEED}`,
      "    databases: [shop]",
      "    backup:",
      `      store: ${join(dir, "store")}`,
      ...extra,
      "",
    ].join("\n"),
  );
  return { config, reports: join(dir, "reports") };
}

async function runSuite(v: { config: string; reports: string }): Promise<{ exitCode: number; cases: ParsedCase[]; output: string }> {
  const run = await execa("npx", ["vitest", "run", "--project", "shop"], {
    cwd: ROOT,
    reject: false,
    env: { RESTORETEST_CONFIG: v.config, RESTORETEST_REPORTS: v.reports, CI: "true" },
    all: true,
  });
  const junit = join(v.reports, "junit.xml");
  return { exitCode: run.exitCode ?? -1, cases: existsSync(junit) ? parseJUnit(readFileSync(junit, "utf8")) : [], output: String(run.all) };
}

function restoreDirs(): string[] {
  return readdirSync(tmpdir()).filter((d) => d.startsWith("restoretest-restore-shop"));
}

beforeAll(async () => {
  const result = await runBackupJob(testService(store.path));
  backupDir = result.dir;
}, 120_000);

afterAll(() => store.remove());

describe("vitest --project <service>", () => {
  it("verifies a clean backup green, reporting service › database.table › check to Jenkins and Allure", async () => {
    const v = variant("clean");
    const { exitCode, cases, output } = await runSuite(v);
    expect(exitCode, output).toBe(0);
    const names = cases.map((c) => `${c.classname} › ${c.name}`);
    const expected = expectedTests(backupDir);
    expect(names.sort()).toEqual(expected.sort());
    // The system schemas whatever `databases` says: every table's presence, definition and integrity; the rows of
    // those the server does not rewrite itself (the grant tables are compared by accounts).
    expect(names).toEqual(expect.arrayContaining(["shop.mysql › tables", "shop.mysql.global_priv › definition", "shop.mysql.global_priv › integrity"]));
    expect(names).toEqual(expect.arrayContaining(["shop.mysql.time_zone_name › checksum", "shop.mysql.proc › rowCount", "shop.sys.sys_config › checksum"]));
    expect(names).not.toContain("shop.mysql.global_priv › checksum");
    expect(cases.every((c) => !c.failure && !c.skipped)).toBe(true);
    const restore = cases.find((c) => c.name === "restore");
    expect(restore?.properties.timings).toMatch(/^locate \d+ms, provision .*transfer .*prepare .*start .*replay .*verify .*; total /);
    // Allure: one result per test, labelled for filtering, with the restore steps timed.
    const results = readdirSync(join(v.reports, "allure-results"))
      .filter((f) => f.endsWith("-result.json"))
      .map((f) => JSON.parse(readFileSync(join(v.reports, "allure-results", f), "utf8")) as AllureResult);
    expect(results).toHaveLength(expected.length);
    const checksum = results.find((r) => r.name === "checksum" && label(r, "table") === "orders");
    expect(checksum && [label(checksum, "service"), label(checksum, "database"), label(checksum, "check")]).toEqual(["shop", "shop", "checksum"]);
    const restoreResult = results.find((r) => r.name === "restore");
    expect(restoreResult?.steps.map((s) => s.name)).toEqual(["locate", "provision", "transfer", "prepare", "start", "replay", "capture restored state"]);
    expect(restoreDirs()).toEqual([]);
    expect(await sandboxServers()).toEqual([]);
  });

  it("turns exactly the store test red when a stored file the restore survives is gone, naming it", async () => {
    // xtrabackup_info: what the tool says about the backup; prepare and start never read it, so every other test is green.
    const v = variant("store-damaged", (dir) => rmSync(join(dir, "data", "xtrabackup_info")));
    const { exitCode, cases, output } = await runSuite(v);
    expect(exitCode, output).toBe(1);
    const failed = cases.filter((c) => c.failure);
    expect(failed.map((c) => `${c.classname} › ${c.name}`)).toEqual(["shop.store › every stored file as written"]);
    expect(failed[0]?.failure).toMatch(/^\/\S+\/store\/shop\/copy\/data\/xtrabackup_info is listed in checksums.json \(\d+ bytes\) but is not in the store/);
    expect(cases.find((c) => c.name === "restore")?.failure).toBeUndefined();
  });

  it("turns exactly the checksum test red when the data differs from the baseline, with a message a DBA can act on", async () => {
    // The baseline records a different checksum: what a restore that lost or changed rows looks like to the suite.
    const v = variant("checksum-differs", (dir) => {
      const path = join(dir, "manifest.json");
      const manifest = JSON.parse(readFileSync(path, "utf8")) as { databases: { tables: { name: string; checks: { checksum: { checksum: string } } }[] }[] };
      const customers = manifest.databases[0]?.tables.find((t) => t.name === "customers");
      if (!customers) throw new Error("fixture has no customers table");
      customers.checks.checksum.checksum = "12345";
      writeFileSync(path, JSON.stringify(manifest));
    });
    const { exitCode, cases } = await runSuite(v);
    expect(exitCode).toBe(1);
    const failed = cases.filter((c) => c.failure);
    // The manifest edited after the backup was written is not as written either: the store test names it.
    expect(failed.map((c) => `${c.classname} › ${c.name}`)).toEqual(["shop.store › every stored file as written", "shop.shop.customers › checksum"]);
    expect(failed[0]?.failure).toMatch(/^stored file \S+\/manifest\.json (is \d+ bytes, but \d+ were written|does not match its SHA-256)/);
    failed.shift();
    expect(failed[0]?.failure).toMatch(/^table data differs from the baseline: CHECKSUM TABLE shop.customers is \d+, baseline 12345$/);
    expect(cases.find((c) => c.classname === "shop.shop.customers" && c.name === "rowCount")?.failure).toBeUndefined();
  });

  it("reports a damaged backup as a failed restore naming step, command, exit code and stderr, and destroys the target", async () => {
    const v = variant("truncated-redo", (dir) => {
      // Cut the redo log below its header: prepare cannot start.
      truncateSync(join(dir, "data", "ib_logfile0"), 1000);
    });
    const { exitCode, cases, output } = await runSuite(v);
    expect(exitCode).toBe(1);
    const restore = cases.find((c) => c.name === "restore");
    expect(restore?.failure, output).toMatch(/^restore of shop failed at step "(prepare|start)" after \d+\.\ds$/);
    expect(restore?.failureBody).toMatch(/command: mariadb-backup --prepare --target-dir=\S+\nexit code: \d+\nstderr \(last lines\):\n/);
    // The table tests are skipped with a pointer to the restore test, not failed 20 times over; the store test names
    // the stored file that is not as written.
    const store = cases.find((c) => c.classname === "shop.store");
    expect(store?.failure).toMatch(/^stored file \S+\/data\/ib_logfile0 is 1000 bytes, but \d+ were written/);
    const others = cases.filter((c) => c.name !== "restore" && c !== store);
    expect(others.length).toBe(expectedTests(backupDir).length - 2);
    expect(others.every((c) => c.skipped && !c.failure)).toBe(true);
    expect(restoreDirs()).toEqual([]);
    expect(await sandboxServers()).toEqual([]);
  });

  it("drills verify.tableDrill tables into a second server: green for a sound one, red naming a damaged one, rotation kept", async () => {
    // Two tables a night; never drilled before, so the first two by name: shop.audit (MyISAM) and shop.customers,
    // whose clustered index root page is damaged in this copy of the backup. The biggest table is over the size limit.
    const { names: tooBig, sizeBytes: biggest } = biggestTables(backupDir, "shop");
    expect(tooBig).not.toContain("audit");
    expect(tooBig).not.toContain("customers");
    const v = variant(
      "drill",
      (dir) => {
        const fd = openSync(join(dir, "data", "shop", "customers.ibd"), "r+");
        writeSync(fd, Buffer.alloc(64, 0xa5), 0, 64, 3 * 16384 + 4000);
        closeSync(fd);
      },
      ["    verify:", "      tableDrill: 2", `      tableDrillMaxSize: ${biggest - 1}B`],
    );
    const { exitCode, cases, output } = await runSuite(v);
    expect(exitCode).toBe(1);
    const drill = cases.filter((c) => c.classname === "shop.drill");
    expect(drill.map((c) => c.name), output).toEqual([...tooBig.map((t) => `shop.${t} restores on its own`), "shop.audit restores on its own", "shop.customers restores on its own"]);
    for (const skipped of drill.slice(0, tooBig.length)) {
      expect(skipped.skippedMessage).toMatch(/^not drilled: [\d.]+[KM]iB in the baseline, over verify\.tableDrillMaxSize \([\d.]+[KM]iB\); raise it to drill this table$/);
    }
    drill.splice(0, tooBig.length);
    expect(drill[0]?.failure).toBeUndefined();
    expect(drill[0]?.properties.drill).toMatch(/^delivered shop\.audit as shop\.audit on the drill server: \d+ row\(s\), by a dump of its rows .*; compared with the baseline in /);
    expect(drill[1]?.failure).toMatch(/^drill of shop\.customers failed: .*shop.*customers/);
    const record = JSON.parse(readFileSync(join(v.config, "..", "store", "shop", "drill.json"), "utf8")) as { drilled: Record<string, string> };
    expect(Object.keys(record.drilled)).toEqual(["shop.audit"]);
    expect(restoreDirs()).toEqual([]);
    expect(await sandboxServers()).toEqual([]);
  });

  it("fails the restore test with a clear message when the store has no complete backup", async () => {
    const v = variant("half-written", (dir) => rmSync(join(dir, "backup.json")));
    const { exitCode, cases } = await runSuite(v);
    expect(exitCode).toBe(1);
    expect(cases.map((c) => c.name)).toEqual(["restore"]);
    expect(cases[0]?.failure).toMatch(/^no complete backup of service "shop" in /);
    expect(cases[0]?.failureBody).toMatch(/skipped copy: no backup\.json \(backup unfinished or interrupted\)/);
  });
});

interface AllureResult {
  name: string;
  labels: { name: string; value: string }[];
  steps: { name: string }[];
}

function label(r: AllureResult, name: string): string | undefined {
  return r.labels.find((l) => l.name === name)?.value;
}
