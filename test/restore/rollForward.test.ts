// The nightly roll-forward through the binlog archive, on real MariaDB with a source under writes and
// `restoretest binlogs` copying: green to the newest event with the recovery point within seconds of the copier's
// lag; and an archived file truncated, one removed, and a damaged event each red and named.
import { cpSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ArchiveStage, type ArchiveError } from "../../src/restore/rollForward.ts";
import { startBinlogCopy } from "../../src/backup/binlogs.ts";
import { walkBinlog } from "../../src/binlog/events.ts";
import { listArchive } from "../../src/store/archive.ts";
import { runBackupJob } from "../../src/backup/job.ts";
import { binlogArchiveDir } from "../../src/store/layout.ts";
import type { Service } from "../../src/config/schema.ts";
import type { Db } from "../../src/db/connection.ts";
import { applySeed, startSourceSandbox, type SeededSource } from "../../src/hosts/sourceSandbox.ts";
import { restoreService, type Restored } from "../../src/restore/pipeline.ts";
import { damageFifthEvent, untilArchived } from "../support/archive.ts";
import { SMALL_SEED, sandboxServers, testStore } from "../support/services.ts";
import { WriteLoad, serverService } from "../support/writeLoad.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const store = testStore();
let source: SeededSource;
let db: Db;
let service: Service;
let archive = "";
/** The source's checksum of shop.orders when the writes stopped: what a roll-forward to the newest event must hold. */
let finalChecksum = "";

beforeAll(async () => {
  source = await startSourceSandbox("rollforward");
  await applySeed(source, SMALL_SEED, "shop");
  db = await source.server.connect();
  service = serverService("shop", source, store.path, "snapshot");
  await runBackupJob(service);
  archive = binlogArchiveDir(store.path, service.name);
  const copier = await startBinlogCopy(service, { restartDelayMs: 200 });
  try {
    // Writes while the copier runs, across three binlog files.
    const load = new WriteLoad(db, 60_000, 2);
    for (let i = 0; i < 2; i++) {
      await sleep(700);
      await db.query("FLUSH BINARY LOGS");
    }
    await sleep(700);
    await load.stop();
    await untilArchived(db, archive);
    const [sum] = await db.query<{ Checksum: string }>("CHECKSUM TABLE shop.orders");
    finalChecksum = String(sum?.Checksum);
  } finally {
    await copier.stop();
  }
}, 240_000);

afterAll(async () => {
  await db?.close();
  await source?.destroy();
  store.remove();
  expect(await sandboxServers()).toEqual([]);
});

/** Restore a copy of the store (its archive damaged by `damage`) and run the archive stage on it. */
async function rollForward(damage?: (archive: string) => void, before?: (restored: Restored) => Promise<void>): Promise<{ restored: Restored; stage: ArchiveStage; error?: ArchiveError; problems: string[] }> {
  const copy = mkdtempSync(join(tmpdir(), "restoretest-archivecopy-"));
  cpSync(join(store.path, service.name), join(copy, service.name), { recursive: true });
  const isolated = { ...service, backup: { ...service.backup, store: copy } };
  damage?.(binlogArchiveDir(copy, service.name));
  const restored = await restoreService(isolated);
  const destroy = restored.destroy;
  restored.destroy = async () => {
    await destroy();
    rmSync(copy, { recursive: true, force: true });
  };
  await before?.(restored);
  const stage = new ArchiveStage(isolated);
  const { problems } = await stage.contiguous(restored);
  const error = await stage.apply(restored).then(
    () => undefined,
    (e: unknown) => e as ArchiveError,
  );
  return { restored, stage, error, problems };
}

describe("the archive stage", () => {
  it("rolls the restore forward to the archive's newest event: the source's data, a recovery point within seconds", async () => {
    const { restored, error, problems } = await rollForward();
    try {
      expect(problems).toEqual([]);
      expect(error).toBeUndefined();
      const [sum] = await restored.db.query<{ Checksum: string }>("CHECKSUM TABLE shop.orders");
      expect(String(sum?.Checksum)).toBe(finalChecksum);
      expect(restored.restorable.source).toBe("binlog archive, replayed");
      // The writes stopped moments before: the proven recovery point is within seconds, not the backup's age.
      expect(restored.rpoSeconds).toBeLessThan(30);
      expect(restored.rolledForward?.file).toBe(listArchive(archive).at(-1));
    } finally {
      await restored.destroy();
    }
  }, 180_000);

  /** About half the file, inside an event: half itself can fall on an event's boundary (seen), then one byte on. */
  const midEvent = (path: string): number => {
    const bytes = readFileSync(path);
    const half = Math.floor(bytes.length / 2);
    const probe = join(tmpdir(), `probe-${process.pid}`);
    writeFileSync(probe, bytes.subarray(0, half));
    const boundary = !walkBinlog(probe).endsMidEvent;
    rmSync(probe);
    return boundary ? half + 1 : half;
  };

  it("names an archived file truncated in the middle, and applies up to it", async () => {
    const files = listArchive(archive);
    const middle = files[1] as string;
    const { restored, error, problems } = await rollForward((dir) => truncateSync(join(dir, middle), midEvent(join(dir, middle))));
    try {
      expect(problems.join("\n")).toMatch(new RegExp(`^${middle.replace(/\./g, "\\.")} is cut off in the middle of an event at byte \\d+, though ${files[2]?.replace(/\./g, "\\.")} follows it`));
      expect(error?.message).toMatch(new RegExp(`^applied up to ${middle.replace(/\./g, "\\.")}:\\d+, not to the archive's newest event`));
      expect(restored.rolledForward?.file).toBe(middle);
    } finally {
      await restored.destroy();
    }
  }, 180_000);

  it("names a removed archived file as a gap, with the files on both sides", async () => {
    const files = listArchive(archive);
    const { restored, problems } = await rollForward((dir) => rmSync(join(dir, files[1] as string)));
    try {
      expect(problems).toEqual([`gap in the archive: ${files[1]} is missing between ${files[0]} and ${files[2]}`]);
    } finally {
      await restored.destroy();
    }
  }, 180_000);

  it("names the first event that fails on the restored server by file:position, with the server's error", async () => {
    // A table the archive's writes go to is gone from the restore (as on a server that is not the source's copy).
    const { restored, error, problems } = await rollForward(undefined, async (r) => {
      await r.db.query("DROP TABLE shop.audit");
    });
    try {
      expect(problems).toEqual([]);
      expect(error?.message).toMatch(/^the archive does not apply: the event at mysql-bin\.\d+:\d+ failed on the restored server: ERROR 1146 \(42S02\) at line \d+: Table 'shop\.audit' doesn't exist/);
    } finally {
      await restored.destroy();
    }
  }, 180_000);

  it("names a damaged event by file:position before replaying past it", async () => {
    const files = listArchive(archive);
    const target = files[1] as string;
    let position = 0;
    const { restored, error, problems } = await rollForward((dir) => {
      position = damageFifthEvent(join(dir, target));
    });
    try {
      expect(problems).toEqual([expect.stringMatching(new RegExp(`^${target.replace(/\./g, "\\.")}:${position}: damaged event \\(type \\d+, its CRC32 checksum does not hold\\)`))]);
      expect(error?.message).toContain(`${target}:${position}: damaged event`);
    } finally {
      await restored.destroy();
    }
  }, 180_000);
});
