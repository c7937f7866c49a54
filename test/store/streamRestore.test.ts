// Stream backups as fleets store them, against real mariadb-backup, zstd, age and sshd: a chain compressed and
// encrypted as it is written restores green in one pass, locally and over ssh; a damaged stored byte is red at transfer
// naming the file, before prepare; a wrong or missing key is named; the store holds no plaintext; the sealed binlog
// archive rolls forward, and a damaged sealed file is named.
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ArchiveStage } from "../../src/restore/rollForward.ts";
import { startBinlogCopy } from "../../src/backup/binlogs.ts";
import { runBackupJob } from "../../src/backup/job.ts";
import { binlogArchiveDir, listBackups } from "../../src/store/layout.ts";
import { parseServices } from "../../src/config/load.ts";
import type { Service } from "../../src/config/schema.ts";
import { RestoreStepError, restoreService, type RestoreStepName } from "../../src/restore/pipeline.ts";
import { verifyStore, formatStoreReport } from "../../src/store/verifyStore.ts";
import { redFindings } from "../faults/catalog.ts";
import { testServiceYaml, testStore } from "../support/services.ts";
import { startSshd, type TestSshd } from "../support/sshd.ts";

const store = testStore();
let service: Service;
let keyFile: string;
let sshd: TestSshd | undefined;
/** A value of the seed's rows: in every page of customers and in the binlogs. */
const ROW_TEXT = "@example.test";

function flipByte(path: string, at = Math.floor(statSync(path).size / 2)): void {
  const bytes = readFileSync(path);
  bytes[at] = (bytes[at] as number) ^ 0xff;
  writeFileSync(path, bytes);
}

/** Every file below `dir` whose bytes contain `text`. */
function filesContaining(dir: string, text: string): string[] {
  const needle = Buffer.from(text);
  return (readdirSync(dir, { recursive: true, withFileTypes: true }) as import("node:fs").Dirent[])
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name))
    .filter((path) => readFileSync(path).includes(needle));
}

/** The steps a restore started, in order, whether it succeeded or not. */
async function stepsOf(run: (runStep: <T>(step: RestoreStepName, body: () => Promise<T>) => Promise<T>) => Promise<unknown>): Promise<{ steps: RestoreStepName[]; error: unknown }> {
  const steps: RestoreStepName[] = [];
  try {
    await run((step, body) => {
      steps.push(step);
      return body();
    });
    return { steps, error: undefined };
  } catch (error) {
    return { steps, error };
  }
}

beforeAll(async () => {
  keyFile = join(store.path, "key.age");
  execFileSync("age-keygen", ["-o", keyFile], { stdio: "ignore" });
  const extra = ["      format: stream", "      compress: zstd", `      encrypt: {keyFile: ${keyFile}}`, "      policy: incremental"].join("\n");
  [service] = parseServices(testServiceYaml(join(store.path, "store"), extra, "shop", { changes: true }), join(store.path, "services.yaml")) as [Service];
  const full = await runBackupJob(service);
  expect(full.meta).toMatchObject({ kind: "full", format: "stream", compression: "zstd", encrypted: true, dataFile: "data.mbstream.zst.age" });
  const incremental = await runBackupJob(service);
  expect(incremental.meta).toMatchObject({ kind: "incremental", base: full.meta.id, format: "stream" });
  // The day's writes, archived and sealed once copying stops.
  const copy = await startBinlogCopy(service);
  await copy.done;
}, 240_000);

afterAll(async () => {
  await sshd?.stop();
  store.remove();
});

