// Opening a service's source for a backup job or binlog copying: a sandbox (fresh or kept) or the configured server.
import { rmSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Service } from "../config/schema.ts";
import { Db } from "../db/connection.ts";
import { createWorkDir, writeClientOptionFile } from "../hosts/sandbox.ts";
import { applySeed, startKeptSourceSandbox, startSourceSandbox } from "../hosts/sourceSandbox.ts";
import { serviceDir } from "./store.ts";

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

/** Open the service's source: start (and seed, when new) a sandbox, or connect to the configured server. */
export async function openSource(service: Service, log: Log): Promise<SourceAccess> {
  const source = service.source;
  if ("sandbox" in source) {
    const keep = keepsSandbox(service);
    const keepDir = join(serviceDir(resolve(service.backup.store), service.name), ".source");
    const sandbox = keep
      ? await startKeptSourceSandbox(service.name, keepDir, service.restore.workDir)
      : { ...(await startSourceSandbox(service.name, service.restore.workDir)), fresh: true };
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
  const optionFile = writeClientOptionFile(join(work.path, "client.cnf"), {
    user: source.user,
    password: source.password,
    socket: source.socket,
    host: source.socket ? undefined : source.host,
    port: source.socket ? undefined : source.port,
  });
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
