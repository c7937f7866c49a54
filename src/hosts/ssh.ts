// The `ssh` host provider: restores onto an existing host over one SSH connection, into a throwaway directory, with the local sandbox's inert server.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { posix } from "node:path";
import { PassThrough, Readable, Transform } from "node:stream";
import { MARIADB_FLAVOR, type ServerFlavor } from "../server/flavor.ts";
import { Db } from "../db/connection.ts";
import { registerDisposer } from "../base/disposers.ts";
import { maskSecrets } from "../base/secrets.ts";
import { CommandError, describeCommand, runCommand, shellQuote as q, tail, type CommandOptions, type CommandResult } from "../base/command.ts";
import { clientOptions } from "../server/optionFile.ts";
import {
  newVerifierAccount,
  privilegeTableTrouble,
  ServerStartError,
  serverArgs,
  serverFiles,
  verifierFiles,
  verifierInitSql,
  VERIFIER_REFUSED,
  type ServerSpec,
  type StartedServer,
  type VerifierAccount,
} from "./sandbox.ts";
import { SshConnection, SshError, type SshEndpoint, type Watchdog } from "./sshConnection.ts";
import type { HostProvider, RestoredServerOptions, Target } from "./types.ts";

export interface SshHostConfig extends SshEndpoint {
  /** Absolute directory on the host under which each restore gets its own mktemp directory. */
  workDir: string;
}

export interface SshProviderOptions {
  startTimeoutMs?: number;
  /** Limit for housekeeping commands (mkdir, listings, stop and remove). */
  commandTimeoutMs?: number;
}

type Connect = (options?: { database?: string; poolSize?: number; connectTimeoutMs?: number }) => Promise<Db>;

/** Server binaries live in sbin directories, which a non-login SSH session's PATH often lacks. */
const SBIN_PATH = "/usr/local/sbin:/usr/sbin:/sbin";
/** Seconds a server gets to shut down cleanly before KILL, as in the local sandbox. */
const STOP_GRACE_S = 30;

export class SshProvider implements HostProvider {
  readonly name = "ssh";
  constructor(
    private readonly host: SshHostConfig,
    private readonly options: SshProviderOptions = {},
  ) {}

  async create(service: string): Promise<Target> {
    const conn = await SshConnection.open(this.host);
    const timeoutMs = this.options.commandTimeoutMs ?? 120_000;
    try {
      const base = posix.normalize(this.host.workDir).replace(/\/+$/, "") || "/";
      const template = posix.join(base, `restoretest-restore-${service.replace(/[^\w-]/g, "_")}-XXXXXXXX`);
      const made = await conn.run(`mkdir -p ${q(base)} && mktemp -d ${q(template)}`, `ssh ${conn.label} mktemp -d ${template}`, { timeoutMs });
      const dir = made.stdout.trim();
      // Everything under `dir` is removed with rm -rf later: accept only what mktemp was asked for.
      if (!dir.startsWith(template.slice(0, -"XXXXXXXX".length)) || dir.includes("\n") || dir.includes("..")) {
        throw new Error(`mktemp on ${conn.label} printed ${JSON.stringify(dir)}, not a directory under ${base}`);
      }
      const target = new SshTarget(conn, this.host, dir, this.options);
      try {
        await target.arm();
      } catch (error) {
        await target.destroy();
        throw error;
      }
      return target;
    } catch (error) {
      await conn.close();
      throw error;
    }
  }
}

class SshTarget implements Target {
  readonly description: string;
  readonly workDir: string;
  readonly stagingDir: string;
  readonly datadir: string;
  /** Removes the server and the directory; registered so Ctrl-C runs it too. */
  readonly destroy: () => Promise<void>;
  private watchdog: Watchdog | undefined;
  private server: StartedServer | undefined;
  private readonly timeoutMs: number;

  constructor(
    private readonly conn: SshConnection,
    private readonly host: SshHostConfig,
    private readonly dir: string,
    private readonly options: SshProviderOptions,
  ) {
    this.description = `ssh ${conn.label}:${dir}`;
    this.workDir = dir;
    this.stagingDir = posix.join(dir, "staging");
    this.datadir = posix.join(dir, "datadir");
    this.timeoutMs = options.commandTimeoutMs ?? 120_000;
    this.destroy = registerDisposer(`restore target ${this.description}`, () => this.removeEverything());
  }

