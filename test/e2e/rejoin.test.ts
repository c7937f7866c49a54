// `rejoin` as a user runs it: a sandbox service with rejoin enabled, backed up, then `vitest run --project shop`, read
// back through JUnit, Allure and summary.json; and the same run after the source purged the binlogs the backup needs.
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runBackupJob } from "../../src/backup/job.ts";
import { loadServices, findService } from "../../src/config/load.ts";
import { startKeptSourceSandbox } from "../../src/hosts/sourceSandbox.ts";
import { interruptSuite } from "../support/interrupt.ts";
import { parseJUnit, type ParsedCase } from "../support/junit.ts";
import { sandboxServers, testServiceYaml, testStore } from "../support/services.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const REJOIN_TESTS = ["replication starts", "catches up", "consistent after catch-up"];

const store = testStore();
const config = join(store.path, "services.yaml");
// The replication password services.yaml names: it must not appear in any report (subprocesses inherit it).
const REPL_PASSWORD = "e2e-repl-secret-9f3k2";
process.env.RESTORETEST_E2E_REPL_PASSWORD = REPL_PASSWORD;

/** Every file under `dir` whose content holds `text`. */
function filesHolding(dir: string, text: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name))
    .filter((f) => readFileSync(f).includes(text));
}

async function runSuite(reports: string): Promise<{ exitCode: number; cases: ParsedCase[]; output: string }> {
  const run = await execa("npx", ["vitest", "run", "--project", "shop"], {
    cwd: ROOT,
    reject: false,
    env: { RESTORETEST_CONFIG: config, RESTORETEST_REPORTS: reports, CI: "true" },
    all: true,
  });
  const junit = join(reports, "junit.xml");
  return { exitCode: run.exitCode ?? -1, cases: existsSync(junit) ? parseJUnit(readFileSync(junit, "utf8")) : [], output: String(run.all) };
}

interface AllureAttachment {
  name: string;
  type: string;
  source: string;
}

/** allure-js records an attachment as a step holding it. */
interface AllureResult {
  name: string;
  statusDetails?: { message?: string; trace?: string };
  labels: { name: string; value: string }[];
  attachments: AllureAttachment[];
  steps: { name: string; attachments: AllureAttachment[] }[];
}

const attachmentsOf = (r: AllureResult | undefined): AllureAttachment[] => [...(r?.attachments ?? []), ...(r?.steps ?? []).flatMap((s) => s.attachments)];

function allureResults(reports: string): AllureResult[] {
  const dir = join(reports, "allure-results");
  return readdirSync(dir)
    .filter((f) => f.endsWith("-result.json"))
    .map((f) => JSON.parse(readFileSync(join(dir, f), "utf8")) as AllureResult);
}

const summaryOf = (reports: string) =>
  (
    JSON.parse(readFileSync(join(reports, "summary.json"), "utf8")) as {
      services: { verdict: string; rpoMs: number | null; restorable: { source: string } | null; rejoin: Record<string, unknown> | null }[];
    }
  ).services[0];

const leftovers = () => readdirSync(tmpdir()).filter((d) => /^restoretest-(restore|source)-shop/.test(d));

beforeAll(async () => {
  const rejoin = ["    rejoin:", "      user: repl_e2e", "      password: ${RESTORETEST_E2E_REPL_PASSWORD}", "      catchUpTimeout: 2m", "    objectives: {catchUp: 2m}"];
  writeFileSync(config, testServiceYaml(join(store.path, "store"), rejoin.join("\n"), "shop", { changes: true }));
  await runBackupJob(findService(loadServices(config), "shop"));
}, 180_000);

afterAll(() => store.remove());

