// restoretest's command line: the backup job and binlog copying for cron/Jenkins, restore drills and listings for people.
import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { checkServiceArchive, startBinlogCopy } from "./backup/binlogs.ts";
import { backupTool } from "./backup/tool.ts";
import { runBackupJob } from "./backup/job.ts";
import { describeEncoding, listBackups } from "./store/layout.ts";
import { formatStoreReport, verifyStore } from "./store/verifyStore.ts";
import { formatDuration } from "./base/duration.ts";
import { findService, loadFleet } from "./config/load.ts";
import type { Service } from "./config/schema.ts";
import { disposeAll } from "./base/disposers.ts";
import { maskSecrets } from "./base/secrets.ts";
import { shellQuote } from "./base/command.ts";
import { describeSweep, sweepRoots, sweepStaleRuns } from "./base/sweep.ts";
import { describePoint, parseRestorePoint, type RestorePoint } from "./restore/locate.ts";
import { describeDelivered, intoServer } from "./restore/into.ts";
import { describeEvent, findBreakingEvent, parseTableName, restoreTables, type TableDelivery } from "./restore/table.ts";
import { tableLabel, type TableName } from "./db/quote.ts";
import { restoreService } from "./restore/pipeline.ts";
import { gatherStatus } from "./report/statusGather.ts";
import { formatStatus } from "./report/status.ts";
import { configPath, reportsDir } from "./report/paths.ts";

const USAGE = `usage: restoretest <command> [service] [--config services.yaml]

commands:
  backup <service>   capture the baseline and take a backup (full or incremental, by backup.policy) into the store
  list               list services and their stored backups (size, format and compression, verified)
  verify-store <service>
                     check every stored file of the service's backups and binlog archive against the size and
                     SHA-256 it had when written (no key, no server needed); exits 1 naming each damaged,
                     missing or unlisted file
  verify <service> [--backup <id>]
                     restore the newest backup (or backup <id>) and verify it (runs: vitest run --project <service>,
                     with RESTORETEST_BACKUP=<id>)
  restore <service> --table db.t [--table …] (--to <time|file:pos> | --before-destructive [--after <time>])
          (--dump FILE | --into <server> [--as [db.]name]) [--yes]
                     one table out of a restore to a point: --before-destructive finds in the binlog archive the first
                     statement or row event after --after that dropped, truncated, deleted from or updated it, and
                     restores to right before it (asks first; --yes without a terminal). --dump: the tables go to FILE
                     as SQL. --into: into a running server, each as <table>__restored_<time> (or --as, for one
                     table), never over a table that exists; <server> is a name of the service's into: block in
                     services.yaml, or source (the service's own source). InnoDB by tablespace, other engines by dump
  restore <service> [--to <time|file:pos>] [--keep]
                     a restore drill: restore the newest chain (or the newest before --to, rolled forward to it),
                     check the server answers, print how to connect; --keep waits for Ctrl-C before destroying it
  binlogs <service> [--check]
                     copy the service's binlogs into <store>/<service>/binlogs/ until stopped (resumes where it
                     left off); --check reports whether the archive is contiguous from the oldest kept backup
  status [--json]    the fleet: newest backup and age, chain, last verified and verdict, RTO, RPO, objective breaches
                     (store + $RESTORETEST_REPORTS/summary.json, default reports/); --json prints the same as data
  sweep              remove run directories (and stop servers) of runs that died without cleaning up; live runs' are kept
`;

interface Args {
  command?: string;
  service?: string;
  config: string;
  to?: string;
  backup?: string;
  keep: boolean;
  check: boolean;
  json: boolean;
  tables: string[];
  beforeDestructive: boolean;
  after?: string;
  dump?: string;
  into?: string;
  as?: string;
  yes: boolean;
}

