// The nightly at scale: three services restored concurrently, the same run as two shards merged, JUnit, summary.json, Allure history.
import { existsSync, readdirSync, readFileSync, truncateSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TestCase } from "vitest/node";
import { findService, loadServices } from "../../src/config/load.ts";
import { LocalProvider } from "../../src/hosts/local.ts";
import type { HostProvider } from "../../src/hosts/types.ts";
import { restoreService } from "../../src/restore/pipeline.ts";
import ProgressReporter from "../../src/report/progressReporter.ts";
import type { ParsedCase } from "../support/junit.ts";
import { validateJUnit } from "../support/junit.ts";
import { sandboxServers } from "../support/services.ts";
import { SummarySchema, type Summary } from "../../src/report/summary.ts";
import { ROOT, SERVICES_ONLY, fleet, fleetStore, vitest, type Fleet, type FleetStore, type Run } from "./fleet.ts";

const SERVICES = ["alpha", "beta", "gamma"];
/** The progress heartbeat of the unsharded run, short enough that every restore has steps several beats long. */
const HEARTBEAT_MS = 50;
let store: FleetStore;
let f: Fleet;
/** The unsharded fleet run, all three at once; then the same services as two shards and their merge. */
let whole: Run;
let merged: Run;

const verdicts = (cases: ParsedCase[]) =>
  cases.map((c) => `${c.classname} › ${c.name}: ${c.failure ? "failed" : c.skipped ? "skipped" : "passed"}`).sort();
const summary = (run: Run): Summary => SummarySchema.parse(JSON.parse(readFileSync(join(run.reports, "summary.json"), "utf8")));

interface AllureResult {
  name: string;
  fullName: string;
  status: string;
  historyId: string;
  labels: { name: string; value: string }[];
  steps: { name: string }[];
}
function allureResults(run: Run): AllureResult[] {
  const dir = join(run.reports, "allure-results");
  return readdirSync(dir)
    .filter((name) => name.endsWith("-result.json"))
    .map((name) => JSON.parse(readFileSync(join(dir, name), "utf8")) as AllureResult);
}

/** What is left of this file's restores: their directories and servers (other tests' are not ours to judge). */
async function leftovers(): Promise<string[]> {
  const ours = /restoretest-restore-(alpha|beta|gamma)-/;
  return [...readdirSync(tmpdir()).filter((d) => ours.test(d)), ...(await sandboxServers()).filter((p) => ours.test(p))];
}

beforeAll(async () => {
  store = await fleetStore();
  // beta's redo log is cut below its header: prepare fails, as a damaged backup would.
  f = fleet(store, "three", SERVICES, { beta: (dir) => truncateSync(join(dir, "data", "ib_logfile0"), 1000) });
}, 120_000);

afterAll(() => store?.remove());

