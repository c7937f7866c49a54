// `restoretest status`: the fleet's table from the store and the last summary.json, as pure rows and through the real CLI.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runBackupJob } from "../../src/backup/job.ts";
import { formatDuration } from "../../src/base/duration.ts";
import { gatherStatus, readSummary } from "../../src/report/statusGather.ts";
import { formatAge, formatStatus, objectiveBreaches, serviceStatus, type StoreFacts, type SummaryFacts } from "../../src/report/status.ts";
import { testService, testServiceYaml, testStore } from "../support/services.ts";
import { fakeMeta, writeFakeBackup } from "../support/storeFixtures.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const now = new Date("2026-11-26T03:00:00.000Z");

const link = (id: string, kind: "full" | "incremental", base: string | null, verifiedAt?: string): StoreFacts["complete"][number] => ({
  id,
  verified: verifiedAt !== undefined,
  ...(verifiedAt ? { verifiedAt } : {}),
  meta: { ...fakeMeta(id, { kind, base, finishedAt: `${id.slice(0, 10)}T${id.slice(11, 19).replace(/-/g, ":")}.000Z`, bytes: 19_000_000 }) },
});

const summary = (overrides: Partial<SummaryFacts> = {}): SummaryFacts => ({
  verdict: "pass",
  verifiedAt: "2026-11-26T02:40:00.000Z",
  backupId: "2026-11-26T01-00-00Z",
  rtoMs: 1_117,
  rpoMs: 6_000_000,
  failedStep: null,
  failed: [],
  ...overrides,
});