function parseArgs(argv: string[]): Args {
  const rest: string[] = [];
  let config = configPath();
  let to: string | undefined;
  let backup: string | undefined;
  let keep = false;
  let check = false;
  let json = false;
  const tables: string[] = [];
  let beforeDestructive = false;
  let after: string | undefined;
  let dump: string | undefined;
  let into: string | undefined;
  let as: string | undefined;
  let yes = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === "--config") config = resolve(argv[++i] ?? "");
    else if (arg.startsWith("--config=")) config = resolve(arg.slice("--config=".length));
    else if (arg === "--to") to = argv[++i] ?? "";
    else if (arg.startsWith("--to=")) to = arg.slice("--to=".length);
    else if (arg === "--backup") backup = argv[++i] ?? "";
    else if (arg.startsWith("--backup=")) backup = arg.slice("--backup=".length);
    else if (arg === "--keep") keep = true;
    else if (arg === "--check") check = true;
    else if (arg === "--json") json = true;
    else if (arg === "--table") tables.push(argv[++i] ?? "");
    else if (arg === "--before-destructive") beforeDestructive = true;
    else if (arg === "--after") after = argv[++i] ?? "";
    else if (arg === "--dump") dump = argv[++i] ?? "";
    else if (arg === "--into") into = argv[++i] ?? "";
    else if (arg === "--as") as = argv[++i] ?? "";
    else if (arg === "--yes") yes = true;
    else rest.push(arg);
  }
  return { command: rest[0], service: rest[1], config, to, backup, keep, check, json, tables, beforeDestructive, after, dump, into, as, yes };
}

const log = (line: string) => process.stdout.write(`${line}\n`);

/** Ask on the terminal; false when there is none (a run without a terminal needs --yes). */
async function confirm(question: string): Promise<boolean> {
  if (!process.stdin.isTTY) return false;
  const { createInterface } = await import("node:readline/promises");
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim());
  } finally {
    rl.close();
  }
}

/** `restore <service> --table db.t … (--to P | --before-destructive [--after T]) (--dump FILE | --into NAME [--as N]) [--yes]`. */
async function restoreTablesCommand(service: Service, args: Args): Promise<number> {
  const tables = args.tables.map(parseTableName);
  if ((args.dump === undefined) === (args.into === undefined)) throw new Error("restore --table needs exactly one of --dump FILE (the tables as SQL) and --into <server> (into a running server)");
  if (args.as !== undefined && args.into === undefined) throw new Error("--as names the table delivered --into a server");
  if (args.as !== undefined && tables.length !== 1) throw new Error("--as names one table: give one --table");
  const delivery: TableDelivery =
    args.into !== undefined
      ? {
          kind: "into",
          server: intoServer(service, args.into),
          ...(args.as !== undefined ? { as: args.as.includes(".") ? parseTableName(args.as) : { database: (tables[0] as TableName).database, table: args.as } } : {}),
        }
      : { kind: "dump", file: resolve(args.dump as string) };
  if (args.beforeDestructive === (args.to !== undefined)) throw new Error("restore --table needs exactly one of --to <time|file:pos> and --before-destructive");
  let point: RestorePoint;
  if (args.beforeDestructive) {
    if (tables.length !== 1) throw new Error("--before-destructive looks for what broke one table: give one --table");
    const after = args.after === undefined ? undefined : parseRestorePoint(args.after);
    if (after && !("time" in after)) throw new Error("--after takes a time, e.g. --after '2026-11-30 09:00:00'");
    const event = await findBreakingEvent(service, tables[0] as TableName, after?.time);
    log(`found: ${describeEvent(event)}`);
    point = { position: { file: event.file, position: event.position, gtid: "" } };
    const within = event.position === event.eventPosition ? "" : ` (where the transaction holding it began)`;
    log(`restore ${tables.map(tableLabel).join(", ")} to ${describePoint(point)}, right before it${within}`);
    if (!args.yes && !(await confirm("restore to right before this event?"))) {
      log(process.stdin.isTTY ? "not restored" : "not restored: without a terminal, add --yes to act on what was found");
      return 3;
    }
  } else {
    point = parseRestorePoint(args.to as string);
  }
  const result = await restoreTables(service, tables, point, delivery, { log });
  for (const t of result.tables) log(describeDelivered(t, result.into));
  const where = result.into !== undefined ? `into ${result.into}` : result.dump;
  log(`OK ${where} (as at ${describePoint(point)}): ${result.steps.map((s) => `${s.step} ${formatDuration(s.durationMs)}`).join(", ")}; table-level RTO ${formatDuration(result.durationMs)}`);
  return 0;
}

