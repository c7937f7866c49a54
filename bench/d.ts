// Data set (d), the biggest this machine holds three copies of (`npm run bench -- --only d`, issue 30): every stage of
// a night timed against its floor measured alongside in the same run, beside the datadir's sequential read limit, and
// projected to a terabyte at concurrency 1 and 2 from what was measured. The data is built once from a seed and kept
// (datasetD.ts); the source server runs on the cached datadir and only reads it.
import { readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startBinlogCopy } from "../src/backup/binlogs.ts";
import { runBackupJob } from "../src/backup/job.ts";
import { captureBaseline } from "../src/baseline/capture.ts";
import { mapConcurrent } from "../src/base/concurrent.ts";
import { DEFAULT_CHECK_OPTIONS } from "../src/checks/types.ts";
import { parseServices } from "../src/config/load.ts";
import type { Service } from "../src/config/schema.ts";
import { onOneConnection, type Db } from "../src/db/connection.ts";
import { qualifiedName } from "../src/db/quote.ts";
import { runCommand } from "../src/base/command.ts";
import { createWorkDir, installDatadir, startServer, writeClientOptionFile, type StartedServer } from "../src/hosts/sandbox.ts";
import { restoreService } from "../src/restore/pipeline.ts";
import { parseTableName, restoreTables } from "../src/restore/table.ts";
import type { Position } from "../src/binlog/position.ts";
import { allFindings, captureRestored } from "../src/verify/verify.ts";
import { binlogArchiveDir } from "../src/store/layout.ts";
import { untilArchived } from "../test/support/archive.ts";
import { serverServiceYaml } from "../test/support/services.ts";
import { buildD, cachedDatadir, cacheKey, planD, D_DATABASE, type DatasetD } from "./datasetD.ts";
import type { LineInput } from "./results.ts";
import { fmtMs, measure, spreadOf, type Outcome } from "./stats.ts";

export interface DContext {
  scale: number;
  runs: number;
  cores: number;
  log: (line: string) => void;
  record: (line: LineInput) => void;
  /** Flush dirty pages and wait for the checkpoint (run.ts). */
  checkpoint: (db: Db) => Promise<void>;
  dropCaches: () => Promise<void>;
  /** The stream backup and restore against the same pipes by hand (run.ts streamBench), on (d)'s source. */
  stream?: (src: { id: string; label: string; server: StartedServer; optionFile: string; db: Db; database: string; set: string; only: { pipe: "age"; volume: { bytes: number; readLimit: number } } }) => Promise<void>;
}

const SERVER_ARGS = ["--innodb-buffer-pool-size=4G", "--innodb-log-file-size=1G", "--innodb-flush-log-at-trx-commit=2", "--max-connections=200", "--table-open-cache=4000"];
/** The checks of a night (the bench's CHECKS) and the cheapest set that covers every object (no row read). */
const CHECKS = ["checksum", "definition", "rowCount", "integrity"];
const COVER = "[tables, triggers, routines, events, database, definition, accounts, server]";
const HOUR = 3_600_000;

const gb = (bytes: number) => `${(bytes / 1e9).toFixed(2)} GB`;
const mid = (ms: readonly number[]) => spreadOf(ms).median;

function datadirBytes(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) if (e.isFile()) n += statSync(join(e.parentPath, e.name)).size;
  return n;
}

/** The cached (d) datadir, built first where this seed, size and server have none. */
async function datadirOf(plan: DatasetD, ctx: DContext): Promise<string> {
  const { stdout } = await runCommand("mariadbd", ["--version"]);
  const cache = cachedDatadir(cacheKey(plan.bytes, stdout.trim()));
  if (cache.ready) {
    ctx.log(`(d) from the cache: ${cache.dir}`);
    return cache.dir;
  }
  ctx.log(`building (d), ${gb(plan.bytes)}, into ${cache.building} (once; reused while datasetD.ts, the size and the server are the same)…`);
  const datadir = join(cache.building, "datadir");
  await installDatadir(datadir);
  const server = await startServer({ dir: cache.building, datadir, tcp: false, extraArgs: SERVER_ARGS });
  try {
    const db = await server.connect({ poolSize: 2 });
    try {
      await buildD(db, plan, ctx.log);
      await ctx.checkpoint(db);
      await reopenRoot(db);
    } finally {
      await db.close();
    }
  } finally {
    await server.stop();
  }
  cache.commit();
  return cache.dir;
}

