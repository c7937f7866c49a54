// `vitest run --project <service>` as the nightly runs it, read back through restoretest.prom, promtool and a real Pushgateway.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runBackupJob } from "../../src/backup/job.ts";
import { parseSamples, renderFamilies, type ParsedSample } from "../../src/report/prometheus.ts";
import { metricFamilies } from "../../src/report/serviceMetrics.ts";
import { SummarySchema, type Summary } from "../../src/report/summary.ts";
import { parseJUnit, type ParsedCase } from "../support/junit.ts";
import { SMALL_SEED, testService, testServiceYaml, testStore } from "../support/services.ts";
import { startPushgateway, type TestPushgateway } from "../report/gateway.ts";
import { promtoolCheckMetrics } from "../report/promtool.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const store = testStore();
let gateway: TestPushgateway;

/** services.yaml: shop (restored), blog (configured, not selected by --project), and the metrics block. */
function config(name: string, metrics: string[]): string {
  const dir = join(store.path, name);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, "services.yaml");
  const blog = ["  blog:", "    source:", "      sandbox:", `        seed: ${SMALL_SEED}`, "    databases: [shop]", ""];
  writeFileSync(file, ["metrics:", ...metrics.map((l) => `  ${l}`), testServiceYaml(store.path).trimEnd(), ...blog].join("\n"));
  return file;
}

interface Run {
  exitCode: number;
  output: string;
  cases: ParsedCase[];
  summary: Summary;
  prom: string;
}

async function vitest(configFile: string, reports: string, args: string[], env: Record<string, string> = {}): Promise<Run> {
  const run = await execa("npx", ["vitest", ...args], {
    cwd: ROOT,
    reject: false,
    env: { RESTORETEST_CONFIG: configFile, RESTORETEST_REPORTS: reports, CI: "true", ...env },
    all: true,
  });
  const read = (file: string) => readFileSync(join(reports, file), "utf8");
  return {
    exitCode: run.exitCode ?? -1,
    output: String(run.all),
    cases: parseJUnit(read("junit.xml")),
    summary: SummarySchema.parse(JSON.parse(read("summary.json"))),
    prom: read("restoretest.prom"),
  };
}

const ofService = (samples: ParsedSample[], service: string) => samples.filter((s) => s.labels.service === service);

/** A group's restoretest_* samples as the gateway serves them, without the labels it adds. */
async function pushed(job: string, service: string): Promise<ParsedSample[]> {
  return parseSamples(await gateway.scrape())
    .filter((s) => s.name.startsWith("restoretest_") && s.labels.job === job && s.labels.service === service)
    .map(({ name, labels: { job: _job, instance: _instance, ...labels }, value }) => ({ name, labels, value }));
}

const bySeries = (samples: ParsedSample[]) => [...samples].sort((a, b) => `${a.name}${JSON.stringify(a.labels)}`.localeCompare(`${b.name}${JSON.stringify(b.labels)}`));

beforeAll(async () => {
  await runBackupJob(testService(store.path));
  gateway = await startPushgateway();
}, 120_000);

afterAll(async () => {
  await gateway?.stop();
  store.remove();
});

