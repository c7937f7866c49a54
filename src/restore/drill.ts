// The nightly table drill (issue 17): after verification, a few tables of the restored server go the way a table
// restore delivers them (deliverTables: exported tablespace and IMPORT TABLESPACE, partition by partition, or a dump)
// into a second, empty server, and are compared there with the baseline: checksum and row count, through the checks'
// own capture and comparison. The tables rotate, least recently drilled first, as recorded in the store.
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { z } from "zod";
import type { Manifest } from "../store/manifest.ts";
import { serviceDir, writeJsonAtomic } from "../store/layout.ts";
import { backupTool } from "../backup/tool.ts";
import { checkOptions } from "../checks/options.ts";
import type { Finding } from "../checks/types.ts";
import { tableLabel, type TableName, quoteIdent } from "../db/quote.ts";
import type { Service } from "../config/schema.ts";
import type { Db } from "../db/connection.ts";
import { databaseCharset } from "../db/introspect.ts";
import { createWorkDir, installDatadir, startServer, type StartedServer, type WorkDir } from "../hosts/sandbox.ts";
import { captureRestored, tableFinding } from "../verify/verify.ts";
import { deliverTables, type DeliveredTable } from "./into.ts";
import type { Restored } from "./pipeline.ts";

export const DRILL_FILE = "drill.json";
/** What the drill compares: the checks that hold a table's content. */
export const DRILL_CHECKS = ["checksum", "rowCount"] as const;

const RecordSchema = z.strictObject({
  version: z.literal(1),
  /** `db.t` → when it last came through the drill green (ISO time). */
  drilled: z.record(z.string(), z.string()),
});
type DrillRecord = z.infer<typeof RecordSchema>;

export function drillRecordPath(service: Service): string {
  return join(serviceDir(resolve(service.backup.store), service.name), DRILL_FILE);
}

/** The store's record; a missing or unreadable one is an empty rotation (every table is then due). */
export function readDrillRecord(service: Service): DrillRecord {
  const path = drillRecordPath(service);
  if (!existsSync(path)) return { version: 1, drilled: {} };
  const parsed = RecordSchema.safeParse(JSON.parse(readFileSync(path, "utf8")));
  return parsed.success ? parsed.data : { version: 1, drilled: {} };
}

/** Base tables of the service's own databases whose baseline holds a checksum or a row count, with their size. */
function drillCandidates(manifest: Manifest): (TableName & { sizeBytes: number })[] {
  return manifest.databases
    .filter((d) => !d.system)
    .flatMap((d) =>
      d.tables
        .filter((t) => t.type === "BASE TABLE" && DRILL_CHECKS.some((c) => t.checks[c] !== undefined))
        .map((t) => ({ database: d.name, table: t.name, sizeBytes: t.sizeBytes })),
    );
}

/**
 * The `count` tables due tonight: candidates no bigger than `maxBytes`, never drilled first, then least recently
 * drilled; by name among equals.
 */
export function drillTables(manifest: Manifest, record: DrillRecord, count: number, maxBytes = Infinity): TableName[] {
  const last = (t: TableName) => record.drilled[tableLabel(t)] ?? "";
  return drillCandidates(manifest)
    .filter((t) => t.sizeBytes <= maxBytes)
    .sort((a, b) => last(a).localeCompare(last(b)) || tableLabel(a).localeCompare(tableLabel(b)))
    .slice(0, count)
    .map(({ database, table }) => ({ database, table }));
}

/** The candidates the drill leaves out for their size (bigger than `maxBytes`), by name. */
export function tooBigToDrill(manifest: Manifest, maxBytes: number): (TableName & { sizeBytes: number })[] {
  return drillCandidates(manifest)
    .filter((t) => t.sizeBytes > maxBytes)
    .sort((a, b) => tableLabel(a).localeCompare(tableLabel(b)));
}

export interface DrillResult {
  table: TableName;
  delivered: DeliveredTable;
  /** Per drill check the baseline holds: the finding on the drill server. */
  findings: { check: string; finding: Finding }[];
  deliverMs: number;
  compareMs: number;
}

/** One night's drill of one service: the second server, started once, each table delivered and compared in turn. */
export class DrillStage {
  private run: Promise<Map<string, Promise<DrillResult>>> | undefined;
  private work: WorkDir | undefined;
  private server: StartedServer | undefined;
  private db: Db | undefined;
  private recorded: Promise<void> | undefined;

