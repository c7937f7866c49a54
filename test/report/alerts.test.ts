// The example alerting rules (docs/alerts/restoretest.rules.yml): valid for promtool, and each fires for the right service only.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { promtool } from "./promtool.ts";

const RULES = resolve(import.meta.dirname, "../../docs/alerts/restoretest.rules.yml");
const HOUR = 3600;

/**
 * A night in a fleet of five, one sample an hour for 27 hours: blog is healthy and verified again at hour 24, shop's
 * restore went red, ledger restored a 30-hour-old backup, orders was last verified 27 hours ago, and wiki's last
 * push was refused. promtool evaluates the rules over these series and compares the alerts, annotations included.
 */
function ruleTests(): string {
  const series = (name: string, labels: string, values: string) => `      - series: '${name}{${labels}}'\n        values: '${values}'`;
  const constant = (value: number) => `${value}x27`;
  const alert = (name: string, service: string, severity: string, summary: string, description: string, extra = "") =>
    [
      `      - alertname: ${name}`,
      "        eval_time: 27h",
      "        exp_alerts:",
      `          - exp_labels: {severity: ${severity}, service: ${service}${extra}}`,
      "            exp_annotations:",
      `              summary: ${JSON.stringify(summary)}`,
      `              description: ${JSON.stringify(description)}`,
    ].join("\n");
  return [
    `rule_files: [${JSON.stringify(RULES)}]`,
    "evaluation_interval: 1h",
    "tests:",
    "  - interval: 1h",
    "    input_series:",
    ...["blog", "ledger", "orders", "wiki"].map((s) => series("restoretest_success", `service="${s}"`, constant(1))),
    series("restoretest_success", 'service="shop"', constant(0)),
    series("restoretest_last_verify_timestamp_seconds", 'service="blog"', `0x23 ${24 * HOUR}x4`),
    ...["shop", "ledger", "wiki"].map((s) => series("restoretest_last_verify_timestamp_seconds", `service="${s}"`, `${2 * HOUR}x27`)),
    series("restoretest_last_verify_timestamp_seconds", 'service="orders"', constant(0)),
    ...["blog", "shop", "orders", "wiki"].map((s) => series("restoretest_backup_age_seconds", `service="${s}"`, constant(4 * HOUR))),
    series("restoretest_backup_age_seconds", 'service="ledger"', constant(30 * HOUR)),
    ...["blog", "orders", "wiki"].map((s) => series("restoretest_rpo_seconds", `service="${s}"`, constant(4 * HOUR))),
    series("restoretest_rpo_seconds", 'service="ledger"', constant(30 * HOUR)),
    series("restoretest_objective_breached", 'service="blog",objective="rto"', constant(0)),
    series("restoretest_objective_breached", 'service="orders",objective="rpo"', constant(1)),
    series("push_time_seconds", 'job="restoretest",service="blog"', constant(HOUR)),
    series("push_failure_time_seconds", 'job="restoretest",service="blog"', constant(0)),
    series("push_time_seconds", 'job="restoretest",service="wiki"', constant(HOUR)),
    series("push_failure_time_seconds", 'job="restoretest",service="wiki"', constant(2 * HOUR)),
    "    alert_rule_test:",
    alert(
      "RestoreTestFailed",
      "shop",
      "page",
      "Restore test of shop failed",
      "The last nightly verification of shop went red; its JUnit report, or failed and failedStep in reports/summary.json, say which test and why.",
    ),
    alert("RestoreTestBackupStale", "ledger", "warning", "Backup of ledger is stale", "The newest complete backup of ledger was 1d 6h 0m 0s old when it was restored."),
    alert("RestoreTestRPOBreached", "ledger", "warning", "Recovery point of ledger over 26h", "A restore of ledger would have lost 1d 6h 0m 0s of data."),
    alert("RestoreTestNotRun", "orders", "warning", "No restore test of orders for 26h", "The last verification of orders started 1d 3h 0m 0s ago."),
    alert(
      "RestoreTestObjectiveBreached",
      "orders",
      "warning",
      "orders breached its rpo objective",
      "The last verification of orders did not meet objectives.rpo in services.yaml; its objectives tests say by how much.",
      ", objective: rpo",
    ),
    alert(
      "RestoreTestPushFailed",
      "wiki",
      "warning",
      "Metrics push of wiki to the Pushgateway failed",
      "The nightly's stderr names the URL and the HTTP status.",
      ', job: restoretest',
    ),
    // An hour in, nothing is overdue yet: the "not run" rule waits for 26 hours of silence.
    "      - alertname: RestoreTestNotRun",
    "        eval_time: 1h",
    "        exp_alerts: []",
    "",
  ].join("\n");
}

describe("docs/alerts/restoretest.rules.yml", () => {
  const dir = mkdtempSync(join(tmpdir(), "metrics-rules-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("passes promtool check rules", async () => {
    expect(await promtool(["check", "rules", RULES])).toEqual({ exitCode: 0, output: `Checking ${RULES}\n  SUCCESS: 6 rules found` });
  });

  it("fires each alert for the service that earned it, and for no other (promtool test rules)", async () => {
    const file = join(dir, "restoretest.test.yml");
    writeFileSync(file, ruleTests());
    const result = await promtool(["test", "rules", file]);
    expect(result, result.output).toMatchObject({ exitCode: 0 });
    expect(result.output).toMatch(/SUCCESS/);
  });

  it("is a real judge: an alert expected for the wrong service fails the rule test", async () => {
    const file = join(dir, "wrong.test.yml");
    writeFileSync(file, ruleTests().replace("service: ledger}", "service: blog}"));
    const result = await promtool(["test", "rules", file]);
    expect(result.exitCode).toBe(1);
    expect(result.output).toMatch(/alertname: RestoreTestBackupStale[\s\S]*exp:[\s\S]*service="blog"[\s\S]*got:[\s\S]*service="ledger"/);
  });
});