  /** Create the staging directory and leave a watchdog on the host that cleans up if this process or its connection dies. */
  async arm(): Promise<void> {
    await this.conn.run(`mkdir ${q(this.stagingDir)}`, `ssh ${this.conn.label} mkdir ${this.stagingDir}`, { timeoutMs: this.timeoutMs });
    this.watchdog = await this.conn.watchdog(
      `read -r word; [ "$word" = disarm ] && exit 0; ${stopServerScript(this.dir, 5)}; rm -rf ${q(this.dir)}`,
      `watchdog for ${this.dir}`,
    );
  }

  exec(file: string, args: readonly string[], options: CommandOptions = {}): Promise<CommandResult> {
    const env = Object.entries(options.env ?? {}).map(([name, value]) => {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`invalid environment variable name ${JSON.stringify(name)}`);
      return `${name}=${q(value)}`;
    });
    const command = [file, ...args].map(q).join(" ");
    const script = `${options.cwd ? `cd ${q(options.cwd)} && ` : ""}exec env PATH="$PATH:${SBIN_PATH}" ${env.join(" ")} ${command}`;
    return this.conn.run(script, `ssh ${this.conn.label} ${describeCommand(file, args)}`, options);
  }

  /**
   * `tar -C localPath -cf - . | ssh host tar -xf - -C remotePath`, then the file list with sizes is compared on both
   * sides: a transfer that ended early or lost a file fails here rather than as a puzzling prepare error.
   */
  async putDirectory(localPath: string, remotePath: string, options: { onProgress?: (bytes: number) => void } = {}): Promise<number> {
    const local = await localListing(localPath);
    const tarArgs = ["-C", localPath, "-cf", "-", "."];
    const tar = spawn("tar", tarArgs, { stdio: ["ignore", "pipe", "pipe"] });
    // Taken at once: when a child exits, Node resumes any of its stdio streams nobody reads yet and drops what they
    // held. A small directory's whole archive fits in the pipe, so tar often exits before the remote command starts.
    // The PassThrough holds it meanwhile (with backpressure, so a large tar waits as before).
    const archive = tar.stdout.pipe(new PassThrough());
    let tarStderr = "";
    tar.stderr.on("data", (chunk: Buffer) => (tarStderr = (tarStderr + chunk.toString()).slice(-16_384)));
    const started = performance.now();
    let tarDone = false;
    const tarExit = new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>((resolve) => {
      tar.once("error", (error) => {
        tarDone = true;
        resolve({ code: null, signal: null, error });
      });
      tar.once("close", (code, signal) => {
        tarDone = true;
        resolve({ code, signal });
      });
    });
    let streamed = 0;
    let reported = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        streamed += chunk.length;
        const now = performance.now();
        // The first chunk is reported at once, then at most four times a second.
        if (reported === 0 || now - reported >= 250) {
          reported = now;
          options.onProgress?.(streamed);
        }
        callback(null, chunk);
      },
    });
    // tar feeds the counter only once the remote tar's channel reads from it: progress counts bytes handed to a
    // running command, and a connection lost after the first report is always "lost while running".
    counter.once("resume", () => archive.pipe(counter));
    const extract = `mkdir -p ${q(remotePath)} && tar -xf - -C ${q(remotePath)} --no-same-owner`;
    let tarKilled = false;
    const remoteError = await this.conn
      .run(extract, `ssh ${this.conn.label} tar -xf - -C ${remotePath}`, { stdin: counter })
      .then(
        () => undefined,
        (error: unknown) => {
          // The far end is gone: stop tar, and drop what it had buffered so its pipes close and it is seen to exit.
          if (!tarDone) {
            tarKilled = true;
            tar.kill("SIGKILL");
            archive.unpipe(counter);
            tar.stdout.destroy();
            archive.destroy();
            counter.destroy();
          }
          return error;
        },
      );
    const localExit = await tarExit;
    if (!tarKilled && (localExit.error || localExit.code !== 0)) {
      // A local tar failure also truncates the stream, so the remote error is only its echo.
      throw new CommandError(
        describeCommand("tar", tarArgs),
        localExit.code ?? undefined,
        localExit.signal ?? undefined,
        false,
        maskSecrets(tail(localExit.error ? localExit.error.message : tarStderr)),
        performance.now() - started,
      );
    }
    if (remoteError) throw remoteError;
    options.onProgress?.(streamed);
    const remote = parseListing(
      (await this.conn.run(`cd ${q(remotePath)} && find . -type f -printf '%s %P\\0'`, `ssh ${this.conn.label} find ${remotePath} -type f`, { timeoutMs: this.timeoutMs })).stdout,
    );
    const mismatch = compareListings(local, remote);
    if (mismatch) throw new Error(`transfer of ${localPath} to ${this.description.replace(this.dir, remotePath)} did not arrive intact: ${mismatch}`);
    return local.bytes;
  }

  async startServer(flavor?: ServerFlavor, options: RestoredServerOptions = {}): Promise<StartedServer> {
    const binary = flavor?.binary ?? MARIADB_FLAVOR.server.binary;
    if (this.server) throw new Error(`a server is already running for ${this.description}`);
    const verifier = options.verifier ?? newVerifierAccount();
    const spec: ServerSpec = {
      dir: this.dir,
      datadir: this.datadir,
      tcp: false,
      verifier,
      settings: options.settings,
      defaultsFile: options.defaultsFile,
      readOnly: true,
      startTimeoutMs: this.options.startTimeoutMs,
      ...(flavor ? { flavor } : {}),
      extraArgs: [...(options.extraArgs ?? [])],
    };
    const verifierPaths = verifierFiles(this.dir);
    await this.writeVerifierFiles(verifier);
    const pid = await this.launchServer(binary, spec);
    if (!Number.isInteger(pid) || pid <= 0) return this.failStart(binary, `${binary} on ${this.conn.label} did not start: no pid recorded`);
    const connect = this.connectAs(verifier);
    await this.waitUntilAnswering(binary, spec.startTimeoutMs ?? 60_000, connect);
    await this.runOnHost(`rm -f ${q(verifierPaths.initFile)}`, `rm ${verifierPaths.initFile}`);
    this.server = await this.running(binary, pid, verifier, connect);
    return this.server;
  }

  /** A command on the host, described as `ssh <host> <describe>`, within the housekeeping limit. */
  private runOnHost(script: string, describe: string): Promise<CommandResult> {
    return this.conn.run(script, `ssh ${this.conn.label} ${describe}`, { timeoutMs: this.timeoutMs });
  }

  /** The verifier's init file and client option file, on the host. */
  private async writeVerifierFiles(verifier: VerifierAccount): Promise<void> {
    const files = serverFiles(this.dir);
    const verifierPaths = verifierFiles(this.dir);
    const label = this.conn.label;
    // Written through stdin, mode 0600: the verifier's password never appears on a command line on either host.
    const writeFile = (path: string, text: string) =>
      this.conn.run(`umask 077 && cat > ${q(path)}`, `ssh ${label} write ${path}`, { timeoutMs: this.timeoutMs, stdin: Readable.from([text]) });
    await writeFile(verifierPaths.initFile, verifierInitSql(verifier));
    await writeFile(verifierPaths.clientFile, clientOptions({ user: verifier.user, password: verifier.password, socket: files.socket }));
  }

  /** Starts the server in the background on the host; its pid as the wrapper recorded it (NaN or 0 when none was). */
  private async launchServer(binary: string, spec: ServerSpec): Promise<number> {
    const files = serverFiles(this.dir);
    // A wrapper shell waits for mariadbd: it reaps it the moment it exits (no zombie left to init) and records the exit code.
    // What the server prints before its error log is open (a missing datadir, a bad option) goes to server.out.
    // The program is the wrapper's $0: a toolchain path is one word whatever it holds.
    const wrapper = `"$0" "$@" </dev/null >server.out 2>&1 & echo $! > server.pid; wait $!; echo $? > server.exit`;
    const args = serverArgs(spec, undefined);
    const launch =
      `mkdir -p ${q(files.tmpdir)} && cd ${q(this.dir)} && rm -f server.pid server.exit || exit 1; ` +
      `PATH="$PATH:${SBIN_PATH}" sh -c ${q(wrapper)} ${q(binary)} ${args.map(q).join(" ")} </dev/null >/dev/null 2>&1 & ` +
      `i=0; while [ ! -s server.pid ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done; cat server.pid`;
    const launched = await this.runOnHost(launch, `${describeCommand(binary, args)} &`);
    return Number(launched.stdout.trim());
  }

  /** The last lines of the server's error log and of what it printed before the log was open; "" when unreadable. */
  private async logTail(lines = 30): Promise<string> {
    const files = serverFiles(this.dir);
    return (
      await this.runOnHost(
        `cd ${q(this.dir)} && for f in ${q(files.errorLog)} server.out; do if [ -s "$f" ]; then tail -n ${lines} "$f"; fi; done; true`,
        `tail ${files.errorLog}`,
      ).catch(() => ({ stdout: "" }))
    ).stdout.trimEnd();
  }

  /** A start that failed: the server stopped, and `message` thrown with the log's tail (and the grant tables' trouble, if any). */
  private async failStart(binary: string, message: string): Promise<never> {
    const log = await this.logTail();
    await this.runOnHost(stopServerScript(this.dir, 5), `stop ${binary} in ${this.dir}`).catch(() => undefined);
    const trouble = message.includes("privilege") ? undefined : privilegeTableTrouble(log);
    throw new ServerStartError(`${trouble ? `${trouble}\n` : ""}${message}\nserver error log (last lines):\n${log}`);
  }

  /** Connections to the started server as the verifier, through the ssh connection to its socket. */
  private connectAs(verifier: VerifierAccount): Connect {
    const files = serverFiles(this.dir);
    const label = this.conn.label;
    return (options: { database?: string; poolSize?: number; connectTimeoutMs?: number } = {}) =>
      Db.connect({
        socketPath: files.socket,
        via: `ssh ${label}`,
        stream: () => this.conn.socketStream(files.socket),
        user: verifier.user,
        password: verifier.password,
        database: options.database,
        poolSize: options.poolSize,
        connectTimeoutMs: options.connectTimeoutMs,
      });
  }

  /** Until its socket appears and the verifier logs in; a server that exits, refuses the verifier or stays silent fails the start. */
  private async waitUntilAnswering(binary: string, timeoutMs: number, connect: Connect): Promise<void> {
    const files = serverFiles(this.dir);
    const label = this.conn.label;
    const fail = (message: string) => this.failStart(binary, message);
    const deadline = Date.now() + timeoutMs;
    const polls = Math.max(1, Math.ceil(timeoutMs / 100));
    const waited = await this.runOnHost(
      `cd ${q(this.dir)}; i=0; while [ $i -lt ${polls} ]; do ` +
        `if [ -e server.exit ]; then echo "exited $(cat server.exit)"; exit 0; fi; ` +
        `if [ -S ${q(files.socket)} ]; then echo ready; exit 0; fi; sleep 0.1; i=$((i+1)); done; echo waiting`,
      `wait for ${files.socket}`,
    );
    const state = waited.stdout.trim();
    if (state.startsWith("exited")) return fail(`${binary} on ${label} exited with code ${state.slice("exited ".length)} during start-up`);
    let answered = false;
    while (!answered && Date.now() < deadline) {
      try {
        const db = await connect({ connectTimeoutMs: 5000 });
        await db.close();
        answered = true;
      } catch (error) {
        if (this.conn.closed) throw error;
        // It answers, but the account made at start is unknown: the grant tables did not load (the log says which).
        if (/Access denied/.test((error as Error).message)) {
          const log = await this.logTail(60);
          return fail(`${privilegeTableTrouble(log) ?? VERIFIER_REFUSED}\n(${(error as Error).message})`);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    if (!answered) return fail(`${binary} on ${label} did not answer on ${files.socket} within ${Math.round(timeoutMs / 1000)}s`);
  }

  /** The started server as the restore sees it; its log is read at start-up and at stop. */
  private async running(binary: string, pid: number, verifier: VerifierAccount, connect: Connect): Promise<StartedServer> {
    const files = serverFiles(this.dir);
    const verifierPaths = verifierFiles(this.dir);
    let lastLog = await this.logTail();
    const stop = async () => {
      lastLog = (await this.logTail()) || lastLog;
      await this.runOnHost(stopServerScript(this.dir, STOP_GRACE_S), `stop ${binary} pid ${pid}`);
    };
    let stopped: Promise<void> | undefined;
    return {
      pid,
      socket: files.socket,
      port: undefined,
      datadir: this.datadir,
      errorLog: files.errorLog,
      user: verifier.user,
      password: verifier.password,
      verifier: { user: verifier.user, host: verifier.host },
      clientOptionFile: verifierPaths.clientFile,
      connect: (options = {}) => connect(options),
      // The host's log is read at start-up and at stop; this is the copy from the latest read.
      errorLogTail: (lines = 30) => tail(lastLog, lines),
      stop: () => (stopped ??= stop()),
    };
  }

  /** Stop the server, remove the directory, close the connection; over a new connection when the old one was lost. */
  private async removeEverything(): Promise<void> {
    try {
      if (!this.conn.closed) {
        try {
          await this.removeOver(this.conn);
          // Disarmed only after a successful removal: otherwise closing the connection lets the watchdog try again.
          await this.watchdog?.disarm();
          return;
        } catch (error) {
          // Lost just now (perhaps not noticed yet when we started): fall through to a new connection.
          if (!(error instanceof SshError && error.failure === "lost")) throw error;
        }
      }
      let fresh: SshConnection;
      try {
        fresh = await SshConnection.open(this.host, { readyTimeoutMs: 15_000 });
      } catch (error) {
        // Not thrown: this runs while the original failure (usually the same lost connection) is being reported.
        process.stderr.write(
          `restoretest: cannot reach ${this.conn.label} to remove ${this.dir}: ${(error as Error).message}\n` +
            `restoretest: the watchdog on the host stops the server and removes ${this.dir} once the host notices the lost connection\n`,
        );
        return;
      }
      try {
        await this.removeOver(fresh);
      } finally {
        await fresh.close();
      }
    } finally {
      await this.conn.close();
    }
  }

  private async removeOver(conn: SshConnection): Promise<void> {
    const remove = `${stopServerScript(this.dir, STOP_GRACE_S)}; rm -rf ${q(this.dir)} || { sleep 0.5; rm -rf ${q(this.dir)}; }`;
    await conn.run(remove, `ssh ${conn.label} rm -rf ${this.dir}`, { timeoutMs: (STOP_GRACE_S + 30) * 1000 });
  }
}

/**
 * Shell that stops the server started in `dir` (if any): TERM, then KILL after `graceSeconds`. The wrapper shell
 * writes server.exit once it has reaped mariadbd, so a pid is never signalled after it could have been reused.
 */
function stopServerScript(dir: string, graceSeconds: number): string {
  const d = q(dir);
  return (
    `if [ -s ${d}/server.pid ]; then p=$(cat ${d}/server.pid); ` +
    `gone() { [ -e ${d}/server.exit ] || ! kill -0 "$p" 2>/dev/null; }; ` +
    `kill -TERM "$p" 2>/dev/null; i=0; while ! gone && [ $i -lt ${graceSeconds * 10} ]; do sleep 0.1; i=$((i+1)); done; ` +
    `if ! gone; then kill -KILL "$p" 2>/dev/null; i=0; while ! gone && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done; fi; ` +
    `if ! gone; then echo "server pid $p in "${d}" did not stop" >&2; exit 1; fi; fi`
  );
}

interface Listing {
  /** Relative path → size in bytes. */
  files: Map<string, number>;
  bytes: number;
  /** sha256 of the sorted "size path" lines: one value to compare and print. */
  digest: string;
}

async function localListing(dir: string): Promise<Listing> {
  const { stdout } = await runCommand("find", [".", "-type", "f", "-printf", "%s %P\\0"], { cwd: dir, timeoutMs: 300_000 });
  return parseListing(stdout);
}

/** `find -printf '%s %P\0'` output, from either side, in one canonical form. */
function parseListing(text: string): Listing {
  const files = new Map<string, number>();
  for (const record of text.split("\0")) {
    if (!record) continue;
    const space = record.indexOf(" ");
    files.set(record.slice(space + 1), Number(record.slice(0, space)));
  }
  const lines = [...files.entries()].map(([path, size]) => `${size} ${path}`).sort();
  const bytes = [...files.values()].reduce((sum, size) => sum + size, 0);
  return { files, bytes, digest: createHash("sha256").update(lines.join("\n")).digest("hex") };
}

/** Undefined when both sides hold the same files with the same sizes; else what differs, first few by name. */
function compareListings(local: Listing, remote: Listing): string | undefined {
  if (local.digest === remote.digest) return undefined;
  const problems: string[] = [];
  for (const [path, size] of local.files) {
    const there = remote.files.get(path);
    if (there === undefined) problems.push(`missing on the host: ${path} (${size} bytes)`);
    else if (there !== size) problems.push(`size differs: ${path} (local ${size} bytes, host ${there} bytes)`);
  }
  for (const path of remote.files.keys()) if (!local.files.has(path)) problems.push(`not in the backup: ${path}`);
  const shown = problems.slice(0, 10).map((p) => `\n  ${p}`);
  const more = problems.length > 10 ? `\n  … and ${problems.length - 10} more` : "";
  return (
    `local ${local.files.size} files, ${local.bytes} bytes (list sha256 ${local.digest.slice(0, 16)}…); ` +
    `host ${remote.files.size} files, ${remote.bytes} bytes (list sha256 ${remote.digest.slice(0, 16)}…)${shown.join("")}${more}`
  );
}