/** Commands about one service: only its secrets are resolved, and only its own problems stop them. */
const SERVICE_COMMANDS = new Set(["backup", "verify", "verify-store", "restore", "binlogs"]);

/**
 * The services of the file. For one service (`selected`), its secrets resolved and its problems fatal; for the fleet
 * (list, status, sweep), no secret is needed, and a broken entry is one warning line while the others go on.
 */
function readServices(config: string, selected: string | undefined): Service[] {
  const fleet = loadFleet(config, process.env, selected ? [selected] : []);
  const own = fleet.broken.find((b) => b.name === selected);
  if (own) throw own.error;
  for (const b of fleet.broken) for (const line of b.error.message.split("\n")) process.stderr.write(`restoretest: warning: ${line}\n`);
  return fleet.services;
}

async function main(argv: string[]): Promise<number> {
  const args = parseArgs(argv);
  const { command, service: name, config } = args;
  if (!command || command === "help" || command === "--help") {
    process.stdout.write(USAGE);
    return command ? 0 : 2;
  }
  const services = readServices(config, SERVICE_COMMANDS.has(command) ? name : undefined);
  switch (command) {
    case "backup":
      return await backupCommand(services, name);
    case "list":
      return listCommand(services);
    case "verify-store": {
      if (!name) throw new Error("verify-store needs a service name");
      const report = await verifyStore(findService(services, name));
      log(formatStoreReport(report));
      return report.ok ? 0 : 1;
    }
    case "verify":
      return verifyCommand(services, args);
    case "restore":
      return await restoreCommand(services, args);
    case "binlogs":
      return await binlogsCommand(services, args);
    case "status": {
      const status = gatherStatus(services, resolve(reportsDir(), "summary.json"));
      log(args.json ? JSON.stringify(status, null, 2) : formatStatus(status));
      return 0;
    }
    case "sweep": {
      const result = await sweepStaleRuns(sweepRoots(services));
      describeSweep(result).forEach((line) => log(line));
      return result.swept.some((d) => d.error) ? 1 : 0;
    }
    default:
      process.stderr.write(`unknown command "${command}"\n${USAGE}`);
      return 2;
  }
}

