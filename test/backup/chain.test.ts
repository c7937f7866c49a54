// Backup chains on real MariaDB under a write load: full + incrementals restored and verified, a broken chain refused,
// continuous binlog copying that survives a kill, point-in-time restore from the archive, and retention.
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkArchive, checkServiceArchive, describeArchive, startBinlogCopy } from "../../src/backup/binlogs.ts";
import { listArchive } from "../../src/store/archive.ts";
import { runBackupJob, type BackupResult } from "../../src/backup/job.ts";
import { applyRetention } from "../../src/store/retention.ts";
import { binlogArchiveDir, listBackups, markVerified, VERIFIED_FILE } from "../../src/store/layout.ts";
import type { Service } from "../../src/config/schema.ts";
import type { Db } from "../../src/db/connection.ts";
import { applySeed, startSourceSandbox, type SeededSource } from "../../src/hosts/sourceSandbox.ts";
import { restoreService } from "../../src/restore/pipeline.ts";
import { redFindings } from "../faults/catalog.ts";
import { twoWritesASecondApart, until } from "../support/archive.ts";
import { SMALL_SEED, testStore } from "../support/services.ts";
import { WriteLoad, serverService } from "../support/writeLoad.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Wait until InnoDB's checkpoint is past `lsn`: the next backup's to_lsn then moves on. */
async function waitForCheckpoint(db: Db, lsn: number): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const [row] = await db.query<{ Value: string }>("SHOW GLOBAL STATUS LIKE 'Innodb_lsn_last_checkpoint'");
    if (Number(row?.Value) > lsn) return;
    await sleep(100);
  }
  throw new Error(`InnoDB did not checkpoint past LSN ${lsn} within 15 s`);
}

/** The same service in a store of its own (a copy of `store`), for damage that must not touch the real one. */
function isolatedCopy(service: Service, store: string): { service: Service; store: string; remove(): void } {
  const copy = mkdtempSync(join(tmpdir(), "restoretest-chaincopy-"));
  const remove = () => rmSync(copy, { recursive: true, force: true });
  try {
    cpSync(join(store, service.name), join(copy, service.name), { recursive: true });
  } catch (error) {
    remove();
    throw error;
  }
  return { service: { ...service, backup: { ...service.backup, store: copy } }, store: copy, remove };
}