/**
 * Leave root without a password, as a fresh datadir has it: every sandbox start on the cached datadir sets a random
 * one (sandbox.ts), and the next start must be able to.
 */
async function reopenRoot(db: Db): Promise<void> {
  await onOneConnection(db, async (session) => {
    await session.query("SET SESSION sql_log_bin = 0");
    await session.query("ALTER USER 'root'@'localhost' IDENTIFIED BY ''");
  });
}

/** The datadir read sequentially from a cold page cache, every file of (d) once: the physical limit, bytes per ms. */
async function readLimit(datadir: string, ctx: DContext): Promise<number> {
  const dir = join(datadir, D_DATABASE);
  const bytes = datadirBytes(dir);
  await ctx.dropCaches();
  const started = performance.now();
  await runCommand("bash", ["-c", `cat ${dir}/* > /dev/null`], { timeoutMs: 4 * HOUR });
  return bytes / (performance.now() - started);
}

/** CHECKSUM TABLE of every table at `concurrency`: the baseline's floor. */
async function checksumAll(db: Db, plan: DatasetD, concurrency: number): Promise<void> {
  await mapConcurrent(plan.tables, concurrency, async (t) => db.query(`CHECKSUM TABLE ${qualifiedName(plan.database, t)}`));
}

/** The SQL floor of a verification: CHECK + CHECKSUM + SHOW CREATE + COUNT(*) per table at `concurrency`. */
async function sqlFloor(db: Db, plan: DatasetD, concurrency: number): Promise<void> {
  await mapConcurrent(plan.tables, concurrency, async (t) => {
    const name = qualifiedName(plan.database, t);
    for (const sql of [`CHECK TABLE ${name}`, `CHECKSUM TABLE ${name}`, `SHOW CREATE TABLE ${name}`, `SELECT COUNT(*) FROM ${name}`]) await db.query(sql);
  });
}

/** One contender's rounds: each timed, the first failure kept (the line is then FAIL with it, never a ratio). */
class Runs {
  readonly ms: number[] = [];
  failure?: string;
  async add<T>(fn: () => Promise<T>, failed?: (result: T) => string | undefined, elapsed?: (result: T) => number): Promise<void> {
    if (this.failure !== undefined) return;
    let value: T | undefined;
    const o = await measure(1, async () => (value = await fn()), failed);
    if (!o.ok) this.failure = o.message;
    else this.ms.push(elapsed && value !== undefined ? elapsed(value) : (o.ms[0] as number));
  }
  get outcome(): Outcome {
    return this.failure !== undefined ? { ok: false, message: this.failure } : { ok: true, ms: [...this.ms] };
  }
}

interface Stage {
  id: string;
  measured: string;
  tool: Outcome;
  reference: { label: string; outcome: Outcome };
  target: number;
  /** Bytes the stage moved or read, for GB/s and hours per TB. */
  bytes: number;
  /** The stage's median at concurrency 1 and 2, where both were measured. */
  byConcurrency?: Record<number, number>;
  /** The contenders ran in alternating rounds (the default): the ratio's spread is each round's own. */
  paired?: boolean;
}

/** (d)'s lines go to docs/performance.md; the baseline's, the replica's cost, to the README's table too. */
function report(stages: Stage[], limit: number, ctx: DContext): void {
  ctx.log(`\n(d) stages against their floors; the datadir's sequential read limit ${(limit / 1e6).toFixed(2)} GB/s`);
  for (const s of stages) {
    // The table stage restores one small table: its bytes are not the data set's, so it has no place in the projection.
    const volume = s.id === "table" ? undefined : { bytes: s.bytes, readLimit: limit, byConcurrency: Object.fromEntries(Object.entries(s.byConcurrency ?? {}).map(([c, ms]) => [String(c), ms])) };
    ctx.record({ id: `d.${s.id}`, set: "d", measured: s.measured, tool: s.tool, reference: s.reference, ratioName: `restoretest / ${s.reference.label}`, target: { op: "≤", value: s.target }, paired: s.paired ?? true, volume, readme: s.id === "baseline" });
    if (!s.tool.ok || !s.reference.outcome.ok) continue;
    ctx.log(`    restoretest ${fmtMs(mid(s.tool.ms))} (${s.tool.ms.map(fmtMs).join(", ")}); ${s.reference.label} ${fmtMs(mid(s.reference.outcome.ms))} (${s.reference.outcome.ms.map(fmtMs).join(", ")})`);
    if (s.id === "table") continue;
    const rate = s.bytes / mid(s.tool.ms);
    const perTb = (ms: number) => ((ms / s.bytes) * 1e12) / HOUR;
    const projected = Object.entries(s.byConcurrency ?? { [ctx.cores]: mid(s.tool.ms) })
      .map(([c, ms]) => `${perTb(ms).toFixed(2)} h/TB at concurrency ${c}`)
      .join(", ");
    ctx.log(`    ${(rate / 1e6).toFixed(2)} GB/s, ${((rate / limit) * 100).toFixed(0)}% of the read limit; ${projected}`);
  }
}

