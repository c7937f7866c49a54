// The ssh provider against a real sshd on loopback: restore and verify end to end, host-key and auth refusals, commands, a dropped connection.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { runBackupJob } from "../../src/backup/job.ts";
import { DEFAULT_CHECK_OPTIONS } from "../../src/checks/types.ts";
import type { Service } from "../../src/config/schema.ts";
import { ServerStartError } from "../../src/hosts/sandbox.ts";
import { SshProvider, type SshHostConfig } from "../../src/hosts/ssh.ts";
import { SshConnection, SshError } from "../../src/hosts/sshConnection.ts";
import type { HostProvider, Target } from "../../src/hosts/types.ts";
import { pendingDisposers } from "../../src/base/disposers.ts";
import { CommandError, runCommand } from "../../src/base/command.ts";
import { RestoreStepError, restoreService } from "../../src/restore/pipeline.ts";
import { allFindings, captureRestored } from "../../src/verify/verify.ts";
import { sandboxServers, testService, testStore } from "../support/services.ts";
import { processesMentioning, startSshd, type TestSshd } from "../support/sshd.ts";
import { rejection } from "../support/rejection.ts";
import { HOSTILE_NAME } from "../support/hostile.ts";


const store = testStore();
/** The "remote" base directory: on this machine, but reached only through sshd. */
const remoteBase = mkdtempSync(join(tmpdir(), "restoretest-sshhost-"));
let sshd: TestSshd;

function hostConfig(overrides: Partial<SshHostConfig> = {}): SshHostConfig {
  return {
    host: sshd.host,
    port: sshd.port,
    user: sshd.user,
    identityFile: sshd.identityFile,
    knownHosts: sshd.knownHosts,
    workDir: remoteBase,
    ...overrides,
  };
}

function sshService(): Service {
  const base = testService(store.path);
  return { ...base, restore: { ...base.restore, provider: "ssh", ssh: hostConfig() } };
}

/** The restored servers this file started (all live under its host directory). */
async function ourServers(): Promise<string[]> {
  return (await sandboxServers()).filter((line) => line.includes(remoteBase));
}

async function until(condition: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}


beforeAll(async () => {
  // Assigned before the backup runs, so afterAll stops it whatever happens next.
  const started = startSshd();
  const backup = runBackupJob(testService(store.path));
  // Handled at once: a backup failing before sshd is up must fail this hook, not surface as an unhandled rejection.
  backup.catch(() => undefined);
  sshd = await started;
  await backup;
}, 120_000);

afterAll(async () => {
  if (sshd) {
    const config = join(sshd.dir, "sshd_config");
    await sshd.stop();
    expect(processesMentioning(config)).toEqual([]);
  }
  store.remove();
  rmSync(remoteBase, { recursive: true, force: true });
});

afterEach(async () => {
  expect(pendingDisposers()).toEqual([]);
  // Only servers under this file's host directory: other suites may run their own sandboxes at the same time.
  expect(await ourServers()).toEqual([]);
  expect(readdirSync(remoteBase)).toEqual([]);
  // Nothing the tests ran through sshd is still running (the listener itself stays for the next test).
  expect(sshd.descendants().filter((pid) => processesMentioning("restoretest").includes(pid))).toEqual([]);
});

