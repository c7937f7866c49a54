// Table-level point-in-time restore, on real MariaDB with `restoretest binlogs` copying: a DELETE without WHERE on one
// table, with writes to other tables around it, is found in the archive, and the table restored to right before it
// equals the snapshot the test took just before the DELETE.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startBinlogCopy } from "../../src/backup/binlogs.ts";
import { runBackupJob } from "../../src/backup/job.ts";
import { binlogArchiveDir } from "../../src/store/layout.ts";
import type { Service } from "../../src/config/schema.ts";
import type { Db } from "../../src/db/connection.ts";
import { clientOptions } from "../../src/server/optionFile.ts";
import { applySeed, startSourceSandbox, type SeededSource } from "../../src/hosts/sourceSandbox.ts";
import { runCommand } from "../../src/base/command.ts";
import { describeEvent, findBreakingEvent, parseTableName, restoreTables } from "../../src/restore/table.ts";
import { untilArchived } from "../support/archive.ts";
import { SMALL_SEED, testStore } from "../support/services.ts";
import { serverService } from "../support/writeLoad.ts";
import { startSshd } from "../support/sshd.ts";

const store = testStore();
let source: SeededSource;
let db: Db;
let service: Service;
let snapshot: { checksum: string; rows: string };
let beforeDelete: Date;

async function tableState(database: string): Promise<{ checksum: string; rows: string }> {
  const [sum] = await db.query<{ Checksum: string }>(`CHECKSUM TABLE \`${database}\`.order_tags`);
  const rows = await db.query("SELECT order_id, tag FROM `" + database + "`.order_tags ORDER BY order_id, tag");
  return { checksum: String(sum?.Checksum), rows: JSON.stringify(rows) };
}

beforeAll(async () => {
  source = await startSourceSandbox("tablepitr");
  await applySeed(source, SMALL_SEED, "shop");
  db = await source.server.connect();
  service = serverService("shop", source, store.path, "snapshot");
  await runBackupJob(service);
  const copier = await startBinlogCopy(service, { restartDelayMs: 200 });
  try {
    // The day after the backup: writes to other tables and to this one, then the bad DELETE, then more writes.
    await db.query("INSERT INTO shop.audit VALUES (1001, 'before')");
    await db.query("INSERT INTO shop.order_tags VALUES (1, 'late')");
    await db.query("FLUSH BINARY LOGS");
    await db.query("UPDATE shop.customers SET balance = balance + 1 WHERE id < 10");
    snapshot = await tableState("shop");
    beforeDelete = new Date(Date.now() - 1000);
    await db.query("DELETE FROM shop.order_tags");
    await db.query("INSERT INTO shop.audit VALUES (1002, 'after')");
    await db.query("UPDATE shop.customers SET balance = balance + 1 WHERE id < 10");
    await untilArchived(db, binlogArchiveDir(store.path, service.name));
  } finally {
    await copier.stop();
  }
}, 240_000);

afterAll(async () => {
  await db?.close();
  await source?.destroy();
  store.remove();
});

describe("restore --table --before-destructive --dump", () => {
  it("finds the DELETE without WHERE in the archive, and names it", async () => {
    const event = await findBreakingEvent(service, parseTableName("shop.order_tags"), beforeDelete);
    expect(event).toMatchObject({ kind: "DELETE", format: "ROW", rows: JSON.parse(snapshot.rows).length });
    expect(describeEvent(event)).toMatch(/mysql-bin\.\d+:\d+ \(ROW, GTID 0-1-\d+\) DELETE, \d+ row\(s\): DELETE FROM shop\.order_tags/);
    await expect(findBreakingEvent(service, parseTableName("shop.empty_table"))).rejects.toThrow(/no event in mysql-bin\.\d+ … mysql-bin\.\d+ drops, truncates, renames, deletes from or updates shop\.empty_table/);
  });

  it("delivers the table as it was right before it, as SQL that never drops a table", async () => {
    const event = await findBreakingEvent(service, parseTableName("shop.order_tags"), beforeDelete);
    const dump = join(store.path, "order_tags.sql");
    const result = await restoreTables(service, [parseTableName("shop.order_tags")], { position: { file: event.file, position: event.position, gtid: "" } }, dump);
    expect(result.tables).toEqual([{ table: { database: "shop", table: "order_tags" }, rows: JSON.parse(snapshot.rows).length }]);
    expect(result.steps.map((s) => s.step)).toEqual(["locate", "provision", "transfer", "prepare", "start", "replay", "dump"]);
    const sql = readFileSync(dump, "utf8");
    expect(sql).not.toMatch(/DROP TABLE/);
    // Loaded into a scratch database of the source, it equals the snapshot taken just before the DELETE.
    await db.query("CREATE DATABASE restored_check");
    const options = join(store.path, "client.cnf");
    writeFileSync(options, clientOptions({ user: "root", password: source.server.password, socket: source.server.socket }), { mode: 0o600 });
    await runCommand("bash", ["-c", `sed 's/^USE \`shop\`;/USE \`restored_check\`;/' ${dump} | mariadb --defaults-file=${options}`]);
    expect(await tableState("restored_check")).toEqual(snapshot);
  }, 120_000);

  it("from an ssh restore host, streams the same dump into the file (owner-only), nothing left on the host", async () => {
    const sshd = await startSshd();
    const remote = mkdtempSync(join(tmpdir(), "restoretest-tablessh-"));
    try {
      const ssh = { host: sshd.host, port: sshd.port, user: sshd.user, identityFile: sshd.identityFile, knownHosts: sshd.knownHosts, workDir: remote };
      const overSsh: Service = { ...service, restore: { ...service.restore, provider: "ssh", ssh } };
      const event = await findBreakingEvent(service, parseTableName("shop.order_tags"), beforeDelete);
      const dump = join(store.path, "order_tags-ssh.sql");
      const result = await restoreTables(overSsh, [parseTableName("shop.order_tags")], { position: { file: event.file, position: event.position, gtid: "" } }, dump);
      expect(result.tables[0]?.rows).toBe(JSON.parse(snapshot.rows).length);
      expect(statSync(dump).mode & 0o777).toBe(0o600);
      await db.query("DROP DATABASE IF EXISTS restored_ssh");
      await db.query("CREATE DATABASE restored_ssh");
      const options = join(store.path, "client.cnf");
      writeFileSync(options, clientOptions({ user: "root", password: source.server.password, socket: source.server.socket }), { mode: 0o600 });
      await runCommand("bash", ["-c", `sed 's/^USE \`shop\`;/USE \`restored_ssh\`;/' ${dump} | mariadb --defaults-file=${options}`]);
      expect(await tableState("restored_ssh")).toEqual(snapshot);
      expect(readdirSync(remote)).toEqual([]);
    } finally {
      await sshd.stop();
      rmSync(remote, { recursive: true, force: true });
    }
  }, 180_000);
});