function serviceFor(server: StartedServer, store: string, checks: string): Service {
  const yaml = serverServiceYaml("bench-d", server, store, ["consistency: quiescent"], D_DATABASE);
  const [service] = parseServices(`${yaml}    verify:\n      checks: ${checks}\n`, join(store, "services.yaml"), { SOURCE_PASSWORD: server.password });
  if (!service) throw new Error("no bench-d service");
  return service;
}

/** mariadb-backup by hand into a directory (removed after, untimed): the backup's floor, ms. */
async function backupByHand(server: StartedServer, optionFile: string, into: string): Promise<number> {
  try {
    const started = performance.now();
    await runCommand("mariadb-backup", [`--defaults-extra-file=${optionFile}`, "--backup", `--target-dir=${into}`, `--datadir=${server.datadir}`], { timeoutMs: 4 * HOUR });
    return performance.now() - started;
  } finally {
    await runCommand("rm", ["-rf", into]);
  }
}

/** cp -a + --prepare + start by hand, from the stored backup: the restore's floor, ms (the stop and the removal untimed, as the tool's steps). */
async function restoreByHand(data: string): Promise<number> {
  const into = createWorkDir("bench-d-hand");
  try {
    const dd = join(into.path, "datadir");
    const started = performance.now();
    await runCommand("cp", ["-a", data, dd], { timeoutMs: 4 * HOUR });
    await runCommand("mariadb-backup", ["--prepare", `--target-dir=${dd}`], { timeoutMs: 4 * HOUR });
    const server = await startServer({ dir: join(into.path, "server"), datadir: dd, tcp: false, skipGrantTables: true, readOnly: true });
    const ms = performance.now() - started;
    await server.stop();
    return ms;
  } finally {
    await into.remove();
  }
}

/** The restore's timed steps (transfer, prepare, start) summed, and the restored server destroyed. */
async function restoreByTool(service: Service): Promise<number> {
  const restored = await restoreService(service);
  try {
    return restored.steps.filter((s) => s.step === "transfer" || s.step === "prepare" || s.step === "start").reduce((n, s) => n + s.durationMs, 0);
  } finally {
    await restored.destroy();
  }
}

