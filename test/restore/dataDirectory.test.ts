// A table whose files live outside the datadir (CREATE TABLE … DATA DIRECTORY, a table's and a partition's), on real
// MariaDB: the backup holds its rows, the restore reads them from its own copy, never from the source's directory,
// and the verification is green: where the files live is the host's, not the table's.
import { chmodSync, mkdtempSync, readdirSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runBackupJob } from "../../src/backup/job.ts";
import type { Service } from "../../src/config/schema.ts";
import type { Db } from "../../src/db/connection.ts";
import { applySeed, startSourceSandbox, type SeededSource } from "../../src/hosts/sourceSandbox.ts";
import { restoreService } from "../../src/restore/pipeline.ts";
import { redFindings } from "../faults/catalog.ts";
import { SMALL_SEED, sandboxServers, testStore } from "../support/services.ts";
import { serverService } from "../support/writeLoad.ts";

const store = testStore();
/** The other disk: outside the source's datadir, where the source server keeps the tables' files. */
const remote = mkdtempSync(join(tmpdir(), "restoretest-remote-"));
let source: SeededSource;
let db: Db;
let service: Service;

beforeAll(async () => {
  chmodSync(remote, 0o777);
  source = await startSourceSandbox("datadir-remote");
  await applySeed(source, SMALL_SEED, "shop");
  db = await source.server.connect();
  await db.query(`CREATE TABLE shop.remote (id INT PRIMARY KEY, v VARCHAR(20)) ENGINE=InnoDB DATA DIRECTORY='${remote}'`);
  await db.query(
    `CREATE TABLE shop.remote_parts (id INT PRIMARY KEY, v VARCHAR(20)) ENGINE=InnoDB PARTITION BY RANGE (id) ` +
      `(PARTITION near VALUES LESS THAN (100), PARTITION far VALUES LESS THAN MAXVALUE DATA DIRECTORY='${remote}')`,
  );
  for (const t of ["remote", "remote_parts"]) await db.query(`INSERT INTO shop.${t} SELECT seq, 'in the backup' FROM shop.seq_1_to_200`);
  service = serverService("shop", source, store.path, "snapshot");
  await runBackupJob(service);
  // After the backup: rows a restore that read the source's files would show.
  for (const t of ["remote", "remote_parts"]) await db.query(`INSERT INTO shop.${t} SELECT seq, 'after the backup' FROM shop.seq_201_to_500`);
}, 180_000);

afterAll(async () => {
  await db?.close();
  await source?.destroy();
  store.remove();
  rmSync(remote, { recursive: true, force: true });
  expect(await sandboxServers()).toEqual([]);
});

describe("a table with DATA DIRECTORY", () => {
  it("restores from the backup's own copy, not the source's directory, and verifies green", async () => {
    const restored = await restoreService(service);
    try {
      for (const t of ["remote", "remote_parts"]) {
        const rows = await restored.db.query<{ v: string; n: number }>(`SELECT v, COUNT(*) AS n FROM shop.${t} GROUP BY v`);
        expect(rows.map((r) => [r.v, Number(r.n)])).toEqual([["in the backup", 200]]);
      }
      // No file the restored server has open is in the source's directory.
      const open = readdirSync(`/proc/${restored.server.pid}/fd`).flatMap((fd) => {
        try {
          return [readlinkSync(`/proc/${restored.server.pid}/fd/${fd}`)];
        } catch {
          return [];
        }
      });
      expect(open.some((f) => f.startsWith(restored.server.datadir))).toBe(true);
      expect(open.filter((f) => f.startsWith(remote))).toEqual([]);
      expect(Object.fromEntries(await redFindings(restored, service))).toEqual({});
    } finally {
      await restored.destroy();
    }
  }, 180_000);
});
