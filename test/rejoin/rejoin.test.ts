// Rebuilding a replica from a restore, on real MariaDB: a source sandbox with writes running, a restored server that
// joins it, and each classic reason for a failed rejoin producing its named failure.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runBackupJob } from "../../src/backup/job.ts";
import { parseServices } from "../../src/config/load.ts";
import type { Service } from "../../src/config/schema.ts";
import type { Db } from "../../src/db/connection.ts";
import { replicaStatus, startReplication } from "../../src/db/replication.ts";
import { applySeed, startSourceSandbox, type SeededSource } from "../../src/hosts/sourceSandbox.ts";
import { RejoinError, statusProblem, startPoint } from "../../src/rejoin/replica.ts";
import { RejoinStage } from "../../src/rejoin/stage.ts";
import { restoreService, type Restored } from "../../src/restore/pipeline.ts";
import { SMALL_SEED, sandboxServers, serverServiceYaml, testStore } from "../support/services.ts";
import { startSshd } from "../support/sshd.ts";
import { startReplicaPair, type ReplicaPair } from "../support/replicaPair.ts";
import { WriteLoad } from "../support/writeLoad.ts";

const REPL_PASSWORD = "repl-secret-5b1e";

/** A service backed up from the running `source`, with a rejoin block (the source reached by socket, so its TCP address is given). */
function rejoinService(source: SeededSource, store: string, lines: string[] = [], password = REPL_PASSWORD): Service {
  const yaml =
    serverServiceYaml("replica", source.server, store, ["consistency: snapshot"]) +
    ["    rejoin:", "      source:", "        host: 127.0.0.1", `        port: ${source.server.port}`, "      user: repl", "      password: ${REPL_PASSWORD}", ...lines.map((l) => `      ${l}`), ""].join("\n");
  const [service] = parseServices(yaml, `${store}/services.yaml`, { SOURCE_PASSWORD: source.server.password, REPL_PASSWORD: password });
  if (!service) throw new Error("no service");
  return service;
}

async function rejection(promise: Promise<unknown>): Promise<RejoinError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, "expected a RejoinError").toBeInstanceOf(RejoinError);
  return error as RejoinError;
}

