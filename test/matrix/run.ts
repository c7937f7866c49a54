// The matrix runner: one generated schema on one server, through what the tool does to a real service: backup while
// the source is written to, restore and verify, the table drill, the binlog archive's roll-forward, and a table
// restore (`restore --table --into`). Everything must be green; then faults injected into generated objects must turn
// exactly those objects' tests red.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import mysql from "mysql2/promise";
import { format } from "mysql2";
import { ArchiveStage } from "../../src/restore/rollForward.ts";
import { walkBinlog } from "../../src/binlog/events.ts";
import { dialectOf } from "../../src/server/flavor.ts";
import { startBinlogCopy } from "../../src/backup/binlogs.ts";
import { listArchive } from "../../src/store/archive.ts";
import { runBackupJob } from "../../src/backup/job.ts";
import { binlogArchiveDir } from "../../src/store/layout.ts";
import { checkOptions } from "../../src/checks/options.ts";
import { parseServices } from "../../src/config/load.ts";
import type { Service } from "../../src/config/schema.ts";
import type { Db } from "../../src/db/connection.ts";
import { qualifiedName, quoteIdent } from "../../src/db/quote.ts";
import { createWorkDir, installDatadir, startServer } from "../../src/hosts/sandbox.ts";
import { startSourceSandbox, type SeededSource } from "../../src/hosts/sourceSandbox.ts";
import { DrillStage, drillTables } from "../../src/restore/drill.ts";
import { restoreService, type Restored } from "../../src/restore/pipeline.ts";
import { restoreTables } from "../../src/restore/table.ts";
import { allFindings, captureRestored } from "../../src/verify/verify.ts";
import { runFault } from "../faults/catalog.ts";
import { until } from "../support/archive.ts";
import { faultBatches, faultsOf, type MatrixFault } from "./faults.ts";
import { generateSchema, loadInsert, objectsOf, schemaSql, type Schema, type Statement, type Table } from "./schema.ts";
import { serverFlavor, type MatrixServer } from "./servers.ts";

/** One test of the clean run: green, or a false red naming its stage and object. */
export interface Outcome {
  stage: "load" | "backup" | "restore" | "verify" | "drill" | "archive" | "table restore";
  object: string;
  ok: boolean;
  message: string;
}

export interface FaultOutcome {
  fault: MatrixFault;
  caught: boolean;
  /** What went red for it, or why it was not caught. */
  detail: string;
}

export interface SchemaRun {
  server: string;
  seed: number;
  objects: { kind: string; name: string }[];
  statements: number;
  /** Writes the load made while the backup ran. */
  writes: number;
  tests: Outcome[];
  falseReds: Outcome[];
  faults: FaultOutcome[];
  /** Red tests of a fault restore that no injected fault accounts for (false reds too). */
  strays: string[];
  durationMs: number;
}