describe("stream backups, compressed and encrypted", () => {
  it("store every file sealed and listed: verify-store is green, and no row's text is in the store", async () => {
    const report = await verifyStore(service);
    expect(formatStoreReport(report)).toMatch(/OK, 3 item\(s\)/);
    expect(report.ok).toBe(true);
    const archive = readdirSync(binlogArchiveDir(join(store.path, "store"), "shop"));
    expect(archive.filter((n) => /\.\d+$/.test(n))).toEqual([]);
    expect(archive.some((n) => n.endsWith(".zst.age"))).toBe(true);
    expect(filesContaining(join(store.path, "store", "shop"), ROW_TEXT).filter((f) => !f.includes("/.source/"))).toEqual([]);
    // The grep is not blind: the source's own datadir (kept for the next job) holds the text.
    expect(filesContaining(join(store.path, "store", "shop", ".source"), ROW_TEXT).length).toBeGreaterThan(0);
  });

  it("restore the chain in one pass (both sizes reported), verify green and roll forward through the sealed archive", async () => {
    const restored = await restoreService(service);
    try {
      const transfer = restored.steps.find((s) => s.step === "transfer");
      expect(transfer?.storedBytes).toBeGreaterThan(0);
      expect(transfer?.bytes).toBeGreaterThan((transfer?.storedBytes ?? 0) * 2);
      expect(restored.steps.map((s) => s.step)).toEqual(["locate", "provision", "transfer", "prepare", "apply-incremental", "start", "replay"]);
      expect(Object.fromEntries(await redFindings(restored, service))).toEqual({});
      const stage = new ArchiveStage(service);
      expect((await stage.contiguous(restored)).problems).toEqual([]);
      const applied = await stage.apply(restored);
      expect(applied.files).toBeGreaterThan(0);
    } finally {
      await restored.destroy();
    }
  }, 120_000);

  it("over ssh, the stream crosses the network compressed and unpacks on the host", async () => {
    sshd = await startSshd();
    const remote = join(store.path, "remote");
    const overSsh: Service = {
      ...service,
      restore: {
        ...service.restore,
        provider: "ssh",
        ssh: { host: sshd.host, port: sshd.port, user: sshd.user, identityFile: sshd.identityFile, knownHosts: sshd.knownHosts, workDir: remote },
      },
    };
    const restored = await restoreService(overSsh);
    try {
      expect(restored.target.description).toMatch(/^ssh /);
      expect(restored.steps.find((s) => s.step === "transfer")?.storedBytes).toBeGreaterThan(0);
      expect(Object.fromEntries(await redFindings(restored, overSsh))).toEqual({});
    } finally {
      await restored.destroy();
    }
  }, 120_000);

  it("a wrong key is named at transfer, and a missing key is one line", async () => {
    const otherKey = join(store.path, "other.age");
    execFileSync("age-keygen", ["-o", otherKey], { stdio: "ignore" });
    const wrong = await stepsOf((runStep) => restoreService({ ...service, backup: { ...service.backup, encrypt: { keyFile: otherKey } } }, { runStep }));
    expect(wrong.error).toBeInstanceOf(RestoreStepError);
    expect((wrong.error as RestoreStepError).step).toBe("transfer");
    expect((wrong.error as Error).message).toMatch(new RegExp(`the key in ${otherKey} does not decrypt .*data\\.mbstream\\.zst\\.age`));
    expect(wrong.steps).not.toContain("prepare");
    expect((wrong.error as Error).message).not.toContain(readFileSync(otherKey, "utf8").match(/AGE-SECRET-KEY-1\w+/)?.[0] as string);

    const missing = join(store.path, "nowhere.age");
    const none = await stepsOf((runStep) => restoreService({ ...service, backup: { ...service.backup, encrypt: { keyFile: missing } } }, { runStep }));
    const lines = (none.error as Error).message.split("\n");
    expect(lines.at(-1)).toMatch(new RegExp(`backup.encrypt.keyFile ${missing} does not exist .*age-keygen`));
    expect(none.steps).not.toContain("prepare");
  }, 120_000);

  it("one flipped byte in the incremental's stored stream is red at transfer, naming the file, before prepare", async () => {
    const newest = listBackups(join(store.path, "store"), "shop").complete.at(-1);
    const file = newest?.dataFile as string;
    const original = readFileSync(file);
    flipByte(file);
    try {
      const run = await stepsOf((runStep) => restoreService(service, { runStep }));
      expect(run.error).toBeInstanceOf(RestoreStepError);
      expect((run.error as RestoreStepError).step).toBe("transfer");
      expect((run.error as Error).message).toContain(`stored file ${file} does not match its SHA-256`);
      expect(run.steps).not.toContain("prepare");
      const report = await verifyStore(service);
      expect(report.ok).toBe(false);
      expect(formatStoreReport(report)).toContain(`stored file ${file} does not match its SHA-256`);
    } finally {
      writeFileSync(file, original);
    }
  }, 120_000);

  it("a damaged sealed archive file is named by the archive stage, before anything is applied", async () => {
    const dir = binlogArchiveDir(join(store.path, "store"), "shop");
    const sealed = readdirSync(dir).filter((n) => n.endsWith(".zst.age")).sort().at(-1) as string;
    const original = readFileSync(join(dir, sealed));
    flipByte(join(dir, sealed), 40);
    const restored = await restoreService(service);
    try {
      await expect(new ArchiveStage(service).contiguous(restored)).rejects.toThrow(`stored file ${join(dir, sealed)} does not match its SHA-256`);
    } finally {
      await restored.destroy();
      writeFileSync(join(dir, sealed), original);
    }
    // A file added to the store by hand, and a listed file deleted, are named too.
    writeFileSync(join(dir, "stray.bin"), "x");
    const newest = listBackups(join(store.path, "store"), "shop").complete.at(-1);
    const info = join(newest?.dir as string, "tool-info", "xtrabackup_info");
    const infoText = readFileSync(info);
    rmSync(info);
    try {
      const text = formatStoreReport(await verifyStore(service));
      expect(text).toContain(`${join(dir, "stray.bin")} is in the store but not in checksums.json`);
      expect(text).toContain(`${info} is listed in checksums.json`);
    } finally {
      rmSync(join(dir, "stray.bin"));
      writeFileSync(info, infoText);
    }
  }, 120_000);
});
