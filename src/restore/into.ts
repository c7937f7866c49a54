// Delivering restored tables into a running server (`restore --table … --into NAME`, and the nightly drill): each under a
// temporary name first (`t__restoring_<stamp>`), renamed to its final name (`t__restored_<stamp>`) only when complete,
// and never over a table that exists. InnoDB goes by tablespace: FLUSH TABLES … FOR EXPORT on the restored server (it
// stands at the point, binlogs replayed: a `mariabackup --prepare --export` would stand at the backup's position), the
// .ibd and .cfg copied into the target's datadir, IMPORT TABLESPACE. MariaDB imports no tablespace into a partitioned
// table, so a partitioned one goes leaf by leaf: each (sub)partition imported into a plain table, then EXCHANGE
// PARTITION. Other engines, a FULLTEXT index, a table in a shared tablespace (MySQL's general tablespaces and
// innodb_system: no file of its own to carry), a datadir this host cannot reach, or a binlogging target whose account may
// not keep IMPORT TABLESPACE out of its binlog (its replicas would stop on it) go by a dump of the rows instead.
import { createHash, randomBytes } from "node:crypto";
import { accessSync, chownSync, constants, copyFileSync, createReadStream, createWriteStream, existsSync, readdirSync, rmSync, statSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { finished } from "node:stream/promises";
import { tableLabel, type TableName, qualifiedName, quoteIdent } from "../db/quote.ts";
import { encodeFileName } from "../db/fileName.ts";
import { backupTool } from "../backup/tool.ts";
import { formatDuration } from "../base/duration.ts";
import type { Service } from "../config/schema.ts";
import { Db, type Queryable, type Session } from "../db/connection.ts";
import { tableExists } from "../db/introspect.ts";
import { createWorkDir, writeServerClientFile } from "../hosts/sandbox.ts";
import { registerDisposer } from "../base/disposers.ts";
import { runCommand } from "../base/command.ts";
import type { Restored } from "./pipeline.ts";

/** A server to deliver into, as `--into NAME` names it. */
export interface IntoServer {
  /** `source`, or a key of the service's `into:` block: how messages name it. */
  name: string;
  host?: string;
  port?: number;
  socket?: string;
  user: string;
  password?: string;
}

export type DeliveryMethod = "tablespace" | "partitions" | "dump";

export interface DeliveredTable {
  /** The restored table. */
  table: TableName;
  rows: number;
  /** Where it went, with --into: its final name on the server. */
  as?: TableName;
  method?: DeliveryMethod;
  /** Why a dump rather than a tablespace, when InnoDB was not delivered by tablespace. */
  why?: string;
  /** Tablespace bytes copied (tablespace and partitions). */
  bytes?: number;
  /** Whether the server's binlog has the delivery, when the server writes one: a tablespace is kept out of it. */
  binlogged?: boolean;
  durationMs?: number;
}

export interface DeliverOptions {
  /** The final name of the one table delivered (default `<table>__restored_<stamp>` in its own database). */
  as?: TableName;
  /** The stamp of the default names (default: now). */
  at?: Date;
  /** The service's toolchain directory (mariadb-dump and mariadb for the dump path). */
  toolchain?: string;
  timeoutMs?: number;
  log?: (line: string) => void;
}

/** A temporary table of a delivery: `<name>__restoring_<stamp>`, and `…_part` beside it for a partitioned one. */
const TEMPORARY = /__restoring_\d{14}(_part)?$/;
/** Tablespace files of a temporary table (`.ibd`, `.cfg`, a partition's `#P#…`), by the same names. */
const TEMPORARY_FILE = /^(.*__restoring_\d{14})(_part)?(#.*)?\.(ibd|cfg)$/;
const IDENTIFIER_MAX = 64;

/** The server `--into NAME` names: `source` (the service's source, only when named so) or a key of its `into:` block. */
export function intoServer(service: Service, name: string): IntoServer {
  if (name === "source") {
    const source = service.source;
    if ("sandbox" in source) throw new Error(`--into source: the source of ${service.name} is a sandbox the backup job starts and stops; name a server of the service's into: block`);
    return { name, host: source.host, port: source.port, socket: source.socket, user: source.user, password: source.password };
  }
  const server = service.into?.[name];
  if (!server) {
    const known = Object.keys(service.into ?? {});
    throw new Error(`--into ${name}: service ${service.name} has no such server (its into: block names ${known.length ? known.join(", ") : "none"}; \`source\` names its source)`);
  }
  return { name, ...server };
}

/** `20261130105006`: the UTC time of a delivery, in the names it gives. */
export function stamp(at: Date): string {
  return at.toISOString().replace(/[-:T]/g, "").slice(0, 14);
}

/** The default final name: `<table>__restored_<stamp>`, in the table's own database. */
export function restoredName(table: TableName, at: Date): TableName {
  const suffix = `__restored_${stamp(at)}`;
  return { database: table.database, table: `${table.table.slice(0, IDENTIFIER_MAX - suffix.length)}${suffix}` };
}

/** The temporary name: letters, digits and _ only, so that its files carry the same name (no file-name encoding). */
export function restoringName(table: TableName, at: Date): string {
  const suffix = `__restoring_${stamp(at)}`;
  return `${table.table.replace(/[^A-Za-z0-9_]/g, "_").slice(0, IDENTIFIER_MAX - suffix.length - "_part".length)}${suffix}`;
}

/** The named lock a delivery holds on the target while its temporary table exists: free means its run is gone. */
export function deliveryLock(database: string, temporary: string): string {
  return `restoretest ${createHash("sha1").update(`${database}\0${temporary.replace(/_part$/, "")}`).digest("hex")}`;
}

/**
 * A table's name in the server's file names (`order-items` → `order@002ditems`, `café` → `caf@0p`); undefined for a
 * character beyond U+FFFF, which no identifier holds (the caller then checks no file).
 */
export function fileNamePart(name: string): string | undefined {
  try {
    return encodeFileName(name);
  } catch {
    return undefined;
  }
}

/**
 * The table's definition for the target: SHOW CREATE TABLE's text under `name` in `database`, without its foreign keys
 * (their names are the schema's, taken by the original; and a copy to inspect must not cascade to, or be refused by,
 * the live tables). Throws when the text is not what SHOW CREATE TABLE writes.
 */
export function targetDefinition(create: string, table: string, database: string, name: string): string {
  const head = `CREATE TABLE ${quoteIdent(table)} (`;
  if (!create.startsWith(head)) throw new Error(`SHOW CREATE TABLE of ${table} does not start with ${JSON.stringify(head)}: ${JSON.stringify(create.slice(0, 80))}`);
  const lines = create.slice(head.length).split("\n");
  const close = lines.findIndex((l, i) => i > 0 && l.startsWith(")"));
  if (close < 0) throw new Error(`SHOW CREATE TABLE of ${table}: no closing parenthesis of its columns`);
  const body = lines.slice(1, close).filter((l) => !/^\s+CONSTRAINT\s+`(?:[^`]|``)*`\s+FOREIGN KEY\s/.test(l));
  const last = body.length - 1;
  if (last >= 0) body[last] = (body[last] as string).replace(/,$/, "");
  return [`CREATE TABLE ${qualifiedName(database, name)} (${lines[0] ?? ""}`, ...body, ...lines.slice(close)].join("\n");
}

/** What decides the way a table goes. */
export interface TableFacts {
  engine: string;
  partitioned: boolean;
  fulltext: boolean;
  /** The shared tablespace it lives in (MySQL's general tablespaces, `innodb_system`); absent: a file of its own. */
  tablespace?: string;
}

/** A MySQL table option in SHOW CREATE TABLE's text: `/*!50100 TABLESPACE \`ts\` *\/`. */
const TABLESPACE_OPTION = / \/\*!50100 TABLESPACE `((?:[^`]|``)+)` \*\//;

/**
 * The shared tablespace SHOW CREATE TABLE's text puts the table in (read from its table options, the line that closes
 * its columns), or undefined for a table in a file of its own (no clause, or `innodb_file_per_table`).
 */
export function sharedTablespace(create: string): string | undefined {
  const options = create.split("\n").find((l, i) => i > 0 && l.startsWith(")"));
  const name = options === undefined ? undefined : TABLESPACE_OPTION.exec(options)?.[1]?.replace(/``/g, "`");
  return name === undefined || name === "innodb_file_per_table" ? undefined : name;
}

