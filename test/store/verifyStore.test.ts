// checksums.json and `restoretest verify-store` on stores built by hand (no database): every stored file checked against
// the size and SHA-256 it was written with, added, deleted, changed files named; and the binlog archive sealed in place.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { describeArchive, sealArchive } from "../../src/backup/binlogs.ts";
import { listArchive } from "../../src/store/archive.ts";
import { applyRetention } from "../../src/store/retention.ts";
import { CHECKSUMS_FILE, checkDirectory, filesBelow, readChecksums, writeChecksums } from "../../src/store/checksums.ts";
import { hashFile, openStored, type StoredFile } from "../../src/store/stored.ts";
import { formatStoreReport, verifyStore, type StoreReport } from "../../src/store/verifyStore.ts";
import { testService, testStore } from "../support/services.ts";
import { writeFakeBackup } from "../support/storeFixtures.ts";
import { rejection } from "../support/rejection.ts";

const stores: ReturnType<typeof testStore>[] = [];
afterAll(() => stores.forEach((s) => s.remove()));
function newStore(): string {
  const store = testStore();
  stores.push(store);
  return store.path;
}

const ID = "2026-11-25T03-00-00Z";
const CHECKPOINTS = "backup_type = full-backuped\nfrom_lsn = 0\nto_lsn = 47000\n";
const sha256 = (data: Buffer | string) => createHash("sha256").update(data).digest("hex");

/** Every file below `dir` but backup.json, with its size and SHA-256, as the backup job lists them. */
async function listed(dir: string): Promise<StoredFile[]> {
  const files = filesBelow(dir).filter((f) => f !== "backup.json" && f !== CHECKSUMS_FILE);
  return Promise.all(files.map(async (path) => ({ path, ...(await hashFile(join(dir, path))) })));
}

/**
 * A finished stream backup of `shop` in `store`: its stream file (arbitrary bytes: verify-store needs no key), tool-info,
 * binlogs, manifest, checksums.json, and backup.json naming checksums.json's SHA-256. Returns its directory.
 */
async function streamBackup(store: string, id = ID): Promise<string> {
  const dir = writeFakeBackup(store, "shop", id, { format: "stream", dataFile: "data.mbstream.zst.age", compression: "zstd", encrypted: true });
  rmSync(join(dir, "data"), { recursive: true });
  writeFileSync(join(dir, "data.mbstream.zst.age"), Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 7919) % 251)));
  mkdirSync(join(dir, "tool-info"));
  writeFileSync(join(dir, "tool-info", "xtrabackup_checkpoints"), CHECKPOINTS);
  mkdirSync(join(dir, "binlogs"));
  writeFileSync(join(dir, "binlogs", "mysql-bin.000001.zst.age"), "sealed binlog bytes");
  writeChecksums(dir, await listed(dir));
  const own = await hashFile(join(dir, CHECKSUMS_FILE));
  writeFakeBackup(store, "shop", id, { format: "stream", dataFile: "data.mbstream.zst.age", compression: "zstd", encrypted: true, checksums: own.sha256 });
  return dir;
}

function flipByte(path: string, at?: number): void {
  const bytes = readFileSync(path);
  const i = at ?? bytes.length >> 1;
  bytes[i] = (bytes[i] as number) ^ 0x04;
  writeFileSync(path, bytes);
}

async function verified(store: string): Promise<{ report: StoreReport; text: string }> {
  const report = await verifyStore(testService(store));
  return { report, text: formatStoreReport(report) };
}

const problemsOf = (report: StoreReport) => report.entries.flatMap((e) => e.problems);

