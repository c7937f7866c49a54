// A command's output over ssh streamed into a file with memory flat (issue 30): the process that carries half a
// gigabyte through a real sshd on loopback peaks far below the stream's size, and the file holds every byte.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCommand } from "../../src/base/command.ts";
import { startSshd, type TestSshd } from "../support/sshd.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const BYTES = 512 * 2 ** 20;
let sshd: TestSshd;
const dir = mkdtempSync(join(tmpdir(), "restoretest-sshstream-"));

beforeAll(async () => {
  sshd = await startSshd();
}, 60_000);

afterAll(async () => {
  await sshd?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("SshConnection.run with outputFile", () => {
  it("streams 512 MiB into the file; the carrying process peaks under 256 MB", async () => {
    const file = join(dir, "out.bin");
    const endpoint = { host: sshd.host, port: sshd.port, user: sshd.user, identityFile: sshd.identityFile, knownHosts: sshd.knownHosts };
    const { stdout } = await runCommand("npx", ["tsx", join(ROOT, "test/support/sshStreamPeak.ts"), JSON.stringify({ endpoint, script: `head -c ${BYTES} /dev/zero`, file })], { cwd: ROOT, timeoutMs: 300_000 });
    const { bytes, peakBytes } = JSON.parse(stdout.trim().split("\n").at(-1) as string) as { bytes: number; peakBytes: number };
    expect(bytes).toBe(BYTES);
    // Held whole, the stream alone would be 512 MiB of Buffers (and twice that as one string).
    expect(peakBytes, `peak RSS ${(peakBytes / 2 ** 20).toFixed(0)} MiB`).toBeLessThan(256 * 2 ** 20);
    const { stdout: sum } = await runCommand("bash", ["-c", `cmp -n ${BYTES} ${file} /dev/zero && echo same`]);
    expect(sum.trim()).toBe("same");
  }, 300_000);

  it("a failing command is still the command's error, its partial output in the file", async () => {
    const file = join(dir, "partial.bin");
    const endpoint = { host: sshd.host, port: sshd.port, user: sshd.user, identityFile: sshd.identityFile, knownHosts: sshd.knownHosts };
    const run = runCommand("npx", ["tsx", join(ROOT, "test/support/sshStreamPeak.ts"), JSON.stringify({ endpoint, script: "head -c 1000 /dev/zero; echo 'mariadb-dump: Got error: 1146' >&2; exit 2", file })], { cwd: ROOT, timeoutMs: 120_000 });
    await expect(run).rejects.toThrow(/exited with code 2[\s\S]*mariadb-dump: Got error: 1146/);
  }, 120_000);
});
