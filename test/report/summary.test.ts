// summary.json records: verdicts, RTO, bytes and check counts from a restore record and test verdicts; the documented example is valid.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import type { RestoreRecord } from "../../src/report/meta.ts";
import { SummarySchema, summarizeService } from "../../src/report/summary.ts";

const NOW = new Date("2026-11-25T03:41:00Z");
const BACKUP: NonNullable<RestoreRecord["backup"]> = {
  id: "2026-11-25T01-00-03Z",
  finishedAt: "2026-11-25T01:04:12.746Z",
  ageMs: 9_398_423.4,
  tool: "mariabackup",
  toolVersion: "10.11",
  position: "mysql-bin.000001:4",
  baselinePosition: "mysql-bin.000001:4",
  sourceServer: "10.11.19-MariaDB",
};

function record(steps: RestoreRecord["steps"], extra: Partial<RestoreRecord> = {}): RestoreRecord {
  return { service: "shop", backup: BACKUP, startedAt: "2026-11-25T03:40:51.169Z", steps, ...extra };
}

const ok = (step: string, durationMs: number, bytes?: number) => ({ step, durationMs, ok: true, ...(bytes === undefined ? {} : { bytes }) });
const restoreTest = (state: "passed" | "failed" | "skipped") => ({ name: "shop › restore", state, isRestore: true });
const checks = (state: "passed" | "failed" | "skipped", n: number) =>
  Array.from({ length: n }, (_, i) => ({ name: `shop.shop.t${i} › checksum`, state, isRestore: false }));

describe("a service's summary", () => {
  it("passes with the RTO as the sum of the restore steps, the bytes moved and every check counted", () => {
    const steps = [ok("locate", 10), ok("provision", 3), ok("transfer", 124, 19_302_476), ok("prepare", 448), ok("start", 531), ok("replay", 1)];
    const s = summarizeService("shop", record(steps, { verifyMs: 109, restoredServer: "10.11.19" }), [restoreTest("passed"), ...checks("passed", 3)], NOW);
    expect(s).toMatchObject({ verdict: "pass", rtoMs: 1117, bytesMoved: 19_302_476, verifyMs: 109, failedStep: null, restoredServer: "10.11.19" });
    expect(s.checks).toEqual({ passed: 3, failed: 0, skipped: 0 });
    expect(s.backup?.ageMs).toBe(9_398_423);
    expect(s.rpoMs).toBeNull();
    const rolled = summarizeService("shop", record(steps, { restorable: { at: "2026-11-25T03:30:51.169Z", source: "binlog archive" } }), [], NOW);
    expect(rolled).toMatchObject({ rpoMs: 600_000, restorable: { at: "2026-11-25T03:30:51.169Z", source: "binlog archive" } });
    expect(s.failed).toEqual([]);
  });

  it("fails naming the failed step when the restore broke; its skipped checks are counted, and no RTO is claimed", () => {
    const steps = [ok("locate", 27), ok("provision", 2), ok("transfer", 98, 18_400_000), { step: "prepare", durationMs: 5173, ok: false }];
    const s = summarizeService("shop", record(steps), [restoreTest("failed"), ...checks("skipped", 30)], NOW);
    expect(s).toMatchObject({ verdict: "fail", failedStep: "prepare", rtoMs: null, verifyMs: null, bytesMoved: 18_400_000, failed: ["shop › restore"] });
    expect(s.checks).toEqual({ passed: 0, failed: 0, skipped: 30 });
  });

  it("fails on a red check although the restore itself was fine", () => {
    const steps = [ok("locate", 1), ok("start", 1)];
    const s = summarizeService("shop", record(steps), [restoreTest("passed"), ...checks("passed", 2), { name: "shop.shop.orders › checksum", state: "failed", isRestore: false }], NOW);
    expect(s).toMatchObject({ verdict: "fail", failedStep: null, rtoMs: 2, failed: ["shop.shop.orders › checksum"] });
    expect(s.checks).toEqual({ passed: 2, failed: 1, skipped: 0 });
  });

  it("carries the rejoin record, and fails the service when a rejoin test failed (the backup cannot seed a replica)", () => {
    const steps = [ok("locate", 1), ok("start", 1)];
    const rejoin = { startMs: 40, catchUpMs: null, backlogBytes: null, consistentAt: null, tablesCompared: null, failure: "purged-binlogs" };
    const tests = [restoreTest("passed"), ...checks("passed", 2), { name: "shop.rejoin › replication starts", state: "failed" as const, isRestore: false }];
    const s = summarizeService("shop", record(steps), tests, NOW, rejoin);
    expect(s).toMatchObject({ verdict: "fail", rejoin, failed: ["shop.rejoin › replication starts"] });
    expect(summarizeService("shop", record(steps), [restoreTest("passed")], NOW).rejoin).toBeNull();
  });

  it("has no backup when the store had none, and then takes the run's time", () => {
    const s = summarizeService("shop", undefined, [restoreTest("failed")], NOW);
    expect(s).toMatchObject({ verdict: "fail", backup: null, verifiedAt: NOW.toISOString(), steps: [], rtoMs: null });
    expect(SummarySchema.parse({ version: 1, generatedAt: NOW.toISOString(), services: [s] }).services).toHaveLength(1);
  });

  it("is documented by an example the schema accepts (docs/summary.md)", () => {
    const doc = readFileSync(resolve(import.meta.dirname, "../../docs/summary.md"), "utf8");
    const example = /```json\n([\s\S]*?)\n```/.exec(doc)?.[1];
    const parsed = SummarySchema.parse(JSON.parse(example ?? "null"));
    expect(parsed.services.map((s) => [s.service, s.verdict])).toEqual([
      ["blog", "pass"],
      ["shop", "fail"],
    ]);
  });
});
