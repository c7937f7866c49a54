// A demo source: a local sandbox seeded from fixture files, with binary logging so it has positions like a real one.
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import mysql from "mysql2/promise";
import { runCommand } from "../process/command.ts";
import { createWorkDir, installDatadir, startServer, writeClientOptionFile, MARIADB, type StartedServer } from "./sandbox.ts";

export interface SeededSource {
  server: StartedServer;
  /** A client option file with the server's credentials (mode 0600). */
  optionFile: string;
  dir: string;
  destroy(): Promise<void>;
}

/** Start an empty sandbox server with binary logging, for a source or a test (a replica needs its own server id). */
export async function startSourceSandbox(name: string, baseDir?: string, serverId = 1): Promise<SeededSource> {
  const work = createWorkDir(`source-${name}`, baseDir);
  try {
    const datadir = join(work.path, "datadir");
    await installDatadir(datadir);
    const server = await startServer({ dir: work.path, datadir, tcp: true, logBin: true, serverId });
    const optionFile = writeClientOptionFile(join(work.path, "client.cnf"), {
      user: server.user,
      password: server.password,
      socket: server.socket,
    });
    return {
      server,
      optionFile,
      dir: work.path,
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

/** Apply seed files in name order: `*.sql` through the mariadb client, `*.ts`/`*.js` modules exporting `default seed(conn)`. */
export async function applySeed(source: SeededSource, seedDir: string, database?: string): Promise<void> {
  const files = readdirSync(seedDir)
    .filter((f) => /\.(sql|ts|js|mjs)$/.test(f) && !/\.test\./.test(f))
    .sort();
  if (files.length === 0) throw new Error(`seed directory ${seedDir} has no .sql or .ts files`);
  for (const file of files) {
    const path = join(seedDir, file);
    if (file.endsWith(".sql")) {
      await runCommand(MARIADB.client, [`--defaults-extra-file=${source.optionFile}`, "--default-character-set=utf8mb4"], {
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
