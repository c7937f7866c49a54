// Opening a service's source for a backup job or binlog copying: a sandbox (fresh or kept) or the configured server.
import { rmSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Service } from "../config/schema.ts";
import { Db } from "../db/connection.ts";
import { serverInfo } from "../db/introspect.ts";
import { flavor, type FlavorName } from "../server/flavor.ts";
import { backupTool, type BackupTool } from "./tool.ts";
import { createWorkDir, writeServerClientFile } from "../hosts/sandbox.ts";
import { applySeed, startKeptSourceSandbox, startSourceSandbox } from "../hosts/sourceSandbox.ts";
import { serviceDir } from "../store/layout.ts";

type Log = (line: string) => void;

export interface SourceAccess {
  db: Db;
  /** Client option file with the source's credentials (mode 0600). */
  optionFile: string;
  datadir?: string;
  /** A server that did not exist before this job (a new sandbox): no earlier chain can be continued on it. */
  fresh: boolean;
  /** Writes a live server would get while it is backed up (a sandbox's `changes` files); nothing for a real server. */
  applyChanges(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A sandbox source is kept between jobs (in `<store>/<service>/.source/`) when the service takes incrementals (a chain
 * needs one server that goes on from job to job, as a real one does) or rebuilds a replica (which joins that server).
 */
export function keepsSandbox(service: Service): boolean {
  return "sandbox" in service.source && (service.backup.policy === "incremental" || service.rejoin !== undefined);
}

/** A sandbox source's server: as declared, else the backup tool's own (clone and xtrabackup are MySQL's). */
export function sandboxFlavor(service: Service): FlavorName {
  const declared = "sandbox" in service.source ? service.source.sandbox.flavor : undefined;
  return declared ?? (service.backup.tool === "clone" || service.backup.tool === "xtrabackup" ? "mysql" : "mariadb");
}

/**
 * The service's backup tool, for the server the source really is (a dump takes its flavour's dump program); refused,
 * naming both, when the tool is of the other flavour.
 */
export async function sourceTool(service: Service, db: Db): Promise<BackupTool> {
  const server = await serverInfo(db);
  const tool = backupTool(service.backup.tool, service.backup.toolchain, server.flavor);
  if (tool.flavor.name !== server.flavor) {
    const fits = server.flavor === "mysql" ? "clone, xtrabackup or dump" : "mariabackup or dump";
    throw new Error(
      `service ${service.name}: backup.tool ${tool.name} backs up ${tool.flavor.name === "mysql" ? "MySQL" : "MariaDB"}, but the source is ${server.flavor === "mysql" ? "MySQL" : "MariaDB"} ${server.version}: use ${fits}`,
    );
  }
  return tool;
}

/** Open the service's source: start (and seed, when new) a sandbox, or connect to the configured server. */
export async function openSource(service: Service, log: Log): Promise<SourceAccess> {
  const source = service.source;
  if ("sandbox" in source) {
    const keep = keepsSandbox(service);
    const keepDir = join(serviceDir(resolve(service.backup.store), service.name), ".source");
    const programs = flavor(sandboxFlavor(service), service.backup.toolchain);
    const sandbox = keep
      ? await startKeptSourceSandbox(service.name, keepDir, service.restore.workDir, programs)
      : { ...(await startSourceSandbox(service.name, service.restore.workDir, 1, programs)), fresh: true };
    try {
      if (sandbox.fresh) {
        log(`seeding the sandbox source of ${service.name} from ${source.sandbox.seed}${keep ? ` (kept in ${keepDir} between jobs)` : ""}`);
        await applySeed(sandbox, source.sandbox.seed, service.databases?.[0]);
      } else {
        log(`started the kept sandbox source of ${service.name} (${keepDir})`);
      }
      const db = await sandbox.server.connect({ poolSize: service.verify.concurrency + 1 });
      const changes = source.sandbox.changes;
      return {
        db,
        optionFile: sandbox.optionFile,
        datadir: sandbox.server.datadir,
        fresh: sandbox.fresh,
        async applyChanges() {
          if (!changes) return;
          log(`applying the sandbox's changes from ${changes}`);
          await applySeed(sandbox, changes, service.databases?.[0]);
        },
        async close() {
          await db.close();
          await sandbox.destroy();
        },
      };
    } catch (error) {
      await sandbox.destroy();
      // A kept source that was never fully seeded must not pass for one next time.
      if (keep && sandbox.fresh) rmSync(keepDir, { recursive: true, force: true });
      throw error;
    }
  }
  const db = await Db.connect({
    host: source.host,
    port: source.port,
    socketPath: source.socket,
    user: source.user,
    password: source.password,
    poolSize: service.verify.concurrency + 1,
  });
  const work = createWorkDir(`backup-${service.name}`);
  const optionFile = writeServerClientFile(join(work.path, "client.cnf"), source);
  return {
    db,
    optionFile,
    datadir: source.datadir,
    fresh: false,
    applyChanges: async () => undefined,
    async close() {
      await db.close();
      await work.remove();
    },
  };
}
