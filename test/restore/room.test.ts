// Room checked before the copy, on real small filesystems: a tmpfs mounted in a mount namespace of its own (unshare -m,
// so nothing outlives the test), as restore.workDir and as backup.store. A restore or backup that cannot fit fails at
// once, naming both numbers and the setting, before anything is copied; free space is read by statfs here and by `df`
// through the target's exec over ssh.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runBackupJob } from "../../src/backup/job.ts";
import type { BackupMeta } from "../../src/store/layout.ts";
import { freeBytesHere, freeBytesOn, parseDfAvailable } from "../../src/hosts/room.ts";
import { SshProvider } from "../../src/hosts/ssh.ts";
import { testService, testServiceYaml, testStore } from "../support/services.ts";
import { startSshd, type TestSshd } from "../support/sshd.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const CLI = join(ROOT, "bin/restoretest");
const store = testStore();
let backup: { dir: string; meta: BackupMeta };
let sshd: TestSshd | undefined;

/** Run `script` as `sh -c` in a mount namespace of its own: a tmpfs it mounts is gone when it exits. */
async function inOwnMounts(script: string, ...args: string[]) {
  const run = await execa("unshare", ["-m", "--propagation", "private", "sh", "-c", script, "sh", ...args], { cwd: ROOT, reject: false, all: true });
  return { exitCode: run.exitCode, output: String(run.all) };
}

beforeAll(async () => {
  const result = await runBackupJob(testService(join(store.path, "source-store")));
  backup = { dir: result.dir, meta: result.meta };
}, 120_000);

afterAll(async () => {
  await sshd?.stop();
  store.remove();
});

describe("room before the copy", () => {
  it("a restore whose workDir is too small fails at once at transfer, naming both sizes and restore.workDir; nothing copied", async () => {
    const work = mkdtempSync(join(store.path, "small-work-"));
    const config = join(store.path, "small-work.yaml");
    writeFileSync(config, testServiceYaml(join(store.path, "source-store"), `    restore:\n      workDir: ${work}`));
    // 4 MiB of tmpfs for a 19 MB backup; after the failed restore, what the filesystem holds (the target is destroyed).
    const run = await inOwnMounts(
      `mount -t tmpfs -o size=4m tmpfs "$1" && { "$2" restore shop --config "$3"; rc=$?; echo "left on the tmpfs: $(find "$1" -mindepth 1 | wc -l) entries"; exit $rc; }`,
      work,
      CLI,
      config,
    );
    expect(run.exitCode, run.output).toBe(1);
    const needed = backup.meta.bytes;
    const message = new RegExp(
      `restore of shop failed at step "transfer" after 0\\.\\ds\\n` +
        `restoretest: not enough room in ${work} \\(restore\\.workDir\\): the restore of ${backup.meta.id} \\(its unpacked size, from backup\\.json\\) ` +
        `needs ${(needed / 1e6).toFixed(1)} MB \\(${needed} bytes\\), (\\d+\\.\\d) MB \\((\\d+) bytes\\) free there; nothing was copied`,
    );
    expect(run.output).toMatch(message);
    const free = Number(message.exec(run.output)?.[2]);
    expect(free).toBeGreaterThan(3_000_000);
    expect(free).toBeLessThanOrEqual(4 * 1024 * 1024);
    expect(run.output).toContain("left on the tmpfs: 0 entries");
    expect(run.output).not.toMatch(/No space left on device/);
  }, 120_000);

  it("a backup job whose store is too small fails before the baseline, naming both sizes and backup.store; the store keeps only what it had", async () => {
    const small = mkdtempSync(join(store.path, "small-store-"));
    const config = join(store.path, "small-store.yaml");
    writeFileSync(config, testServiceYaml(small));
    // The previous full fits, with 5 MiB to spare: the next full (the same size) does not.
    const size = Math.ceil((backup.meta.bytes + 5 * 1024 * 1024) / 1024 / 1024);
    const run = await inOwnMounts(
      `mount -t tmpfs -o size=${size}m tmpfs "$1" && mkdir "$1/shop" && cp -a "$2" "$1/shop/" && { "$3" backup shop --config "$4"; rc=$?; echo "store holds: $(ls "$1/shop" | tr '\\n' ' ')"; exit $rc; }`,
      small,
      backup.dir,
      CLI,
      config,
    );
    expect(run.exitCode, run.output).toBe(1);
    expect(run.output).toMatch(
      new RegExp(
        `restoretest: not enough room in ${small}/shop \\(backup\\.store\\): a full backup of shop \\(estimated: the previous full, ${backup.meta.id}, took as much\\) ` +
          `needs ${(backup.meta.bytes / 1e6).toFixed(1)} MB \\(${backup.meta.bytes} bytes\\), \\d+\\.\\d MB \\(\\d+ bytes\\) free there; nothing was copied`,
      ),
    );
    expect(run.output).not.toContain("capturing baseline");
    expect(run.output).not.toContain("backing up with");
    expect(run.output).toMatch(new RegExp(`^store holds: ${backup.meta.id} ?$`, "m"));
  }, 120_000);

  it("reads free space by statfs here, and by df through the host's exec over ssh (a workDir with a space, quoted)", async () => {
    const local = freeBytesHere(store.path);
    const df = parseDfAvailable(execFileSync("df", ["-P", "-B1", store.path], { encoding: "utf8" }), store.path);
    // The same filesystem, read twice while other tests write: within 64 MB of each other.
    expect(Math.abs(local - df)).toBeLessThan(64 * 1024 * 1024);
    expect(() => parseDfAvailable("df: /nope: No such file or directory\n", "/nope")).toThrow(/cannot read the free space of \/nope from df/);

    sshd = await startSshd();
    const remote = join(store.path, "remote work");
    mkdirSync(remote);
    const provider = new SshProvider({ host: sshd.host, port: sshd.port, user: sshd.user, identityFile: sshd.identityFile, knownHosts: sshd.knownHosts, workDir: remote });
    const target = await provider.create("shop");
    try {
      expect(target.thisHost).toBeFalsy();
      const there = await freeBytesOn(target);
      expect(Math.abs(there - freeBytesHere(remote))).toBeLessThan(64 * 1024 * 1024);
    } finally {
      await target.destroy();
    }
  }, 120_000);
});