describe("vitest --project <service> with rejoin", () => {
  it("rebuilds a replica: three rejoin tests green after the table tests, catch-up time in JUnit, lag curve in Allure, record in summary.json", async () => {
    const reports = join(store.path, "reports-clean");
    const { exitCode, cases, output } = await runSuite(reports);
    expect(exitCode, output).toBe(0);
    expect(cases.every((c) => !c.failure && !c.skipped)).toBe(true);
    // After every table test: replication changes the restored data the tables were verified on. Then the objectives.
    expect(cases.slice(-4).map((c) => `${c.classname} › ${c.name}`)).toEqual([...REJOIN_TESTS.map((t) => `shop.rejoin › ${t}`), "shop.objectives › catch-up"]);
    expect(cases.at(-1)?.properties.objective).toMatch(/^catch-up \d+(\.\d+)?m?s is within the objective of 2m 00s \(/);
    const byName = Object.fromEntries(cases.slice(-4, -1).map((c) => [c.name, c]));
    expect(byName["replication starts"]?.properties.replication).toMatch(/^from 127\.0\.0\.1:\d+ \(the kept sandbox source\) at GTID \S+ \(mysql-bin\.\d+:\d+\) \(the baseline's position, which the restore replayed to\), server-id \d+$/);
    expect(byName["catches up"]?.properties["catch-up"]).toMatch(/^caught up in \d+(\.\d+)?m?s to mysql-bin\.\d+:\d+, \d+ bytes of binlog$/);
    expect(byName["consistent after catch-up"]?.properties.consistency).toMatch(/^9 tables equal at mysql-bin\.\d+:\d+$/);

    const catchUp = allureResults(reports).find((r) => r.name === "catches up");
    const attachments = attachmentsOf(catchUp);
    expect(attachments.map((a) => [a.name, a.type])).toEqual([
      ["lag.csv", "text/csv"],
      ["lag.svg", "image/svg+xml"],
    ]);
    const svg = readFileSync(join(reports, "allure-results", attachments[1]!.source), "utf8");
    expect(svg).toMatch(/^<svg [^>]*>[\s\S]*<polyline [^>]*points="[\d., ]+"\/>[\s\S]*<\/svg>\n$/);

    // The catch-up time is an Allure metric: kept in the history, it shows as a trend.
    const perf = JSON.parse(readFileSync(join(reports, "allure-results", "restoretest-perf.json"), "utf8")) as { key: string; value: number }[];
    expect(perf.find((m) => m.key === "shop.rejoin.catchUp")?.value).toEqual(expect.any(Number));
    const summary = summaryOf(reports);
    expect(summary?.verdict).toBe("pass");
    expect(summary?.restorable?.source).toBe("backup");
    expect(summary?.rpoMs).toBeGreaterThan(0);
    expect(summary?.rejoin).toMatchObject({ failure: null, tablesCompared: 9, consistentAt: expect.stringMatching(/^mysql-bin\.\d+:\d+$/) });
    expect(summary?.rejoin?.catchUpMs).toEqual(expect.any(Number));
    expect((summary?.rejoin?.backlogBytes as number) > 0, "the sandbox's changes are the backlog").toBe(true);
    // Nor in the store: backups, binlogs and the kept source's datadir (which holds only its hash).
    expect(filesHolding(reports, REPL_PASSWORD)).toEqual([]);
    expect(filesHolding(join(store.path, "store"), REPL_PASSWORD)).toEqual([]);
    expect(output).not.toContain(REPL_PASSWORD);
    expect(leftovers()).toEqual([]);
    expect(await sandboxServers()).toEqual([]);
  });

  it("SIGINT while the replica joins leaves no server (restored or source), directory or lock, and the next run is green", async () => {
    const { signalled, output } = await interruptSuite({
      project: "shop",
      config,
      reports: join(store.path, "reports-interrupted"),
      when: /shop › rejoin: start: started/,
      signal: "SIGINT",
    });
    expect(signalled, output).toBe(true);
    const deadline = Date.now() + 10_000;
    while ((leftovers().length > 0 || (await sandboxServers()).length > 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    expect(leftovers()).toEqual([]);
    expect(await sandboxServers()).toEqual([]);
    expect(existsSync(join(store.path, "store", "shop", ".backup.lock"))).toBe(false);
    const again = await runSuite(join(store.path, "reports-again"));
    expect(again.exitCode, again.output).toBe(0);
  });

  it("names purged binlogs in the first rejoin test, skips the other two with a pointer, and keeps the table tests", async () => {
    // The kept source rotates and purges its binlogs, as a source with short retention does between backup and restore.
    const source = await startKeptSourceSandbox("shop", join(store.path, "store", "shop", ".source"));
    try {
      const db = await source.server.connect();
      await db.query("FLUSH BINARY LOGS");
      const [head] = await db.query<{ File: string }>("SHOW MASTER STATUS");
      await db.query(`PURGE BINARY LOGS TO '${head!.File}'`);
      await db.close();
    } finally {
      await source.destroy();
    }
    const reports = join(store.path, "reports-purged");
    const { exitCode, cases, output } = await runSuite(reports);
    expect(exitCode, output).toBe(1);
    // The catch-up objective cannot be shown to be met: red too, saying why.
    expect(cases.filter((c) => c.failure).map((c) => `${c.classname} › ${c.name}`)).toEqual(["shop.rejoin › replication starts", "shop.objectives › catch-up"]);
    expect(cases.at(-1)?.failure).toBe("catch-up not measured: the replica did not catch up (see the rejoin tests); the objective of 2m 00s is not shown to be met");
    const failed = cases.find((c) => c.name === "replication starts");
    expect(failed?.failure).toMatch(/^the source 127\.0\.0\.1:\d+ \(the kept sandbox source\) has purged binlog mysql-bin\.\d+, which this backup needs/);
    expect(failed?.failureBody ?? failed?.failure).toMatch(/the source's oldest binary log is mysql-bin\.\d+/);
    expect(cases.filter((c) => c.skipped).map((c) => c.name)).toEqual(["catches up", "consistent after catch-up"]);
    expect(cases.filter((c) => c.classname.startsWith("shop.shop")).every((c) => !c.failure && !c.skipped)).toBe(true);
    expect(summaryOf(reports)?.rejoin).toMatchObject({ failure: "purged-binlogs", catchUpMs: null });
    // Allure files it under its own category, not under "Restored data differs from the baseline".
    const categories = JSON.parse(readFileSync(join(reports, "allure-results", "categories.json"), "utf8")) as { name: string; traceRegex?: string }[];
    const trace = allureResults(reports).find((r) => r.name === "replication starts")?.statusDetails?.trace ?? "";
    expect(categories[0]?.name).toBe("Replica rebuild failed (rejoin)");
    expect(trace).toMatch(new RegExp(categories[0]?.traceRegex ?? "$^"));
    expect(leftovers()).toEqual([]);
    expect(await sandboxServers()).toEqual([]);
  });
});