describe("a nightly run of three services", () => {
  it("restores them concurrently, and one damaged backup fails only its own service", async () => {
    whole = await vitest(f, join(store.path, "whole"), ["run", ...SERVICES_ONLY], { RESTORETEST_MAX_RESTORES: "3", RESTORETEST_PROGRESS_INTERVAL: `${HEARTBEAT_MS}ms` });
    expect(whole.exitCode, whole.output).toBe(1);
    const s = summary(whole);
    expect(s.services.map((x) => [x.service, x.verdict, x.failedStep])).toEqual([
      ["alpha", "pass", null],
      ["beta", "fail", "prepare"],
      ["gamma", "pass", null],
    ]);
    for (const green of [s.services[0], s.services[2]]) {
      expect(green?.checks.failed).toBe(0);
      expect(green?.checks.passed).toBeGreaterThan(20);
      expect(green?.rtoMs).toBeGreaterThan(0);
      expect(green?.bytesMoved).toBeGreaterThan(1_000_000);
      expect(green?.backup?.ageMs).toBeGreaterThanOrEqual(0);
    }
    // The truncated redo log is also a stored file that is not as written: the store test names it.
    expect(s.services[1]).toMatchObject({ failed: ["beta › restore", "beta.store › every stored file as written"], rtoMs: null, checks: { passed: 0, failed: 1 } });
    // Concurrent, not one after another: alpha's and gamma's restores overlapped in time.
    const span = (x: Summary["services"][number]) => [Date.parse(x.verifiedAt), Date.parse(x.verifiedAt) + (x.rtoMs ?? 0)] as const;
    const [a, g] = [span(s.services[0] as never), span(s.services[2] as never)];
    expect(a[0] < g[1] && g[0] < a[1], JSON.stringify({ a, g })).toBe(true);
    // A long step is never silent: every step that ran several heartbeats printed a "running" line meanwhile. (Which
    // steps those are is read from the run, not assumed: beta's failing prepare takes 70 ms or, when mariadb-backup
    // waits for a thread at exit, 5 s.) There is always one: a server's start alone takes longer. Not locate: it reads
    // the store's listing and manifest synchronously, so on a loaded machine it can pass 4 beats with no turn of the
    // event loop for the heartbeat's timer (seen at load 11-29).
    const long = s.services.flatMap((x) => x.steps.filter((st) => st.durationMs >= 4 * HEARTBEAT_MS && st.step !== "locate").map((st) => `${x.service} › ${st.step}`));
    expect(long.length, JSON.stringify(s.services.map((x) => x.steps))).toBeGreaterThan(0);
    for (const step of long) expect(whole.output).toContain(`[restoretest] ${step}: running `);
    expect(whole.output).toMatch(/\[restoretest\] alpha › transfer: done in \S+, [\d.]+ MB at [\d.]+ MB\/s/);
    expect(whole.output).toMatch(/\[restoretest\] beta › prepare: FAILED after/);
    expect(await leftovers()).toEqual([]);
  });

  it("gives the same results as two shards merged, through our JUnit and Allure reporters with meta and annotations intact", async () => {
    const blobs = join(store.path, "blob");
    const shards = await Promise.all(
      [1, 2].map((i) =>
        vitest(f, join(store.path, `shard${i}`), ["run", ...SERVICES_ONLY, `--shard=${i}/2`], { RESTORETEST_BLOB: join(blobs, `blob-${i}.json`) }),
      ),
    );
    // Each shard restored some of the services, together all of them, none twice.
    const servicesOf = (run: Run) => [...new Set(run.cases.map((c) => c.classname.split(".")[0]))];
    expect(shards.every((r) => servicesOf(r).length > 0)).toBe(true);
    expect(shards.flatMap(servicesOf).sort()).toEqual(SERVICES);
    merged = await vitest(f, join(store.path, "merged"), ["run", `--merge-reports=${blobs}`]);
    expect(merged.exitCode, merged.output).toBe(1);
    expect(verdicts(merged.cases)).toEqual(verdicts(whole.cases));
    // Classnames come from test meta, the restore properties from annotations: both survived the blobs.
    const restore = merged.cases.find((c) => c.classname === "alpha" && c.name === "restore");
    expect(restore?.properties.timings).toMatch(/^locate \d+ms, provision .*start .*verify .*; total /);
    expect(restore?.timeSeconds).toBeGreaterThan(0.3);
    expect(merged.cases.find((c) => c.classname === "beta" && c.name === "restore")?.failureBody).toMatch(/command: mariadb-backup --prepare .*\nexit code: \d+\n/);
    // Times that depend on when each run ends (a backup's age, how long backups have gone unproven) are compared as present or not.
    const key = (s: Summary) => s.services.map((x) => ({ ...x, verifiedAt: "", backup: x.backup && { ...x.backup, ageMs: 0 }, unproven: x.unproven && { ...x.unproven, longestMs: 0, neverVerified: x.unproven.neverVerified && { ...x.unproven.neverVerified, ageMs: 0 } }, rtoMs: x.rtoMs !== null, rpoMs: x.rpoMs !== null, verifyMs: x.verifyMs !== null, steps: x.steps.map((st) => [st.step, st.ok, st.bytes]) }));
    expect(key(summary(merged))).toEqual(key(summary(whole)));
    // allure-vitest ran in the shards (steps and labels recorded into meta) and again at the merge (results written).
    const byName = (run: Run) => allureResults(run).map((r) => `${r.fullName}: ${r.status} [${r.labels.find((l) => l.name === "service")?.value}]`).sort();
    expect(byName(merged)).toEqual(byName(whole));
    const steps = (run: Run) => allureResults(run).find((r) => r.fullName.endsWith("#alpha restore"))?.steps.map((s) => s.name);
    expect(steps(merged)).toEqual(["locate", "provision", "transfer", "prepare", "start", "replay", "capture restored state"]);
    expect(steps(merged)).toEqual(steps(whole));
    expect(await leftovers()).toEqual([]);
  });

  it("writes JUnit that Jenkins' schema accepts, failures included", async () => {
    for (const run of [whole, merged]) {
      const result = await validateJUnit(join(run.reports, "junit.xml"));
      expect(result.errors).toMatch(/validates$/m);
      expect(result.valid).toBe(true);
    }
  });

  it("builds an Allure report that keeps history across runs, with the environment and restore-time metrics", async () => {
    const history = join(store.path, "allure-history.jsonl");
    for (const run of [whole, merged]) {
      const report = await execa("bash", ["scripts/report.sh"], {
        cwd: ROOT,
        reject: false,
        all: true,
        env: { RESTORETEST_REPORTS: run.reports, ALLURE_HISTORY: history },
      });
      expect(report.exitCode, String(report.all)).toBe(0);
      expect(existsSync(join(run.reports, "allure-report", "index.html"))).toBe(true);
    }
    const env = readFileSync(join(merged.reports, "allure-results", "environment.properties"), "utf8");
    expect(env).toMatch(/^alpha\.backup\.position=mysql-bin\.\d+:\d+$/m);
    expect(env).toMatch(/^alpha\.restored\.server=\S*MariaDB/m);
    const points = readFileSync(history, "utf8").trim().split("\n").map((line) => JSON.parse(line) as { testResults: Record<string, { name: string; fullName: string }>; metrics: Record<string, number> });
    expect(points).toHaveLength(2);
    const alphaRestore = allureResults(whole).find((r) => r.fullName.endsWith("#alpha restore"));
    for (const point of points) {
      expect(Object.values(point.testResults).find((t) => t.fullName === alphaRestore?.fullName)?.name).toBe("restore");
      expect(point.metrics["alpha.restore"]).toBeGreaterThan(0);
    }
  });

  it("never leaves a slow restore step silent: heartbeat lines with bytes and rate while a copy crawls", async () => {
    const lines: string[] = [];
    const reporter = new ProgressReporter({ interactive: false, intervalMs: 100, write: (line) => lines.push(line) });
    // A target whose copy takes ~1 s and reports its bytes as it goes, like a slow network copy would.
    const slow: HostProvider = {
      name: "slow",
      async create(service) {
        const target = await new LocalProvider().create(service);
        return {
          ...target,
          async putDirectory(local, remote, options) {
            for (let mb = 1; mb <= 5; mb++) {
              await sleep(200);
              options?.onProgress?.(mb * 1_000_000);
            }
            return target.putDirectory(local, remote, options);
          },
        };
      },
    };
    const service = findService(loadServices(f.config), "alpha");
    const restored = await restoreService(service, {
      provider: slow,
      progressIntervalMs: 100,
      onProgress: (p) => reporter.onTestCaseArtifactRecord({} as TestCase, { type: "restoretest:progress", ...p }),
    });
    await restored.destroy();
    const copying = lines.filter((l) => l.startsWith("[restoretest] alpha › transfer: running"));
    expect(copying.length, lines.join("\n")).toBeGreaterThanOrEqual(5);
    const bytes = copying.map((l) => Number(/, ([\d.]+) MB at [\d.]+ [kM]B\/s$/.exec(l)?.[1] ?? "0")).filter((mb) => mb > 0);
    expect(bytes.length).toBeGreaterThanOrEqual(3);
    expect(bytes).toEqual([...bytes].sort((x, y) => x - y));
    expect(lines).toContain("[restoretest] alpha › transfer: started");
    expect(lines.some((l) => /^\[restoretest\] alpha › transfer: done in \S+, [\d.]+ MB at/.test(l))).toBe(true);
    expect(await leftovers()).toEqual([]);
  });
});
