// Waiting on a running binlog copy in tests: a condition with a deadline, and the point-in-time scenario (two known
// writes a second apart, the second archived) that a restore to the time between them must split.
import { closeSync, openSync, readFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { walkBinlog } from "../../src/binlog/events.ts";
import { readBinlogEvents } from "../../src/backup/binlogs.ts";
import { listArchive } from "../../src/store/archive.ts";
import type { Db } from "../../src/db/connection.ts";
import { binlogPosition } from "../../src/db/introspect.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Poll `ok` every 100 ms until it holds; throws naming `what` after `ms`. */
export async function until(what: string, ok: () => boolean | Promise<boolean>, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** Wait until the archive in `archive` holds the source's newest event (its binlog position now; MariaDB or MySQL). */
export async function untilArchived(db: Db, archive: string): Promise<void> {
  const status = await binlogPosition(db);
  await until("the archive to hold the source's newest event", () => {
    const newest = listArchive(archive).at(-1);
    return newest !== undefined && newest === status?.file && walkBinlog(join(archive, newest)).completeBytes >= Number(status?.position);
  });
}

/**
 * Insert 1, then 2 into shop.empty_table a second boundary apart, and wait until the archive in `archive` holds the
 * second: a restore to the returned time must hold exactly the row 1.
 */
export async function twoWritesASecondApart(db: Db, archive: string): Promise<Date> {
  await db.query("INSERT INTO shop.empty_table VALUES (1)");
  const between = new Date(Math.ceil((Date.now() + 1) / 1000) * 1000);
  await sleep(between.getTime() - Date.now() + 1100);
  await db.query("INSERT INTO shop.empty_table VALUES (2)");
  const wroteSecond = Math.floor(Date.now() / 1000);
  await until("the second write to be archived", () => {
    const newest = listArchive(archive).at(-1);
    return newest !== undefined && (readBinlogEvents(join(archive, newest)).lastEventTime ?? 0) >= wroteSecond;
  });
  return between;
}

/** Damage the middle of the archived file's fifth event after the format description; returns where that event starts. */
export function damageFifthEvent(path: string): number {
  const buffer = readFileSync(path);
  let offset = 4;
  for (let i = 0; i < 5; i++) offset += buffer.readUInt32LE(offset + 9);
  const fd = openSync(path, "r+");
  writeSync(fd, Buffer.from([0xa5, 0xa5, 0xa5, 0xa5]), 0, 4, offset + 20);
  closeSync(fd);
  return offset;
}
