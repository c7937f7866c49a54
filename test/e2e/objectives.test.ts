// Objectives as tests, run as a user runs them: met ones green, breached ones red with the measured value against the
// objective, all in summary.json and the Prometheus file.
import { readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runBackupJob } from "../../src/backup/job.ts";
import { parseJUnit } from "../support/junit.ts";
import { promtoolCheckMetrics } from "../report/promtool.ts";
import { testService, testServiceYaml, testStore } from "../support/services.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const store = testStore();

beforeAll(async () => {
  await runBackupJob(testService(store.path));
}, 120_000);

afterAll(() => store.remove());

describe("objectives", () => {
  it("turn exactly the breached objectives red, with the measured value against the objective", async () => {
    const config = join(store.path, "services.yaml");
    // The RTO and a defaults-level backup age are met; an RPO of 1 ms cannot be, and the service's own backup age wins.
    const yaml = testServiceYaml(store.path, "    objectives: {rto: 10m, rpo: 1ms, backupAge: 1ms, baselineHold: 1ms}").replace("services:", "defaults:\n  objectives: {backupAge: 25h}\nservices:");
    writeFileSync(config, yaml);
    const reports = join(store.path, "reports");
    const run = await execa("npx", ["vitest", "run", "--project", "shop"], { cwd: ROOT, reject: false, all: true, env: { RESTORETEST_CONFIG: config, RESTORETEST_REPORTS: reports, CI: "true" } });
    expect(run.exitCode).toBe(1);
    const cases = parseJUnit(readFileSync(join(reports, "junit.xml"), "utf8")).filter((c) => c.classname === "shop.objectives");
    expect(cases.map((c) => c.name)).toEqual(["RTO", "RPO", "backup age", "baseline hold"]);
    expect(cases[0]?.failure).toBeUndefined();
    expect(cases[0]?.properties.objective).toMatch(/^RTO [\d.]+m?s is within the objective of 10m 00s \(/);
    expect(cases[1]?.failure).toMatch(/^RPO [\d.]+m?s exceeds the objective of 1ms \(by /);
    expect(cases[2]?.failure).toMatch(/^backup age [\d.]+m?s exceeds the objective of 1ms \(by /);
    // The backup's snapshots were open for the baseline's whole capture: far more than 1 ms.
    expect(cases[3]?.failure).toMatch(/^baseline hold [\d.]+m?s exceeds the objective of 1ms \(by /);
    // Nothing else is red: the objectives are judged apart from the checks.
    const failed = parseJUnit(readFileSync(join(reports, "junit.xml"), "utf8")).filter((c) => c.failure);
    expect(failed.map((c) => `${c.classname} › ${c.name}`).sort()).toEqual(["shop.objectives › RPO", "shop.objectives › backup age", "shop.objectives › baseline hold"]);
    const summary = JSON.parse(readFileSync(join(reports, "summary.json"), "utf8")) as {
      services: { objectives: { objective: string; breached: boolean; limitMs: number; measuredMs: number }[]; backup: { replicaHold?: { consistency: string; heldMs: number; historyBefore: number | null; historyAfter: number | null } } }[];
    };
    const hold = summary.services[0]?.backup.replicaHold;
    expect(hold?.consistency).toBe("snapshot");
    expect(hold?.heldMs).toBeGreaterThan(1);
    expect([typeof hold?.historyBefore, typeof hold?.historyAfter]).toEqual(["number", "number"]);
    expect(summary.services[0]?.objectives.at(-1)).toMatchObject({ objective: "baselineHold", breached: true, measuredMs: hold?.heldMs });
    expect(summary.services[0]?.objectives.map((o) => [o.objective, o.breached, o.limitMs])).toEqual([
      ["rto", false, 600_000],
      ["rpo", true, 1],
      ["backupAge", true, 1],
      ["baselineHold", true, 1],
    ]);
    const prom = readFileSync(join(reports, "restoretest.prom"), "utf8");
    expect(prom).toContain('restoretest_objective_breached{service="shop",objective="rpo"} 1');
    expect(prom).toContain('restoretest_objective_breached{service="shop",objective="rto"} 0');
    expect(prom).toContain('restoretest_objective_limit_seconds{service="shop",objective="rto"} 600');
    expect(prom).toContain(`restoretest_backup_source_hold_seconds{service="shop"} ${(hold?.heldMs ?? 0) / 1000}`);
    expect(prom).toMatch(/^restoretest_backup_history_list_length\{service="shop",when="after"\} \d+$/m);
    expect(await promtoolCheckMetrics(prom)).toEqual({ exitCode: 0, output: "" });
  }, 180_000);
});