/** The definition without its TABLESPACE option: the table is then created in a file of its own. */
export function withoutTablespace(definition: string): string {
  const lines = definition.split("\n");
  const close = lines.findIndex((l, i) => i > 0 && l.startsWith(")"));
  if (close >= 0) lines[close] = (lines[close] as string).replace(TABLESPACE_OPTION, "");
  return lines.join("\n");
}

/** By tablespace (leaf by leaf when partitioned), or by a dump of the rows and why. */
export function deliveryMethod(table: TableFacts, files: { reachable: true } | { reachable: false; why: string }): { method: DeliveryMethod; why?: string } {
  if (table.engine.toLowerCase() !== "innodb") return { method: "dump", why: `a ${table.engine} table` };
  if (table.fulltext) return { method: "dump", why: "a FULLTEXT index does not survive IMPORT TABLESPACE" };
  if (table.tablespace !== undefined) {
    const which = table.tablespace === "innodb_system" ? "system" : "general";
    return { method: "dump", why: `in the ${which} tablespace ${table.tablespace}, which IMPORT TABLESPACE cannot carry (it moves file-per-table tablespaces only)` };
  }
  if (!files.reachable) return { method: "dump", why: files.why };
  return { method: table.partitioned ? "partitions" : "tablespace" };
}

/**
 * The dump's lines for the table under `to`: its INSERTs and ALTER … KEYS renamed. Throws on any other statement that
 * names a table (the dump is written without CREATE, DROP, LOCK and triggers: there is none).
 */
export function renameRowsLine(line: string, from: string, to: string): string {
  const q = quoteIdent(from);
  for (const prefix of [`INSERT INTO ${q} `, `/*!40000 ALTER TABLE ${q} `]) {
    if (line.startsWith(prefix)) return `${prefix.replace(q, quoteIdent(to))}${line.slice(prefix.length)}`;
  }
  if (/^(\/\*!\d+\s+)?(INSERT|REPLACE|LOCK|UNLOCK|ALTER|CREATE|DROP|UPDATE|DELETE|TRUNCATE|RENAME|USE)\b/i.test(line)) {
    throw new Error(`unexpected statement in the dump of ${from}: ${line.slice(0, 120)}`);
  }
  return line;
}