/** `backup <service>`: one backup job, its result in one line. */
async function backupCommand(services: Service[], name: string | undefined): Promise<number> {
  if (!name) throw new Error("backup needs a service name");
  const service = findService(services, name);
  const started = Date.now();
  const result = await runBackupJob(service, log);
  const tables = result.manifest.databases.reduce((n, d) => n + d.tables.length, 0);
  const kind = result.meta.kind === "incremental" ? `incremental on ${result.meta.base}` : "full";
  log(
    `OK backup ${service.name} ${result.meta.id} (${kind}): ${tables} tables, ${(result.meta.bytes / 1e6).toFixed(1)} MB, ` +
      `position ${result.meta.position ? `${result.meta.position.file}:${result.meta.position.position}` : "none"}, ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  return 0;
}

/** `list`: each service's backups, complete and not. */
function listCommand(services: Service[]): number {
  for (const s of services) {
    const { complete, incomplete } = listBackups(resolve(s.backup.store), s.name);
    log(`${s.name}: ${complete.length} complete backup(s)${incomplete.length ? `, ${incomplete.length} incomplete` : ""}`);
    for (const b of complete) {
      const kind = b.meta.kind === "incremental" ? `incremental on ${b.meta.base}` : "full";
      const stored = b.meta.storedBytes !== undefined ? ` (${(b.meta.storedBytes / 1e6).toFixed(1)} MB stored)` : "";
      log(`  ${b.id}  ${(b.meta.bytes / 1e6).toFixed(1)} MB${stored}  ${b.meta.tool}  ${describeEncoding(b.meta)}  ${kind}${b.verified ? "  verified" : ""}`);
    }
    for (const b of incomplete) log(`  ${b.id}  INCOMPLETE: ${b.reason}`);
  }
  return 0;
}

/** `verify <service> [--backup ID]`: the service's vitest project. */
function verifyCommand(services: Service[], args: Args): number {
  const { service: name, config } = args;
  if (!name) throw new Error("verify needs a service name");
  findService(services, name);
  if (args.backup === "") throw new Error("--backup needs a backup id (bin/restoretest list shows them)");
  const run = spawnSync("npx", ["vitest", "run", "--project", name], {
    stdio: "inherit",
    env: { ...process.env, RESTORETEST_CONFIG: config, ...(args.backup !== undefined ? { RESTORETEST_BACKUP: args.backup } : {}) },
  });
  return run.status ?? 1;
}

/** `restore <service> [--to P] [--keep]` (or tables alone, `--table`): the restored server, and how to connect to it. */
async function restoreCommand(services: Service[], args: Args): Promise<number> {
  const { service: name } = args;
  if (!name) throw new Error("restore needs a service name");
  const service = findService(services, name);
  if (args.tables.length > 0) return await restoreTablesCommand(service, args);
  const to = args.to === undefined ? undefined : parseRestorePoint(args.to);
  const r = await restoreService(service, { to, log, poolSize: 1 });
  try {
    await r.db.query("SELECT 1");
    const steps = r.steps.map((s) => `${s.step} ${formatDuration(s.durationMs)}`).join(", ");
    log(
      `OK restore ${service.name} ${r.chain.map((l) => l.id).join(" + ")} to ${to ? describePoint(to) : "the baseline's position"}: ${steps}; ` +
        `RPO ${r.rpoSeconds} s (newest restorable point: ${r.restorable.source} at ${r.restorable.at.toISOString()})`,
    );
    // The backup's own flavour's client (mysql for a clone, an xtrabackup or a MySQL dump), from the service's toolchain.
    const client = backupTool(r.backup.meta.tool, service.backup.toolchain, r.manifest.server.flavor).flavor.client;
    const where = r.target.description.startsWith("local") ? "" : ` (on ${r.target.description})`;
    // A line to paste into a shell: the toolchain and the workDir may hold blanks and quotes.
    log(`connect: ${shellQuote(client)} ${shellQuote(`--defaults-file=${r.server.clientOptionFile ?? "?"}`)}${where}   (read-only, no network, production data; as the restore's own verifier account)`);
    if (args.keep) {
      log("kept: press Ctrl-C to destroy the restored server and every file of it");
      // Ctrl-C drains the disposer list (the restored server is on it) and exits.
      await new Promise(() => setInterval(() => undefined, 60_000));
    }
  } finally {
    await r.destroy();
  }
  return 0;
}

/** `binlogs <service>`: the binlog copier, until Ctrl-C; with `--check`, the archive's continuity. */
async function binlogsCommand(services: Service[], args: Args): Promise<number> {
  const { service: name } = args;
  if (!name) throw new Error("binlogs needs a service name");
  const service = findService(services, name);
  if (args.check) {
    const check = await checkServiceArchive(service, log);
    for (const problem of check.problems) log(`  ${problem}`);
    log(`${check.ok ? "OK" : "FAIL"} binlog archive of ${service.name}: ${check.first ?? "empty"} … ${check.last ?? ""}`);
    return check.ok ? 0 : 1;
  }
  const copy = await startBinlogCopy(service, { log });
  // Runs until Ctrl-C (which drains the disposer list: mariadb-binlog and the lock) or an error it cannot retry.
  await copy.done;
  return 0;
}

main(process.argv.slice(2))
  .then(async (code) => {
    await disposeAll();
    process.exitCode = code;
  })
  .catch(async (error: unknown) => {
    await disposeAll().catch(() => undefined);
    const message = maskSecrets(error instanceof Error ? error.message : String(error));
    for (const line of message.split("\n")) process.stderr.write(`restoretest: ${line}\n`);
    process.exitCode = 1;
  });
