// restoretest's benchmark: verify and restore against the shell-loop way and the raw primitives, on the same data, in one run.
// Run: npm run bench            (full size: ~1 GB, 10,000 tables, 20M rows; about 10-15 minutes on 2 cores)
//      npm run bench -- --scale 0.05   (a quick smoke run of the same code)
//      npm run bench -- --only archive (the roll-forward through the binlog archive against mariadb-binlog | mariadb)
//      npm run bench -- --only stream  (stream + zstd [+ age] backups and restores against the same pipes by hand, and
//                                       against the directory format, on the blog demo data and on (a); not in the default run)
//      npm run bench -- --only table   (one small table of (a) restored alone against the whole restore; not in the default run)
//      npm run bench -- --only store   (the transfer of (a) with every stored file hashed alongside against cp and openssl by
//                                       hand, and the restore with the check against without: its cost; not in the default run)
//      npm run bench -- --only report  (npm run report over (b)'s 40,000 tests with history: time and peak memory; also in b)
//      npm run bench -- --only restore-b (the restore of (b), prepare + start against by hand, alone; also in b)
//      npm run bench -- --only d       (data set (d), 20 GB × --scale, built once from a seed and cached: every stage
//                                       against its floor, the datadir's read limit, hours per TB; bench/d.ts)
import { cpus } from "node:os";
import { join } from "node:path";
import { mkdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { runBackupJob } from "../src/backup/job.ts";
import type { BackupMeta } from "../src/store/layout.ts";
import { captureBaseline } from "../src/baseline/capture.ts";
import { mapConcurrent } from "../src/base/concurrent.ts";
import { checksum } from "../src/checks/checksum.ts";
import { DEFAULT_CHECK_OPTIONS } from "../src/checks/types.ts";
import { parseServices } from "../src/config/load.ts";
import type { Service } from "../src/config/schema.ts";
import type { Db } from "../src/db/connection.ts";
import { qualifiedName } from "../src/db/quote.ts";
import { createWorkDir, installDatadir, startServer, writeClientOptionFile, type StartedServer } from "../src/hosts/sandbox.ts";
import { disposeAll } from "../src/base/disposers.ts";
import { runCommand } from "../src/base/command.ts";
import { restoreService } from "../src/restore/pipeline.ts";
import { allFindings, captureRestored, tableFinding, type Verification } from "../src/verify/verify.ts";
import { fmtMs, formatSpread, measure, spreadOf, type Outcome } from "./stats.ts";
import { lineOf, lineText, mergeResults, readResults, writeResults, type BenchLine, type LineInput } from "./results.ts";
import { writePerfDocs } from "../scripts/perf-docs.ts";
import { renderJUnit, type JUnitCase } from "../src/report/junitReporter.ts";
import { serverServiceYaml } from "../test/support/services.ts";
import { manySmallTables, mixedTables, oneBigTable, type Dataset } from "./datasets.ts";
import { tableBench } from "./table.ts";
import { reportBench } from "./report.ts";
import { restoreOfB } from "./restoreB.ts";
import { storeBench } from "./store.ts";
import { dBench } from "./d.ts";
import { ArchiveStage } from "../src/restore/rollForward.ts";
import { readBinlogEvents, startBinlogCopy } from "../src/backup/binlogs.ts";
import { listArchive } from "../src/store/archive.ts";
import { binlogArchiveDir } from "../src/store/layout.ts";
import { applySeed, startSourceSandbox } from "../src/hosts/sourceSandbox.ts";
import { BLOG_SEED, SMALL_SEED } from "../test/support/services.ts";

const args = process.argv.slice(2);
const scale = Number(args[args.indexOf("--scale") + 1] ?? 1) || 1;
const only = new Set((args.includes("--only") ? (args[args.indexOf("--only") + 1] ?? "") : "a,b,c,restore").split(","));
const CONCURRENCY = cpus().length;
const CHECKS = ["checksum", "definition", "rowCount", "integrity"];
// Five rounds, not three: on a shared 2-core runner one round of the same pipe varies by ±30%, more than the 1.1× target.
const STREAM_RUNS = 5;
const log = (s: string) => process.stdout.write(`${s}\n`);

async function time(fn: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await fn();
  return performance.now() - started;
}

/** The middle element by `by` (the upper middle of an even count). */
function middleOf<T>(xs: readonly T[], by: (x: T) => number): T {
  return [...xs].sort((a, b) => by(a) - by(b))[Math.floor(xs.length / 2)] as T;
}
const mid = (xs: readonly number[]) => middleOf(xs, (x) => x);
const middle = <T extends { ms: number }>(xs: readonly T[]): T => middleOf(xs, (x) => x.ms);

const fmt = fmtMs;
const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`;
const verdict = (ok: boolean) => (ok ? "within target" : "OUTSIDE TARGET");

/** Every line this run measured: printed as it is recorded, written to bench/results.json at the end. */
const recorded: BenchLine[] = [];
const RUN = { at: new Date().toISOString(), cores: CONCURRENCY, args: args.filter((a) => a !== "--write-docs").join(" ") };
function record(input: LineInput): void {
  const line = lineOf(input, RUN);
  recorded.push(line);
  log(`  ${lineText(line)}`);
}

/**
 * The way the source talk checks a restore, in its two parts: mysqlcheck over the whole database once, then one
 * client process per table and question, serially. They are timed apart: only the per-table part may be scaled from a
 * sample of the tables to all of them.
 */
function shellCheckScript(optionFile: string, database: string): string {
  return ["set -e", `mariadb-check --defaults-extra-file=${optionFile} --databases ${database} > /dev/null`].join("\n");
}

function shellLoopScript(optionFile: string, database: string, tables: string[]): string {
  const client = `mariadb --defaults-extra-file=${optionFile} -N -e`;
  return [
    "set -e",
    `for t in ${tables.join(" ")}; do`,
    `  ${client} "CHECKSUM TABLE \\\`${database}\\\`.\\\`$t\\\`" > /dev/null`,
    `  ${client} "SHOW CREATE TABLE \\\`${database}\\\`.\\\`$t\\\`" > /dev/null`,
    `  ${client} "SELECT COUNT(*) FROM \\\`${database}\\\`.\\\`$t\\\`" > /dev/null`,
    "done",
  ].join("\n");
}

/** The floor: the same four statements per table straight through mysql2, with restoretest's concurrency. */
async function rawPrimitives(db: Db, ds: Dataset): Promise<void> {
  await mapConcurrent(ds.tables, CONCURRENCY, async (t) => {
    const name = qualifiedName(ds.database, t);
    await db.query(`CHECK TABLE ${name}`);
    await db.query(`CHECKSUM TABLE ${name}`);
    await db.query(`SHOW CREATE TABLE ${name}`);
    await db.query(`SELECT COUNT(*) FROM ${name}`);
  });
}

interface Env {
  server: StartedServer;
  db: Db;
  optionFile: string;
  dir: string;
}

/** What restoretest asks of the database per table: the same minus COUNT(*), which it takes from CHECKSUM TABLE's scan. */
async function rawWithoutCount(db: Db, ds: Dataset): Promise<void> {
  await mapConcurrent(ds.tables, CONCURRENCY, async (t) => {
    const name = qualifiedName(ds.database, t);
    await db.query(`CHECK TABLE ${name}`);
    await db.query(`CHECKSUM TABLE ${name}`);
    await db.query(`SHOW CREATE TABLE ${name}`);
  });
}

/** Tables per batch in rawBatched, as restoretest sizes its batches (src/checks/capture.ts): 4 a session, at most 1,000. */
const byHandBatch = (tables: number) => Math.min(1000, Math.max(50, Math.ceil(tables / (CONCURRENCY * 4))));

/**
 * The floor's four statements batched by hand as restoretest batches small tables: one CHECK TABLE and one CHECKSUM
 * TABLE naming every table of a batch, the SHOW CREATE TABLEs in one round trip, the COUNT(*)s in one UNION ALL.
 */
async function rawBatched(db: Db, ds: Dataset): Promise<void> {
  const names = ds.tables.map((t) => qualifiedName(ds.database, t));
  const size = byHandBatch(names.length);
  const batches = Array.from({ length: Math.ceil(names.length / size) }, (_, i) => names.slice(i * size, (i + 1) * size));
  await mapConcurrent(batches, CONCURRENCY, async (b) => {
    await db.query(`CHECK TABLE ${b.join(", ")}`);
    await db.query(`CHECKSUM TABLE ${b.join(", ")}`);
    await db.queryMany(b.map((name) => ({ sql: `SHOW CREATE TABLE ${name}` })));
    await db.query(b.map((name, i) => `(SELECT ${i} AS i, COUNT(*) AS n FROM ${name})`).join(" UNION ALL "));
  });
}

interface VerifyTargets {
  /** restoretest verify / the floor, at most. */
  floor: number;
  /** The shell loop / restoretest verify, at least. */
  shell: number;
  /**
   * The baseline capture / the floor on the source, at most, quiescent and snapshot (the backup job's default, which
   * adds FLUSH TABLES WITH READ LOCK: every table closed, then opened again inside the snapshots); absent: not measured.
   */
  baseline?: { quiescent: number; snapshot: number };
}

/** Rounds of each baseline mode: a capture of (b) takes a few seconds, and one round of it varies by ±30% here. */
const BASELINE_RUNS = 3;

/** The first failing planned test of a verification, as `key: message`; undefined when every one passes. */
function firstFailure(v: Verification): string | undefined {
  for (const f of allFindings(v)) if (!f.finding.ok) return `${f.key}: ${f.finding.message}`;
  return undefined;
}

async function verifyBench(env: Env, ds: Dataset, set: string, label: string, runs: number, shellSample: number, targets: VerifyTargets): Promise<void> {
  const baselineOf = (mode: "quiescent" | "snapshot") =>
    captureBaseline(env.db, { service: "bench", databases: [ds.database], checks: CHECKS, options: DEFAULT_CHECK_OPTIONS, concurrency: CONCURRENCY, mode });
  const manifest = await baselineOf("quiescent");
  const sample = ds.tables.slice(0, shellSample);
  const checkScript = join(env.dir, "shell-check.sh");
  const loopScript = join(env.dir, "shell-loop.sh");
  writeFileSync(checkScript, shellCheckScript(env.optionFile, ds.database));
  writeFileSync(loopScript, shellLoopScript(env.optionFile, ds.database, sample));
  // mysqlcheck reads every table whatever the sample; only the per-table loop ran on `sample` tables and is scaled.
  const scale = ds.tables.length / sample.length;
  const shellCheck = await measure(runs, () => runCommand("bash", [checkScript], { timeoutMs: 3_600_000 }));
  const shellLoop = await measure(runs, () => runCommand("bash", [loopScript], { timeoutMs: 3_600_000 }));
  const shell: Outcome = !shellCheck.ok ? shellCheck : !shellLoop.ok ? shellLoop : { ok: true, ms: shellCheck.ms.map((c, i) => c + (shellLoop.ms[i] as number) * scale) };
  const floor = await measure(runs, () => rawPrimitives(env.db, ds));
  const floorNoCount = await measure(runs, () => rawWithoutCount(env.db, ds));
  // Per check: the sum over tables of each check's own time, from the median run (where the time goes).
  const perCheckOf: Record<string, number>[] = [];
  const tool = await measure(
    runs,
    () => captureRestored(env.db, manifest, CHECKS, DEFAULT_CHECK_OPTIONS, CONCURRENCY),
    (v) => {
      const perCheck: Record<string, number> = Object.fromEntries(CHECKS.map((c) => [c, 0]));
      for (const row of v.tables.values()) for (const [c, r] of Object.entries(row)) perCheck[c] = (perCheck[c] ?? 0) + r.durationMs;
      perCheckOf.push(perCheck);
      return firstFailure(v);
    },
  );
  const batchedByHand = ds.tables.length >= 1000 ? await measure(runs, () => rawBatched(env.db, ds)) : undefined;
  // At backup time, on the source (here the same server): the baseline the backup job captures, in both of its modes, alternately.
  const baselineRuns = { snapshot: [] as number[], quiescent: [] as number[] };
  let baselineFailure: string | undefined;
  if (targets.baseline !== undefined) {
    for (let i = 0; i < BASELINE_RUNS && baselineFailure === undefined; i++) {
      for (const mode of ["snapshot", "quiescent"] as const) {
        const o = await measure(1, () => baselineOf(mode));
        if (o.ok) baselineRuns[mode].push(o.ms[0] as number);
        else baselineFailure = o.message;
      }
    }
  }
  const spreadText = (o: Outcome) => (o.ok ? formatSpread(spreadOf(o.ms)) : `FAIL: ${o.message}`);
  log(`\n${label}: ${ds.tables.length} tables, ~${(ds.bytes / 1e6).toFixed(0)} MB, concurrency ${CONCURRENCY}, median of ${runs} (min–max)`);
  const sampled = sample.length < ds.tables.length ? `; the per-table loop measured on ${sample.length} tables and scaled ×${scale.toFixed(1)}, mysqlcheck over all tables not scaled: ${spreadText(shellCheck)} + ${spreadText(shellLoop)}` : "";
  log(`  shell loop (mysqlcheck + 3 client processes per table)  ${spreadText(shell)}${sampled}`);
  log(`  raw primitives through mysql2 (the floor)               ${spreadText(floor)}   CHECK + CHECKSUM + SHOW CREATE + COUNT(*) per table`);
  log(`  raw primitives without COUNT(*)                         ${spreadText(floorNoCount)}   no COUNT(*) for tables ≥ 1 MiB, as restoretest (their count comes from the checksum's scan); restoretest also reads MyISAM by a row sum, not CHECKSUM TABLE`);
  log(`  restoretest verify                                      ${spreadText(tool)}`);
  if (tool.ok) {
    const middleRun = perCheckOf[tool.ms.indexOf(spreadOf(tool.ms).median)] ?? {};
    log(`    per check, summed over tables (${CONCURRENCY} sessions): ${Object.entries(middleRun).map(([c, ms]) => `${c} ${fmt(ms)}`).join(", ")}`);
  }
  if (batchedByHand !== undefined) log(`  the floor's statements batched by hand                   ${spreadText(batchedByHand)}   per ${byHandBatch(ds.tables.length)} tables: one CHECK TABLE and one CHECKSUM TABLE naming all, the SHOW CREATEs in one round trip, the COUNT(*)s in one UNION ALL`);
  record({ id: `${set}.verify.floor`, set, measured: `verify, ${label} (~${(ds.bytes / 1e6).toFixed(0)} MB)`, tool, reference: { label: "the SQL floor", outcome: floor }, ratioName: "restoretest / floor", target: { op: "≤", value: targets.floor }, readme: true });
  record({ id: `${set}.verify.floor-no-count`, set, measured: `verify, ${label}`, tool, reference: { label: "the floor without COUNT(*)", outcome: floorNoCount }, ratioName: "restoretest / floor without COUNT", target: { op: "≤", value: targets.floor } });
  if (batchedByHand !== undefined) record({ id: `${set}.verify.batched`, set, measured: `verify, ${label}`, tool, reference: { label: "the floor batched by hand", outcome: batchedByHand }, ratioName: "restoretest / batched by hand", target: { op: "≤", value: 2 } });
  if (targets.baseline !== undefined) {
    const failed = (ms: number[]): Outcome => (baselineFailure !== undefined ? { ok: false, message: baselineFailure } : { ok: true, ms });
    const base = { set, reference: { label: "the SQL floor", outcome: floor }, readme: true };
    record({ ...base, id: `${set}.baseline.quiescent`, measured: `baseline capture, ${label}, quiescent`, tool: failed(baselineRuns.quiescent), ratioName: "baseline (quiescent) / floor", target: { op: "≤", value: targets.baseline.quiescent } });
    record({ ...base, id: `${set}.baseline.snapshot`, measured: `baseline capture, ${label}, snapshot`, tool: failed(baselineRuns.snapshot), ratioName: "baseline (snapshot) / floor", target: { op: "≤", value: targets.baseline.snapshot } });
  }
  record({ id: `${set}.verify.shell`, set, measured: `verify, ${label} (~${(ds.bytes / 1e6).toFixed(0)} MB)`, tool, reference: { label: "the shell loop", outcome: shell }, ratioName: "shell loop / restoretest", inverse: true, target: { op: "≥", value: targets.shell }, readme: true });
  if (ds.tables.length >= 1000 && tool.ok && floor.ok) {
    const overhead = (spreadOf(tool.ms).median - spreadOf(floor.ms).median) / ds.tables.length;
    log(`  tool overhead per table   ${overhead.toFixed(2)} ms beyond the database's own time (target ≤ 5 ms: ${overhead <= 5 ? "within target" : "OUTSIDE TARGET"})`);
    const cases: JUnitCase[] = ds.tables.flatMap((t) => CHECKS.map((c) => ({ classname: `bench.${ds.database}.${t}`, name: c, timeSeconds: 0.001, state: "passed" as const, properties: [] })));
    const started = performance.now();
    const xml = renderJUnit([{ name: "bench", timestamp: new Date().toISOString(), cases }]);
    log(`  JUnit for ${cases.length} tests: ${(xml.length / 1e6).toFixed(1)} MB rendered in ${fmt(performance.now() - started)}`);
  }
}

async function chunkBench(env: Env, ds: Dataset, runs: number): Promise<void> {
  const t = { database: ds.database, table: "big" };
  // The load's dirty pages and purge work would otherwise slow whichever contender runs first.
  await checkpoint(env.db);
  const forced = { ...DEFAULT_CHECK_OPTIONS, chunkMinBytes: 0, chunkRows: 1_000_000 };
  // The backup job's own path: captureBaseline in a consistent snapshot (its default), at the bench's concurrency,
  // the ranges spread over the snapshot sessions (src/checks/lanes.ts).
  const capture = () => captureBaseline(env.db, { service: "bench", databases: [ds.database], checks: ["checksum"], options: forced, concurrency: CONCURRENCY, mode: "snapshot" });
  // The newest baseline: what the nightly and the locating run below compare against.
  let manifest = await capture();
  const valueOf = (m: typeof manifest) => {
    const value = m.databases[0]?.tables.find((x) => x.name === t.table)?.checks.checksum;
    if (value === undefined) throw new Error(`no checksum of ${ds.database}.${t.table} in the baseline`);
    return value as Awaited<ReturnType<typeof checksum.capture>>;
  };
  const atBackupTime = async () => valueOf((manifest = await capture()));
  let baseline = valueOf(manifest);
  const captureFailure = (c: Awaited<ReturnType<typeof checksum.capture>>) => (c.chunks === undefined ? "no range hashes were recorded" : undefined);
  // Plain CHECKSUM TABLE, the nightly path (what the verify phase runs for this table on a clean restore) and the
  // capture at backup time (CHECKSUM TABLE plus the per-range row hashes that later locate a difference), in turn, so
  // that all three see the same state of the server.
  const plainRuns: number[] = [];
  const nightlyRuns: number[] = [];
  const atBackupRuns: number[] = [];
  let failure: string | undefined;
  for (let i = 0; i < runs && failure === undefined; i++) {
    plainRuns.push(await time(() => env.db.query(`CHECKSUM TABLE ${qualifiedName(ds.database, "big")}`)));
    // The verify phase's own path, at the bench's concurrency: its other connections read the ranges too.
    const nightly = await measure(1, () => captureRestored(env.db, manifest, ["checksum"], forced, CONCURRENCY), (v) => {
      const finding = tableFinding(v, t, "checksum");
      return finding.ok ? undefined : `a clean table differs from its own baseline: ${finding.message}`;
    });
    const atBackup = await measure(1, async () => (baseline = await atBackupTime()), captureFailure);
    for (const o of [nightly, atBackup]) if (!o.ok) failure = o.message;
    if (nightly.ok) nightlyRuns.push(nightly.ms[0] as number);
    if (atBackup.ok) atBackupRuns.push(atBackup.ms[0] as number);
  }
  const outcome = (ms: number[]): Outcome => (failure !== undefined ? { ok: false, message: failure } : { ok: true, ms });
  await env.db.query(`UPDATE ${qualifiedName(ds.database, "big")} SET a = a + 1 WHERE id = ?`, [Math.floor(ds.bytes / 60 / 2)]);
  let diverging = -1;
  const locate = await time(async () => {
    const finding = tableFinding(await captureRestored(env.db, manifest, ["checksum"], forced, CONCURRENCY), t, "checksum");
    diverging = finding.ok ? 0 : Number(/in (\d+) of/.exec(finding.message)?.[1] ?? -1);
  });
  log(`\n(c) one table, ${(ds.bytes / 60 / 1e6).toFixed(1)}M rows, ${baseline.chunks?.list.length} chunks of 1M rows; ${runs} rounds in turn`);
  const plain = { ok: true as const, ms: plainRuns };
  log(`  CHECKSUM TABLE                                  ${formatSpread(spreadOf(plainRuns))}`);
  const base = { set: "c", reference: { label: "`CHECKSUM TABLE`", outcome: plain }, paired: true };
  record({ ...base, id: "c.nightly", measured: `verify, (c) one big table, clean restore, concurrency ${CONCURRENCY}`, tool: outcome(nightlyRuns), ratioName: "nightly / CHECKSUM TABLE", target: { op: "≤", value: 1.5 }, readme: true });
  record({ ...base, id: "c.baseline", measured: `baseline capture, (c) one big table (primary-key range sums), snapshot, concurrency ${CONCURRENCY}`, tool: outcome(atBackupRuns), ratioName: "at backup time / CHECKSUM TABLE", target: { op: "≤", value: 1.5 }, readme: true });
  log(`  locating one changed row                        ${fmt(locate)}   found in ${diverging} chunk(s) (target 1: ${verdict(diverging === 1)})`);
}

/** Flush every dirty page and wait for the checkpoint to catch up. */
async function checkpoint(db: Db): Promise<void> {
  // The default I/O capacity (200 pages/s) would take many minutes for a freshly loaded gigabyte.
  await db.query("SET GLOBAL innodb_io_capacity_max = 40000");
  await db.query("SET GLOBAL innodb_io_capacity = 20000, GLOBAL innodb_max_dirty_pages_pct_lwm = 0, GLOBAL innodb_max_dirty_pages_pct = 0");
  const deadline = Date.now() + 300_000;
  while (Date.now() < deadline) {
    const rows = await db.query<{ Variable_name: string; Value: string }>(
      "SHOW GLOBAL STATUS WHERE Variable_name IN ('Innodb_buffer_pool_pages_dirty', 'Innodb_checkpoint_age')",
    );
    const value = (name: string) => Number(rows.find((r) => r.Variable_name === name)?.Value ?? NaN);
    if (value("Innodb_buffer_pool_pages_dirty") === 0 && value("Innodb_checkpoint_age") < 65_536) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error("InnoDB did not checkpoint within 5 minutes");
}

/** The cheapest check set the coverage rule accepts (every object kind has a check, no rows read): restores are timed, not checks. */
const RESTORE_CHECKS = "[tables, triggers, routines, events, database, definition, accounts, server]";

async function restoreBench(env: Env, store: string): Promise<void> {
  const yaml = serverServiceYaml("bench", env.server, store, ["consistency: quiescent"], "bench_a");
  const [service] = parseServices(`${yaml}    verify:\n      checks: ${RESTORE_CHECKS}\n`, join(store, "services.yaml"), { SOURCE_PASSWORD: env.server.password });
  if (!service) throw new Error("no bench service");
  // A backup replica has long since written its pages; a backup right after bulk loading would instead carry
  // gigabytes of redo for prepare to apply, which measures the load, not the restore.
  await checkpoint(env.db);
  const { dir, meta } = await runBackupJob(service);
  const data = join(dir, "data");
  const work = createWorkDir("bench-restore");
  const copy = join(work.path, "copy");
  // Warm the page cache first so the copies below compare work, not which one read the disk first.
  await runCommand("cp", ["-a", data, copy]);
  rmSync(copy, { recursive: true, force: true });
  const reflink = await time(() => runCommand("cp", ["-a", "--reflink=auto", data, copy]));
  rmSync(copy, { recursive: true, force: true });
  const staging = join(work.path, "staging");
  const datadir = join(work.path, "datadir");
  const raw: Record<string, number> = {};
  raw.copy = await time(() => runCommand("cp", ["-a", data, staging]));
  raw.prepare = await time(() => runCommand("mariadb-backup", ["--prepare", `--target-dir=${staging}`]));
  raw.copyBack = await time(() => runCommand("mariadb-backup", ["--copy-back", `--target-dir=${staging}`, `--datadir=${datadir}`]));
  let started: StartedServer | undefined;
  raw.start = await time(async () => {
    started = await startServer({ dir: join(work.path, "server"), datadir, tcp: false, skipGrantTables: true });
  });
  await started?.stop();
  await work.remove();
  const rawTotal = raw.copy + raw.prepare + raw.copyBack + raw.start;
  const restoreOnce = async () => {
    const restored = await restoreService(service);
    await restored.destroy();
    const steps = restored.steps.filter((s) => s.step !== "replay");
    return { ms: steps.reduce((n, s) => n + s.durationMs, 0), steps: steps.map((s) => `${s.step} ${fmt(s.durationMs)}`).join(", ") };
  };
  // The sequential floor of any restore that proves the backup: one copy into a datadir, --prepare there, the server
  // started on it, by hand. What restoretest adds beyond it is its own overhead; the rest is the database's fixed cost.
  const inPlaceOnce = async () => {
    const into = createWorkDir("bench-inplace");
    try {
      const dd = join(into.path, "datadir");
      const copyMs = await time(() => runCommand("cp", ["-a", data, dd]));
      const prepareMs = await time(() => runCommand("mariadb-backup", ["--prepare", `--target-dir=${dd}`]));
      let server: StartedServer | undefined;
      const startMs = await time(async () => {
        server = await startServer({ dir: join(into.path, "server"), datadir: dd, tcp: false, skipGrantTables: true, readOnly: true });
      });
      await server?.stop();
      return { ms: copyMs + prepareMs + startMs, steps: `copy ${fmt(copyMs)}, prepare ${fmt(prepareMs)}, start ${fmt(startMs)}` };
    } finally {
      await into.remove();
    }
  };
  // Warm: cp -a and restoretest alternately, 5 each, so both see the same state of the page cache and the disk.
  const warmCp: number[] = [];
  const warmTool: { ms: number; steps: string }[] = [];
  const warmInPlace: { ms: number; steps: string }[] = [];
  for (let i = 0; i < 5; i++) {
    warmInPlace.push(await inPlaceOnce());
    const into = createWorkDir("bench-warm");
    try {
      warmCp.push(await time(() => runCommand("cp", ["-a", data, join(into.path, "copy")])));
    } finally {
      await into.remove();
    }
    warmTool.push(await restoreOnce());
  }
  const cp = mid(warmCp);
  const warm = middle(warmTool);
  // Cold: the nightly case, the backup store not in the page cache. Both contenders start from dropped caches, alternately.
  const coldCp: number[] = [];
  const coldTool: { ms: number; steps: string }[] = [];
  const coldInPlace: { ms: number; steps: string }[] = [];
  let coldError: string | undefined;
  for (let i = 0; i < 5 && !coldError; i++) {
    try {
      await dropCaches();
      const into = createWorkDir("bench-cold");
      try {
        coldCp.push(await time(() => runCommand("cp", ["-a", data, join(into.path, "copy")])));
      } finally {
        await into.remove();
      }
      await dropCaches();
      coldInPlace.push(await inPlaceOnce());
      await dropCaches();
      coldTool.push(await restoreOnce());
    } catch (error) {
      coldError = (error as Error).message.split("\n")[0];
    }
  }
  log(`\nrestore of (a): backup ${(meta.bytes / 1e6).toFixed(0)} MB`);
  log(`  WARM page cache (the backup was just read; median of 5, alternating):`);
  log(`    cp -a of the backup (the physical floor)               ${fmt(cp)}  (runs: ${warmCp.map(fmt).join(", ")})`);
  log(`    cp -a --reflink=auto (what the local transfer runs)    ${fmt(reflink)}${reflink < cp / 3 ? "  (this filesystem clones: no bytes copied)" : ""}`);
  log(`    raw: cp + --prepare + --copy-back + start              ${fmt(rawTotal)}  (${Object.entries(raw).map(([k, v]) => `${k} ${fmt(v)}`).join(", ")})`);
  const inPlace = middle(warmInPlace);
  log(`    by hand: cp into a datadir + --prepare there + start   ${fmt(inPlace.ms)}  (${inPlace.steps})`);
  log(`    restoretest restore phase                              ${fmt(warm.ms)}  (${warm.steps})`);
  const restoreLine = (id: string, reference: string, ref: readonly number[], tool: readonly { ms: number }[], target: number, readme = false) =>
    record({ id, set: "restore", measured: `restore of (a), ${id.includes(".cold.") ? "cold" : "warm"} page cache`, tool: { ok: true, ms: tool.map((x) => x.ms) }, reference: { label: reference, outcome: { ok: true, ms: [...ref] } }, ratioName: `restoretest / ${reference}`, target: { op: "≤", value: target }, paired: true, readme });
  restoreLine("restore.warm.cp", "cp -a", warmCp, warmTool, 1.2);
  // By hand: the same three primitives (copy into a datadir, --prepare there, start); the issue's restore target.
  restoreLine("restore.warm.hand", "by hand", warmInPlace.map((x) => x.ms), warmTool, 1.05, true);
  log(`    raw / restoretest        ${ratio(rawTotal, warm.ms)}`);
  if (coldError || coldCp.length === 0) {
    log(`  COLD page cache: not measured (${coldError ?? "no run"}; dropping caches needs root)`);
  } else {
    const cpCold = mid(coldCp);
    const toolCold = middle(coldTool);
    log(`  COLD page cache (sync; echo 3 > /proc/sys/vm/drop_caches before each run; median of ${coldCp.length}, alternating):`);
    log(`    cp -a of the backup (the physical floor)               ${fmt(cpCold)}  (runs: ${coldCp.map(fmt).join(", ")})`);
    const inPlaceCold = middle(coldInPlace);
    log(`    by hand: cp into a datadir + --prepare there + start   ${fmt(inPlaceCold.ms)}  (${inPlaceCold.steps})`);
    log(`    restoretest restore phase                              ${fmt(toolCold.ms)}  (${toolCold.steps})`);
    restoreLine("restore.cold.cp", "cp -a", coldCp, coldTool, 1.2);
    restoreLine("restore.cold.hand", "by hand", coldInPlace.map((x) => x.ms), coldTool, 1.05);
  }
}

/** Write back dirty pages and empty the page cache (root only): the next read of the backup comes from the disk. */
/**
 * The nightly roll-forward through the binlog archive against the same files replayed by hand
 * (`mariadb-binlog --start-position=P <files> | mariadb`), each onto a fresh restore of one backup: a source written to
 * while `restoretest binlogs` copies, about `mb` MB of archived binlog after the backup's position.
 */
async function archiveBench(mb: number, runs: number): Promise<void> {
  log(`\n== roll-forward through the binlog archive (${mb} MB of binlog after P)`);
  const source = await startSourceSandbox("bench-archive");
  const store = createWorkDir("bench-archive-store");
  try {
    await applySeed(source, SMALL_SEED, "shop");
    const db = await source.server.connect();
    const [service] = parseServices(serverServiceYaml("shop", source.server, store.path, ["consistency: snapshot"]), join(store.path, "services.yaml"), {
      SOURCE_PASSWORD: source.server.password,
    });
    if (!service) throw new Error("no service");
    await runBackupJob(service);
    const copier = await startBinlogCopy(service);
    try {
      // Row events of ~1 KB notes, 2,000 rows a transaction, until the binlog grew by `mb` MB; a rotation midway.
      const [start] = await db.query<{ Position: number }>("SHOW MASTER STATUS");
      let written = 0;
      for (let i = 0; written < mb * 1e6; i++) {
        await db.query("INSERT INTO shop.orders (customer_id, placed_at, note) SELECT 1 + seq % 2000, '2026-06-01', REPEAT(CHAR(65 + seq % 26), 1000) FROM shop.seq_1_to_2000");
        const [now] = await db.query<{ File: string; Position: number }>("SHOW MASTER STATUS");
        written = (i + 1) * 2000 * 1100;
        if (i === 3) await db.query("FLUSH BINARY LOGS");
        if (written >= mb * 1e6) log(`  wrote about ${(written / 1e6).toFixed(0)} MB (from position ${start?.Position}, now ${now?.File}:${now?.Position})`);
      }
      await db.query("FLUSH BINARY LOGS");
      const [head] = await db.query<{ File: string; Position: number }>("SHOW MASTER STATUS");
      const dir = binlogArchiveDir(store.path, service.name);
      while (!(listArchive(dir).includes(head?.File as string) && readBinlogEvents(join(dir, head?.File as string)).completeBytes >= Number(head?.Position))) {
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      await copier.stop();
      await db.close();
    }
    const dir = binlogArchiveDir(store.path, service.name);
    const tool: number[] = [];
    const hand: number[] = [];
    let bytes = 0;
    for (let run = 0; run < runs; run++) {
      const a = await restoreService(service);
      try {
        const stage = new ArchiveStage(service);
        const started = performance.now();
        const applied = await stage.apply(a);
        tool.push(performance.now() - started);
        bytes = applied.bytes;
      } finally {
        await a.destroy();
      }
      const b = await restoreService(service);
      try {
        const from = b.manifest.position;
        if (!from || !b.server.clientOptionFile) throw new Error("no position or client file");
        const files = listArchive(dir).filter((f) => f >= from.file).map((f) => join(dir, f));
        const script = `set -o pipefail; mariadb-binlog --start-position=${from.position} ${files.join(" ")} | mariadb --defaults-file=${b.server.clientOptionFile} --binary-mode`;
        hand.push(await time(() => runCommand("bash", ["-c", script], { timeoutMs: 3_600_000 })));
      } finally {
        await b.destroy();
      }
    }
    const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)] as number;
    const t = median(tool);
    const h = median(hand);
    log(`  restoretest archive stage   ${fmt(t)}   (${(bytes / 1e6).toFixed(1)} MB; runs: ${tool.map(fmt).join(", ")})`);
    log(`  by hand (binlog | client)   ${fmt(h)}   (runs: ${hand.map(fmt).join(", ")})`);
    record({ id: "archive.roll-forward", set: "archive", measured: "roll-forward through the binlog archive", tool: { ok: true, ms: tool }, reference: { label: "binlog | client by hand", outcome: { ok: true, ms: hand } }, ratioName: "restoretest / by hand", target: { op: "≤", value: 1.2 }, paired: true, readme: true });
  } finally {
    await source.destroy();
    await store.remove();
  }
}

interface StreamSource {
  /** Short key of the data set in results.json's ids. */
  id: string;
  label: string;
  server: StartedServer;
  optionFile: string;
  db: Db;
  database: string;
  /** The results set its lines belong to (default stream): (d)'s belong to d, replaced by the next `--only d`. */
  set?: string;
  /**
   * (d): only the whole pipe (zstd + age) against its by-hand twin, no directory contender (the backup and restore
   * stages measure that), so that the bench stays within its 30 minutes; and the data set's bytes and read limit for
   * the terabyte projection.
   */
  only?: { pipe: "age"; volume: { bytes: number; readLimit: number } };
}

interface Timed {
  ms: number;
  steps: Record<string, number>;
}

const stepsText = (t: Timed) => Object.entries(t.steps).map(([k, v]) => `${k} ${fmt(v)}`).join(", ");
const runsText = (xs: readonly Timed[]) => xs.map((x) => fmt(x.ms)).join(", ");
const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;

/** `runs` rounds of every contender, in turn, the order reversed every other round so that none always goes first. */
async function alternate<K extends string>(runs: number, contenders: Record<K, () => Promise<Timed>>): Promise<Record<K, Timed[]>> {
  const order = Object.keys(contenders) as K[];
  const out = Object.fromEntries(order.map((k) => [k, [] as Timed[]])) as Record<K, Timed[]>;
  for (let i = 0; i < runs; i++) for (const k of i % 2 ? [...order].reverse() : order) out[k].push(await contenders[k]());
  return out;
}

/** restoretest against the same pipe by hand, rounds paired: recorded with its spread and verdict. */
function against(id: string, measured: string, tool: readonly Timed[], hand: readonly Timed[], target: number, set = "stream", volume?: { bytes: number; readLimit: number }): string {
  const line = lineOf(
    {
      id,
      set,
      measured,
      tool: { ok: true, ms: tool.map((x) => x.ms) },
      reference: { label: "the same pipe by hand", outcome: { ok: true, ms: hand.map((x) => x.ms) } },
      ratioName: "restoretest / by hand",
      target: { op: "≤", value: target },
      paired: true,
      ...(volume ? { volume: { ...volume, byConcurrency: {} } } : {}),
    },
    RUN,
  );
  recorded.push(line);
  return lineText(line);
}

/**
 * `backup.format: stream` + `compress: zstd` (and + `encrypt` with age) against the same pipes run by hand on the same
 * server, reading the same stored files, and against the directory format: stored size, backup time (backup.json's
 * durationMs, which covers mariadb-backup | zstd [| age] | SHA-256 | file) and restore time (transfer + prepare + start).
 */
async function streamBench(src: StreamSource, runs: number): Promise<void> {
  const work = createWorkDir("bench-stream");
  try {
    const keyFile = join(work.path, "bench.age");
    await runCommand("age-keygen", ["-o", keyFile]);
    const serviceOf = (name: string, lines: string[]): Service => {
      const store = join(work.path, `store-${name}`);
      mkdirSync(store);
      const yaml = serverServiceYaml(name, src.server, store, ["consistency: quiescent", ...lines], src.database);
      // The cheapest checks that still cover every object (the baseline refuses a gap): none reads a row.
      const checks = RESTORE_CHECKS;
      const [service] = parseServices(`${yaml}    verify:\n      checks: ${checks}\n`, join(store, "services.yaml"), { SOURCE_PASSWORD: src.server.password });
      if (!service) throw new Error(`no ${name} service`);
      return service;
    };
    const stream = ["format: stream", "compress: zstd", "compressLevel: 3", "compressThreads: 0"];
    const directory = serviceOf("directory", []);
    const zstd = serviceOf("zstd", stream);
    const aged = serviceOf("age", [...stream, `encrypt: {keyFile: ${keyFile}}`]);
    // A backup replica has long since written its pages: no load's redo in any contender's backup.
    await checkpoint(src.db);

    // The newest backup of each service: what restoreService restores, and whose stored file the by-hand restore reads.
    const newest = new Map<string, { meta: BackupMeta; dir: string }>();
    const toolBackup = (service: Service) => async (): Promise<Timed> => {
      const started = performance.now();
      const { meta, dir } = await runBackupJob(service);
      const job = performance.now() - started;
      // Only the newest of each service is restored: the one before goes (untimed), so that (d)'s rounds never keep
      // three stored copies at once on a disk that holds three copies of the data set in all.
      const before = newest.get(service.name);
      if (before) rmSync(before.dir, { recursive: true, force: true });
      newest.set(service.name, { meta, dir });
      return { ms: meta.durationMs, steps: { job } };
    };
    const handBytes = { zstd: 0, age: 0 };
    // The same pipe by hand includes what restoretest's pipe does besides: the SHA-256 of the stored bytes, written
    // beside the file (a stored file no one can check is not a backup the nightly can trust, issue 28).
    const handBackup = (encrypt: boolean) => async (): Promise<Timed> => {
      const dir = join(work.path, "by-hand-backup");
      mkdirSync(join(dir, "info"), { recursive: true });
      const file = join(dir, `data.mbstream.zst${encrypt ? ".age" : ""}`);
      const script =
        `set -o pipefail; mariadb-backup --defaults-extra-file=${src.optionFile} --backup --stream=mbstream --target-dir=${dir}/scratch ` +
        `--extra-lsndir=${dir}/info --datadir=${src.server.datadir} 2> ${dir}/log | zstd -q -c -T0 -3 ${encrypt ? `| age -e -i ${keyFile} ` : ""}| tee ${file} | sha256sum > ${file}.sha256`;
      try {
        const ms = await time(() => runCommand("bash", ["-c", script], { timeoutMs: 3_600_000 }));
        handBytes[encrypt ? "age" : "zstd"] = statSync(file).size;
        return { ms, steps: {} };
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    };
    const all = src.only === undefined;
    const backups: Record<string, Timed[]> = await alternate<string>(runs, {
      ...(all ? { handZstd: handBackup(false), toolZstd: toolBackup(zstd) } : {}),
      handAge: handBackup(true),
      toolAge: toolBackup(aged),
      ...(all ? { directory: toolBackup(directory) } : {}),
    });
    const stored = (service: Service) => {
      const b = newest.get(service.name);
      if (!b) throw new Error(`no backup of ${service.name}`);
      return { meta: b.meta, file: join(b.dir, b.meta.dataFile ?? "data") };
    };

    // By hand as restoretest's transfer: the stored file hashed beside the pipe that unpacks it (transfer.ts unpackHere).
    const handRestore = (file: string, encrypted: boolean) => async (): Promise<Timed> => {
      const into = createWorkDir("bench-stream-by-hand");
      try {
        const dd = join(into.path, "datadir");
        const read = encrypted ? `age -d -i ${keyFile} ${file} | zstd -q -d -c` : `zstd -q -d -c ${file}`;
        const unpack = `set -o pipefail; mkdir -p ${dd} && { sha256sum ${file} > ${into.path}/sha256 & ${read} | mbstream -x -C ${dd}; s=$?; wait $! && exit $s; }`;
        const transfer = await time(() => runCommand("bash", ["-c", unpack], { timeoutMs: 3_600_000 }));
        const prepare = await time(() => runCommand("mariadb-backup", ["--prepare", `--target-dir=${dd}`], { timeoutMs: 3_600_000 }));
        let server: StartedServer | undefined;
        const start = await time(async () => {
          server = await startServer({ dir: join(into.path, "server"), datadir: dd, tcp: false, skipGrantTables: true, readOnly: true });
        });
        await server?.stop();
        return { ms: transfer + prepare + start, steps: { transfer, prepare, start } };
      } finally {
        await into.remove();
      }
    };
    const toolRestore = (service: Service) => async (): Promise<Timed> => {
      const restored = await restoreService(service);
      try {
        const steps = restored.steps.filter((s) => s.step === "transfer" || s.step === "prepare" || s.step === "start");
        return { ms: steps.reduce((n, s) => n + s.durationMs, 0), steps: Object.fromEntries(steps.map((s) => [s.step, s.durationMs])) };
      } finally {
        await restored.destroy();
      }
    };
    const a = stored(aged);
    const z = all ? stored(zstd) : undefined;
    const d = all ? stored(directory) : undefined;
    const restores: Record<string, Timed[]> = await alternate<string>(runs, {
      ...(z ? { handZstd: handRestore(z.file, false), toolZstd: toolRestore(zstd) } : {}),
      handAge: handRestore(a.file, true),
      toolAge: toolRestore(aged),
      ...(all ? { directory: toolRestore(directory) } : {}),
    });

    const b = Object.fromEntries(Object.entries(backups).map(([k, v]) => [k, middle(v)])) as Record<string, Timed>;
    const r = Object.fromEntries(Object.entries(restores).map(([k, v]) => [k, middle(v)])) as Record<string, Timed>;
    const volume = src.only?.volume;
    const line = (kind: "backup" | "restore", pipe: "zstd" | "age", tool: Timed[], hand: Timed[]) =>
      against(`stream.${src.id}.${kind}.${pipe}`, `stream ${kind} + zstd${pipe === "age" ? " + age" : ""}, ${src.label}`, tool, hand, 1.1, src.set, volume);
    const at = (xs: Record<string, Timed[]>, k: string) => xs[k] as Timed[];
    const aBytes = a.meta.storedBytes ?? 0;
    log(`\n== stream backups of ${src.label}: median of ${runs} alternating rounds, ${CONCURRENCY} cores`);
    log(`  stored size`);
    if (d && z) {
      const dirBytes = d.meta.bytes;
      log(`    directory format (data/)                                     ${mb(dirBytes)}`);
      log(`    stream + zstd -3                                             ${mb(z.meta.storedBytes ?? 0)}   ${ratio(z.meta.storedBytes ?? 0, dirBytes)} of the directory (raw mbstream ${mb(z.meta.bytes)}; by hand ${mb(handBytes.zstd)})`);
      log(`    stream + zstd -3 + age                                       ${mb(aBytes)}   ${ratio(aBytes, dirBytes)} of the directory (by hand ${mb(handBytes.age)})`);
    } else log(`    stream + zstd -3 + age                                       ${mb(aBytes)}   (raw mbstream ${mb(a.meta.bytes)}; by hand ${mb(handBytes.age)})`);
    log(`  backup time (restoretest: backup.json durationMs = mariadb-backup | zstd [| age] | SHA-256 | file; by hand the same pipe, | tee file | sha256sum)`);
    if (all) {
      log(`    by hand: mariadb-backup --stream | zstd -T0 -3 > file        ${fmt(b.handZstd?.ms ?? 0)}   (runs: ${runsText(at(backups, "handZstd"))})`);
      log(`    restoretest stream + zstd                                    ${fmt(b.toolZstd?.ms ?? 0)}   (runs: ${runsText(at(backups, "toolZstd"))}; whole job with baseline ${fmt(b.toolZstd?.steps.job ?? 0)})`);
      log(`    restoretest / by hand     ${line("backup", "zstd", at(backups, "toolZstd"), at(backups, "handZstd"))}`);
    }
    log(`    by hand: … | zstd -T0 -3 | age -e > file                     ${fmt(b.handAge?.ms ?? 0)}   (runs: ${runsText(at(backups, "handAge"))})`);
    log(`    restoretest stream + zstd + age                              ${fmt(b.toolAge?.ms ?? 0)}   (runs: ${runsText(at(backups, "toolAge"))}; whole job with baseline ${fmt(b.toolAge?.steps.job ?? 0)})`);
    log(`    restoretest / by hand     ${line("backup", "age", at(backups, "toolAge"), at(backups, "handAge"))}`);
    if (all) {
      log(`    restoretest directory format                                 ${fmt(b.directory?.ms ?? 0)}   (runs: ${runsText(at(backups, "directory"))})`);
      log(`    stream + zstd / directory ${ratio(b.toolZstd?.ms ?? 0, b.directory?.ms ?? 1)};   stream + zstd + age / directory ${ratio(b.toolAge?.ms ?? 0, b.directory?.ms ?? 1)}`);
    }
    log(`  restore time (transfer + prepare + start; restoretest: restored.steps; by hand reads restoretest's stored file, sha256sum beside)`);
    if (all) {
      log(`    by hand: zstd -dc | mbstream -x, --prepare, start            ${fmt(r.handZstd?.ms ?? 0)}   (${stepsText(r.handZstd as Timed)}; runs: ${runsText(at(restores, "handZstd"))})`);
      log(`    restoretest stream + zstd                                    ${fmt(r.toolZstd?.ms ?? 0)}   (${stepsText(r.toolZstd as Timed)}; runs: ${runsText(at(restores, "toolZstd"))})`);
      log(`    restoretest / by hand     ${line("restore", "zstd", at(restores, "toolZstd"), at(restores, "handZstd"))}`);
    }
    log(`    by hand: age -d | zstd -dc | mbstream -x, --prepare, start   ${fmt(r.handAge?.ms ?? 0)}   (${stepsText(r.handAge as Timed)}; runs: ${runsText(at(restores, "handAge"))})`);
    log(`    restoretest stream + zstd + age                              ${fmt(r.toolAge?.ms ?? 0)}   (${stepsText(r.toolAge as Timed)}; runs: ${runsText(at(restores, "toolAge"))})`);
    log(`    restoretest / by hand     ${line("restore", "age", at(restores, "toolAge"), at(restores, "handAge"))}`);
    if (all) {
      log(`    restoretest directory format                                 ${fmt(r.directory?.ms ?? 0)}   (${stepsText(r.directory as Timed)}; runs: ${runsText(at(restores, "directory"))})`);
      log(`    stream + zstd / directory ${ratio(r.toolZstd?.ms ?? 0, r.directory?.ms ?? 1)};   stream + zstd + age / directory ${ratio(r.toolAge?.ms ?? 0, r.directory?.ms ?? 1)}`);
    }
  } finally {
    await work.remove();
  }
}

async function dropCaches(): Promise<void> {
  await runCommand("sync", []);
  writeFileSync("/proc/sys/vm/drop_caches", "3\n");
}

async function main(): Promise<void> {
  const started = performance.now();
  const work = createWorkDir("bench");
  const datadir = join(work.path, "datadir");
  await installDatadir(datadir);
  const server = await startServer({
    dir: work.path,
    datadir,
    tcp: false,
    // The restored server's MyISAM mmap (sandbox.ts), so every contender reads MyISAM as verify does after a restore.
    extraArgs: ["--loose-myisam-use-mmap=ON", "--innodb-buffer-pool-size=4G", "--innodb-log-file-size=1G", "--innodb-flush-log-at-trx-commit=2", "--max-connections=200", "--table-open-cache=20000", "--innodb-open-files=20000"],
  });
  const optionFile = writeClientOptionFile(join(work.path, "client.cnf"), { user: server.user, password: server.password, socket: server.socket });
  const db = await server.connect({ poolSize: CONCURRENCY + 2 });
  const env: Env = { server, db, optionFile, dir: work.path };
  log(`restoretest benchmark, scale ${scale}, ${CONCURRENCY} cores`);
  try {
    if (only.has("stream")) {
      // The demo data, on a sandbox seeded from fixtures/blog (as the demo's source is), before (a) loads this machine.
      const blog = await startSourceSandbox("bench-blog");
      try {
        log("seeding the blog demo data…");
        await applySeed(blog, BLOG_SEED, "blog");
        const blogDb = await blog.server.connect();
        try {
          await streamBench({ id: "blog", label: "the blog demo data (fixtures/blog)", server: blog.server, optionFile: blog.optionFile, db: blogDb, database: "blog" }, STREAM_RUNS);
        } finally {
          await blogDb.close();
        }
      } finally {
        await blog.destroy();
      }
    }
    if (only.has("a") || only.has("restore") || only.has("stream") || only.has("store")) {
      log("generating (a)…");
      const a = await mixedTables(db, "bench_a", 1e9 * scale, log);
      if (only.has("a")) await verifyBench(env, a, "a", "(a) mixed tables", 3, a.tables.length, { floor: 1.15, shell: 3 });
      if (only.has("restore")) {
        const store = join(work.path, "store");
        mkdirSync(store);
        await restoreBench(env, store);
      }
      if (only.has("store")) {
        const store = join(work.path, "store-check");
        mkdirSync(store);
        await checkpoint(db);
        await storeBench(server, store, 5, 1.1, log, record);
      }
      if (only.has("stream")) await streamBench({ id: "a", label: `(a) mixed tables (~${((1e9 * scale) / 1e6).toFixed(0)} MB of rows)`, server, optionFile, db, database: "bench_a" }, STREAM_RUNS);
    }
    if (only.has("b") || only.has("restore-b")) {
      log("generating (b)…");
      const b = await manySmallTables(db, "bench_b", Math.round(10_000 * scale), log);
      if (only.has("b")) await verifyBench(env, b, "b", "(b) many small tables", 3, Math.min(b.tables.length, 1000), { floor: 0.6, shell: 20, baseline: { quiescent: 0.6, snapshot: 1 } });
      // 11 rounds: one round varies by ±30% here, and 7 rounds gave 0.97-1.05× for the same code (docs/performance.md).
      await restoreOfB(server, b, 11, 1.05, log, record);
    }
    // The Allure report of (b)'s 40,000 table tests (and the rest of a night's), with history: also on its own.
    if (only.has("b") || only.has("report")) await reportBench(Array.from({ length: Math.round(10_000 * scale) }, (_, i) => `s${String(i).padStart(5, "0")}`), 3, { ms: 60_000, bytes: 2 * 2 ** 30 }, log);
    if (only.has("table")) await tableBench(scale, 3, log, record);
    if (only.has("archive")) await archiveBench(Math.max(5, Math.round(200 * scale)), 3);
    if (only.has("d")) {
      // Its own source server, on the cached datadir of (d); the stream line runs on it too.
      await dBench({ scale, runs: 3, cores: CONCURRENCY, log, record, checkpoint, dropCaches, stream: (src) => streamBench(src, 3) });
    }
    if (only.has("c")) {
      log("generating (c)…");
      const c = await oneBigTable(db, "bench_c", Math.round(20_000_000 * scale));
      await chunkBench(env, c, 3);
    }
    const rss = process.resourceUsage().maxRSS / 1024;
    const total = performance.now() - started;
    // (d) alone has its own budget: 30 minutes on its cached data set (issue 30); every other run, 15.
    const budget = only.has("d") ? 30 : 15;
    log(`\nrunner peak RSS ${rss.toFixed(0)} MB (target ≤ 512 MB: ${verdict(rss <= 512)}); total ${fmt(total)} (target < ${budget} min: ${verdict(total < budget * 60_000)})`);
  } finally {
    await db.close();
    await server.stop();
    await work.remove();
    await disposeAll();
    writeRecorded();
  }
}

/** What this run measured, merged into bench/results.json (its sets' earlier lines replaced); then the docs' tables if asked. */
function writeRecorded(): void {
  if (recorded.length === 0) return;
  writeResults(mergeResults(readResults(), recorded));
  log(`recorded ${recorded.length} line(s) in bench/results.json`);
  const fails = recorded.filter((l) => l.verdict === "FAIL");
  if (fails.length) log(`FAILED: ${fails.map((l) => `${l.id}: ${l.failure}`).join("; ")}`);
  if (args.includes("--write-docs")) log(`docs: ${writePerfDocs().join(", ") || "up to date"}`);
}

await main();
