// A real OpenSSH server for the tests: its own config, host key, user key and loopback port, stopped by pid and removed.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { runCommand } from "../../src/base/command.ts";
import { freePort } from "../../src/hosts/sandbox.ts";

export const SSHD = "/usr/sbin/sshd";

export interface TestSshd {
  host: string;
  port: number;
  user: string;
  /** Holds the keys, config, known_hosts and log; removed by stop(). */
  dir: string;
  identityFile: string;
  knownHosts: string;
  hostKeyFingerprint: string;
  /** The listener's pid. */
  pid: number;
  /** A private key the server does not accept. */
  strangerKey: string;
  /** Kill the per-connection sshd processes (not the commands they run): what a dropped connection looks like to the host. */
  dropConnections(): number;
  /** Every process below the listener, sshd sessions and the commands they run. */
  descendants(): number[];
  log(): string;
  stop(): Promise<void>;
}

/** Start `sshd -D -e` on a free 127.0.0.1 port with throwaway keys; the caller must stop() it. */
export async function startSshd(): Promise<TestSshd> {
  const dir = mkdtempSync(join(tmpdir(), "restoretest-sshd-"));
  try {
    const keygen = (name: string) => runCommand("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", name, "-f", join(dir, name)]);
    await Promise.all([keygen("host_key"), keygen("user_key"), keygen("stranger_key")]);
    writeFileSync(join(dir, "authorized_keys"), readFileSync(join(dir, "user_key.pub")));
    const hostPub = readFileSync(join(dir, "host_key.pub"), "utf8").trim().split(/\s+/);
    const hostKeyFingerprint = (await runCommand("ssh-keygen", ["-l", "-f", join(dir, "host_key.pub")])).stdout.split(/\s+/)[1] as string;
    // sshd refuses to start without its privilege separation directory (normally made by the package's service unit).
    mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
    let lastLog = "";
    for (let attempt = 0; attempt < 3; attempt++) {
      const port = await freePort();
      const config = join(dir, "sshd_config");
      writeFileSync(
        config,
        [
          "ListenAddress 127.0.0.1",
          `Port ${port}`,
          `HostKey ${join(dir, "host_key")}`,
          `AuthorizedKeysFile ${join(dir, "authorized_keys")}`,
          `PidFile ${join(dir, "sshd.pid")}`,
          "StrictModes no",
          "UsePAM no",
          "PermitRootLogin prohibit-password",
          "PasswordAuthentication no",
          "KbdInteractiveAuthentication no",
          "UseDNS no",
          "PrintMotd no",
          // bash sources ~/.bashrc for commands run by sshd unless it is a nested shell; root's rc files here cost ~1 s a command.
          "SetEnv SHLVL=1",
          "",
        ].join("\n"),
      );
      const child = spawn(SSHD, ["-D", "-e", "-f", config], { stdio: ["ignore", "ignore", "pipe"] });
      let log = "";
      child.stderr?.on("data", (chunk: Buffer) => (log += chunk.toString()));
      const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      if (await listening(port, exited)) {
        writeFileSync(join(dir, "known_hosts"), `[127.0.0.1]:${port} ${hostPub[0]} ${hostPub[1]}\n`);
        return handle(child, exited, { dir, port, hostKeyFingerprint, log: () => log });
      }
      child.kill("SIGKILL");
      await exited;
      lastLog = log;
    }
    throw new Error(`sshd did not start:\n${lastLog}`);
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

function handle(child: ChildProcess, exited: Promise<void>, s: { dir: string; port: number; hostKeyFingerprint: string; log: () => string }): TestSshd {
  const pid = child.pid as number;
  return {
    host: "127.0.0.1",
    port: s.port,
    user: userInfo().username,
    dir: s.dir,
    identityFile: join(s.dir, "user_key"),
    knownHosts: join(s.dir, "known_hosts"),
    hostKeyFingerprint: s.hostKeyFingerprint,
    strangerKey: join(s.dir, "stranger_key"),
    pid,
    log: s.log,
    descendants: () => descendantsOf(pid),
    dropConnections() {
      const sessions = descendantsOf(pid).filter((p) => commandName(p) === "sshd");
      for (const p of sessions) signal(p, "SIGKILL");
      return sessions.length;
    },
    async stop() {
      // The listener does not take its sessions down with it.
      for (const p of descendantsOf(pid)) signal(p, "SIGKILL");
      child.kill("SIGTERM");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGKILL");
        await exited;
      }
      rmSync(s.dir, { recursive: true, force: true });
    },
  };
}

/** True once the port answers with an SSH banner; false if sshd exits first (a port taken in the meantime). */
async function listening(port: number, exited: Promise<void>): Promise<boolean> {
  let gone = false;
  void exited.then(() => (gone = true));
  const deadline = Date.now() + 10_000;
  while (!gone && Date.now() < deadline) {
    const banner = await new Promise<boolean>((resolve) => {
      const socket = connect(port, "127.0.0.1");
      socket.once("data", (data) => {
        socket.destroy();
        resolve(data.toString().startsWith("SSH-"));
      });
      socket.once("error", () => resolve(false));
    });
    if (banner) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

function parentOf(pid: number): number | undefined {
  try {
    // The command name is in parentheses and may hold spaces: the fields after its closing one are fixed.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return undefined;
  }
}

function commandName(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return "";
  }
}

export function descendantsOf(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const parent = parentOf(Number(entry));
    if (parent === undefined) continue;
    children.set(parent, [...(children.get(parent) ?? []), Number(entry)]);
  }
  const found: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    for (const child of children.get(queue.shift() as number) ?? []) {
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // Already gone.
  }
}

/** Pids of live processes whose command line mentions `text` (e.g. an sshd_config path): what a test must not leave. */
export function processesMentioning(text: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, "utf8").includes(text)) found.push(Number(entry));
    } catch {
      // Exited while we looked.
    }
  }
  return found;
}