export async function dBench(ctx: DContext): Promise<void> {
  const plan = planD(20e9 * ctx.scale);
  const datadir = join(await datadirOf(plan, ctx), "datadir");
  const bytes = datadirBytes(join(datadir, D_DATABASE));
  const limit = await readLimit(datadir, ctx);
  const work = createWorkDir("bench-d");
  // A binary log (in the work directory, not the cache): the one-table restore is to a point in the archive.
  // root without a password at every start, before the sandbox sets its own: a run killed before reopenRoot (below)
  // must not leave the cached datadir locked to a password that died with it.
  const reopen = join(work.path, "reopen-root.sql");
  writeFileSync(reopen, "SET sql_log_bin = 0;\nALTER USER 'root'@'localhost' IDENTIFIED BY '';\n", { mode: 0o600 });
  const server = await startServer({ dir: work.path, datadir, tcp: false, logBin: true, serverId: 1, extraArgs: [...SERVER_ARGS, `--init-file=${reopen}`] });
  const optionFile = writeClientOptionFile(join(work.path, "client.cnf"), { user: server.user, password: server.password, socket: server.socket });
  const db = await server.connect({ poolSize: ctx.cores + 2 });
  const stages: Stage[] = [];
  // Each stage takes minutes at 20 GB: say when one is done, with its medians, so a long run shows where it is.
  const done = (s: Stage) => {
    stages.push(s);
    const med = (o: Outcome) => (o.ok ? fmtMs(mid(o.ms)) : `FAIL: ${o.message}`);
    ctx.log(`  ${s.id} done at ${new Date().toISOString().slice(11, 19)}: restoretest ${med(s.tool)}, ${s.reference.label} ${med(s.reference.outcome)}`);
  };
  try {
    ctx.log(`(d): ${plan.tables.length} tables, ${gb(bytes)} on disk, ${ctx.runs} runs of each contender, alternately`);
    const store = join(work.path, "store");
    const cover = serviceFor(server, store, COVER);
    // Backup: by hand, then restoretest (its backup step; the baseline it takes is timed on its own below).
    const hand = new Runs();
    const tool = new Runs();
    let backupDir = "";
    // Alternately first: whichever reads the datadir first warms the page cache for the other.
    for (let i = 0; i < ctx.runs; i++) {
      const byHand = () => hand.add(() => backupByHand(server, optionFile, join(work.path, "by-hand")), undefined, (ms) => ms);
      const byTool = () =>
        tool.add(async () => {
          // The previous round's backup goes first: never two copies of (d) in the store at once (disk: three in all).
          if (backupDir) await runCommand("rm", ["-rf", backupDir]);
          const { dir, meta } = await runBackupJob(cover);
          backupDir = dir;
          return meta.durationMs;
        }, undefined, (ms) => ms);
      // Each contender from a cold page cache (untimed): 20 GB and its copies do not fit in memory, so whichever ran
      // before would otherwise leave the next one its dirty pages to write back, or its reads to reuse.
      for (const run of i % 2 ? [byTool, byHand] : [byHand, byTool]) {
        await ctx.dropCaches();
        await run();
      }
    }
    done({ id: "backup", measured: `backup of (d), ${gb(bytes)}`, tool: tool.outcome, reference: { label: "mariadb-backup by hand", outcome: hand.outcome }, target: 1.1, bytes });
    done(await baselineStage(db, plan, bytes, ctx));
    // The backup the rest restores: its baseline holds the checks verify compares; the timing runs' backup goes first.
    await runCommand("rm", ["-rf", backupDir]);
    const checked = serviceFor(server, store, `${COVER.slice(0, -1)}, checksum, rowCount, integrity]`);
    const { dir, meta } = await runBackupJob(checked);
    const restore = await restoreStage(checked, join(dir, "data"), bytes, ctx);
    done(restore);
    done(await verifyStage(checked, plan, bytes, ctx));
    done(await tableStage(db, checked, meta.position, plan, restore.tool, ctx));
    // The stored backups go before the stream's own: three copies of (d) at most (the cache, a backup, a restore).
    await runCommand("rm", ["-rf", store]);
    if (ctx.stream) await ctx.stream({ id: "d", label: `(d), ${gb(bytes)}`, server, optionFile, db, database: D_DATABASE, set: "d", only: { pipe: "age", volume: { bytes, readLimit: limit } } });
  } finally {
    await reopenRoot(db);
    await db.close();
    await server.stop();
    await work.remove();
  }
  report(stages, limit, ctx);
}

/**
 * Rounds at `concurrency`: the ratio's (at the cores) from ctx.runs rounds, its median; concurrency 1 once, as the
 * terabyte projection's other point only (a single run there, printed as such; no ratio or verdict rests on it).
 * The whole bench then fits its 30 minutes at 20 GB.
 */
const roundsAt = (concurrency: number, ctx: DContext) => (concurrency === ctx.cores ? ctx.runs : 1);

/** A concurrency's point for the projection: its median, or its one run (roundsAt). */
const pointOf = (ms: readonly number[]) => (ms.length === 1 ? (ms[0] as number) : mid(ms));

async function baselineStage(db: Db, plan: DatasetD, bytes: number, ctx: DContext): Promise<Stage> {
  const byConcurrency: Record<number, number> = {};
  const floor = new Runs();
  let tool = new Runs();
  for (const concurrency of [1, ctx.cores]) {
    const runs = new Runs();
    for (let i = 0; i < roundsAt(concurrency, ctx); i++) {
      if (concurrency === ctx.cores) await floor.add(() => checksumAll(db, plan, concurrency));
      // The check that reads the rows inside the snapshots, as the floor reads them; CHECK TABLE (integrity) runs
      // after the snapshots, and definition and rowCount (from the checksum's scan) read none.
      await runs.add(() => captureBaseline(db, { service: "bench-d", databases: [plan.database], checks: ["checksum"], options: DEFAULT_CHECK_OPTIONS, concurrency, mode: "snapshot" }));
    }
    if (runs.failure === undefined) byConcurrency[concurrency] = pointOf(runs.ms);
    tool = runs;
  }
  return { id: "baseline", measured: `baseline capture of (d), ${gb(bytes)} (checksum: the tables ≥ 256 MiB as primary-key range sums), snapshot, concurrency ${ctx.cores}`, tool: tool.outcome, reference: { label: `CHECKSUM TABLE of every table at concurrency ${ctx.cores}`, outcome: floor.outcome }, target: 1.5, bytes, byConcurrency };
}