function connectInto(into: IntoServer): Promise<Db> {
  return Db.connect({ host: into.host, port: into.port, socketPath: into.socket, user: into.user, password: into.password, poolSize: 2 });
}

async function intoSession(db: Db): Promise<Session> {
  const session = await db.session();
  // The messages matched here ("command denied", "doesn't exist", "already exists") in English, whatever the server's.
  await session.query("SET SESSION lc_messages = 'en_US'");
  return session;
}

interface Planned {
  table: TableName;
  as: TableName;
  temporary: string;
}

function plan(tables: readonly TableName[], options: DeliverOptions, at: Date): Planned[] {
  if (options.as && tables.length !== 1) throw new Error("a final name (--as) is for one table: give one --table");
  return tables.map((table) => ({ table, as: options.as ?? restoredName(table, at), temporary: restoringName(table, at) }));
}

/**
 * Before anything is restored, and again before delivering: every database delivered into exists, no final name is
 * taken (--into never overwrites), the account may create, rename and drop there (a RENAME of two names that do not
 * exist: refused for privileges, or for the missing table), and temporary tables left by deliveries whose runs are gone
 * are removed (their named lock is free). Nothing is created.
 */
export async function checkInto(into: IntoServer, tables: readonly TableName[], options: DeliverOptions = {}): Promise<void> {
  const db = await connectInto(into);
  try {
    const session = await intoSession(db);
    try {
      await preflight(session, into, plan(tables, options, options.at ?? new Date()), options.log ?? (() => undefined));
    } finally {
      session.release();
    }
  } finally {
    await db.close();
  }
}