describe("verify-store on a stream backup", () => {
  it("passes a store whose every file is as written", async () => {
    const store = newStore();
    const dir = await streamBackup(store);
    // Files written after the backup (a green restore's verified.json, dot files) are not the backup's.
    writeFileSync(join(dir, "verified.json"), "{}");
    writeFileSync(join(dir, ".lock"), "");
    const { report, text } = await verified(store);
    expect(report.ok).toBe(true);
    expect(report.entries).toEqual([{ what: ID, files: 4, bytes: expect.any(Number), problems: [], notes: [] }]);
    expect(report.entries[0]?.bytes).toBeGreaterThan(70_000);
    expect(text.split("\n")).toEqual([
      `verify-store shop (${join(store, "shop")})`,
      `  OK   ${ID}  4 files, 0.1 MB`,
      "verify-store shop: OK, 1 item(s), every stored byte as written",
    ]);
  });

  it("names a file added after the backup was written", async () => {
    const store = newStore();
    const dir = await streamBackup(store);
    writeFileSync(join(dir, "binlogs", "mysql-bin.000002"), "late");
    const { report, text } = await verified(store);
    expect(report.ok).toBe(false);
    expect(problemsOf(report)).toEqual([`${join(dir, "binlogs", "mysql-bin.000002")} is in the store but not in checksums.json: it was added after the backup was written`]);
    expect(text).toContain(`  BAD  ${ID}`);
    expect(text).toMatch(/verify-store shop: 1 problem\(s\) in 1 of 1 item\(s\)$/);
  });

  it("names a listed file that was deleted", async () => {
    const store = newStore();
    const dir = await streamBackup(store);
    rmSync(join(dir, "tool-info", "xtrabackup_checkpoints"));
    const { report } = await verified(store);
    expect(problemsOf(report)).toEqual([
      `${join(dir, "tool-info", "xtrabackup_checkpoints")} is listed in checksums.json (${CHECKPOINTS.length} bytes) but is not in the store: it was deleted or never finished`,
    ]);
  });

  it("names a stored file with one byte flipped", async () => {
    const store = newStore();
    const dir = await streamBackup(store);
    const path = join(dir, "data.mbstream.zst.age");
    flipByte(path);
    const { report, text } = await verified(store);
    expect(problemsOf(report)).toEqual([expect.stringMatching(/^stored file .* does not match its SHA-256 \(\w{16}… when written, \w{16}… now\): the store's copy is damaged/)]);
    expect(problemsOf(report)[0]).toContain(path);
    expect(text).toContain(path);
  });

  it("names a checksums.json that was changed after the backup", async () => {
    const store = newStore();
    const dir = await streamBackup(store);
    // Rewritten to match a changed file: the list itself no longer is the one backup.json names.
    appendFileSync(join(dir, "manifest.json"), " ");
    writeChecksums(dir, await listed(dir));
    const { report } = await verified(store);
    expect(problemsOf(report)).toEqual([
      `${join(dir, CHECKSUMS_FILE)} is not the list written with the backup (backup.json records another SHA-256): it was changed`,
    ]);
  });

  it("names a checksums.json that was deleted or is no list at all", async () => {
    const store = newStore();
    const dir = await streamBackup(store);
    rmSync(join(dir, CHECKSUMS_FILE));
    expect(problemsOf((await verified(store)).report)).toEqual([
      `${join(dir, CHECKSUMS_FILE)} is missing, though backup.json records its SHA-256: the store's list of this backup's files was deleted`,
    ]);
    writeFileSync(join(dir, CHECKSUMS_FILE), "{not json");
    expect(problemsOf((await verified(store)).report)).toEqual([expect.stringMatching(new RegExp(`^${join(dir, CHECKSUMS_FILE)} is not valid JSON`))]);
  });

  it("notes a backup from before checksums, without calling it a problem", async () => {
    const store = newStore();
    writeFakeBackup(store, "shop", ID);
    const { report, text } = await verified(store);
    expect(report.ok).toBe(true);
    expect(report.entries[0]?.notes).toEqual(["taken before restoretest kept checksums: its files cannot be checked (the nightly restore still proves it)"]);
    expect(text).toContain("note: taken before restoretest kept checksums");
    expect(text).toMatch(/OK, 1 item\(s\)/);
  });

  it("notes a backup being written and names one whose backup.json is damaged", async () => {
    const store = newStore();
    mkdirSync(join(store, "shop", "2026-11-26T03-00-00Z"), { recursive: true });
    mkdirSync(join(store, "shop", "2026-11-27T03-00-00Z"), { recursive: true });
    writeFileSync(join(store, "shop", "2026-11-27T03-00-00Z", "backup.json"), "{}");
    const { report } = await verified(store);
    expect(report.entries.map((e) => [e.what, e.problems.length, e.notes.length])).toEqual([
      ["2026-11-26T03-00-00Z", 0, 1],
      ["2026-11-27T03-00-00Z", 1, 0],
    ]);
    expect(report.ok).toBe(false);
  });

  it("says when the store holds nothing for the service", async () => {
    const { report, text } = await verified(newStore());
    expect(report).toMatchObject({ ok: true, entries: [] });
    expect(text).toContain("the store holds nothing for this service");
  });
});

describe("verify-store on the binlog archive", () => {
  /** `<store>/shop/binlogs/` with a sealed mysql-bin.000001.zst (listed) and the plain newest mysql-bin.000002. */
  function archive(store: string): string {
    const dir = join(store, "shop", "binlogs");
    mkdirSync(dir, { recursive: true });
    const sealed = Buffer.from("a sealed binlog, compressed: any bytes will do here");
    writeFileSync(join(dir, "mysql-bin.000001.zst"), sealed);
    writeChecksums(dir, [{ path: "mysql-bin.000001.zst", bytes: sealed.length, sha256: sha256(sealed), rawBytes: 4096 }]);
    writeFileSync(join(dir, "mysql-bin.000002"), "being written");
    return dir;
  }

  it("passes sealed files as written, and notes the plain one being written", async () => {
    const store = newStore();
    const dir = archive(store);
    // The copier's leftovers are not the archive's files.
    writeFileSync(join(dir, "mysql-bin.000003.zst.partial"), "");
    const { report, text } = await verified(store);
    expect(report.ok).toBe(true);
    expect(report.entries).toEqual([
      {
        what: "binlog archive",
        files: 1,
        bytes: 51,
        problems: [],
        notes: ["mysql-bin.000002 is plain (the file being written, or an archive kept unsealed): checked event by event (CRC32) by the nightly archive stage, not here"],
      },
    ]);
    expect(text).toContain("  OK   binlog archive  1 files");
    expect(text).toContain("note: mysql-bin.000002 is plain");
  });

  it("names a sealed file with a flipped byte, and a sealed file nobody listed", async () => {
    const store = newStore();
    const dir = archive(store);
    flipByte(join(dir, "mysql-bin.000001.zst"), 3);
    writeFileSync(join(dir, "mysql-bin.000003.zst.age"), "unlisted");
    const { report } = await verified(store);
    expect(report.ok).toBe(false);
    expect(problemsOf(report)).toEqual([
      `${join(dir, "mysql-bin.000003.zst.age")} is in the store but not in checksums.json: it was added after the backup was written`,
      expect.stringMatching(new RegExp(`^stored file ${join(dir, "mysql-bin.000001.zst")} does not match its SHA-256`)),
    ]);
  });

  it("names sealed files deleted from the archive, even when none is left", async () => {
    const store = newStore();
    const dir = archive(store);
    rmSync(join(dir, "mysql-bin.000001.zst"));
    const missing = `${join(dir, "mysql-bin.000001.zst")} is listed in checksums.json (51 bytes) but is not in the store: it was deleted or never finished`;
    expect(problemsOf((await verified(store)).report)).toEqual([missing]);
    rmSync(join(dir, "mysql-bin.000002"));
    const { report } = await verified(store);
    expect(report.entries.map((e) => e.what)).toEqual(["binlog archive"]);
    expect(problemsOf(report)).toEqual([missing]);
  });

  it("checks backups and the archive in one report", async () => {
    const store = newStore();
    await streamBackup(store);
    archive(store);
    const { report, text } = await verified(store);
    expect(report.entries.map((e) => e.what)).toEqual([ID, "binlog archive"]);
    expect(text).toMatch(/verify-store shop: OK, 2 item\(s\)/);
  });
});

describe("checksums.json", () => {
  it("is sorted, read back as written, and checked file by file", async () => {
    const dir = mkdtempSync(join(newStore(), "checksums-"));
    writeFileSync(join(dir, "b"), "bee");
    mkdirSync(join(dir, "sub"));
    writeFileSync(join(dir, "sub", "a"), "ay");
    writeChecksums(dir, [
      { path: "sub/a", bytes: 2, sha256: sha256("ay") },
      { path: "b", bytes: 3, sha256: sha256("bee"), rawBytes: 10 },
    ]);
    const checksums = readChecksums(dir);
    expect(checksums).toEqual({ version: 1, algorithm: "sha256", files: [{ path: "b", bytes: 3, sha256: sha256("bee"), rawBytes: 10 }, { path: "sub/a", bytes: 2, sha256: sha256("ay") }] });
    expect(filesBelow(dir)).toEqual(["b", CHECKSUMS_FILE, "sub/a"]);
    expect(await checkDirectory(dir, checksums as NonNullable<typeof checksums>, () => false)).toEqual({ files: 2, bytes: 5, problems: [] });
    writeFileSync(join(dir, "b"), "bea");
    expect((await checkDirectory(dir, checksums as NonNullable<typeof checksums>, () => false)).problems).toEqual([
      expect.stringMatching(new RegExp(`^stored file ${join(dir, "b")} does not match its SHA-256`)),
    ]);
    expect(readChecksums(join(dir, "sub"))).toBeUndefined();
    writeFileSync(join(dir, CHECKSUMS_FILE), JSON.stringify({ version: 1, algorithm: "md5", files: [] }));
    expect(() => readChecksums(dir)).toThrow(new RegExp(`^${join(dir, CHECKSUMS_FILE)} is not a valid list of checksums: .* at algorithm$`));
  });
});

describe("sealing the binlog archive", () => {
  const keyDir = mkdtempSync(join(tmpdir(), "restoretest-seal-key-"));
  afterAll(() => rmSync(keyDir, { recursive: true, force: true }));
  const keyFile = join(keyDir, "key.txt");
  const made = spawnSync("age-keygen", ["-o", keyFile], { encoding: "utf8" });
  if (made.status !== 0) throw new Error(`age-keygen failed: ${made.stderr}`);
  const encoding = { compress: { level: 3, threads: 1 }, encrypt: { keyFile } };
  const content = (n: number) => Buffer.from(`binlog ${n} `.repeat(500 * n));

  function plainArchive(): string {
    const dir = join(newStore(), "shop", "binlogs");
    mkdirSync(dir, { recursive: true });
    for (const n of [1, 2, 3]) writeFileSync(join(dir, `mysql-bin.00000${n}`), content(n));
    return dir;
  }

  it("seals every closed file (not the newest), records each in checksums.json, and removes the plain ones", async () => {
    const dir = plainArchive();
    expect(await sealArchive(dir, encoding)).toEqual(["mysql-bin.000001", "mysql-bin.000002"]);
    expect(readdirSync(dir).sort()).toEqual([CHECKSUMS_FILE, "mysql-bin.000001.zst.age", "mysql-bin.000002.zst.age", "mysql-bin.000003"]);
    const checksums = readChecksums(dir);
    expect(checksums?.files.map((f) => [f.path, f.rawBytes])).toEqual([
      ["mysql-bin.000001.zst.age", content(1).length],
      ["mysql-bin.000002.zst.age", content(2).length],
    ]);
    for (const f of checksums?.files ?? []) expect(await hashFile(join(dir, f.path))).toEqual({ bytes: f.bytes, sha256: f.sha256 });
    expect(listArchive(dir)).toEqual(["mysql-bin.000001", "mysql-bin.000002", "mysql-bin.000003"]);
    // A sealed file's plain size is the one recorded as it was written.
    // (The plain newest is the server's size here: its events are not walked, it holds none.)
    expect(describeArchive(dir, [{ name: "mysql-bin.000003", size: content(3).length }]).map((f) => [f.name, f.size])).toEqual([
      ["mysql-bin.000001", content(1).length],
      ["mysql-bin.000002", content(2).length],
      ["mysql-bin.000003", content(3).length],
    ]);
    // What was sealed decrypts back (zstd left in: the stream is still compressed) and checks.
    const entry = checksums?.files[1] as StoredFile;
    const opened = openStored(join(dir, entry.path), entry, { keyFile });
    const chunks: Buffer[] = [];
    for await (const chunk of opened.stream) chunks.push(chunk as Buffer);
    await opened.check();
    const plain = spawnSync("zstd", ["-q", "-d", "-c"], { input: Buffer.concat(chunks) });
    expect(plain.stdout.equals(content(2))).toBe(true);
    // Nothing left to seal; a second pass changes nothing.
    expect(await sealArchive(dir, encoding)).toEqual([]);
    // And verify-store passes the sealed archive, noting the plain newest.
    const { report } = await verified(join(dir, "..", ".."));
    expect(report.ok).toBe(true);
    expect(report.entries[0]).toMatchObject({ what: "binlog archive", files: 2, notes: [expect.stringMatching(/^mysql-bin\.000003 is plain/)] });
  });

  it("seals the newest too with all, keeping earlier entries", async () => {
    const dir = plainArchive();
    await sealArchive(dir, encoding);
    expect(await sealArchive(dir, encoding, { all: true })).toEqual(["mysql-bin.000003"]);
    expect(readdirSync(dir).filter((n) => !n.endsWith(".age"))).toEqual([CHECKSUMS_FILE]);
    expect(readChecksums(dir)?.files.map((f) => f.path)).toEqual(["mysql-bin.000001.zst.age", "mysql-bin.000002.zst.age", "mysql-bin.000003.zst.age"]);
    expect(listArchive(dir)).toEqual(["mysql-bin.000001", "mysql-bin.000002", "mysql-bin.000003"]);
  });

  it("lets retention prune sealed files before the oldest kept backup, and verify-store pass what is left", async () => {
    const store = newStore();
    const dir = join(store, "shop", "binlogs");
    mkdirSync(dir, { recursive: true });
    for (const n of [1, 2, 3, 4]) writeFileSync(join(dir, `mysql-bin.00000${n}`), content(n));
    await sealArchive(dir, encoding);
    // Two chains; keeping one, the oldest kept backup starts at mysql-bin.000003.
    const at = (file: string) => ({ file, position: 4, gtid: "" });
    writeFakeBackup(store, "shop", "2026-11-24T03-00-00Z", { position: at("mysql-bin.000001") });
    writeFakeBackup(store, "shop", ID, { position: at("mysql-bin.000003") });
    const result = applyRetention(store, "shop", 1);
    expect(result).toEqual({ removedBackups: ["2026-11-24T03-00-00Z"], removedBinlogs: ["mysql-bin.000001.zst.age", "mysql-bin.000002.zst.age"] });
    expect(listArchive(dir)).toEqual(["mysql-bin.000003", "mysql-bin.000004"]);
    // Pruned files are not damage: noted until the copier next rewrites the list, which then drops them.
    const before = await verified(store);
    expect(before.report.ok).toBe(true);
    expect(before.report.entries.at(-1)?.notes).toContain(
      "mysql-bin.000001.zst.age, mysql-bin.000002.zst.age in checksums.json were pruned by retention (before mysql-bin.000003, the oldest kept backup's file)",
    );
    await sealArchive(dir, encoding, { all: true });
    expect(readChecksums(dir)?.files.map((f) => f.path)).toEqual(["mysql-bin.000003.zst.age", "mysql-bin.000004.zst.age"]);
    expect((await verified(store)).report.entries.at(-1)).toMatchObject({ what: "binlog archive", files: 2, problems: [], notes: [] });
  });

  it("does nothing for a plain encoding or a missing archive, and refuses a missing key before touching a file", async () => {
    const dir = plainArchive();
    expect(await sealArchive(dir, { compress: null, encrypt: null })).toEqual([]);
    expect(await sealArchive(join(dir, "nowhere"), encoding)).toEqual([]);
    const missing = join(keyDir, "missing.txt");
    const error = await rejection(sealArchive(dir, { compress: null, encrypt: { keyFile: missing } }));
    expect(error.message).toContain(`backup.encrypt.keyFile ${missing} does not exist`);
    expect(readdirSync(dir).sort()).toEqual(["mysql-bin.000001", "mysql-bin.000002", "mysql-bin.000003"]);
    expect(existsSync(join(dir, CHECKSUMS_FILE))).toBe(false);
  });

  it("lists plain names for sealed files, in sequence order, skipping what is being written", () => {
    const dir = join(newStore(), "binlogs");
    mkdirSync(dir);
    for (const n of ["mysql-bin.000010", "mysql-bin.000009.zst.age", "mysql-bin.000002.zst", "mysql-bin.000003.age", "mysql-bin.000011.zst.partial", "checksums.json", "mysql-bin.index"]) {
      writeFileSync(join(dir, n), "");
    }
    expect(listArchive(dir)).toEqual(["mysql-bin.000002", "mysql-bin.000003", "mysql-bin.000009", "mysql-bin.000010"]);
    expect(listArchive(join(dir, "nowhere"))).toEqual([]);
  });
});