describe("status rows (pure)", () => {
  const chain = [link("2026-11-24T01-00-00Z", "full", null), link("2026-11-25T01-00-00Z", "incremental", "2026-11-24T01-00-00Z"), link("2026-11-26T01-00-00Z", "incremental", "2026-11-25T01-00-00Z")];

  it("a verified service: newest backup and age, chain length, last verification, RTO and RPO", () => {
    expect(serviceStatus("shop", { complete: chain, incomplete: [] }, summary(), now)).toEqual({
      service: "shop",
      newestBackup: { id: "2026-11-26T01-00-00Z", kind: "incremental", finishedAt: "2026-11-26T01:00:00.000Z", ageMs: 2 * 3_600_000, bytes: 19_000_000, replicaHold: null },
      incompleteBackups: 0,
      chain: { length: 3 },
      lastVerified: { at: "2026-11-26T02:40:00.000Z", verdict: "pass", from: "summary", backupId: "2026-11-26T01-00-00Z", failedStep: null, failed: [] },
      rtoMs: 1_117,
      rpoMs: 6_000_000,
      breaches: null,
      // None of the chain was verified: the oldest has gone unproven since it finished, two days ago.
      unproven: { longestMs: 50 * 3_600_000, backupId: "2026-11-24T01-00-00Z", neverVerified: { id: "2026-11-24T01-00-00Z", ageMs: 50 * 3_600_000 } },
    });
  });

  it("unproven: the longest since a retained backup's last green verification (or its finish), and the oldest never verified", () => {
    const mixed = [
      link("2026-11-23T01-00-00Z", "full", null, "2026-11-23T02:00:00.000Z"),
      link("2026-11-24T01-00-00Z", "full", null),
      link("2026-11-25T01-00-00Z", "full", null, "2026-11-25T02:00:00.000Z"),
      link("2026-11-26T01-00-00Z", "full", null, "2026-11-26T02:00:00.000Z"),
    ];
    expect(serviceStatus("shop", { complete: mixed, incomplete: [] }, undefined, now).unproven).toEqual({
      longestMs: 73 * 3_600_000,
      backupId: "2026-11-23T01-00-00Z",
      neverVerified: { id: "2026-11-24T01-00-00Z", ageMs: 50 * 3_600_000 },
    });
    const proven = mixed.map((l) => ({ ...l, verified: true, verifiedAt: "2026-11-26T02:30:00.000Z" }));
    expect(serviceStatus("shop", { complete: proven, incomplete: [] }, undefined, now).unproven).toEqual({ longestMs: 30 * 60_000, backupId: "2026-11-23T01-00-00Z", neverVerified: null });
  });

  it("no backup and no summary: said as such, never as zeros", () => {
    const row = serviceStatus("crm", { complete: [], incomplete: [{ id: "2026-11-26T01-00-00Z", reason: "no backup.json (backup unfinished or interrupted)" }] }, undefined, now);
    expect(row).toMatchObject({ newestBackup: null, chain: null, lastVerified: null, rtoMs: null, rpoMs: null, breaches: null, incompleteBackups: 1, unproven: null });
  });

  it("a chain whose middle link is gone is BROKEN, with the chain's own message", () => {
    const row = serviceStatus("shop", { complete: [chain[0], chain[2]] as StoreFacts["complete"], incomplete: [] }, undefined, now);
    expect(row.chain).toEqual({ broken: expect.stringMatching(/^backup chain of 2026-11-26T01-00-00Z is broken: link 2026-11-25T01-00-00Z/) });
  });

  it("a service the last summary did not run falls back on the newest green verified.json of the store", () => {
    const green = [link("2026-11-25T01-00-00Z", "full", null, "2026-11-25T02:00:00.000Z"), link("2026-11-26T01-00-00Z", "full", null)];
    expect(serviceStatus("shop", { complete: green, incomplete: [] }, undefined, now).lastVerified).toEqual({
      at: "2026-11-25T02:00:00.000Z",
      verdict: "pass",
      from: "store",
      backupId: "2026-11-25T01-00-00Z",
      failedStep: null,
      failed: [],
    });
  });

  it("objective breaches from a summary's objectives list; none when all are met", () => {
    expect(objectiveBreaches([{ name: "RPO", breached: true }, { name: "RTO", breached: false }, { name: "backup age", breached: true }])).toEqual(["RPO", "backup age"]);
    expect(objectiveBreaches(undefined)).toEqual([]);
    expect(serviceStatus("shop", { complete: chain, incomplete: [] }, summary({ objectives: [{ name: "RTO", breached: false }] }), now).breaches).toEqual([]);
  });

  it("ages read at a glance", () => {
    expect([formatAge(800), formatAge(75_000), formatAge(2 * 3_600_000 + 5 * 60_000), formatAge(76 * 3_600_000)]).toEqual(["1s", "1m 15s", "2h 05m", "3d 04h"]);
  });

  it("the table: one row per service, then what to act on", () => {
    const text = formatStatus({
      version: 1,
      generatedAt: now.toISOString(),
      summary: { path: "/srv/reports/summary.json", generatedAt: "2026-11-26T02:41:07.512Z", problem: null },
      services: [
        serviceStatus("blog", { complete: chain, incomplete: [] }, summary({ objectives: [{ name: "RPO", breached: true }] }), now),
        serviceStatus("crm", { complete: [], incomplete: [] }, undefined, now),
        serviceStatus("shop", { complete: chain, incomplete: [] }, summary({ verdict: "fail", failedStep: "prepare", backupId: "2026-11-25T01-00-00Z", failed: ["shop › restore"], rtoMs: null, rpoMs: null }), now),
      ],
    });
    expect(text.split("\n")).toEqual([
      "SERVICE  NEWEST BACKUP                       AGE     SOURCE HELD  CHAIN  LAST VERIFIED                    VERDICT          RTO   RPO     BREACHES  UNPROVEN",
      "blog     2026-11-26T01-00-00Z (incremental)  2h 00m  -            3      2026-11-26 02:40Z (20m 00s ago)  pass             1.1s  1h 40m  RPO       2d 02h",
      "crm      none                                -       -            -      -                                never verified   -     -       -         -",
      "shop     2026-11-26T01-00-00Z (incremental)  2h 00m  -            3      2026-11-26 02:40Z (20m 00s ago)  FAIL at prepare  -     -       -         2d 02h",
      "",
      "summary: /srv/reports/summary.json (written 2026-11-26 02:41Z)",
      "blog: backup 2026-11-24T01-00-00Z is the oldest retained backup never verified (2d 02h old): verify.older restores it",
      "crm: no complete backup in the store: take one with restoretest backup crm",
      "shop: failed: shop › restore",
      "shop: the newest backup 2026-11-26T01-00-00Z has not been verified yet (last verified: 2026-11-25T01-00-00Z)",
      "shop: backup 2026-11-24T01-00-00Z is the oldest retained backup never verified (2d 02h old): verify.older restores it",
    ]);
  });
});

describe("reading the store and summary.json", () => {
  const store = testStore();
  afterAll(() => store.remove());

  it("a missing or foreign summary.json is reported, and the store is still shown", () => {
    writeFakeBackup(store.path, "shop", "2026-11-26T01-00-00Z", { finishedAt: "2026-11-26T01:00:00.000Z" });
    const missing = gatherStatus([{ name: "shop", backup: { store: store.path } }], join(store.path, "nope.json"), now);
    expect(missing.summary.problem).toBe("not found (no verification run has written one here)");
    expect(missing.services[0]?.newestBackup?.id).toBe("2026-11-26T01-00-00Z");
    const foreign = join(store.path, "foreign.json");
    writeFileSync(foreign, JSON.stringify({ generatedAt: "x", services: [{ service: "shop" }] }));
    expect(readSummary(foreign).problem).toMatch(/^not a summary: services\.0\.verdict: /);
  });
});

