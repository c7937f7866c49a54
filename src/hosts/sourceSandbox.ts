// A demo source: a local sandbox seeded from fixture files, with binary logging so it has positions like a real one;
// fresh for each backup job, or kept between jobs (its datadir and binlogs) when the service takes backup chains.
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import mysql from "mysql2/promise";
import { runCommand } from "../base/command.ts";
import { MARIADB_FLAVOR, type Flavor } from "../server/flavor.ts";
import { createWorkDir, installDatadir, startServer, writeClientOptionFile, type StartedServer } from "./sandbox.ts";

export interface SeededSource {
  server: StartedServer;
  /** A client option file with the server's credentials (mode 0600). */
  optionFile: string;
  dir: string;
  /** The programs seeds are loaded with. */
  flavor: Flavor;
  destroy(): Promise<void>;
}

/** Start an empty sandbox server with binary logging, for a source or a test (a replica needs its own server id). */
export async function startSourceSandbox(name: string, baseDir?: string, serverId = 1, flavor: Flavor = MARIADB_FLAVOR): Promise<SeededSource> {
  const work = createWorkDir(`source-${name}`, baseDir);
  try {
    const datadir = join(work.path, "datadir");
    await installDatadir(datadir, flavor.server);
    const server = await startServer({ dir: work.path, datadir, tcp: true, logBin: true, serverId, flavor: flavor.server, extraArgs: [...flavor.server.sourceArgs] });
    const optionFile = writeClientOptionFile(join(work.path, "client.cnf"), {
      user: server.user,
      password: server.password,
      socket: server.socket,
    });
    return {
      server,
      optionFile,
      dir: work.path,
      flavor,
      async destroy() {
        await server.stop();
        await work.remove();
      },
    };
  } catch (error) {
    await work.remove();
    throw error;
  }
}

/** Written when a kept source stopped with its root password reset; its absence means the last job died mid-way. */
const STOPPED_CLEANLY = "stopped-cleanly";

/**
 * A sandbox source kept between backup jobs in `keepDir` (its datadir and binlogs), because a backup chain needs one
 * server whose LSNs and binlogs go on from job to job. `fresh` when it was created (and must be seeded) now.
 * Between jobs the root password is empty: the server is stopped and `keepDir` is mode 0700; each start sets a new one.
 */
export async function startKeptSourceSandbox(
  name: string,
  keepDir: string,
  baseDir?: string,
  flavor: Flavor = MARIADB_FLAVOR,
): Promise<SeededSource & { fresh: boolean }> {
  const datadir = join(keepDir, "datadir");
  const binlog = join(keepDir, "binlog");
  const fresh = !existsSync(join(datadir, "mysql"));
  if (fresh) rmSync(keepDir, { recursive: true, force: true });
  mkdirSync(binlog, { recursive: true, mode: 0o700 });
  if (fresh) await installDatadir(datadir, flavor.server);
  const work = createWorkDir(`source-${name}`, baseDir);
  try {
    if (!fresh && !existsSync(join(keepDir, STOPPED_CLEANLY))) await resetRootPassword(work.path, datadir, flavor);
    rmSync(join(keepDir, STOPPED_CLEANLY), { force: true });
    // --log-bin outside the run directory: binlogs must outlive it (the reaper removes that directory on a crash).
    const server = await startServer({
      dir: work.path,
      datadir,
      tcp: true,
      serverId: 1,
      flavor: flavor.server,
      extraArgs: [...flavor.server.sourceArgs, `--log-bin=${join(binlog, "mysql-bin")}`, "--binlog-format=ROW"],
    });
    const optionFile = writeClientOptionFile(join(work.path, "client.cnf"), { user: server.user, password: server.password, socket: server.socket });
    return {
      server,
      optionFile,
      dir: work.path,
      flavor,
      fresh,
      async destroy() {
        try {
          const db = await server.connect();
          try {
            await db.query("SET SESSION sql_log_bin = 0");
            await db.query("ALTER USER 'root'@'localhost' IDENTIFIED BY ''");
          } finally {
            await db.close();
          }
          await server.stop();
          writeFileSync(join(keepDir, STOPPED_CLEANLY), `${new Date().toISOString()}\n`);
        } finally {
          await server.stop();
          await work.remove();
        }
      },
    };
  } catch (error) {
    await work.remove();
    throw error;
  }
}

/** After a job died with the server up: start it without grant checks once and empty the root password again. */
async function resetRootPassword(dir: string, datadir: string, flavor: Flavor): Promise<void> {
  const server = await startServer({ dir, datadir, tcp: false, skipGrantTables: true, serverId: 1, flavor: flavor.server });
  try {
    const db = await server.connect();
    try {
      await db.query("FLUSH PRIVILEGES");
      await db.query("SET SESSION sql_log_bin = 0");
      await db.query("ALTER USER 'root'@'localhost' IDENTIFIED BY ''");
    } finally {
      await db.close();
    }
  } finally {
    await server.stop();
  }
}

/** Apply seed files in name order: `*.sql` through the mariadb client, `*.ts`/`*.js` modules exporting `default seed(conn)`. */
export async function applySeed(source: SeededSource, seedDir: string, database?: string): Promise<void> {
  const files = readdirSync(seedDir)
    .filter((f) => /\.(sql|ts|js|mjs)$/.test(f) && !/\.test\./.test(f))
    .sort();
  if (files.length === 0) throw new Error(`seed directory ${seedDir} has no .sql or .ts files`);
  for (const file of files) {
    const path = join(seedDir, file);
    if (file.endsWith(".sql")) {
      await runCommand(source.flavor.client, [`--defaults-extra-file=${source.optionFile}`, "--default-character-set=utf8mb4"], {
        inputFile: path,
        timeoutMs: 600_000,
      });
      continue;
    }
    const module = (await import(pathToFileURL(path).href)) as { default?: (conn: mysql.Connection) => Promise<void> };
    if (typeof module.default !== "function") throw new Error(`seed module ${path} has no default export function seed(conn)`);
    const conn = await mysql.createConnection({
      socketPath: source.server.socket,
      user: source.server.user,
      password: source.server.password,
      database,
      charset: "utf8mb4_unicode_ci",
    });
    try {
      await module.default(conn);
    } finally {
      await conn.end();
    }
  }
}