describe("backup chains on a source under a write load", () => {
  const store = testStore();
  let source: SeededSource;
  let db: Db;
  let load: WriteLoad | undefined;
  let service: Service;
  const chain: BackupResult[] = [];

  beforeAll(async () => {
    source = await startSourceSandbox("chain");
    await applySeed(source, SMALL_SEED, "shop");
    db = await source.server.connect();
    // Flush dirty pages eagerly so InnoDB checkpoints between backups, as a busy server does: each incremental then has
    // an LSN range of its own (without a checkpoint, to_lsn stays put and every incremental holds all changes since it).
    await db.query("SET GLOBAL innodb_max_dirty_pages_pct_lwm = 0, GLOBAL innodb_max_dirty_pages_pct = 0");
    service = serverService("chain", source, store.path, "snapshot", ["policy: incremental", "fullEvery: 3", "keepChains: 1"]);
    load = new WriteLoad(db, 120_000, 5);
  }, 60_000);

  afterAll(async () => {
    await load?.stop();
    await db?.close();
    await source?.destroy();
    store.remove();
  });

  it("takes a full and two incrementals that carry the writes between them", async () => {
    for (let i = 0; i < 3; i++) {
      const before = load?.writes ?? 0;
      chain.push(await runBackupJob(service));
      while ((load?.writes ?? 0) < before + 40) await sleep(50);
      await waitForCheckpoint(db, chain.at(-1)?.meta.checkpoints?.toLsn ?? 0);
    }
    expect(chain.map((b) => b.meta.kind)).toEqual(["full", "incremental", "incremental"]);
    expect(chain.map((b) => b.meta.base)).toEqual([null, chain[0]?.meta.id, chain[1]?.meta.id]);
    // Each incremental starts where the link before it ends, and holds changes (its LSN range is not empty).
    for (let i = 1; i < 3; i++) {
      expect(chain[i]?.meta.checkpoints?.fromLsn).toBe(chain[i - 1]?.meta.checkpoints?.toLsn);
      expect(chain[i]?.meta.checkpoints?.toLsn).toBeGreaterThan(chain[i]?.meta.checkpoints?.fromLsn ?? Infinity);
    }
    expect(chain[2]?.decision.reason).toMatch(/backup 3 of 3 in the chain of /);
  });

  it("restores full + 2 incrementals + binlogs to the newest baseline's position, and verifies green", async ({ annotate }) => {
    const restored = await restoreService(service);
    try {
      expect(restored.chain.map((l) => l.id)).toEqual(chain.map((b) => b.meta.id));
      expect(restored.steps.map((s) => s.step)).toEqual([
        "locate",
        "provision",
        "transfer",
        "prepare",
        "apply-incremental",
        "apply-incremental",
        "start",
        "replay",
      ]);
      expect(restored.steps.find((s) => s.step === "apply-incremental")?.command).toMatch(
        new RegExp(`^mariadb-backup --prepare --target-dir=\\S+/datadir --incremental-dir=\\S+/incremental-1-${chain[1]?.meta.id}$`),
      );
      // The snapshot baseline is after the newest link: binlogs were replayed.
      expect(restored.steps.find((s) => s.step === "replay")?.command).toMatch(/mariadb-binlog --start-position=\d+ --stop-position=\d+ /);
      expect(Object.fromEntries(await redFindings(restored, service))).toEqual({});
      expect(restored.rpoSeconds).toBeGreaterThanOrEqual(0);
      expect(restored.restorable.source).toBe("backup");
      await annotate(`${restored.steps.map((s) => `${s.step} ${Math.round(s.durationMs)}ms`).join(", ")}; RPO ${restored.rpoSeconds}s`, "timings");
      markVerified(restored.backup.dir, { tests: 1, chain: restored.chain.map((l) => l.id) });
    } finally {
      await restored.destroy();
    }
  });

  it("refuses a chain with a deleted middle incremental at the locate step, naming it", async () => {
    const copy = isolatedCopy(service, store.path);
    try {
      const middle = chain[1]?.meta.id as string;
      rmSync(join(copy.store, service.name, middle), { recursive: true });
      const error = await restoreService(copy.service).then(
        () => undefined,
        (e: Error) => e,
      );
      expect(error?.message).toMatch(
        new RegExp(`failed at step "locate"[\\s\\S]*link ${middle}, the base of incremental ${chain[2]?.meta.id}, is missing from the store`),
      );
      // No target was made: the refusal comes before any copy.
      expect(error?.message).not.toMatch(/transfer/);
    } finally {
      copy.remove();
    }
  });

  it("never verifies green a chain whose incremental had bytes flipped in a page delta", async ({ annotate }) => {
    const copy = isolatedCopy(service, store.path);
    try {
      const middle = chain[1]?.meta.id as string;
      const delta = join(copy.store, service.name, middle, "data", "shop", "orders.ibd.delta");
      const bytes = readFileSync(delta);
      // The first page after the delta's header page: a changed orders page that apply-incremental writes into the full.
      expect(bytes.length).toBeGreaterThanOrEqual(2 * 16384);
      for (let i = 0; i < 64; i++) bytes[16384 + 4000 + i] = (bytes[16384 + 4000 + i] ?? 0) ^ 0xff;
      writeFileSync(delta, bytes);
      let outcome: string;
      try {
        const restored = await restoreService(copy.service);
        try {
          const red = await redFindings(restored, copy.service);
          outcome = red.size > 0 ? `red: ${[...red.keys()].join(", ")}` : "green";
        } catch (error) {
          outcome = `verification failed: ${(error as Error).message}`;
        } finally {
          await restored.destroy();
        }
      } catch (error) {
        outcome = `restore failed: ${(error as Error).message}`;
      }
      await annotate(outcome, "outcome");
      expect(outcome).not.toBe("green");
      expect(outcome, outcome).toMatch(/^(restore failed: restore of chain failed at step "(apply-incremental|start|replay)"|red: .*shop\.orders:(integrity|checksum))/);
    } finally {
      copy.remove();
    }
  });

  it("refuses a chain whose LSNs do not join (an incremental pointed past its real base)", async () => {
    const copy = isolatedCopy(service, store.path);
    try {
      const last = chain[2]?.meta.id as string;
      const metaPath = join(copy.store, service.name, last, "backup.json");
      writeFileSync(metaPath, JSON.stringify({ ...JSON.parse(readFileSync(metaPath, "utf8")), base: chain[0]?.meta.id }));
      const error = await restoreService(copy.service).then(
        (r) => r.destroy(),
        (e: Error) => e,
      );
      expect(error?.message).toMatch(
        new RegExp(`failed at step "locate"[\\s\\S]*backup chain does not join at ${last}: it starts at LSN \\d+ but ${chain[0]?.meta.id} ends at LSN \\d+`),
      );
    } finally {
      copy.remove();
    }
  });

  it("copies binlogs continuously, resumes after mariadb-binlog is killed, and the archive matches the server's binlogs", async () => {
    const copier = await startBinlogCopy(service, { restartDelayMs: 200 });
    try {
      const archive = binlogArchiveDir(store.path, service.name);
      await until("the copier to start", () => copier.pid() !== undefined && listArchive(archive).length > 0);
      const first = copier.pid() as number;
      // Mid-load: whatever it was writing is cut off and must be fetched again whole.
      process.kill(first, "SIGKILL");
      await until("the copier to restart", () => copier.starts() >= 2 && copier.pid() !== undefined && copier.pid() !== first);
      await db.query("FLUSH BINARY LOGS");
      await sleep(300);
      await db.query("FLUSH BINARY LOGS");
      const serverDir = join(source.dir, "binlog");
      const [status] = await db.query<{ File: string }>("SHOW MASTER STATUS");
      await until("the archive to reach the server's current file", () => listArchive(archive).includes(status?.File as string));
      const closed = listArchive(archive).filter((f) => f !== status?.File);
      expect(closed.length).toBeGreaterThanOrEqual(2);
      for (const file of closed) {
        expect(readFileSync(join(archive, file)).equals(readFileSync(join(serverDir, file))), `${file} differs from the server's`).toBe(true);
      }
      const check = await checkServiceArchive(service);
      expect(check.problems).toEqual([]);
      expect(check.first).toBe(chain[0]?.meta.position?.file);

      // A gap in the stored binlogs is found and named.
      const gapped = mkdtempSync(join(tmpdir(), "restoretest-gap-"));
      try {
        cpSync(archive, gapped, { recursive: true });
        const missing = closed[1] as string;
        rmSync(join(gapped, missing));
        const result = checkArchive(describeArchive(gapped), chain[0]?.meta.position ?? null);
        expect(result.ok).toBe(false);
        expect(result.problems.join("\n")).toMatch(new RegExp(`gap in the archive: ${missing.replace(/\./g, "\\.")} is missing`));
      } finally {
        rmSync(gapped, { recursive: true, force: true });
      }

      // Point in time: two known writes a second apart; a restore to a time between them has exactly the earlier one.
      const between = await twoWritesASecondApart(db, archive);
      const restored = await restoreService(service, { to: { time: between } });
      try {
        const rows = await restored.db.query<{ id: number }>("SELECT id FROM shop.empty_table ORDER BY id");
        expect(rows.map((r) => r.id)).toEqual([1]);
        expect(restored.restorable.source).toBe("binlog archive");
        expect(restored.rpoSeconds).toBeLessThan(10);
        expect(restored.steps.find((s) => s.step === "replay")?.command).toMatch(/^TZ=UTC mariadb-binlog --start-position=\d+ --stop-datetime='\d{4}-\d\d-\d\d \d\d:\d\d:\d\d' /);
      } finally {
        await restored.destroy();
      }
    } finally {
      await copier.stop();
    }
    expect(copier.pid()).toBeUndefined();
  });

  it("keeps backup.keepChains chains and never the newest one that verified green", async () => {
    // With fullEvery 3 reached, each of these starts a chain; keepChains is 1, and the first chain verified green above.
    const second = await runBackupJob(service);
    expect(second.meta.kind).toBe("full");
    expect(second.retention.removedBackups).toEqual([]);
    const third = await runBackupJob({ ...service, backup: { ...service.backup, fullEvery: 1 } });
    expect(third.meta.kind).toBe("full");
    expect(third.retention.removedBackups).toEqual([second.meta.id]);
    expect(listBackups(store.path, service.name).complete.map((b) => b.id)).toEqual([...chain.map((b) => b.meta.id), third.meta.id]);
    // Once it is no longer the green one, the old chain goes, and the archived binlogs before the oldest kept backup with it.
    rmSync(join(chain[2]?.dir as string, VERIFIED_FILE));
    const archiveBefore = listArchive(binlogArchiveDir(store.path, service.name));
    const result = applyRetention(store.path, service.name, 1);
    expect(result.removedBackups).toEqual(chain.map((b) => b.meta.id).reverse());
    expect(listBackups(store.path, service.name).complete.map((b) => b.id)).toEqual([third.meta.id]);
    const keptFrom = third.meta.position?.file as string;
    expect(result.removedBinlogs).toEqual(archiveBefore.filter((f) => f < keptFrom));
    expect(listArchive(binlogArchiveDir(store.path, service.name)).every((f) => f >= keptFrom)).toBe(true);
    expect(existsSync(chain[0]?.dir as string)).toBe(false);
  });
});