describe("ssh provider", () => {
  it("restores a backup onto the host and every table verifies against the baseline", async () => {
    const restored = await restoreService(sshService());
    try {
      expect(restored.target.description).toBe(`ssh ${sshd.user}@127.0.0.1:${sshd.port}:${restored.target.workDir}`);
      expect(restored.target.workDir.startsWith(`${remoteBase}/restoretest-restore-shop-`)).toBe(true);
      expect(restored.steps.find((s) => s.step === "transfer")?.bytes).toBeGreaterThan(0);
      // The same inert server as the local sandbox, reached over the SSH connection only.
      const [row] = await restored.db.query<{ ro: string; net: string; ev: string }>(
        "SELECT @@read_only AS ro, @@skip_networking AS net, @@event_scheduler AS ev",
      );
      expect(row).toEqual({ ro: "1", net: "1", ev: "OFF" });
      const verification = await captureRestored(restored.db, restored.manifest, restored.manifest.checks, DEFAULT_CHECK_OPTIONS, 2, restored.serverContext);
      // Every test the suite would run, the server-wide checks (accounts, settings) and the system schemas included.
      const findings = allFindings(verification).map((f) => ({ at: f.key, finding: f.finding }));
      expect(findings.length).toBeGreaterThan(0);
      expect(findings.filter((f) => !f.finding.ok)).toEqual([]);
    } finally {
      await restored.destroy();
    }
  });

  it("restores under a workDir and through a toolchain whose names hold #, quotes, \\, a blank, $, backtick and ü", async () => {
    // Short: the server's socket path under it must stay within 107 bytes.
    const workDir = join(remoteBase, `#'"\\ $\`ü`);
    const toolchain = join(store.path, HOSTILE_NAME, "tc");
    mkdirSync(toolchain, { recursive: true });
    for (const p of ["/usr/bin/mariadb", "/usr/bin/mariadb-backup", "/usr/bin/mbstream", "/usr/sbin/mariadbd"]) symlinkSync(p, join(toolchain, basename(p)));
    const base = sshService();
    const service: Service = { ...base, backup: { ...base.backup, toolchain }, restore: { ...base.restore, ssh: hostConfig({ workDir }) } };
    const restored = await restoreService(service);
    try {
      expect(restored.target.workDir.startsWith(`${workDir}/restoretest-restore-shop-`)).toBe(true);
      // The server the host runs is the toolchain's, through the link.
      expect((await ourServers()).join("\n")).toContain(`${toolchain}/mariadbd`);
      const verification = await captureRestored(restored.db, restored.manifest, restored.manifest.checks, DEFAULT_CHECK_OPTIONS, 2, restored.serverContext);
      const findings = allFindings(verification);
      expect(findings.length).toBeGreaterThan(0);
      expect(findings.filter((f) => !f.finding.ok).map((f) => f.key)).toEqual([]);
    } finally {
      await restored.destroy();
      rmSync(workDir, { recursive: true, force: true });
    }
  });

  it("refuses a host whose key differs from known_hosts, naming host, port and the presented fingerprint", async () => {
    const changed = join(sshd.dir, "known_hosts_changed");
    const [type, blob] = readFileSync(`${sshd.strangerKey}.pub`, "utf8").split(/\s+/);
    writeFileSync(changed, `[127.0.0.1]:${sshd.port} ${type} ${blob}\n`);
    const error = await rejection(new SshProvider(hostConfig({ knownHosts: changed })).create("shop"));
    expect(error).toBeInstanceOf(SshError);
    expect(error.message).toContain(`host key verification failed for 127.0.0.1 port ${sshd.port}`);
    expect(error.message).toContain(`the host presented ssh-ed25519 key ${sshd.hostKeyFingerprint}`);
    expect(error.message).toMatch(/the host key has CHANGED/);
    expect(error.message).toMatch(/Refusing to connect\.$/);
    // Listed under another key type only: still a changed key, not an obscure handshake failure.
    await runCommand("ssh-keygen", ["-q", "-t", "ecdsa", "-N", "", "-f", join(sshd.dir, "ecdsa_key")]);
    const [ecdsaType, ecdsaBlob] = readFileSync(join(sshd.dir, "ecdsa_key.pub"), "utf8").split(/\s+/);
    writeFileSync(changed, `[127.0.0.1]:${sshd.port} ${ecdsaType} ${ecdsaBlob}\n`);
    const otherType = await rejection(new SshProvider(hostConfig({ knownHosts: changed })).create("shop"));
    expect(otherType.message).toMatch(
      new RegExp(`the host presented ssh-ed25519 key ${sshd.hostKeyFingerprint.replace(/[+/]/g, "\\$&")}, but \\S+ lists ecdsa-sha2-nistp256 SHA256:\\S+ \\(line 1\\)`),
    );
  });

  it("refuses a host that is not in known_hosts at all, and a fingerprint that does not match the pin", async () => {
    const empty = join(sshd.dir, "known_hosts_empty");
    writeFileSync(empty, "# nothing trusted yet\n");
    const unknown = await rejection(new SshProvider(hostConfig({ knownHosts: empty })).create("shop"));
    expect(unknown.message).toBe(
      `ssh ${sshd.user}@127.0.0.1:${sshd.port}: host key verification failed for 127.0.0.1 port ${sshd.port}: ` +
        `the host presented ssh-ed25519 key ${sshd.hostKeyFingerprint}, and ${empty} has no entry for [127.0.0.1]:${sshd.port}. ` +
        `If this is the right host, check that fingerprint out of band and add the key (e.g. ssh-keyscan -p ${sshd.port} 127.0.0.1 >> ${empty}). Refusing to connect.`,
    );
    const pinned = "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    const mismatch = await rejection(new SshProvider(hostConfig({ knownHosts: undefined, hostKeyFingerprint: pinned })).create("shop"));
    expect(mismatch.message).toContain(`the host presented ssh-ed25519 key ${sshd.hostKeyFingerprint}, but hostKeyFingerprint pins ${pinned}`);
    // The right pin connects.
    const target = await new SshProvider(hostConfig({ knownHosts: undefined, hostKeyFingerprint: sshd.hostKeyFingerprint })).create("shop");
    await target.destroy();
  });

  it("reports a key the host does not accept as an authentication failure naming the key", async () => {
    const error = await rejection(new SshProvider(hostConfig({ identityFile: sshd.strangerKey })).create("shop"));
    expect(error).toBeInstanceOf(SshError);
    expect(error.message).toMatch(
      new RegExp(
        `^ssh ${sshd.user}@127\\.0\\.0\\.1:${sshd.port}: authentication failed: the host did not accept key ${sshd.strangerKey} \\(ssh-ed25519 SHA256:[\\w+/]{43}\\) for user "${sshd.user}"`,
      ),
    );
    const missing = await rejection(new SshProvider(hostConfig({ identityFile: join(sshd.dir, "no_such_key") })).create("shop"));
    expect(missing.message).toBe(`ssh ${sshd.user}@127.0.0.1:${sshd.port}: identityFile ${join(sshd.dir, "no_such_key")} does not exist`);
  });

  it("runs commands on the host with exit codes, stderr tails and timeouts, as CommandError", async () => {
    const target = await new SshProvider(hostConfig()).create("shop");
    try {
      const ok = await target.exec("sh", ["-c", 'printf "%s" "$GREETING"; pwd'], { env: { GREETING: "it's here " }, cwd: target.stagingDir });
      expect(ok.stdout).toBe(`it's here ${target.stagingDir}\n`);
      const failed = await rejection(target.exec("sh", ["-c", "echo line one >&2; echo 'line two' >&2; exit 3"]));
      expect(failed).toBeInstanceOf(CommandError);
      expect(failed).toMatchObject({ exitCode: 3, timedOut: false, stderrTail: "line one\nline two" });
      expect((failed as CommandError).command).toBe(`ssh ${sshd.user}@127.0.0.1:${sshd.port} sh -c 'echo line one >&2; echo '\\''line two'\\'' >&2; exit 3'`);
      const started = performance.now();
      const slow = await rejection(target.exec("sleep", ["31.5"], { timeoutMs: 500 }));
      expect(slow).toMatchObject({ timedOut: true });
      expect(slow.message).toMatch(/^command timed out after \d+s: ssh \S+ sleep 31\.5$/);
      expect(performance.now() - started).toBeLessThan(5000);
      // The remote command's process group was killed, not just abandoned.
      expect(processesMentioning("sleep 31.5")).toEqual([]);
    } finally {
      await target.destroy();
    }
  });

  it("reads the exit status of a command whose output, EOF and exit status arrive in one batch with its start", async () => {
    // What happened about once in five hundred quick commands: ssh2 handed the channel over while parsing a batch that
    // already held the command's whole life, and its "exit" event fired before anyone listened. Holding this side's
    // reads for a moment after each exec request makes every command arrive that way.
    const connection = await SshConnection.open({ host: sshd.host, port: sshd.port, user: sshd.user, identityFile: sshd.identityFile, knownHosts: sshd.knownHosts });
    try {
      type Internals = { _protocol: { exec: (...args: unknown[]) => unknown }; _sock: { pause(): void; resume(): void } };
      const client = (connection as unknown as { client: Internals }).client;
      const exec = client._protocol.exec.bind(client._protocol);
      client._protocol.exec = (...args: unknown[]) => {
        const sent = exec(...args);
        client._sock.pause();
        setTimeout(() => client._sock.resume(), 300);
        return sent;
      };
      expect((await connection.run("echo done", "echo done")).stdout).toBe("done\n");
      expect(await rejection(connection.run("exit 4", "exit 4"))).toMatchObject({ exitCode: 4 });
    } finally {
      await connection.close();
    }
  });

  it("reports a server that cannot start on the host with the tail of its error log", async () => {
    const target = await new SshProvider(hostConfig()).create("shop");
    try {
      // Nothing was transferred: the datadir does not exist.
      const error = await rejection(target.startServer());
      expect(error).toBeInstanceOf(ServerStartError);
      expect(error.message).toMatch(new RegExp(`^mariadbd on ${sshd.user}@127\\.0\\.0\\.1:${sshd.port} exited with code \\d+ during start-up\nserver error log \\(last lines\\):\n`));
      expect(error.message).toMatch(/datadir|No such file or directory|Can't change dir/);
    } finally {
      await target.destroy();
    }
  });

  it("authenticates through ssh-agent (SSH_AUTH_SOCK) when agent: true", async () => {
    const socket = join(sshd.dir, "agent.sock");
    const agent = spawn("ssh-agent", ["-D", "-a", socket], { stdio: "ignore" });
    const exited = new Promise((r) => agent.once("exit", r));
    const saved = process.env.SSH_AUTH_SOCK;
    try {
      await until(() => existsSync(socket), 5000);
      await runCommand("ssh-add", ["-q", sshd.identityFile], { env: { SSH_AUTH_SOCK: socket } });
      process.env.SSH_AUTH_SOCK = socket;
      const target = await new SshProvider(hostConfig({ identityFile: undefined, agent: true })).create("shop");
      await target.destroy();
    } finally {
      if (saved === undefined) delete process.env.SSH_AUTH_SOCK;
      else process.env.SSH_AUTH_SOCK = saved;
      agent.kill("SIGTERM");
      await exited;
    }
  });

  it("is cleaned up by its watchdog on the host when the connection is lost while the server runs and cannot be reopened", async () => {
    const knownHosts = join(sshd.dir, "known_hosts_watchdog");
    writeFileSync(knownHosts, readFileSync(sshd.knownHosts));
    const base = sshService();
    const restored = await restoreService({ ...base, restore: { ...base.restore, ssh: hostConfig({ knownHosts }) } });
    const dir = restored.target.workDir;
    expect(await ourServers()).toHaveLength(1);
    // The way back is closed (destroy cannot reconnect), then the connection goes: only the host side can clean up.
    writeFileSync(knownHosts, "");
    expect(sshd.dropConnections()).toBeGreaterThan(0);
    await restored.destroy();
    await until(async () => !existsSync(dir) && (await ourServers()).length === 0, 20_000);
  });

  it("fails a transfer whose connection drops with a clear error, and still removes everything on the host", async () => {
    let dropped = 0;
    // The pipeline's own provider, with the connection cut as soon as the first bytes are on their way.
    const ssh = new SshProvider(hostConfig());
    const provider: HostProvider = {
      name: "ssh",
      async create(service): Promise<Target> {
        const target = await ssh.create(service);
        const put = target.putDirectory.bind(target);
        target.putDirectory = (local, remote, options) =>
          put(local, remote, {
            onProgress: (bytes) => {
              if (dropped === 0) dropped = sshd.dropConnections();
              options?.onProgress?.(bytes);
            },
          });
        return target;
      },
    };
    const error = await rejection(restoreService(sshService(), { provider }));
    expect(dropped).toBeGreaterThan(0);
    expect(error).toBeInstanceOf(RestoreStepError);
    expect(error.message).toMatch(/^restore of shop failed at step "transfer" after \d+\.\ds\n/);
    expect(error.message).toContain(`ssh ${sshd.user}@127.0.0.1:${sshd.port}: connection lost while running: ssh ${sshd.user}@127.0.0.1:${sshd.port} tar -xf - -C ${remoteBase}/restoretest-restore-shop-`);
    // The host side is clean again: removed over a new connection (and by the watchdog the drop set off).
    expect(readdirSync(remoteBase)).toEqual([]);
  });
});