  constructor(
    private readonly service: Service,
    readonly tables: readonly TableName[],
    /** Tonight's candidates left out for their size: skipped tests, named. */
    readonly tooBig: readonly (TableName & { sizeBytes: number })[] = [],
  ) {}

  /** This table's drill (every table's starts with the first call; they run one after another). */
  async result(restored: Restored, table: TableName): Promise<DrillResult> {
    this.run ??= this.start(restored);
    const result = (await this.run).get(tableLabel(table));
    if (!result) throw new Error(`${tableLabel(table)} is not in tonight's drill`);
    return result;
  }

  private async start(restored: Restored): Promise<Map<string, Promise<DrillResult>>> {
    const flavor = backupTool(restored.backup.meta.tool, this.service.backup.toolchain, restored.manifest.server.flavor).flavor.server;
    this.work = createWorkDir(`drill-${this.service.name}`);
    const datadir = join(this.work.path, "datadir");
    await installDatadir(datadir, flavor);
    this.server = await startServer({ dir: this.work.path, datadir, tcp: false, flavor });
    const db = (this.db = await this.server.connect({ poolSize: 1 }));
    // The databases as the restored server has them (charset and collation): a table lands in its own database.
    for (const database of new Set(this.tables.map((t) => t.database))) {
      const { charset, collation } = await databaseCharset(restored.db, database);
      await db.query(`CREATE DATABASE IF NOT EXISTS ${quoteIdent(database)} CHARACTER SET ${charset} COLLATE ${collation}`);
    }
    const into = { name: "the drill server", socket: this.server.socket, user: this.server.user, password: this.server.password };
    const results = new Map<string, Promise<DrillResult>>();
    let previous: Promise<unknown> = Promise.resolve();
    for (const table of this.tables) {
      const result = previous.catch(() => undefined).then(() => this.drillOne(restored, db, into, table));
      // A failure is the table's own test's; the rotation record waits for every table.
      result.catch(() => undefined);
      results.set(tableLabel(table), result);
      previous = result;
    }
    this.recorded = previous.catch(() => undefined).then(() => this.record(results));
    return results;
  }

  private async drillOne(restored: Restored, db: Db, into: Parameters<typeof deliverTables>[2], table: TableName): Promise<DrillResult> {
    const started = performance.now();
    const [delivered] = await deliverTables(restored, [table], into, { as: table, toolchain: this.service.backup.toolchain, timeoutMs: this.service.restore.timeout });
    if (!delivered) throw new Error(`${tableLabel(table)} was not delivered`);
    const deliverMs = performance.now() - started;
    const compared = performance.now();
    const baseline = restored.manifest;
    const checks = DRILL_CHECKS.filter((c) => baseline.checks.includes(c));
    const own: Manifest = {
      ...baseline,
      serverChecks: {},
      databases: baseline.databases
        .filter((d) => d.name === table.database)
        .map((d) => ({ ...d, checks: {}, tables: d.tables.filter((t) => t.name === table.table) })),
    };
    const verification = await captureRestored(db, own, checks, checkOptions(this.service), 1);
    const tableBaseline = own.databases[0]?.tables[0];
    const findings = checks.filter((c) => tableBaseline?.checks[c] !== undefined).map((c) => ({ check: c, finding: tableFinding(verification, table, c) }));
    return { table, delivered, findings, deliverMs, compareMs: performance.now() - compared };
  }

  /** The tables that came through green move to the back of the rotation. */
  private async record(results: Map<string, Promise<DrillResult>>): Promise<void> {
    const record = readDrillRecord(this.service);
    const now = new Date().toISOString();
    for (const [name, result] of results) {
      const r = await result.catch(() => undefined);
      if (r && r.findings.every((f) => f.finding.ok)) record.drilled[name] = now;
    }
    writeJsonAtomic(drillRecordPath(this.service), record);
  }

  /** Stop the drill server and remove its files (production data). Idempotent. */
  async close(): Promise<void> {
    if (this.run) await this.run.then((m) => Promise.allSettled(m.values())).catch(() => undefined);
    await this.recorded?.catch(() => undefined);
    await this.db?.close().catch(() => undefined);
    await this.server?.stop();
    await this.work?.remove();
    this.db = this.server = this.work = undefined;
  }
}