describe("metrics of a real nightly run", () => {
  let nightly: Run;
  const blobs = () => join(store.path, "blobs");

  it("writes restoretest.prom from the records summary.json holds, keeps a configured service that did not run, and pushes", async () => {
    const reports = join(store.path, "reports");
    mkdirSync(reports, { recursive: true });
    // The last nightly's file: shop red after an incremental restore, blog (not in this run) and a service since removed.
    writeFileSync(
      join(reports, "restoretest.prom"),
      [
        'restoretest_success{service="blog"} 1',
        'restoretest_rto_seconds{service="blog"} 1.117',
        'restoretest_success{service="retired"} 0',
        'restoretest_success{service="shop"} 0',
        'restoretest_restore_step_seconds{service="shop",step="apply-incremental"} 3.5',
        "",
      ].join("\n"),
    );
    // Another service's group, pushed by an earlier run: this run's push must leave it alone.
    const blogGroup = `${gateway.url}/metrics/job/nightly/service/blog`;
    expect((await fetch(blogGroup, { method: "PUT", body: "# TYPE restoretest_success gauge\nrestoretest_success{service=\"blog\"} 1\n" })).status).toBe(200);

    const configFile = config("nightly", [`pushgateway: ${gateway.url}`, "job: nightly"]);
    nightly = await vitest(configFile, reports, ["run", "--project", "shop"], { RESTORETEST_BLOB: join(blobs(), "blob-1.json") });
    expect(nightly.exitCode, nightly.output).toBe(0);
    expect(nightly.cases.length).toBeGreaterThan(30);
    expect(nightly.cases.every((c) => !c.failure && !c.skipped)).toBe(true);

    expect(await promtoolCheckMetrics(nightly.prom)).toEqual({ exitCode: 0, output: "" });
    const samples = parseSamples(nightly.prom);
    // shop: exactly the gauges of its summary.json record, nothing left of its old group.
    expect(nightly.summary.services.map((s) => s.service)).toEqual(["shop"]);
    const fromSummary = parseSamples(renderFamilies(metricFamilies(nightly.summary.services)));
    expect(ofService(samples, "shop")).toEqual(fromSummary);
    const value = (name: string, labels: Record<string, string> = {}) =>
      samples.find((s) => s.name === name && JSON.stringify(s.labels) === JSON.stringify({ service: "shop", ...labels }))?.value;
    expect(value("restoretest_success")).toBe(1);
    expect(value("restoretest_failed_tests")).toBe(0);
    expect(value("restoretest_rto_seconds")).toBeGreaterThan(0.1);
    expect(value("restoretest_backup_bytes")).toBeGreaterThan(1_000_000);
    expect(Math.abs((value("restoretest_last_verify_timestamp_seconds") ?? 0) - Date.now() / 1000)).toBeLessThan(300);
    expect(ofService(samples, "shop").filter((s) => s.name === "restoretest_restore_step_seconds").map((s) => s.labels.step)).toEqual([
      "locate",
      "provision",
      "transfer",
      "prepare",
      "start",
      "replay",
    ]);
    // blog kept as it was; retired is no longer in services.yaml and went.
    expect(ofService(samples, "blog")).toEqual([
      { name: "restoretest_success", labels: { service: "blog" }, value: 1 },
      { name: "restoretest_rto_seconds", labels: { service: "blog" }, value: 1.117 },
    ]);
    expect(ofService(samples, "retired")).toEqual([]);
    expect(readdirSync(reports).filter((f) => f.includes("restoretest.prom"))).toEqual(["restoretest.prom"]);

    // The gateway holds the same shop gauges in shop's own group, and blog's group is untouched.
    expect(bySeries(await pushed("nightly", "shop"))).toEqual(bySeries(ofService(samples, "shop")));
    expect(await pushed("nightly", "blog")).toEqual([{ name: "restoretest_success", labels: { service: "blog" }, value: 1 }]);
  });

  it("says on stderr when the push fails, with the URL but not its password, and the run exits 1 with every test green", async () => {
    // The same results replayed through the reporters (`--merge-reports`, as the Jenkinsfile's report stage does): no restore.
    const configFile = config("bad-gateway", [`pushgateway: "${gateway.url.replace("http://", "http://restoretest:hunter22@")}/wrong-prefix"`]);
    const reports = join(store.path, "merged");
    const merged = await vitest(configFile, reports, ["run", `--merge-reports=${blobs()}`]);
    expect(merged.cases.map((c) => [c.classname, c.name, !c.failure])).toEqual(nightly.cases.map((c) => [c.classname, c.name, true]));
    expect(merged.exitCode, merged.output).toBe(1);
    const line = `restoretest: metrics push to ${gateway.url}/wrong-prefix/metrics/job/restoretest/service/shop failed: HTTP 404: Not Found: 404 page not found`;
    expect(merged.output.split("\n").map((l) => l.trim())).toContain(line);
    expect(merged.output).not.toContain("hunter22");
    // The file does not depend on the gateway, and says what the nightly's said; but how long backups have gone
    // unproven, which is read from the store when the report is written, and so a few seconds later here.
    const untimed = (samples: ReturnType<typeof parseSamples>) => ofService(samples, "shop").filter((x) => !/^restoretest_(unproven|never_verified_backup_age)_seconds$/.test(x.name));
    expect(untimed(parseSamples(merged.prom))).toEqual(untimed(parseSamples(nightly.prom)));
    expect(ofService(parseSamples(merged.prom), "shop").map((x) => x.name)).toEqual(ofService(parseSamples(nightly.prom), "shop").map((x) => x.name));
  });
});
