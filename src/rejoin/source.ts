// The replication source a rebuilt replica joins: the configured server, or the demo's kept sandbox source.
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { flavor } from "../server/flavor.ts";
import { acquireLock } from "../store/lock.ts";
import { sandboxFlavor } from "../backup/source.ts";
import { backupLockPath, serviceDir } from "../store/layout.ts";
import type { Service } from "../config/schema.ts";
import { Db } from "../db/connection.ts";
import { applySeed, startKeptSourceSandbox } from "../hosts/sourceSandbox.ts";
import { registerSecret } from "../base/secrets.ts";

export interface RejoinSource {
  /** host:port, for messages. */
  description: string;
  /** Where the replica connects, and as whom. */
  host: string;
  port: number;
  user: string;
  password: string;
  /** Reads the source's positions and checksums. */
  monitor: Db;
  /** Writes a live source keeps getting while the replica catches up (a sandbox's `changes` files); none for a real server. */
  applyChanges(): Promise<void>;
  close(): Promise<void>;
}

/** The replication user made on a sandbox source when services.yaml names none. */
export const SANDBOX_REPLICATION_USER = "restoretest_repl";

type Log = (line: string) => void;

/** Connect to the service's replication source (starting the kept sandbox source for a sandbox service). */
export async function openRejoinSource(service: Service, log: Log = () => undefined): Promise<RejoinSource> {
  const settings = service.rejoin;
  if (!settings) throw new Error(`service ${service.name} has no rejoin settings`);
  const source = service.source;
  if ("sandbox" in source) return openSandboxSource(service, log);
  const host = settings.source?.host ?? source.host;
  const port = settings.source?.port ?? source.port;
  const m = settings.monitor;
  const pool = service.verify.concurrency + 1;
  // The source's own credentials read it, as the backup job does; for a backup replica's primary they are tried there.
  const primary = settings.source !== undefined && service.backup.consistency === "pausedReplica";
  const monitor = await Db.connect(
    m
      ? { host: m.host ?? host, port: m.port ?? port, socketPath: m.socket, user: m.user, password: m.password, poolSize: pool }
      : primary
        ? { host, port, user: source.user, password: source.password, poolSize: pool }
        : { host: source.host, port: source.port, socketPath: source.socket, user: source.user, password: source.password, poolSize: pool },
  );
  return {
    description: `${host}:${port}`,
    host,
    port,
    // The loader refuses a server source without a replication user.
    user: settings.user ?? "",
    password: settings.password ?? "",
    monitor,
    applyChanges: async () => undefined,
    close: () => monitor.close(),
  };
}

/**
 * The demo's source is a sandbox kept between jobs in `<store>/<service>/.source/` (with rejoin enabled, the backup job
 * keeps it): started again for the stage under the service's backup lock, with a replication user made for the run.
 */
async function openSandboxSource(service: Service, log: Log): Promise<RejoinSource> {
  const settings = service.rejoin!;
  const store = resolve(service.backup.store);
  const keepDir = join(serviceDir(store, service.name), ".source");
  if (!existsSync(join(keepDir, "datadir", "mysql"))) {
    throw new Error(
      `the sandbox source of ${service.name} was not kept in ${keepDir}, so there is no source to rejoin: ` +
        `take a backup with rejoin enabled (restoretest backup ${service.name}) and run again`,
    );
  }
  const release = await acquireLock(backupLockPath(store, service.name), `rejoin of ${service.name}`, log);
  let sandbox: Awaited<ReturnType<typeof startKeptSourceSandbox>> | undefined;
  let monitor: Db | undefined;
  try {
    sandbox = await startKeptSourceSandbox(service.name, keepDir, service.restore.workDir, flavor(sandboxFlavor(service), service.backup.toolchain));
    const port = sandbox.server.port;
    if (port === undefined) throw new Error("the sandbox source has no TCP port");
    log(`started the kept sandbox source of ${service.name} on 127.0.0.1:${port}`);
    monitor = await sandbox.server.connect({ poolSize: service.verify.concurrency + 1 });
    const user = settings.user ?? SANDBOX_REPLICATION_USER;
    const password = settings.password ?? randomBytes(18).toString("base64url");
    registerSecret(password);
    const session = await monitor.session();
    try {
      // Not in the binlog: the statement holds the password, and the replica would replay it.
      await session.query("SET SESSION sql_log_bin = 0");
      await session.query("DROP USER IF EXISTS ?@'127.0.0.1'", [user]);
      await session.query("CREATE USER ?@'127.0.0.1' IDENTIFIED BY ?", [user, password]);
      await session.query("GRANT REPLICATION SLAVE ON *.* TO ?@'127.0.0.1'", [user]);
    } finally {
      session.release();
    }
    const opened = sandbox;
    const db = monitor;
    const changes = "sandbox" in service.source ? service.source.sandbox.changes : undefined;
    return {
      description: `127.0.0.1:${port} (the kept sandbox source)`,
      host: "127.0.0.1",
      port,
      user,
      password,
      monitor: db,
      async applyChanges() {
        if (!changes) return;
        log(`applying the sandbox's changes from ${changes} while the replica catches up`);
        await applySeed(opened, changes, service.databases?.[0]);
      },
      async close() {
        try {
          const s = await db.session();
          try {
            await s.query("SET SESSION sql_log_bin = 0");
            await s.query("DROP USER IF EXISTS ?@'127.0.0.1'", [user]);
          } finally {
            s.release();
          }
        } finally {
          await db.close();
          await opened.destroy();
          await release();
        }
      },
    };
  } catch (error) {
    await monitor?.close();
    await sandbox?.destroy();
    await release();
    throw error;
  }
}