describe("restoretest status (the real CLI, a real backup of the small seed)", () => {
  const store = testStore();
  const reports = () => join(store.path, "reports");
  const config = () => join(store.path, "services.yaml");
  const status = (...args: string[]) =>
    execa(join(ROOT, "bin/restoretest"), ["status", "--config", config(), ...args], { cwd: ROOT, reject: false, all: true, env: { RESTORETEST_REPORTS: reports() } });

  beforeAll(async () => {
    // Two services in one file: shop has a backup and is verified by a real run; crm has never been backed up.
    const yaml = testServiceYaml(store.path) + testServiceYaml(store.path, "", "crm").split("\n").slice(1).join("\n");
    writeFileSync(config(), yaml);
    await runBackupJob(testService(store.path));
    const run = await execa("node", [join(ROOT, "node_modules/vitest/vitest.mjs"), "run", "--project", "shop"], {
      cwd: ROOT,
      reject: false,
      all: true,
      env: { RESTORETEST_CONFIG: config(), RESTORETEST_REPORTS: reports(), CI: "true" },
    });
    if (!readSummary(join(reports(), "summary.json")).records.has("shop")) throw new Error(`the run wrote no summary of shop:\n${run.all}`);
  }, 180_000);
  afterAll(() => store.remove());

  it("shows each service of services.yaml: the backup from the store, the verification, RTO and RPO from summary.json", async () => {
    const run = await status();
    expect(run.exitCode, String(run.all)).toBe(0);
    const written = JSON.parse(readFileSync(join(reports(), "summary.json"), "utf8")) as {
      services: { service: string; verdict: string; rtoMs: number | null; rpoMs: number | null; backup: { id: string } }[];
    };
    const shop = written.services.find((s) => s.service === "shop");
    if (!shop) throw new Error("no shop in summary.json");
    const [header, shopRow, crmRow, blank, source, ...notes] = String(run.stdout).split("\n");
    expect(header).toMatch(/^SERVICE +NEWEST BACKUP +AGE +SOURCE HELD +CHAIN +LAST VERIFIED +VERDICT +RTO +RPO +BREACHES +UNPROVEN$/);
    const cells = (shopRow as string).split(/ {2,}/);
    expect(cells[3]).toMatch(/^\d+(\.\d)?(ms|s) snapshot$/);
    cells.splice(3, 1);
    expect(cells).toEqual([
      "shop",
      `${shop.backup.id} (full)`,
      expect.stringMatching(/^\d+s$|^\d+m \d\ds$/),
      "1",
      expect.stringMatching(/^\d{4}-\d\d-\d\d \d\d:\d\dZ \(\d+s ago\)$/),
      shop.verdict === "pass" ? "pass" : expect.stringMatching(/^FAIL/),
      shop.rtoMs === null ? "-" : formatDuration(shop.rtoMs),
      shop.rpoMs === null ? "-" : formatAge(shop.rpoMs),
      "-",
      expect.stringMatching(/^\d+s$|^\d+m \d\ds$/),
    ]);
    expect((crmRow as string).split(/ {2,}/)).toEqual(["crm", "none", "-", "-", "-", "-", "never verified", "-", "-", "-", "-"]);
    expect(blank).toBe("");
    expect(source).toMatch(new RegExp(`^summary: ${join(reports(), "summary.json")} \\(written \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\dZ\\)$`));
    expect(notes).toContain("crm: no complete backup in the store: take one with restoretest backup crm");
  });

  it("--json prints the same as data", async () => {
    const run = await status("--json");
    expect(run.exitCode, String(run.all)).toBe(0);
    const data = JSON.parse(String(run.stdout)) as ReturnType<typeof gatherStatus>;
    const written = readSummary(join(reports(), "summary.json")).records.get("shop");
    expect(data.services.map((s) => s.service)).toEqual(["shop", "crm"]);
    expect(data.services[0]).toMatchObject({
      chain: { length: 1 },
      lastVerified: { verdict: written?.verdict, from: "summary", at: written?.verifiedAt },
      rtoMs: written?.rtoMs,
      rpoMs: written?.rpoMs,
      breaches: null,
    });
    expect(data.services[1]).toMatchObject({ newestBackup: null, chain: null, lastVerified: null });
  });

  it("shows the objectives a summary reports breached", async () => {
    const path = join(reports(), "summary.json");
    const written = JSON.parse(readFileSync(path, "utf8")) as { services: Record<string, unknown>[] };
    for (const s of written.services) s.objectives = [{ name: "RTO", breached: false }, { name: "RPO", breached: true, message: "RPO 27h over 26h" }];
    mkdirSync(reports(), { recursive: true });
    writeFileSync(path, JSON.stringify(written));
    const run = await status();
    expect(String(run.stdout).split("\n")[1]?.split(/ {2,}/)[9]).toBe("RPO");
  });
});