describe("rejoin: a restored server replicates from its source and catches up", () => {
  const store = testStore();
  let source: SeededSource;
  let sourceDb: Db;
  let load: WriteLoad | undefined;

  beforeAll(async () => {
    source = await startSourceSandbox("rejoin");
    await applySeed(source, SMALL_SEED, "shop");
    sourceDb = await source.server.connect();
    await sourceDb.query("CREATE USER repl@'127.0.0.1' IDENTIFIED BY ?", [REPL_PASSWORD]);
    await sourceDb.query("GRANT REPLICATION SLAVE ON *.* TO repl@'127.0.0.1'");
    // Writes run through the backup, the restore and the whole rejoin, as on a live primary.
    load = new WriteLoad(await source.server.connect(), 600_000, 5);
    await runBackupJob(rejoinService(source, store.path));
  }, 180_000);

  afterAll(async () => {
    await load?.stop();
    await sourceDb?.close();
    await source?.destroy();
    store.remove();
    expect(await sandboxServers()).toEqual([]);
  });

  /** Restore, run `body`, and always close the stage and destroy the restored server. */
  async function withRestore<T>(service: Service, body: (restored: Restored, stage: RejoinStage) => Promise<T>): Promise<T> {
    const restored = await restoreService(service);
    const stage = new RejoinStage(service);
    try {
      return await body(restored, stage);
    } finally {
      await stage.close();
      await restored.destroy();
    }
  }

  it("starts, catches up and is consistent with the source while writes go on (file position and GTID)", async () => {
    for (const position of ["file", "gtid"]) {
      const service = rejoinService(source, store.path, [`position: ${position}`]);
      await withRestore(service, async (restored, stage) => {
        const writesBefore = load!.writes;
        const started = await stage.start(restored);
        expect(started.start.useGtid).toBe(position === "gtid");
        expect(started.serverId).not.toBe(1);
        const status = await replicaStatus(restored.db);
        expect([status?.ioRunning, status?.sqlRunning]).toEqual(["Yes", "Yes"]);
        const caught = await stage.catchUp();
        expect(caught.samples.length).toBeGreaterThan(0);
        expect(caught.backlogBytes, "the source wrote after the backup: there is a backlog").toBeGreaterThan(0);
        expect(caught.samples.at(-1)?.bytesBehind).toBeDefined();
        const consistent = await stage.consistent();
        expect(consistent.tables).toBe(9);
        expect(load!.writes, "writes went on during the rejoin").toBeGreaterThan(writesBefore);
      });
    }
  });

  it("joins from a restore host reached over SSH (the ssh provider): the replica connects out from there", async () => {
    const sshd = await startSshd();
    const remoteBase = mkdtempSync(join(tmpdir(), "restoretest-sshhost-"));
    try {
      const base = rejoinService(source, store.path);
      const ssh = { host: sshd.host, port: sshd.port, user: sshd.user, identityFile: sshd.identityFile, knownHosts: sshd.knownHosts, workDir: remoteBase };
      const service: Service = { ...base, restore: { ...base.restore, provider: "ssh", ssh } };
      await withRestore(service, async (restored, stage) => {
        expect(restored.target.description).toMatch(/^ssh /);
        await stage.start(restored);
        await stage.catchUp();
        expect((await stage.consistent()).tables).toBe(9);
      });
    } finally {
      await sshd.stop();
      rmSync(remoteBase, { recursive: true, force: true });
    }
  });

  it("names a wrong replication password as access denied, without showing it", async () => {
    const service = rejoinService(source, store.path, [], "not-the-password");
    await withRestore(service, async (restored, stage) => {
      const error = await rejection(stage.start(restored));
      expect(error.failure).toBe("access-denied");
      expect(error.message).toMatch(/access denied for the replication user 'repl' on the source 127\.0\.0\.1:\d+ \(error 1045/);
      expect(error.message).toMatch(/check rejoin\.user and rejoin\.password/);
      expect(error.message).not.toContain("not-the-password");
    });
  });

  it("names a GTID position the source never had as rejected", async () => {
    const service = rejoinService(source, store.path, ["position: gtid"]);
    await withRestore(service, async (restored, stage) => {
      const gtid = "0-1-99999999";
      const manifest = { ...restored.manifest, position: { ...restored.manifest.position!, gtid } };
      const error = await rejection(stage.start({ ...restored, manifest }));
      expect(error.failure).toBe("gtid-rejected");
      expect(error.message).toContain(`rejected the GTID position ${gtid} (error 1236`);
    });
  });

  it("refuses a server-id the source uses, before and during replication", async () => {
    const service = rejoinService(source, store.path, ["serverId: 1"]);
    await withRestore(service, async (restored, stage) => {
      const error = await rejection(stage.start(restored));
      expect(error.failure).toBe("duplicate-server-id");
      expect(error.message).toMatch(/^duplicate server-id 1: the source 127\.0\.0\.1:\d+ has server_id 1/);
      // Had nobody checked: the source refuses the replica, and the error is named the same way.
      const start = startPoint(restored.manifest, service.rejoin!);
      await startReplication(restored.db, { host: "127.0.0.1", port: source.server.port!, user: "repl", password: REPL_PASSWORD }, start, 1);
      let problem: RejoinError | undefined;
      for (let i = 0; i < 100 && !problem; i++) {
        const status = await replicaStatus(restored.db);
        problem = status && statusProblem(status, { source: "the source", user: "repl", start });
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(problem?.failure).toBe("duplicate-server-id");
      expect(problem?.message).toMatch(/error 1593/);
    });
  });

  it("turns a row the restore lost into a named divergence when replication touches it", async () => {
    const service = rejoinService(source, store.path);
    await withRestore(service, async (restored, stage) => {
      const session = await restored.db.session();
      await session.query("SET SESSION foreign_key_checks = 0");
      await session.query("DELETE FROM shop.customers WHERE id = 1999");
      session.release();
      await stage.start(restored);
      await sourceDb.query("UPDATE shop.customers SET balance = balance + 1 WHERE id = 1999");
      const error = await rejection(stage.catchUp());
      expect(error.failure).toBe("diverged");
      expect(error.message).toMatch(/replication stopped applying the source's changes \(error 1032: .*\): the restored data does not match the source/);
    });
  });

  it("finds a difference replication never touches in the comparison after catch-up", async () => {
    const service = rejoinService(source, store.path);
    await withRestore(service, async (restored, stage) => {
      await restored.db.query("DELETE FROM shop.order_tags LIMIT 1");
      await stage.start(restored);
      await stage.catchUp();
      const error = await rejection(stage.consistent());
      expect(error.failure).toBe("inconsistent");
      expect(error.message).toMatch(/after catching up to the source's mysql-bin\.\d+:\d+, the replica differs from the source:\n {2}- shop\.order_tags: /);
      expect(error.message).toContain("row count differs");
      expect(error.message).not.toMatch(/shop\.customers|shop\.orders/);
    });
  });

  it("names binlogs the source has purged: which file, and that retention is too short for the backup's age", async () => {
    const service = rejoinService(source, store.path);
    await withRestore(service, async (restored, stage) => {
      await sourceDb.query("FLUSH BINARY LOGS");
      const [head] = await sourceDb.query<{ File: string }>("SHOW MASTER STATUS");
      await sourceDb.query("SET GLOBAL binlog_expire_logs_seconds = 1");
      // A dump thread of an earlier test's replica may still be ending: PURGE keeps a file such a thread reads, so
      // purge until the file is really gone.
      for (let i = 0; i < 50; i++) {
        await sourceDb.query(`PURGE BINARY LOGS TO '${head!.File}'`).catch(() => undefined);
        const [oldest] = await sourceDb.query<{ Log_name: string }>("SHOW BINARY LOGS");
        if (oldest?.Log_name === head!.File) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      // The backup is now older than the source keeps binlogs.
      await new Promise((r) => setTimeout(r, 1100));
      const error = await rejection(stage.start(restored));
      expect(error.failure).toBe("purged-binlogs");
      const needed = restored.manifest.position!.file;
      expect(error.message).toContain(`has purged binlog ${needed}, which this backup needs`);
      expect(error.message).toContain(`the source's oldest binary log is ${head!.File}`);
      expect(error.message).toMatch(/Its binlog retention, 1\.0s \(expire_logs_days=0\.000012, binlog_expire_logs_seconds=1\), is too short for this backup's age: keep binlogs longer than the time between backups plus a restore/);
    });
  });
});

describe("rejoin: the backup replica's replacement joins the primary", () => {
  const store = testStore();
  let pair: ReplicaPair;
  let primary: SeededSource;
  let replica: SeededSource;
  let load: WriteLoad | undefined;

  beforeAll(async () => {
    pair = await startReplicaPair(REPL_PASSWORD);
    ({ primary, replica } = pair);
    load = new WriteLoad(await primary.server.connect(), 600_000, 5);
  }, 180_000);

  afterAll(async () => {
    await load?.stop();
    await pair?.destroy();
    store.remove();
    expect(await sandboxServers()).toEqual([]);
  });

  it("starts where the backup replica's SQL thread stood in the primary's binlog, catches up and matches the primary", async () => {
    const yaml =
      serverServiceYaml("rebuilt", replica.server, store.path, ["consistency: pausedReplica"]) +
      [
        "    rejoin:",
        "      source: {host: 127.0.0.1, port: " + primary.server.port + "}",
        "      user: repl",
        "      password: ${REPL_PASSWORD}",
        "      monitor:",
        `        socket: ${primary.server.socket}`,
        "        user: root",
        "        password: ${PRIMARY_PASSWORD}",
        "",
      ].join("\n");
    const [service] = parseServices(yaml, `${store.path}/services.yaml`, {
      SOURCE_PASSWORD: replica.server.password,
      PRIMARY_PASSWORD: primary.server.password,
      REPL_PASSWORD,
    });
    await new Promise((r) => setTimeout(r, 300));
    const { manifest } = await runBackupJob(service!);
    expect(manifest.replication?.masterLogFile).toMatch(/^mysql-bin\.\d+$/);
    const restored = await restoreService(service!);
    const stage = new RejoinStage(service!);
    try {
      const started = await stage.start(restored);
      expect(started.start.origin).toBe("where the backup replica's SQL thread stood in the primary's binlog");
      expect([started.start.file, started.start.position]).toEqual([manifest.replication!.masterLogFile, manifest.replication!.execMasterLogPos]);
      expect(started.source).toBe(`127.0.0.1:${primary.server.port}`);
      await stage.catchUp();
      const consistent = await stage.consistent();
      expect(consistent.tables).toBe(9);
    } finally {
      await stage.close();
      await restored.destroy();
    }
  });
});