async function restoreStage(service: Service, data: string, bytes: number, ctx: DContext): Promise<Stage> {
  const hand = new Runs();
  const tool = new Runs();
  for (let i = 0; i < ctx.runs; i++) {
    const byHand = () => hand.add(() => restoreByHand(data), undefined, (ms) => ms);
    const byTool = () => tool.add(() => restoreByTool(service), undefined, (ms) => ms);
    for (const run of i % 2 ? [byTool, byHand] : [byHand, byTool]) {
      await ctx.dropCaches();
      await run();
    }
  }
  return { id: "restore", measured: `restore of (d) (transfer, prepare, start)`, tool: tool.outcome, reference: { label: "cp -a + --prepare + start by hand", outcome: hand.outcome }, target: 1.05, bytes };
}

/** Verify on one restored server against the SQL floor there, at 1 and `cores` sessions. */
async function verifyStage(checked: Service, plan: DatasetD, bytes: number, ctx: DContext): Promise<Stage> {
  const restored = await restoreService(checked);
  const byConcurrency: Record<number, number> = {};
  const floor = new Runs();
  let tool = new Runs();
  const failedCheck = (v: Awaited<ReturnType<typeof captureRestored>>) => {
    for (const f of allFindings(v)) if (!f.finding.ok) return `${f.key}: ${f.finding.message}`;
    return undefined;
  };
  try {
    for (const concurrency of [1, ctx.cores]) {
      const runs = new Runs();
      for (let i = 0; i < roundsAt(concurrency, ctx); i++) {
        if (concurrency === ctx.cores) await floor.add(() => sqlFloor(restored.db, plan, concurrency));
        await runs.add(() => captureRestored(restored.db, restored.manifest, CHECKS, DEFAULT_CHECK_OPTIONS, concurrency), failedCheck);
      }
      if (runs.failure === undefined) byConcurrency[concurrency] = pointOf(runs.ms);
      tool = runs;
    }
  } finally {
    await restored.destroy();
  }
  return { id: "verify", measured: `verify of (d) (${CHECKS.join(", ")})`, tool: tool.outcome, reference: { label: "the SQL floor", outcome: floor.outcome }, target: 1.15, bytes, byConcurrency };
}

/**
 * One medium table restored alone (`restore --table … --dump`, to the backup's own point) against the whole restore:
 * the restore stage's own runs of the same restore, not run again (the bench's 30 minutes), so the ratio is unpaired.
 */
async function tableStage(db: Db, service: Service, position: Position | null | undefined, plan: DatasetD, whole: Outcome, ctx: DContext): Promise<Stage> {
  const one = plan.tables.find((t) => t.startsWith("m")) as string;
  const table = new Runs();
  const work = createWorkDir("bench-d-table");
  try {
    if (!position) throw new Error("the (d) backup recorded no binlog position");
    // The backup's own point, its binlog in the archive: what `restore --table … --to` replays to (nothing to replay).
    const copier = await startBinlogCopy(service, { restartDelayMs: 200 });
    try {
      await untilArchived(db, binlogArchiveDir(service.backup.store, service.name));
    } finally {
      await copier.stop();
    }
    for (let i = 0; i < ctx.runs; i++) {
      await ctx.dropCaches();
      await table.add(() => restoreTables(service, [parseTableName(`${plan.database}.${one}`)], { position }, join(work.path, `${one}.sql`)), undefined, (r) => r.durationMs);
    }
  } finally {
    await work.remove();
  }
  return { id: "table", measured: `one table of (d) restored (${one}, --dump)`, tool: table.outcome, reference: { label: "the whole restore", outcome: whole }, target: 0.5, bytes: 0, paired: false };
}

