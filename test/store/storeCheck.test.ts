// `store › every stored file as written` on real MariaDB, mariadb-backup and zstd: every stored file of the restored
// chain hashed while the transfer reads the store; a file removed, cut short or changed by one byte, and a file the
// list does not name, is named, in a directory backup and in a stream backup, also where the restore stays green; over
// ssh the store is hashed on the side that reads it. A clean chain is green (no false red).
import { readFileSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runBackupJob } from "../../src/backup/job.ts";
import type { StoredBackup } from "../../src/store/layout.ts";
import { listBackups } from "../../src/store/layout.ts";
import { parseServices } from "../../src/config/load.ts";
import type { Service } from "../../src/config/schema.ts";
import { restoreService } from "../../src/restore/pipeline.ts";
import { StoreCheck, type StoreCheckResult } from "../../src/store/storeCheck.ts";
import { mysqlService } from "../support/mysql.ts";
import { testServiceYaml, testStore } from "../support/services.ts";
import { startSshd, type TestSshd } from "../support/sshd.ts";

const store = testStore();
let directory: { service: Service; backup: StoredBackup };
let stream: { service: Service; backup: StoredBackup };
let sshd: TestSshd | undefined;

function serviceIn(sub: string, extra = ""): Service {
  const path = join(store.path, sub);
  const [service] = parseServices(testServiceYaml(path, extra), join(path, "services.yaml"));
  if (!service) throw new Error("no service parsed");
  return service;
}

/** Damage files of a backup for one case, and put every byte back afterwards (the next case starts from a sound store). */
async function damaged<T>(backup: StoredBackup, damage: Record<string, "remove" | "truncate" | "flip" | "add">, body: () => Promise<T>): Promise<T> {
  const saved = new Map<string, Buffer | undefined>();
  for (const [file, how] of Object.entries(damage)) {
    const path = join(backup.dir, file);
    saved.set(path, how === "add" ? undefined : readFileSync(path));
    if (how === "remove") rmSync(path);
    if (how === "truncate") truncateSync(path, Math.floor(statSync(path).size / 2));
    if (how === "flip") {
      const bytes = readFileSync(path);
      // The last byte: in ibdata1 a free page no restore reads, in a stream the end of zstd's frame.
      const at = bytes.length - 1;
      bytes[at] = (bytes[at] as number) ^ 0x01;
      writeFileSync(path, bytes);
    }
    if (how === "add") writeFileSync(path, "left here by hand\n");
  }
  try {
    return await body();
  } finally {
    for (const [path, bytes] of saved) {
      if (bytes) writeFileSync(path, bytes);
      else rmSync(path, { force: true });
    }
  }
}

/** A restore with the store check, as the nightly runs it: whether it succeeded, and what the check found. */
async function restoreChecked(service: Service): Promise<{ restored: boolean; error?: string; check: StoreCheckResult | undefined }> {
  const storeCheck = new StoreCheck();
  try {
    const r = await restoreService(service, { storeCheck, poolSize: 1 });
    await r.db.query("SELECT 1");
    await r.destroy();
    return { restored: true, check: await storeCheck.result() };
  } catch (error) {
    return { restored: false, error: (error as Error).message, check: await storeCheck.result() };
  }
}

beforeAll(async () => {
  const dirService = serviceIn("directory");
  const streamService = serviceIn("stream", "      format: stream\n      compress: zstd\n");
  await runBackupJob(dirService);
  await runBackupJob(streamService);
  directory = { service: dirService, backup: listBackups(dirService.backup.store, "shop").complete[0] as StoredBackup };
  stream = { service: streamService, backup: listBackups(streamService.backup.store, "shop").complete[0] as StoredBackup };
}, 180_000);

afterAll(async () => {
  await sshd?.stop();
  store.remove();
});