export interface RunOptions {
  /** At most this many fault restores (the test slice's budget); default: as many as one fault per kind needs. */
  faultRestores?: number;
  /** How many tables go through `restore --table --into` (default 2). */
  tableRestores?: number;
  log?: (line: string) => void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The SQL of a statement with its values inlined: what a failure prints, to replay by hand. */
export function inline(s: Statement): string {
  return s.params ? format(s.sql, s.params as never) : s.sql;
}

/** Load a generated schema; a statement the server refuses is the generator's bug, named with its SQL. */
async function load(source: SeededSource, schema: Schema, statements: Statement[]): Promise<void> {
  const conn = await mysql.createConnection({ socketPath: source.server.socket, user: source.server.user, password: source.server.password, charset: "utf8mb4_unicode_ci" });
  try {
    for (const s of statements) {
      await conn.query(s.sql, s.params as never).catch((error: unknown) => {
        throw new Error(`RESTORETEST_MATRIX_SEED=${schema.seed}: the generated schema does not load on ${schema.flavor}: ${(error as Error).message}\n  ${inline(s).slice(0, 2000)}`);
      });
    }
  } finally {
    await conn.end();
  }
}

/** Writes to the generated tables while the backup runs: inserts (firing triggers), updates, deletes, sequence calls. */
class GeneratedLoad {
  writes = 0;
  private stopped = false;
  private readonly done: Promise<void>;
  constructor(db: Db, schema: Schema) {
    const tables = schema.tables.filter((t) => t.writable);
    this.done = (async () => {
      for (let i = 0; !this.stopped; i++) {
        const t = tables[i % tables.length];
        if (!t) return;
        const q = qualifiedName(t.database, t.name);
        const s = loadInsert(t, i);
        await db.query(s.sql, s.params);
        await db.query(`UPDATE ${q} SET ${quoteIdent(t.n)} = COALESCE(${quoteIdent(t.n)}, 0) + 1 ORDER BY ${quoteIdent(t.pk)} LIMIT 1`);
        if (i % 3 === 2) await db.query(`DELETE FROM ${q} ORDER BY ${quoteIdent(t.pk)} DESC LIMIT 1`);
        const seq = schema.sequences[i % Math.max(1, schema.sequences.length)];
        if (seq && i % 5 === 0) await db.query(`SELECT NEXTVAL(${qualifiedName(seq.database, seq.name)})`);
        this.writes += i % 3 === 2 ? 3 : 2;
        await sleep(5);
      }
    })();
    this.done.catch(() => undefined);
  }
  async stop(): Promise<number> {
    this.stopped = true;
    await this.done;
    return this.writes;
  }
}

/** The columns a table's content is compared by (its key, then every stored column, invisible ones named). */
function contentQuery(t: Table): string {
  const cols = [t.pk, ...t.columns.filter((c) => !c.generated).map((c) => c.name)].map((c) => {
    const column = t.columns.find((x) => x.name === c);
    return column?.type === "point" ? `ST_AsText(${quoteIdent(c)})` : column?.type === "double" ? `CAST(${quoteIdent(c)} AS CHAR)` : quoteIdent(c);
  });
  return `SELECT ${cols.join(", ")} FROM ${qualifiedName(t.database, t.name)} ORDER BY ${quoteIdent(t.pk)}`;
}

async function content(db: { query(sql: string): Promise<unknown[]> }, t: Table): Promise<string> {
  return JSON.stringify(await db.query(contentQuery(t)));
}

function serviceYaml(server: MatrixServer, source: SeededSource, store: string, schema: Schema): string {
  return [
    "services:",
    "  matrix:",
    "    source:",
    `      socket: ${JSON.stringify(source.server.socket)}`,
    "      user: root",
    "      password: ${SOURCE_PASSWORD}",
    `      datadir: ${JSON.stringify(source.server.datadir)}`,
    `    databases: [${schema.databases.map((d) => JSON.stringify(d.name)).join(", ")}]`,
    "    backup:",
    `      store: ${JSON.stringify(store)}`,
    "      consistency: snapshot",
    `      tool: ${server.tool}`,
    ...(server.toolchain ? [`      toolchain: ${JSON.stringify(server.toolchain)}`] : []),
    "",
  ].join("\n");
}

/** Wait until the archive holds the source's newest event. */
async function untilArchived(db: Db, archive: string): Promise<void> {
  const [status] = await db.query<{ File: string; Position: number }>((await dialectOf(db)).replication.binlogStatus);
  await until("the archive to hold the source's newest event", () => {
    const newest = listArchive(archive).at(-1);
    return newest !== undefined && newest === status?.File && walkBinlog(join(archive, newest)).completeBytes >= Number(status?.Position);
  });
}

/** Run one seed's schema on one server: the clean stages, then the faults. */
export async function runSchema(server: MatrixServer, seed: number, options: RunOptions = {}): Promise<SchemaRun> {
  const started = performance.now();
  const log = options.log ?? (() => undefined);
  const schema = generateSchema(seed, server.capabilities);
  const base = mkdtempSync(join(tmpdir(), `restoretest-matrix-${server.label}-`));
  const dataDir = join(base, "external");
  mkdirSync(dataDir);
  const statements = schemaSql(schema, dataDir);
  // The schema as SQL beside the run, to replay by hand.
  writeFileSync(join(base, "schema.sql"), statements.map((s) => `${inline(s)};\n`).join(""));
  const tests: Outcome[] = [];
  const test = (stage: Outcome["stage"], object: string, ok: boolean, message = "") => {
    tests.push({ stage, object, ok, message });
    if (!ok) log(`FALSE RED ${server.label} seed ${seed}: ${stage} ${object}: ${message}`);
  };
  const flavor = serverFlavor(server);
  // MySQL creates a DATA DIRECTORY table only in a directory innodb_directories names.
  const external = server.flavor === "mysql" && server.capabilities.dataDirectory ? [`--innodb-directories=${dataDir}`] : [];
  const source = await startSourceSandbox(`matrix-${server.label}`, undefined, 1, { ...flavor, server: { ...flavor.server, sourceArgs: [...flavor.server.sourceArgs, ...external] } });
  let db: Db | undefined;
  let writes = 0;
  const faults: FaultOutcome[] = [];
  const strays: string[] = [];
  try {
    await load(source, schema, statements);
    db = await source.server.connect({ poolSize: 2 });
    const store = join(base, "store");
    const [service] = parseServices(serviceYaml(server, source, store, schema), join(base, "services.yaml"), { SOURCE_PASSWORD: source.server.password });
    if (!service) throw new Error("no service parsed");
    // The backup while the load writes; then the binlog copier archives what follows, across a rotation.
    const loadRun = new GeneratedLoad(db, schema);
    let backupDir = "";
    try {
      await sleep(300);
      backupDir = (await runBackupJob(service)).dir;
      test("backup", "the backup job", true);
    } catch (error) {
      test("backup", "the backup job", false, (error as Error).message);
    }
    const copier = backupDir ? await startBinlogCopy(service, { restartDelayMs: 200 }) : undefined;
    try {
      await sleep(500);
      await db.query("FLUSH BINARY LOGS");
      await sleep(500);
    } finally {
      try {
        writes = await loadRun.stop();
        test("load", "writes during the backup", writes > 0, writes > 0 ? "" : "the load made no write");
      } catch (error) {
        test("load", "writes during the backup", false, `RESTORETEST_MATRIX_SEED=${seed}: the generated write load failed: ${(error as Error).message}`);
      }
      if (copier) {
        await untilArchived(db, binlogArchiveDir(store, service.name)).catch((error: unknown) => test("archive", "the binlog copier", false, (error as Error).message));
        await copier.stop();
      }
    }
    if (backupDir) {
      // The source as the archive's newest event leaves it: what the roll-forward and the table restore must give.
      const final = new Map<Table, string>();
      for (const t of schema.tables) final.set(t, await content(db, t));
      const appliedTo = await cleanStages(service, schema, final, test);
      await tableRestore(server, service, schema, final, appliedTo, test, seed, options.tableRestores ?? 2);
      const rng = fc.sample(fc.infiniteStream(fc.nat()), { seed, numRuns: 1 })[0] as fc.Stream<number>;
      const iterator = rng[Symbol.iterator]();
      const batches = faultBatches(faultsOf(schema), (n) => (iterator.next().value as number) % n);
      for (const taken of batches.slice(0, options.faultRestores ?? batches.length)) {
        log(`${server.label} seed ${seed}: faults ${taken.map((f) => `${f.kind} (${f.object})`).join("; ")}`);
        const result = await runFault(service, backupDir, { name: taken.map((f) => f.kind).join(", "), restored: taken.flatMap((f) => f.sql) }).catch(
          (error: unknown) => ({ restoreError: `the faults could not be injected: ${(error as Error).message}`, red: new Map<string, string>() }),
        );
        log(`  red: ${result.restoreError ? `restore failed: ${result.restoreError}` : [...result.red.keys()].join(", ")}`);
        for (const f of taken) faults.push(judgeFault(f, result));
        const expected = new Set(taken.flatMap((f) => f.red));
        for (const k of result.red.keys()) if (!expected.has(k)) strays.push(`${k} (with ${taken.map((f) => f.kind).join(", ")}): ${result.red.get(k)}`);
      }
    }
  } finally {
    await db?.close();
    await source.destroy();
    rmSync(base, { recursive: true, force: true });
  }
  const falseReds = [...tests.filter((t) => !t.ok), ...strays.map((s) => ({ stage: "verify" as const, object: "a fault restore", ok: false, message: `red, but no injected fault accounts for it: ${s}` }))];
  return { server: server.label, seed, objects: objectsOf(schema), statements: statements.length, writes, tests, falseReds, faults, strays, durationMs: performance.now() - started };
}

function judgeFault(f: MatrixFault, result: Awaited<ReturnType<typeof runFault>>): FaultOutcome {
  if (result.restoreError) return { fault: f, caught: false, detail: `the restore failed: ${result.restoreError.split("\n")[0]}` };
  const missing = f.red.filter((k) => !result.red.has(k));
  if (missing.length) return { fault: f, caught: false, detail: `not red: ${missing.join(", ")}` };
  const message = result.red.get(f.red[0] as string) ?? "";
  if (!message.includes(f.named)) return { fault: f, caught: false, detail: `${f.red[0]} is red but its message does not name ${f.named}: ${message.slice(0, 300)}` };
  return { fault: f, caught: true, detail: f.red.join(", ") };
}

/** Restore, verify, drill every table, roll forward through the archive: every test of each must be green. */
async function cleanStages(service: Service, schema: Schema, final: Map<Table, string>, test: (stage: Outcome["stage"], object: string, ok: boolean, message?: string) => void) {
  let restored: Restored;
  try {
    restored = await restoreService(service);
    test("restore", "the restore", true);
  } catch (error) {
    test("restore", "the restore", false, (error as Error).message);
    return undefined;
  }
  try {
    const v = await captureRestored(restored.db, restored.manifest, service.verify.checks, checkOptions(service), service.verify.concurrency, restored.serverContext);
    for (const { key, finding } of allFindings(v)) test("verify", key, finding.ok, finding.ok ? "" : finding.message);
    const drill = new DrillStage(service, drillTables(restored.manifest, { version: 1, drilled: {} }, Number.MAX_SAFE_INTEGER));
    try {
      for (const t of drill.tables) {
        const name = `${t.database}.${t.table}`;
        try {
          const r = await drill.result(restored, t);
          const red = r.findings.filter((f) => !f.finding.ok).map((f) => `${f.check}: ${(f.finding as { message: string }).message}`);
          test("drill", name, red.length === 0, red.join("\n"));
        } catch (error) {
          test("drill", name, false, (error as Error).message);
        }
      }
    } finally {
      await drill.close();
    }
    const archive = new ArchiveStage(service);
    try {
      const { problems } = await archive.contiguous(restored);
      test("archive", "contiguous from the backup", problems.length === 0, problems.join("\n"));
      const applied = await archive.apply(restored);
      test("archive", "applies to its newest event", true);
      for (const [t, expected] of final) {
        const actual = await content(restored.db, t).catch((error: unknown) => `unreadable: ${(error as Error).message}`);
        test("archive", `${t.database}.${t.name} rolled forward equals the source`, actual === expected, actual === expected ? "" : `rolled forward, ${t.database}.${t.name} differs from the source's`);
      }
      return applied.appliedTo;
    } catch (error) {
      test("archive", "applies to its newest event", false, (error as Error).message);
      return undefined;
    }
  } finally {
    await restored.destroy();
  }
}

/** `restore --table db.t --to <the archive's newest event> --into` a fresh server: it must hold the source's rows. */
async function tableRestore(
  server: MatrixServer,
  service: Service,
  schema: Schema,
  final: Map<Table, string>,
  appliedTo: Awaited<ReturnType<typeof cleanStages>>,
  test: (stage: Outcome["stage"], object: string, ok: boolean, message?: string) => void,
  seed: number,
  count: number,
): Promise<void> {
  if (!appliedTo) return;
  // The written tables (their rows moved after the backup), a partitioned one first where there is one.
  const candidates = schema.tables.filter((t) => t.writable).sort((a, b) => Number(Boolean(b.partition)) - Number(Boolean(a.partition)));
  const chosen = candidates.slice(0, count);
  const flavor = serverFlavor(server).server;
  const work = createWorkDir(`matrix-into-${seed}`);
  try {
    const datadir = join(work.path, "datadir");
    await installDatadir(datadir, flavor);
    const into = await startServer({ dir: work.path, datadir, tcp: false, flavor });
    const db = await into.connect({ poolSize: 1 });
    try {
      for (const d of schema.databases) await db.query(`CREATE DATABASE ${quoteIdent(d.name)} CHARACTER SET ${d.charset}`);
      for (const t of chosen) {
        const name = `${t.database}.${t.name}`;
        try {
          const table = { database: t.database, table: t.name };
          await restoreTables(service, [table], { position: appliedTo }, { kind: "into", server: { name: "matrix", socket: into.socket, user: into.user, password: into.password }, as: table });
          const actual = await content(db, t);
          test("table restore", name, actual === final.get(t), actual === final.get(t) ? "" : `restored on its own to ${appliedTo.file}:${appliedTo.position}, ${name} differs from the source's`);
        } catch (error) {
          test("table restore", name, false, (error as Error).message);
        }
      }
    } finally {
      await db.close();
      await into.stop();
    }
  } finally {
    await work.remove();
  }
}
