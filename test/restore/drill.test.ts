// The nightly table drill on real MariaDB: tables of every engine the seed holds go the way a table restore delivers
// them into a second, empty server and equal the baseline there; the rotation is kept in the store; a table whose
// tablespace is damaged in the backup is red for that table, named.
import { closeSync, cpSync, existsSync, openSync, writeSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runBackupJob } from "../../src/backup/job.ts";
import { listBackups } from "../../src/store/layout.ts";
import type { TableName } from "../../src/db/quote.ts";
import type { Service } from "../../src/config/schema.ts";
import { applySeed, startSourceSandbox, type SeededSource } from "../../src/hosts/sourceSandbox.ts";
import { DrillStage, drillTables, readDrillRecord, tooBigToDrill } from "../../src/restore/drill.ts";
import { restoreService } from "../../src/restore/pipeline.ts";
import { SMALL_SEED, sandboxServers, testStore } from "../support/services.ts";
import { serverService } from "../support/writeLoad.ts";

const store = testStore();
let source: SeededSource;
let service: Service;

beforeAll(async () => {
  source = await startSourceSandbox("drill");
  await applySeed(source, SMALL_SEED, "shop");
  const parsed = serverService("shop", source, store.path, "snapshot");
  service = { ...parsed, verify: { ...parsed.verify, tableDrill: 3 } };
  await runBackupJob(service);
}, 240_000);

afterAll(async () => {
  await source?.destroy();
  store.remove();
  expect(await sandboxServers()).toEqual([]);
});

const TABLES = [
  { database: "shop", table: "order_tags" },
  { database: "shop", table: "audit" },
  { database: "shop", table: "events_log" },
  { database: "shop", table: "notes" },
];

describe("table drill", () => {
  it("delivers InnoDB, MyISAM, partitioned and Aria tables into a second server equal to the baseline, and rotates", async () => {
    const restored = await restoreService(service);
    const drill = new DrillStage(service, TABLES);
    try {
      for (const table of TABLES) {
        const result = await drill.result(restored, table);
        expect(result.findings.map((f) => f.check)).toEqual(["checksum", "rowCount"]);
        expect(result.findings.filter((f) => !f.finding.ok), `${table.table}`).toEqual([]);
        const baseline = restored.manifest.databases[0]?.tables.find((t) => t.name === table.table)?.checks.rowCount as { rows: number };
        expect(result.delivered.rows).toBe(baseline.rows);
      }
      expect((await drill.result(restored, TABLES[0]!)).delivered.method).toBe("tablespace");
      expect((await drill.result(restored, TABLES[2]!)).delivered.method).toBe("partitions");
      expect((await drill.result(restored, TABLES[1]!)).delivered.method).toBe("dump");
    } finally {
      await drill.close();
      await restored.destroy();
    }
    // Green tables move to the back of the rotation: tonight's tables are others, never drilled yet.
    const record = readDrillRecord(service);
    expect(Object.keys(record.drilled).sort()).toEqual(TABLES.map((t) => `${t.database}.${t.table}`).sort());
    const next = drillTables(restored.manifest, record, 3);
    expect(next.filter((t) => TABLES.some((d) => d.table === t.table))).toEqual([]);
    expect(next).toHaveLength(3);

    // verify.tableDrillMaxSize: the biggest tables leave the rotation and are named; every other one stays in it.
    const size = (t: TableName) => restored.manifest.databases.find((d) => d.name === t.database)?.tables.find((x) => x.name === t.table)?.sizeBytes as number;
    const none = { version: 1 as const, drilled: {} };
    const all = drillTables(restored.manifest, none, 1000);
    const limit = Math.max(...all.map(size)) - 1;
    const small = drillTables(restored.manifest, none, 1000, limit);
    const big = tooBigToDrill(restored.manifest, limit);
    expect(big.length).toBeGreaterThan(0);
    expect(small.length).toBeGreaterThan(0);
    expect(big.every((t) => t.sizeBytes > limit && t.sizeBytes === size(t))).toBe(true);
    expect(small.every((t) => size(t) <= limit)).toBe(true);
    expect([...small, ...big].map((t) => `${t.database}.${t.table}`).sort()).toEqual(all.map((t) => `${t.database}.${t.table}`).sort());
  }, 240_000);

  it("is red for a table whose tablespace is damaged in the backup, naming it", async () => {
    // A copy of the store with 64 bytes overwritten in the clustered index root page of shop.order_tags.
    const damaged = testStore();
    try {
      cpSync(store.path, damaged.path, { recursive: true });
      const before = readDrillRecord(service).drilled;
      const copy = { ...service, backup: { ...service.backup, store: damaged.path } };
      const backup = listBackups(damaged.path, service.name).complete.at(-1)!;
      const ibd = join(backup.dir, "data", "shop", "order_tags.ibd");
      expect(existsSync(ibd)).toBe(true);
      const fd = openSync(ibd, "r+");
      try {
        writeSync(fd, Buffer.alloc(64, 0xa5), 0, 64, 3 * 16384 + 4000);
      } finally {
        closeSync(fd);
      }
      const restored = await restoreService(copy);
      const drill = new DrillStage(copy, [TABLES[0]!, TABLES[1]!]);
      try {
        const outcome = await drill.result(restored, TABLES[0]!).then(
          (r) => r.findings.filter((f) => !f.finding.ok).map((f) => `${f.check}: ${(f.finding as { message: string }).message}`).join("\n"),
          (error: Error) => error.message,
        );
        expect(outcome).toMatch(/order_tags/);
        // The other table of the drill is not affected.
        expect((await drill.result(restored, TABLES[1]!)).findings.every((f) => f.finding.ok)).toBe(true);
      } finally {
        await drill.close();
        await restored.destroy();
      }
      // A red table keeps its place at the front of the rotation; a green one moves back.
      const after = readDrillRecord(copy).drilled;
      expect(after["shop.order_tags"]).toBe(before["shop.order_tags"]);
      expect(after["shop.audit"]).toBeDefined();
      expect(after["shop.audit"]).not.toBe(before["shop.audit"]);
    } finally {
      damaged.remove();
    }
  }, 240_000);
});