describe("store › every stored file as written: a directory backup", () => {
  it("a clean backup: every listed file checked, nothing red", async () => {
    const { restored, check } = await restoreChecked(directory.service);
    expect(restored).toBe(true);
    expect(check?.problems).toEqual([]);
    expect(check?.files).toBeGreaterThan(100);
    // Every byte of data/, the binlogs, the manifest and the digest key: what checksums.json lists.
    expect(check?.bytes).toBe((JSON.parse(readFileSync(join(directory.backup.dir, "checksums.json"), "utf8")) as { files: { bytes: number }[] }).files.reduce((n, f) => n + f.bytes, 0));
  }, 120_000);

  it("a file removed, one cut short, one changed by a byte and one added: each named, while the restore stays green", async () => {
    const { restored, error, check } = await damaged(
      directory.backup,
      { "data/xtrabackup_info": "remove", "data/xtrabackup_binlog_info": "truncate", "data/ibdata1": "flip", "data/notes.txt": "add" },
      () => restoreChecked(directory.service),
    );
    expect(restored, error).toBe(true);
    const at = (file: string) => join(directory.backup.dir, file);
    expect(check?.problems).toHaveLength(4);
    expect(check?.problems).toEqual(
      expect.arrayContaining([
        `${at("data/notes.txt")} is in the store but not in checksums.json: it was added after the backup was written`,
        expect.stringMatching(new RegExp(`^${at("data/xtrabackup_info")} is listed in checksums.json \\(\\d+ bytes\\) but is not in the store`)),
        expect.stringMatching(new RegExp(`^stored file ${at("data/xtrabackup_binlog_info")} is \\d+ bytes, but \\d+ were written`)),
        expect.stringMatching(new RegExp(`^stored file ${at("data/ibdata1")} .*SHA-256`)),
      ]),
    );
  }, 120_000);
});

describe("store › every stored file as written: a stream backup (zstd)", () => {
  const file = () => stream.backup.meta.dataFile as string;

  it("a clean stream: the stream hashed as it was unpacked, the rest alongside, nothing red", async () => {
    const { restored, check } = await restoreChecked(stream.service);
    expect(restored).toBe(true);
    expect(check?.problems).toEqual([]);
    expect(check?.bytes).toBeGreaterThanOrEqual(statSync(join(stream.backup.dir, file())).size);
  }, 120_000);

  it("a tool file removed and a file added beside the stream: named, while the restore stays green", async () => {
    const { restored, error, check } = await damaged(stream.backup, { "tool-info/xtrabackup_info": "remove", "notes.txt": "add" }, () => restoreChecked(stream.service));
    expect(restored, error).toBe(true);
    expect(check?.problems).toHaveLength(2);
    expect(check?.problems.join("\n")).toContain(`${join(stream.backup.dir, "tool-info/xtrabackup_info")} is listed in checksums.json`);
    expect(check?.problems.join("\n")).toContain(`${join(stream.backup.dir, "notes.txt")} is in the store but not in checksums.json`);
  }, 120_000);

  for (const how of ["remove", "truncate", "flip"] as const) {
    it(`the stream ${how === "flip" ? "changed by one byte" : how === "remove" ? "removed" : "cut short"}: named by the store test (the restore is red too)`, async () => {
      const { restored, check } = await damaged(stream.backup, { [file()]: how }, () => restoreChecked(stream.service));
      expect(restored).toBe(false);
      expect(check?.problems.length, JSON.stringify(check)).toBeGreaterThanOrEqual(1);
      expect(check?.problems.every((p) => p.includes(join(stream.backup.dir, file())))).toBe(true);
      const words = { remove: /is not in the store|cannot be read/, truncate: /bytes, but \d+ were written/, flip: /SHA-256/ }[how];
      expect(check?.problems.join("\n")).toMatch(words);
    }, 120_000);
  }
});

describe("store › every stored file as written: a restore over ssh", () => {
  it("hashes the store where it is read (this side), naming a changed file, the restore green on the host", async () => {
    sshd = await startSshd();
    const remote = join(store.path, "remote");
    const ssh = { host: sshd.host, port: sshd.port, user: sshd.user, identityFile: sshd.identityFile, knownHosts: sshd.knownHosts, workDir: remote };
    const overSsh: Service = { ...directory.service, restore: { ...directory.service.restore, provider: "ssh", ssh } };
    const { restored, error, check } = await damaged(directory.backup, { "data/xtrabackup_info": "flip" }, () => restoreChecked(overSsh));
    expect(restored, error).toBe(true);
    expect(check?.problems).toEqual([expect.stringMatching(new RegExp(`^stored file ${join(directory.backup.dir, "data/xtrabackup_info")} .*SHA-256`))]);
  }, 180_000);
});

describe("store › every stored file as written: a MySQL 9.7 clone backup", () => {
  it("an undo tablespace removed: the restore stays green, the store check names the file", async () => {
    const service = mysqlService(join(store.path, "mysql"));
    await runBackupJob(service);
    const backup = listBackups(service.backup.store, "shop").complete[0] as StoredBackup;
    const { restored, error, check } = await damaged(backup, { "data/undo_002": "remove" }, () => restoreChecked(service));
    expect(restored, error).toBe(true);
    expect(check?.problems).toEqual([expect.stringMatching(new RegExp(`^${join(backup.dir, "data/undo_002")} is listed in checksums.json \\(\\d+ bytes\\) but is not in the store`))]);
  }, 240_000);
});
