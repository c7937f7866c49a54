// The bench line of a table-level restore (issue 17): one small table of data set (a) restored alone (its files, the
// server's, its binlog events) against the same table out of the whole restore, to the same point, alternately, on a
// source with a binary log and a binlog archive. `npm run bench -- --only table`.
import { rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { startBinlogCopy } from "../src/backup/binlogs.ts";
import { runBackupJob } from "../src/backup/job.ts";
import { binlogArchiveDir, directorySize } from "../src/store/layout.ts";
import { parseServices } from "../src/config/load.ts";
import type { Db } from "../src/db/connection.ts";
import { qualifiedName } from "../src/db/quote.ts";
import { createWorkDir } from "../src/hosts/sandbox.ts";
import { startSourceSandbox } from "../src/hosts/sourceSandbox.ts";
import type { RestorePoint } from "../src/restore/locate.ts";
import { tableFiles } from "../src/restore/partial.ts";
import { restoreTables, type TableRestoreResult } from "../src/restore/table.ts";
import { untilArchived } from "../test/support/archive.ts";
import { serverServiceYaml } from "../test/support/services.ts";
import { mixedTables } from "./datasets.ts";
import type { LineInput } from "./results.ts";

/** The restore's steps summed: the table-level RTO as `restore --table` prints it. */
interface Round {
  ms: number;
  steps: string;
  rows: number;
}

const fmt = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`);
const middle = (xs: readonly Round[]): Round => [...xs].sort((a, b) => a.ms - b.ms)[Math.floor(xs.length / 2)] as Round;

/** Write every dirty page, as a backup replica long since has: the backup then carries no load's redo. */
async function settle(db: Db): Promise<void> {
  await db.query("SET GLOBAL innodb_io_capacity_max = 40000");
  await db.query("SET GLOBAL innodb_io_capacity = 20000, GLOBAL innodb_max_dirty_pages_pct_lwm = 0, GLOBAL innodb_max_dirty_pages_pct = 0");
  for (const deadline = Date.now() + 300_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 200))) {
    const [dirty] = await db.query<{ Value: string }>("SHOW GLOBAL STATUS LIKE 'Innodb_buffer_pool_pages_dirty'");
    if (Number(dirty?.Value) === 0) return;
  }
}

export async function tableBench(scale: number, runs: number, log: (line: string) => void, record: (line: LineInput) => void): Promise<void> {
  const source = await startSourceSandbox("bench-table");
  const store = createWorkDir("bench-table-store");
  try {
    log("generating (a) on a source with a binary log…");
    const load = await source.server.connect({ poolSize: 1 });
    let tables: string[];
    try {
      // The load itself is not binlogged: the backup is taken after it, and the archive holds only what follows.
      await load.query("SET SESSION sql_log_bin = 0");
      ({ tables } = await mixedTables(load, "bench_a", 1e9 * scale, log));
      await settle(load);
    } finally {
      await load.close();
    }
    const yaml = serverServiceYaml("bench-table", source.server, store.path, ["consistency: quiescent"], "bench_a");
    const [service] = parseServices(`${yaml}    verify:\n      checks: [tables, triggers, routines, events, database, definition, accounts, server]\n`, join(store.path, "services.yaml"), {
      SOURCE_PASSWORD: source.server.password,
    });
    if (!service) throw new Error("no bench service");
    const { meta, dir } = await runBackupJob(service);
    // The day after the backup: a few rows of every table change, archived; the point is after the last change.
    const db = await source.server.connect();
    let point: RestorePoint;
    const copier = await startBinlogCopy(service);
    try {
      for (const t of tables) await db.query(`UPDATE ${qualifiedName("bench_a", t)} SET id = -id WHERE id <= 50`);
      const [status] = await db.query<{ File: string; Position: number }>("SHOW MASTER STATUS");
      point = { position: { file: status?.File as string, position: Number(status?.Position), gtid: "" } };
      await untilArchived(db, binlogArchiveDir(store.path, service.name));
    } finally {
      await copier.stop();
      await db.close();
    }
    // The smallest InnoDB table of (a).
    const table = { database: "bench_a", table: tables[0] as string };
    const data = join(dir, "data");
    const sizeOf = (path: string) => (statSync(path).isDirectory() ? directorySize(path) : statSync(path).size);
    const picked = tableFiles(data, [table]).reduce((n, path) => n + sizeOf(join(data, path)), 0);
    const round = (whole: boolean) => async (): Promise<Round> => {
      const dump = join(store.path, `${whole ? "whole" : "alone"}.sql`);
      const result: TableRestoreResult = await restoreTables(service, [table], point, dump, { whole, log: (l) => /whole chain/.test(l) && log(`  ${l}`) });
      rmSync(dump, { force: true });
      return { ms: result.steps.reduce((n, s) => n + s.durationMs, 0), steps: result.steps.map((s) => `${s.step} ${fmt(s.durationMs)}`).join(", "), rows: result.tables[0]?.rows ?? -1 };
    };
    const alone: Round[] = [];
    const whole: Round[] = [];
    for (let i = 0; i < runs; i++) {
      if (i % 2) whole.push(await round(true)());
      alone.push(await round(false)());
      if (!(i % 2)) whole.push(await round(true)());
    }
    const a = middle(alone);
    const w = middle(whole);
    if (alone.some((r) => r.rows !== w.rows) || whole.some((r) => r.rows !== w.rows)) throw new Error(`the table came back with different row counts: alone ${alone.map((r) => r.rows).join(", ")}, whole ${whole.map((r) => r.rows).join(", ")}`);
    log(`\n== one table out of (a): ${table.database}.${table.table} (${w.rows} rows) of a ${(meta.bytes / 1e6).toFixed(0)} MB backup, to a point ${tables.length} statements past it; median of ${runs} alternating rounds`);
    log(`  copied of the backup: ${(picked / 1e6).toFixed(1)} MB of ${(directorySize(data) / 1e6).toFixed(0)} MB (top-level files, mysql/performance_schema/sys, the table's files)`);
    log(`  whole restore, then the table                 ${fmt(w.ms)}   (${w.steps}; runs: ${whole.map((r) => fmt(r.ms)).join(", ")})`);
    log(`  the table's files and binlog events alone     ${fmt(a.ms)}   (${a.steps}; runs: ${alone.map((r) => fmt(r.ms)).join(", ")})`);
    record({
      id: "table.alone",
      set: "table",
      measured: "one table restored alone, (a)",
      tool: { ok: true, ms: alone.map((r) => r.ms) },
      reference: { label: "the whole restore to the same point", outcome: { ok: true, ms: whole.map((r) => r.ms) } },
      ratioName: "alone / whole",
      target: { op: "≤", value: 0.5 },
      paired: true,
      readme: true,
    });
  } finally {
    await source.destroy();
    await store.remove();
  }
}