async function preflight(session: Queryable, into: IntoServer, planned: readonly Planned[], log: (line: string) => void): Promise<void> {
  const where = `${into.name} (${session.description})`;
  const databases = [...new Set(planned.map((p) => p.as.database))];
  for (const database of databases) {
    const [found] = await session.query("SELECT COUNT(*) AS n FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", [database]);
    if (!Number(found?.n)) throw new Error(`--into ${into.name}: database ${database} does not exist on ${where}, or the account has no privilege on it`);
  }
  await sweepLeftovers(session, into, databases, log);
  for (const p of planned) {
    if (await tableExists(session, p.as.database, p.as.table)) {
      throw new Error(`--into ${into.name}: ${tableLabel(p.as)} already exists on ${where}: --into never overwrites a table; name another with --as`);
    }
    // A name no table has (a random one: never a temporary table of a delivery still running), so nothing is renamed.
    const probe = `restoretest_probe_${randomBytes(8).toString("hex")}`;
    try {
      await session.query(`RENAME TABLE ${qualifiedName(p.as.database, probe)} TO ${qualifiedName(p.as.database, p.as.table)}`);
      throw new Error(`--into ${into.name}: RENAME TABLE of ${p.as.database}.${probe}, which does not exist, did not fail on ${where}`);
    } catch (error) {
      const message = (error as Error).message;
      if (/command denied/i.test(message)) {
        throw new Error(
          `--into ${into.name}: the account ${into.user} may not deliver into ${p.as.database} on ${where}: it needs CREATE, ALTER, INSERT and DROP there ` +
            `(RENAME TABLE needs ALTER and DROP on the temporary name, CREATE and INSERT on the final one)\n${message.split("\n")[0]}`,
        );
      }
      if (!/doesn't exist/.test(message)) throw error;
    }
  }
}

/** The server's datadir as this host sees it, when it is a directory here; undefined otherwise. */
async function localDatadir(session: Queryable): Promise<string | undefined> {
  const [row] = await session.query<{ datadir: string }>("SELECT @@datadir AS datadir");
  const datadir = row?.datadir;
  return datadir && existsSync(datadir) && statSync(datadir).isDirectory() ? datadir : undefined;
}

/** A database's directory in the datadir, for a name whose file-name encoding is known (ASCII). */
function databaseDir(datadir: string, database: string): string | undefined {
  const guess = fileNamePart(database);
  return guess !== undefined && existsSync(join(datadir, guess)) ? join(datadir, guess) : undefined;
}

/**
 * The file in `dir` that shows table `name` is there: its `.frm` (MariaDB), else its `.ibd` (MySQL 8 and later keep no
 * .frm), else a partition's (`name#p#p0.ibd`: a partitioned table has no `.ibd` of its own).
 */
export function tableFile(dir: string, name: string): string | undefined {
  for (const own of [`${name}.frm`, `${name}.ibd`]) if (existsSync(join(dir, own))) return join(dir, own);
  if (!existsSync(dir)) return undefined;
  const leaf = readdirSync(dir).find((f) => f.startsWith(`${name}#`) && f.endsWith(".ibd"));
  return leaf === undefined ? undefined : join(dir, leaf);
}

/** The directory of the datadir holding table `name`'s files: its database's, found without its file-name encoding. */
function directoryHolding(datadir: string, database: string, name: string): string | undefined {
  const guess = fileNamePart(database);
  if (guess !== undefined && tableFile(join(datadir, guess), name)) return join(datadir, guess);
  for (const entry of readdirSync(datadir, { withFileTypes: true })) {
    if (entry.isDirectory() && tableFile(join(datadir, entry.name), name)) return join(datadir, entry.name);
  }
  return undefined;
}

/**
 * Temporary tables of deliveries into `databases` whose runs are gone (their named lock is free): dropped, with the
 * tablespace files a killed import left beside them in the datadir (when this host reaches it). Those of a delivery
 * still running are named and left alone.
 */
export async function sweepLeftovers(session: Queryable, into: IntoServer, databases: readonly string[], log: (line: string) => void): Promise<string[]> {
  const removed: string[] = [];
  const datadir = await localDatadir(session);
  for (const database of databases) {
    const rows = await session.query<{ name: string }>("SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME LIKE '%\\_\\_restoring\\_%'", [database]);
    const tables = rows.map((r) => r.name).filter((n) => TEMPORARY.test(n));
    const dir = datadir ? databaseDir(datadir, database) : undefined;
    const bases = new Set(tables.map((t) => t.replace(/_part$/, "")));
    for (const base of bases) {
      const [lock] = await session.query<{ free: number | null }>("SELECT IS_FREE_LOCK(?) AS free", [deliveryLock(database, base)]);
      const mine = tables.filter((t) => t.replace(/_part$/, "") === base).sort();
      if (Number(lock?.free) !== 1) {
        log(`${database}.${base}: a delivery into ${into.name} still running holds it: left alone`);
        continue;
      }
      // Its files are removed only from a directory its own files prove to be the server's (a datadir of the same path
      // on this host may be another server's).
      const proven = dir !== undefined && mine.some((t) => tableFile(dir, t) !== undefined);
      // IF EXISTS: logged, it is a no-op on a replica that never got the table (a tablespace delivery is not binlogged).
      if (mine.length > 0) await session.query(`DROP TABLE IF EXISTS ${mine.map((t) => qualifiedName(database, t)).join(", ")}`);
      const orphans = proven ? readdirSync(dir).filter((f) => (TEMPORARY_FILE.exec(f)?.[1] ?? "") === base) : [];
      for (const f of orphans) rmSync(join(dir as string, f), { force: true });
      const what = [...mine.map((t) => `${database}.${t}`), ...(orphans.length ? [`${orphans.length} file(s) of it in the datadir`] : [])];
      if (what.length === 0) continue;
      log(`removed ${what.join(", ")} on ${into.name}: left by a delivery that did not finish (its run is gone)`);
      removed.push(...mine.map((t) => `${database}.${t}`));
    }
  }
  return removed;
}

interface RestoredTable extends TableFacts {
  /** SHOW CREATE TABLE's text. */
  create: string;
  rows: number;
  /** The partitions that hold rows (subpartitions when there are), and their part of the file names (`#P#p0#SP#s0`). */
  leaves: { name: string; suffix: string | undefined }[];
}

/** What the restored server says about a table, read under the one session the delivery holds there. */
async function readTable(restored: Queryable, t: TableName): Promise<RestoredTable> {
  const [info] = await restored.query<{ type: string; engine: string | null }>(
    "SELECT TABLE_TYPE AS type, ENGINE AS engine FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
    [t.database, t.table],
  );
  if (!info) throw new Error(`${tableLabel(t)} is not in the restore: check the name, or restore to an earlier point`);
  if (info.type !== "BASE TABLE" && info.type !== "SYSTEM VERSIONED") throw new Error(`${tableLabel(t)} is a ${info.type.toLowerCase()}, not a table: --into delivers tables (use --dump)`);
  const [show] = await restored.query<{ "Create Table": string }>(`SHOW CREATE TABLE ${qualifiedName(t.database, t.table)}`);
  const parts = await restored.query<{ p: string; sp: string | null }>(
    "SELECT PARTITION_NAME AS p, SUBPARTITION_NAME AS sp FROM information_schema.PARTITIONS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND PARTITION_NAME IS NOT NULL ORDER BY PARTITION_ORDINAL_POSITION, SUBPARTITION_ORDINAL_POSITION",
    [t.database, t.table],
  );
  const [fulltext] = await restored.query("SELECT COUNT(*) AS n FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND INDEX_TYPE = 'FULLTEXT'", [t.database, t.table]);
  const [count] = await restored.query(`SELECT COUNT(*) AS n FROM ${qualifiedName(t.database, t.table)}`);
  const create = show?.["Create Table"] ?? "";
  const tablespace = sharedTablespace(create);
  const leaves = parts.map(({ p, sp }) => {
    const pFile = fileNamePart(p);
    const spFile = sp === null ? "" : fileNamePart(sp);
    return { name: sp ?? p, suffix: pFile === undefined || spFile === undefined ? undefined : `#P#${pFile}${sp === null ? "" : `#SP#${spFile}`}` };
  });
  return {
    engine: info.engine ?? "unknown",
    partitioned: leaves.length > 0,
    fulltext: Number(fulltext?.n) > 0,
    ...(tablespace !== undefined ? { tablespace } : {}),
    create,
    rows: Number(count?.n ?? 0),
    leaves,
  };
}

/**
 * The files FOR EXPORT left of the table at `base` (its path without extension), by partition suffix (`#P#p0#SP#s0`,
 * or "" for the table's own) and extension. Partition names are case-insensitive and the servers spell them in file
 * names differently: MariaDB as given (`t#P#p0`), MySQL 8 and later in lower case (`t#p#p0`).
 */
function exportedFiles(base: string): (suffix: string, ext: string) => string {
  const dir = dirname(base);
  const name = basename(base);
  const byKey = new Map(readdirSync(dir).filter((f) => f.startsWith(name)).map((f) => [name + f.slice(name.length).toLowerCase(), f]));
  return (suffix, ext) => {
    const wanted = `${name}${suffix}.${ext}`;
    return join(dir, byKey.get(name + wanted.slice(name.length).toLowerCase()) ?? wanted);
  };
}

/** The .cfg files under `datadir`'s database directories, as `dir/file`. */
function cfgFiles(datadir: string): Set<string> {
  const found = new Set<string>();
  for (const entry of readdirSync(datadir, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    for (const f of readdirSync(join(datadir, entry.name))) if (f.endsWith(".cfg")) found.add(join(entry.name, f));
  }
  return found;
}

/**
 * Why the tablespace path does not serve a table the dump path still serves. Any failure of that path falls back to the
 * dump (said in one log line, and in the result's `why`); this one names the reason rather than a statement's error.
 */
class NotByTablespace extends Error {}

/**
 * Deliver `tables` of an already restored server into `into`: each under its temporary name, renamed at the end to its
 * final name, which must not exist (checked first, and again by the RENAME itself). On any failure, and on Ctrl-C, the
 * temporary table goes; after a kill, the next delivery into the same database removes it (its named lock is free).
 */
export async function deliverTables(
  restored: Pick<Restored, "db" | "target" | "server" | "backup" | "manifest">,
  tables: readonly TableName[],
  into: IntoServer,
  options: DeliverOptions = {},
): Promise<DeliveredTable[]> {
  const log = options.log ?? (() => undefined);
  const planned = plan(tables, options, options.at ?? new Date());
  const db = await connectInto(into);
  const work = createWorkDir(`into-${into.name}`);
  try {
    const target = await intoSession(db);
    try {
      await preflight(target, into, planned, log);
      const source = await restored.db.session();
      try {
        const delivered: DeliveredTable[] = [];
        for (const p of planned) delivered.push(await deliverOne({ restored, source, target, db, into, work: work.path, options, log }, p));
        return delivered;
      } finally {
        source.release();
      }
    } finally {
      target.release();
    }
  } finally {
    await db.close();
    await work.remove();
  }
}

interface Context {
  restored: Pick<Restored, "db" | "target" | "server" | "backup" | "manifest">;
  /** The one session on the restored server (FLUSH TABLES … FOR EXPORT holds its lock there). */
  source: Session;
  /** The one session on the target that holds the delivery's named lock and runs its statements. */
  target: Session;
  /** The target's pool: its second connection drops the temporary table on Ctrl-C while the session is busy. */
  db: Db;
  into: IntoServer;
  work: string;
  options: DeliverOptions;
  log: (line: string) => void;
}

async function deliverOne(ctx: Context, p: Planned): Promise<DeliveredTable> {
  const started = performance.now();
  const facts = await readTable(ctx.source, p.table);
  const delivery = new IntoDelivery(ctx, p);
  await delivery.lock();
  try {
    const { decided, logged, bytes } = await delivery.fill(facts);
    await delivery.rename();
    return {
      table: p.table,
      rows: facts.rows,
      as: p.as,
      method: decided.method,
      ...(decided.why ? { why: decided.why } : {}),
      ...(bytes !== undefined ? { bytes } : {}),
      ...(await writesBinlog(ctx.target) ? { binlogged: logged } : {}),
      durationMs: performance.now() - started,
    };
  } catch (error) {
    await delivery.abandon();
    throw error;
  } finally {
    await delivery.end();
  }
}

/**
 * One table's delivery into the target, as deliverOne's steps: the named lock, the temporary table created and filled
 * (by its tablespace, or by its rows), the rename to its final name; `abandon` drops what a failed one left.
 */
class IntoDelivery {
  private readonly temporary: string;
  private readonly named: string;
  private state: "importing" | "aborted" | "done" = "importing";
  private filesDir: string | undefined;
  private dropping: Promise<void> | undefined;
  private onInterrupt: (() => Promise<void>) | undefined;

  constructor(
    private readonly ctx: Context,
    private readonly p: Planned,
  ) {
    this.temporary = qualifiedName(p.as.database, p.temporary);
    this.named = deliveryLock(p.as.database, p.temporary);
  }

  /** The delivery's named lock on the target (another run delivering the same table is refused), and the Ctrl-C drop. */
  async lock(): Promise<void> {
    const { ctx, p } = this;
    const [got] = await ctx.target.query<{ got: number | null }>("SELECT GET_LOCK(?, 0) AS got", [this.named]);
    if (Number(got?.got) !== 1) throw new Error(`${p.as.database}.${p.temporary} is being delivered by another run into ${ctx.into.name}`);
    // Ctrl-C: the pool's other connection drops it (the session may be inside a statement); a RENAME not yet sent never is.
    this.onInterrupt = registerDisposer(`temporary table ${p.as.database}.${p.temporary} on ${ctx.into.name}`, async () => {
      if (this.state !== "importing") return;
      this.state = "aborted";
      await this.dropOnce(ctx.db);
    });
  }

  /** The temporary table created and filled: by tablespace where the method allows, by a dump of its rows otherwise or when that fails. */
  async fill(facts: RestoredTable): Promise<{ decided: { method: DeliveryMethod; why?: string }; logged: boolean; bytes: number | undefined }> {
    const { ctx, p } = this;
    const { target, into, log } = ctx;
    let definition = targetDefinition(facts.create, p.table.table, p.as.database, p.temporary);
    log(`${tableLabel(p.table)} → ${tableLabel(p.as)} on ${into.name}: importing as ${p.as.database}.${p.temporary} (${facts.rows} row(s))`);
    const reach = await tablespaceReach(ctx, facts);
    let decided = deliveryMethod(facts, reach);
    let logged = decided.method === "dump";
    await setBinlog(target, logged);
    const created = await createTemporary(target, definition, facts, into);
    definition = created.definition;
    if (created.note) {
      log(`${tableLabel(p.table)}: ${created.note}`);
      decided = { ...decided, why: decided.why ? `${decided.why}; ${created.note}` : created.note };
    }
    this.filesDir = reach.reachable ? directoryHolding(reach.datadir, p.as.database, p.temporary) : undefined;
    let bytes: number | undefined;
    if (decided.method !== "dump") {
      try {
        if (!this.filesDir) throw new NotByTablespace(`no file of ${p.temporary} is in ${reach.reachable ? reach.datadir : "?"} as this host sees it`);
        bytes = await importTablespaces(ctx, p, facts, this.filesDir, definition, () => this.checkpoint());
      } catch (error) {
        this.checkpoint();
        const why = (error as Error).message.split("\n")[0] as string;
        log(`${tableLabel(p.table)}: not by tablespace (${why}): by a dump of its rows`);
        await this.dropTemporary(target);
        decided = { method: "dump", why };
        logged = true;
        bytes = undefined;
        await setBinlog(target, true);
        await target.query(definition);
      }
    } else if (decided.why) {
      log(`${tableLabel(p.table)}: by a dump of its rows (${decided.why})`);
    }
    if (decided.method === "dump") await loadRows(ctx, p);
    return { decided, logged, bytes };
  }

  /** Atomic, and refused when the name was taken meanwhile: nothing is overwritten. */
  async rename(): Promise<void> {
    const { ctx, p } = this;
    this.checkpoint();
    try {
      await ctx.target.query(`RENAME TABLE ${this.temporary} TO ${qualifiedName(p.as.database, p.as.table)}`);
    } catch (error) {
      if (/already exists/.test((error as Error).message)) throw new Error(`--into ${ctx.into.name}: ${tableLabel(p.as)} was created on ${ctx.into.name} while the table was imported: not overwritten; nothing delivered`);
      throw error;
    }
    this.state = "done";
  }

  /** A failed delivery still importing: its temporary table dropped (a failure to drop it is said, not thrown). */
  async abandon(): Promise<void> {
    const { ctx, p } = this;
    if (this.state === "importing") {
      this.state = "aborted";
      await this.dropOnce(ctx.target).catch((dropError: unknown) => ctx.log(`could not drop ${p.as.database}.${p.temporary} on ${ctx.into.name}: ${(dropError as Error).message.split("\n")[0]}`));
    }
  }

  /** Whatever the end: the interrupt's drop finished, binary logging back on, the named lock released. */
  async end(): Promise<void> {
    // An interrupt's DROP is on the pool: it must end before the pool does.
    await this.dropping?.catch(() => undefined);
    await this.onInterrupt?.();
    await setBinlog(this.ctx.target, true).catch(() => undefined);
    await this.ctx.target.query("SELECT RELEASE_LOCK(?)", [this.named]).catch(() => undefined);
  }

  private checkpoint(): void {
    if (this.state === "aborted") throw new Error(`delivery of ${tableLabel(this.p.table)} into ${this.ctx.into.name} interrupted`);
  }

  private async dropTemporary(on: Queryable): Promise<void> {
    const { p, filesDir } = this;
    await on.query(`DROP TABLE IF EXISTS ${this.temporary}, ${qualifiedName(p.as.database, `${p.temporary}_part`)}`);
    if (filesDir) for (const f of readdirSync(filesDir).filter((f) => (TEMPORARY_FILE.exec(f)?.[1] ?? "") === p.temporary)) rmSync(join(filesDir, f), { force: true });
  }

  private dropOnce(on: Queryable): Promise<void> {
    return (this.dropping ??= this.dropTemporary(on));
  }
}

/**
 * Create the temporary table from `definition`. A table of a general tablespace the target does not have goes into a
 * file of its own there, said in `note`: its rows and columns are the same, and creating a tablespace on a server a
 * DBA runs (a datafile that stays when the table is dropped) is not a table restore's to decide.
 */
async function createTemporary(target: Queryable, definition: string, facts: TableFacts, into: IntoServer): Promise<{ definition: string; note?: string }> {
  try {
    await target.query(definition);
    return { definition };
  } catch (error) {
    if (facts.tablespace === undefined || !/Tablespace .* doesn't exist/.test((error as Error).message)) throw error;
    const own = withoutTablespace(definition);
    await target.query(own);
    return { definition: own, note: `${facts.tablespace} is not on ${into.name}: created in its own file there` };
  }
}

async function writesBinlog(session: Queryable): Promise<boolean> {
  const [row] = await session.query<{ logBin: number }>("SELECT @@log_bin AS logBin");
  return Number(row?.logBin) === 1;
}

/** One line per delivered table: what went where, its rows, how, and how long. */
export function describeDelivered(t: DeliveredTable, into?: string): string {
  const what = `${t.table.database}.${t.table.table}`;
  if (!t.as) return `delivered ${what}: ${t.rows} row(s)`;
  const how = t.method === "dump" ? `by a dump of its rows${t.why ? ` (${t.why})` : ""}` : t.method === "partitions" ? "by tablespace, partition by partition" : "by tablespace";
  const size = t.bytes !== undefined ? ` (${(t.bytes / 1e6).toFixed(1)} MB)` : "";
  const took = t.durationMs !== undefined ? ` in ${formatDuration(t.durationMs)}` : "";
  const binlog = t.binlogged === false ? "; kept out of its binlog: its replicas do not get it" : "";
  return `delivered ${what} as ${t.as.database}.${t.as.table} on ${into ?? "the server"}: ${t.rows} row(s), ${how}${size}${took}${binlog}`;
}

/**
 * Binlog the session's statements or not (a tablespace import must not reach replicas: they have no file for it). Set
 * only when it changes: setting it at all takes a privilege an account delivering by dump need not have.
 */
async function setBinlog(session: Queryable, on: boolean): Promise<void> {
  const [row] = await session.query<{ logBin: number; sqlLogBin: number }>("SELECT @@log_bin AS logBin, @@session.sql_log_bin AS sqlLogBin");
  if (Number(row?.logBin) !== 1 || (Number(row?.sqlLogBin) === 1) === on) return;
  await session.query(`SET SESSION sql_log_bin = ${on ? 1 : 0}`);
}

type Reach = { reachable: true; datadir: string } | { reachable: false; why: string };

/** Can the tablespace files go from the restored server's datadir to the target's, from this host? */
async function tablespaceReach(ctx: Context, facts: TableFacts): Promise<Reach> {
  if (facts.engine.toLowerCase() !== "innodb") return { reachable: false, why: `a ${facts.engine} table` };
  if (!ctx.restored.target.thisHost) return { reachable: false, why: `the restored server is on ${ctx.restored.target.description}, not this host` };
  const datadir = await localDatadir(ctx.target);
  if (!datadir) return { reachable: false, why: `the datadir of ${ctx.into.name} is not a directory on this host` };
  try {
    accessSync(datadir, constants.W_OK);
  } catch {
    return { reachable: false, why: `this host may not write into the datadir of ${ctx.into.name} (${datadir})` };
  }
  const [row] = await ctx.target.query<{ on: number }>("SELECT @@log_bin AS `on`");
  if (Number(row?.on) === 1) {
    try {
      await ctx.target.query("SET SESSION sql_log_bin = 0");
      await ctx.target.query("SET SESSION sql_log_bin = 1");
    } catch {
      return { reachable: false, why: `${ctx.into.name} writes a binlog and ${ctx.into.user} may not keep IMPORT TABLESPACE out of it (its replicas would stop on it)` };
    }
  }
  return { reachable: true, datadir };
}

/** Copy a file into the target's datadir, owned as the table's own files are (a server running as mysql reads it). */
function place(from: string, to: string, owner: { uid: number; gid: number }): number {
  copyFileSync(from, to, constants.COPYFILE_FICLONE);
  if (process.getuid?.() === 0) chownSync(to, owner.uid, owner.gid);
  return statSync(to).size;
}

/** Warnings IMPORT left (e.g. an index it could not adjust): a table that is not whole is not delivered by tablespace. */
async function importWarnings(session: Queryable): Promise<void> {
  const warnings = await session.query<{ Level: string; Message: string }>("SHOW WARNINGS");
  const bad = warnings.filter((w) => w.Level !== "Note");
  if (bad.length > 0) throw new NotByTablespace(`IMPORT TABLESPACE: ${bad.map((w) => w.Message).join("; ")}`);
}

/**
 * The tablespace path: the restored table flushed for export (its lock held until every file is copied), then on the
 * target DISCARD, the files placed, IMPORT; a partitioned table leaf by leaf through a plain table and EXCHANGE
 * PARTITION. Returns the bytes copied.
 */
async function importTablespaces(ctx: Context, p: Planned, facts: RestoredTable, dir: string, definition: string, checkpoint: () => void): Promise<number> {
  const { source, target, log } = ctx;
  const restoredDatadir = ctx.restored.target.datadir;
  const temporary = qualifiedName(p.as.database, p.temporary);
  const owner = statSync(tableFile(dir, p.temporary) as string);
  const before = cfgFiles(restoredDatadir);
  await source.query(`FLUSH TABLES ${qualifiedName(p.table.database, p.table.table)} FOR EXPORT`);
  try {
    const exported = [...cfgFiles(restoredDatadir)].filter((f) => !before.has(f));
    const base = exported[0]?.replace(/(#.*)?\.cfg$/, "");
    if (!base || exported.some((f) => f.replace(/(#.*)?\.cfg$/, "") !== base)) throw new NotByTablespace(`FOR EXPORT wrote ${exported.length ? exported.join(", ") : "no .cfg file"}`);
    const exportedFile = exportedFiles(join(restoredDatadir, base));
    if (!facts.partitioned) {
      if (!existsSync(join(dir, `${p.temporary}.ibd`))) throw new NotByTablespace(`${p.temporary}.ibd is not in the database's directory (DATA DIRECTORY?)`);
      await target.query(`ALTER TABLE ${temporary} DISCARD TABLESPACE`);
      checkpoint();
      const bytes = place(exportedFile("", "ibd"), join(dir, `${p.temporary}.ibd`), owner);
      place(exportedFile("", "cfg"), join(dir, `${p.temporary}.cfg`), owner);
      await target.query(`ALTER TABLE ${temporary} IMPORT TABLESPACE`);
      await importWarnings(target);
      rmSync(join(dir, `${p.temporary}.cfg`), { force: true });
      return bytes;
    }
    const missing = facts.leaves.filter((l) => l.suffix === undefined || !existsSync(exportedFile(l.suffix, "cfg")));
    if (missing.length > 0) throw new NotByTablespace(`no exported file found for partition ${missing.map((l) => l.name).join(", ")}`);
    // MariaDB imports no tablespace into a partitioned table: each leaf into a plain table of the same columns, then
    // swapped in. The plain table is made from the same definition, so its columns and indexes are the partitions'.
    const plain = `${p.temporary}_part`;
    const plainName = qualifiedName(p.as.database, plain);
    await target.query(definition.replace(`CREATE TABLE ${temporary} (`, `CREATE TABLE ${plainName} (`));
    await target.query(`ALTER TABLE ${plainName} REMOVE PARTITIONING`);
    if (!existsSync(join(dir, `${plain}.ibd`))) throw new NotByTablespace(`${plain}.ibd is not in the database's directory (DATA DIRECTORY?)`);
    let bytes = 0;
    for (const [i, leaf] of facts.leaves.entries()) {
      checkpoint();
      await target.query(`ALTER TABLE ${plainName} DISCARD TABLESPACE`);
      bytes += place(exportedFile(leaf.suffix as string, "ibd"), join(dir, `${plain}.ibd`), owner);
      place(exportedFile(leaf.suffix as string, "cfg"), join(dir, `${plain}.cfg`), owner);
      await target.query(`ALTER TABLE ${plainName} IMPORT TABLESPACE`);
      await importWarnings(target);
      rmSync(join(dir, `${plain}.cfg`), { force: true });
      checkpoint();
      await target.query(`ALTER TABLE ${temporary} EXCHANGE PARTITION ${quoteIdent(leaf.name)} WITH TABLE ${plainName}`);
      log(`${tableLabel(p.table)}: partition ${leaf.name} imported (${i + 1}/${facts.leaves.length})`);
    }
    await target.query(`DROP TABLE ${plainName}`);
    return bytes;
  } finally {
    await source.query("UNLOCK TABLES");
  }
}

/** The dump path: the rows (no CREATE, no triggers) from the restored server, renamed to the temporary table, loaded. */
async function loadRows(ctx: Context, p: Planned): Promise<void> {
  const { restored, options } = ctx;
  const flavor = backupTool(restored.backup.meta.tool, options.toolchain, restored.manifest.server.flavor).flavor;
  const client = restored.server.clientOptionFile;
  if (!client) throw new Error(`the restored server on ${restored.target.description} has no client option file`);
  const timeoutMs = options.timeoutMs ?? 3_600_000;
  const args = [
    `--defaults-file=${client}`,
    "--single-transaction",
    "--hex-blob",
    "--no-create-info",
    "--skip-add-locks",
    "--skip-triggers",
    "--skip-comments",
    "--default-character-set=utf8mb4",
    ...flavor.dumpArgs,
    p.table.database,
    p.table.table,
  ];
  // Streamed from the restore host into the file, never held in memory (a table's rows can be gigabytes).
  const dumped = join(ctx.work, `rows-${p.temporary}.sql`);
  await restored.target.exec(flavor.dump, args, { timeoutMs, outputFile: dumped });
  const renamed = join(ctx.work, `rows-${p.temporary}.renamed.sql`);
  const out = createWriteStream(renamed, { mode: 0o600 });
  for await (const line of createInterface({ input: createReadStream(dumped), crlfDelay: Infinity })) {
    if (!out.write(`${renameRowsLine(line, p.table.table, p.temporary)}\n`)) await new Promise<void>((r) => out.once("drain", () => r()));
  }
  out.end();
  await finished(out);
  rmSync(dumped, { force: true });
  const { into } = ctx;
  const clientFile = writeServerClientFile(join(ctx.work, "client.cnf"), into);
  // The temporary table was created binlogged: its rows reach replicas as the CREATE did.
  await runCommand(flavor.client, [`--defaults-file=${clientFile}`, "--default-character-set=utf8mb4", p.as.database], { inputFile: renamed, timeoutMs });
  rmSync(renamed, { force: true });
}
