// One SSH connection to a restore host: key auth, strict host-key checking, remote commands that fail like local ones, socket forwarding.
import { createReadStream, createWriteStream, existsSync, readFileSync, type WriteStream } from "node:fs";
import { Duplex, type Readable } from "node:stream";
import ssh2 from "ssh2";
import type { Client as SshClient, ClientChannel, ServerHostKeyAlgorithm } from "ssh2";
import { maskSecrets } from "../base/secrets.ts";
import { CommandError, tail, type CommandResult } from "../base/command.ts";
import {
  fingerprint,
  hostKeyAlgorithmsFor,
  judgeAgainstFingerprint,
  judgeAgainstKnownHosts,
  keyTypeOf,
  knownKeysFor,
  parseKnownHosts,
  type HostKeyVerdict,
  type PresentedKey,
} from "./knownHosts.ts";

// ssh2 is CommonJS: its classes are reached through the default export under Node's ESM loader.
const { Client, utils } = ssh2;

/** Where to connect and how to trust it: the `ssh` block of services.yaml, or what a `create` hook printed. */
export interface SshEndpoint {
  host: string;
  port: number;
  user: string;
  /** Private key file (unencrypted; use the agent for a key with a passphrase). */
  identityFile?: string;
  /** Also offer the keys of the ssh-agent at SSH_AUTH_SOCK. */
  agent?: boolean;
  /** known_hosts file the host's key must be listed in. */
  knownHosts?: string;
  /** Or the one key the host may present, as `SHA256:…` (ssh-keygen -lf prints it). */
  hostKeyFingerprint?: string;
}

export type SshFailure = "config" | "connect" | "host-key" | "auth" | "lost";

/** SSH itself failed (not a remote command): which endpoint, which kind of failure, and what to do about it. */
export class SshError extends Error {
  override name = "SshError";
  constructor(
    readonly endpoint: string,
    readonly failure: SshFailure,
    detail: string,
    options?: ErrorOptions,
  ) {
    super(maskSecrets(`ssh ${endpoint}: ${detail}`), options);
  }
}

/** A session channel sshd closed before its command started (no pid line, no exit status; the connection is up). */
class NeverStarted extends Error {
  constructor(readonly lost: SshError) {
    super(lost.message);
  }
}

export interface RemoteCommandOptions {
  timeoutMs?: number;
  input?: string;
  inputFile?: string;
  /** Streamed to the command's stdin (ended when the stream ends). */
  stdin?: Readable;
  onStderr?: (chunk: string) => void;
  /** stdout written to this local file (owner-only), never held in memory; the result's stdout is then empty. */
  outputFile?: string;
}

/** A long-lived remote process tied to the connection: it acts when the connection drops, unless disarmed first. */
export interface Watchdog {
  disarm(): Promise<void>;
}

const STDERR_KEEP = 64 * 1024;
const PID_MARKER = "restoretest-remote-pid:";
/** How long a timed-out command gets between TERM and KILL. */
const KILL_GRACE_S = 5;

export class SshConnection {
  private closedReason: string | undefined;
  private lastError: string | undefined;

  private constructor(
    private readonly client: SshClient,
    /** `user@host:port`, for messages. */
    readonly label: string,
  ) {
    // After the handshake an error means the connection is gone; it is reported by whichever command was running.
    client.on("error", (error: Error) => {
      this.lastError = error.message;
    });
    client.on("close", () => {
      this.closedReason ??= this.lastError ?? "the connection was closed";
    });
  }

  get closed(): boolean {
    return this.closedReason !== undefined;
  }

  /** Connect, refusing any host key that is not known or pinned, and authenticate with the configured key or agent. */
  static async open(endpoint: SshEndpoint, options: { readyTimeoutMs?: number } = {}): Promise<SshConnection> {
    const label = `${endpoint.user}@${endpoint.host}:${endpoint.port}`;
    const fail = (failure: SshFailure, detail: string, cause?: unknown) => new SshError(label, failure, detail, { cause });
    const identity = loadIdentity(endpoint, fail);
    const trust = hostKeyPolicy(endpoint, fail);
    const readyTimeoutMs = options.readyTimeoutMs ?? 20_000;
    const client = new Client();
    let refusal: (HostKeyVerdict & { trusted: false }) | undefined;
    let presented: PresentedKey | undefined;
    return new Promise<SshConnection>((resolve, reject) => {
      const onError = (error: Error & { level?: string; code?: string }) => {
        client.removeListener("ready", onReady);
        client.end();
        if (refusal) {
          reject(fail("host-key", `host key verification failed for ${endpoint.host} port ${endpoint.port}: ${refusal.detail}. Refusing to connect.`));
        } else if (error.level === "client-authentication") {
          reject(
            fail(
              "auth",
              `authentication failed: the host did not accept ${identity.describe} for user "${endpoint.user}". ` +
                `Check that its public key is in ~${endpoint.user}/.ssh/authorized_keys on ${endpoint.host}`,
            ),
          );
        } else if (error.code === "ECONNREFUSED") {
          reject(fail("connect", `cannot connect: connection refused by ${endpoint.host} port ${endpoint.port} (is sshd running, is the port right?)`, error));
        } else if (/Timed out while waiting for handshake/.test(error.message)) {
          reject(fail("connect", `cannot connect: no SSH handshake within ${Math.round(readyTimeoutMs / 1000)}s`, error));
        } else {
          const key = presented ? ` (host key ${fingerprint(presented.blob)})` : "";
          reject(fail("connect", `cannot connect${key}: ${error.message}`, error));
        }
      };
      const onReady = () => {
        client.removeListener("error", onError);
        resolve(new SshConnection(client, label));
      };
      client.once("ready", onReady);
      client.once("error", onError);
      // A second error during a failed handshake (the socket closing after a refusal) must not go unhandled.
      client.on("error", () => undefined);
      client.connect({
        host: endpoint.host,
        port: endpoint.port,
        username: endpoint.user,
        privateKey: identity.privateKey,
        agent: identity.agent,
        readyTimeout: readyTimeoutMs,
        // A dead peer is noticed within ~30s instead of at the next TCP timeout, hours later.
        keepaliveInterval: 10_000,
        keepaliveCountMax: 3,
        // Known key types first (as OpenSSH orders them), the rest still offered: a host that only has another
        // type then shows it, and is refused as a changed key rather than failing the handshake obscurely.
        ...(trust.algorithms ? { algorithms: { serverHostKey: { remove: trust.algorithms, prepend: trust.algorithms, append: [] } } } : {}),
        hostVerifier: (blob: Buffer) => {
          presented = { type: keyTypeOf(blob), blob };
          const verdict = trust.judge(presented);
          if (!verdict.trusted) refusal = verdict;
          return verdict.trusted;
        },
      });
    });
  }

  /**
   * Run a shell command line on the host. A non-zero exit becomes the same CommandError a local command gives;
   * on timeout the command's whole process group is killed on the host (OpenSSH ignores channel signals).
   */
  async run(script: string, describe: string, options: RemoteCommandOptions = {}): Promise<CommandResult> {
    // Now and then (about one run in twenty here) sshd closes a new session channel before its command starts, with
    // no exit status, on a connection that stays up. A command that never started (its pid line never came) and took
    // no stream on stdin is run again, at most twice; anything else is reported as it happened.
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.runOnce(script, describe, options);
      } catch (error) {
        if (!(error instanceof NeverStarted) || attempt >= 3) throw error instanceof NeverStarted ? error.lost : error;
      }
    }
  }

  private async runOnce(script: string, describe: string, options: RemoteCommandOptions): Promise<CommandResult> {
    const started = performance.now();
    // sshd runs each command as a session leader, so its pid is also its process group: printed first, to kill on timeout.
    // The marker sets it apart from anything the user's shell start-up files print before it.
    const channel = await this.exec(`echo "${PID_MARKER}$$"; ${script}`, describe);
    return new RemoteRun(this, channel, describe, options, started, (what) => this.lostError(what)).finished();
  }

  /**
   * Start `script` with its stdin held open by this connection. Disarming sends "disarm" on that stdin;
   * if the connection drops first (crash, SIGKILL, network), the script reads EOF instead and acts.
   */
  async watchdog(script: string, describe: string): Promise<Watchdog> {
    const channel = await this.exec(script, describe);
    channel.on("error", () => undefined);
    channel.resume();
    channel.stderr.resume();
    const closed = new Promise<void>((r) => channel.once("close", () => r()));
    let disarmed: Promise<void> | undefined;
    return {
      disarm: () =>
        (disarmed ??= (async () => {
          if (this.closed) return;
          channel.end("disarm\n");
          await Promise.race([closed, new Promise((r) => setTimeout(r, 5000))]);
        })()),
    };
  }

  /** A stream to a unix socket on the host (OpenSSH streamlocal forwarding): nothing listens on a port anywhere. */
  openSocket(path: string): Promise<Duplex> {
    return new Promise((resolve, reject) => {
      if (this.closed) {
        reject(this.lostError(`cannot open socket ${path}`));
        return;
      }
      this.client.openssh_forwardOutStreamLocal(path, (error, channel) => {
        if (error) reject(new SshError(this.label, "connect", `cannot open socket ${path} on the host: ${error.message}`, { cause: error }));
        else resolve(channel);
      });
    });
  }

  /** `openSocket` as a stream usable at once: for clients (mysql2) whose stream factory must be synchronous. */
  socketStream(path: string): Duplex {
    return deferredDuplex(this.openSocket(path));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    const closed = new Promise<void>((r) => this.client.once("close", () => r()));
    this.client.end();
    await Promise.race([closed, new Promise((r) => setTimeout(r, 3000))]);
    this.closedReason ??= "closed by restoretest";
  }

  private lostError(what: string): SshError {
    const reason = this.closedReason ?? this.lastError;
    return new SshError(this.label, "lost", `${what}${reason ? `: ${reason}` : ""}`);
  }

  private exec(command: string, describe: string): Promise<ClientChannel> {
    return new Promise((resolve, reject) => {
      if (this.closed) {
        reject(this.lostError(`cannot run: ${describe}`));
        return;
      }
      this.client.exec(command, (error, channel) => {
        if (error) reject(this.closed ? this.lostError(`cannot run: ${describe}`) : new SshError(this.label, "connect", `cannot run ${describe}: ${error.message}`));
        else resolve(channel);
      });
    });
  }
}

/**
 * One command on its channel, as SshConnection.run starts it: its pid line read first, its output kept (or written to
 * a file), its process group killed on timeout, and its end judged.
 */
class RemoteRun {
  private readonly stdout: Buffer[] = [];
  private head = "";
  private pid: number | undefined;
  private stderr = "";
  private timedOut = false;
  private killing: Promise<void> | undefined;
  private readonly file: WriteStream | undefined;
  private fileError: Error | undefined;

  constructor(
    private readonly conn: SshConnection,
    private readonly channel: ClientChannel,
    private readonly describe: string,
    private readonly options: RemoteCommandOptions,
    private readonly started: number,
    private readonly lostError: (what: string) => SshError,
  ) {
    // Into the file as it arrives, the channel paused while the file is behind: memory stays flat whatever the size.
    this.file = options.outputFile ? createWriteStream(options.outputFile, { mode: 0o600 }) : undefined;
    this.file?.on("error", (error) => {
      this.fileError = error;
      channel.close();
    });
  }

  /** Feeds the command its input and settles when the channel closes (after a kill in flight and the file's last write). */
  finished(): Promise<CommandResult> {
    const { channel, options, file } = this;
    return new Promise<CommandResult>((resolve, reject) => {
      const timer =
        options.timeoutMs && options.timeoutMs > 0
          ? setTimeout(() => {
              this.timedOut = true;
              this.killGroup();
            }, options.timeoutMs)
          : undefined;
      channel.on("data", (chunk: Buffer) => this.read(chunk));
      channel.stderr.on("data", (chunk: Buffer) => {
        const text = chunk.toString();
        options.onStderr?.(text);
        this.stderr = (this.stderr + text).slice(-STDERR_KEEP);
      });
      // Write errors after the far end went away surface through "close" without an exit status.
      channel.on("error", () => undefined);
      // The exit status is read from "close", which ssh2 emits with it (code, or null and the signal named as Node
      // names it, "SIGTERM"; nothing when none came). Not from "exit": ssh2 hands the channel over (CHANNEL_SUCCESS)
      // in the middle of parsing a packet batch, a quick command's output, EOF and exit status can be in that same
      // batch, and "exit" is then emitted before this function listens (about one quick command in five hundred).
      channel.on("close", (code?: number | null, signal?: string) => {
        const exit = code === undefined ? undefined : { code: code ?? undefined, signal: signal ?? undefined };
        if (timer) clearTimeout(timer);
        const written = file ? new Promise<void>((r) => file.end(() => r())) : Promise.resolve();
        void Promise.all([this.killing, written]).then(() => {
          try {
            resolve(this.judge(exit));
          } catch (error) {
            reject(error);
          }
        });
      });
      if (options.stdin) options.stdin.pipe(channel);
      else if (options.inputFile) createReadStream(options.inputFile).pipe(channel);
      else channel.end(options.input ?? "");
    });
  }

  /** stdout: the pid line first (the process group a timeout kills), then the command's own output. */
  private read(chunk: Buffer): void {
    if (this.pid === undefined) {
      this.head += chunk.toString("latin1");
      const found = new RegExp(`${PID_MARKER}(\\d+)\n`).exec(this.head);
      if (!found) return;
      this.pid = Number(found[1]);
      const rest = Buffer.from(this.head.slice(found.index + found[0].length), "latin1");
      if (rest.length > 0) this.keep(rest);
      if (this.timedOut) this.killGroup();
      return;
    }
    this.keep(chunk);
  }

  private keep(chunk: Buffer): void {
    const { file, channel } = this;
    if (!file) this.stdout.push(chunk);
    else if (!file.write(chunk)) {
      channel.pause();
      file.once("drain", () => channel.resume());
    }
  }

  private killGroup(): void {
    const { pid } = this;
    if (pid === undefined || this.killing || this.conn.closed) return;
    const group = `-${pid}`;
    this.killing = this.conn
      .run(
        `kill -TERM -- ${group} 2>/dev/null; i=0; while kill -0 -- ${group} 2>/dev/null && [ $i -lt ${KILL_GRACE_S * 10} ]; do sleep 0.1; i=$((i+1)); done; kill -KILL -- ${group} 2>/dev/null; true`,
        `kill process group ${pid}`,
        { timeoutMs: 0 },
      )
      .then(
        () => undefined,
        () => undefined,
      );
  }

  /** The result, or why there is none: the connection lost (or the command never started), the file unwritten, a failed exit. */
  private judge(exit: { code: number | undefined; signal: string | undefined } | undefined): CommandResult {
    const { describe, options } = this;
    const durationMs = performance.now() - this.started;
    if (!exit) {
      const lost = this.lostError(`connection lost while running: ${describe} (after ${(durationMs / 1000).toFixed(1)}s)`);
      throw this.pid === undefined && !this.conn.closed && !options.stdin && !this.timedOut ? new NeverStarted(lost) : lost;
    }
    if (this.fileError) {
      throw new Error(`could not write the output of ${describe} to ${options.outputFile}: ${this.fileError.message}`);
    }
    if (exit.code === 0 && !this.timedOut) {
      return { stdout: Buffer.concat(this.stdout).toString(), stderr: this.stderr, durationMs };
    }
    throw new CommandError(describe, exit.code, exit.signal, this.timedOut, maskSecrets(tail(this.stderr)), durationMs);
  }
}

/** The private key and/or agent to offer, checked before connecting so a bad path is not reported as a refused login. */
function loadIdentity(
  endpoint: SshEndpoint,
  fail: (failure: SshFailure, detail: string) => SshError,
): { privateKey?: Buffer; agent?: string; describe: string } {
  const offered: string[] = [];
  let privateKey: Buffer | undefined;
  let agent: string | undefined;
  if (endpoint.identityFile) {
    const file = endpoint.identityFile;
    if (!existsSync(file)) throw fail("config", `identityFile ${file} does not exist`);
    try {
      privateKey = readFileSync(file);
    } catch (error) {
      throw fail("config", `cannot read identityFile ${file}: ${(error as Error).message}`);
    }
    const parsed = utils.parseKey(privateKey);
    if (parsed instanceof Error) {
      const encrypted = /passphrase|encrypted/i.test(parsed.message);
      throw fail(
        "config",
        encrypted
          ? `identityFile ${file} is encrypted: load it into ssh-agent and set agent: true instead`
          : `identityFile ${file} is not a private key ssh2 can read: ${parsed.message}`,
      );
    }
    offered.push(`key ${file} (${parsed.type} ${fingerprint(parsed.getPublicSSH())})`);
  }
  if (endpoint.agent) {
    agent = process.env.SSH_AUTH_SOCK;
    if (!agent) throw fail("config", "agent: true, but SSH_AUTH_SOCK is not set (no ssh-agent to ask)");
    offered.push(`the keys of ssh-agent ${agent}`);
  }
  if (offered.length === 0) throw fail("config", "no credentials: set identityFile, or agent: true");
  return { privateKey, agent, describe: offered.join(" or ") };
}

/** How the host's key is judged: against a known_hosts file, or a pinned fingerprint. Never trust on first use. */
function hostKeyPolicy(
  endpoint: SshEndpoint,
  fail: (failure: SshFailure, detail: string) => SshError,
): { judge: (key: PresentedKey) => HostKeyVerdict; algorithms?: ServerHostKeyAlgorithm[] } {
  if (endpoint.hostKeyFingerprint) {
    const pinned = endpoint.hostKeyFingerprint;
    return { judge: (key) => judgeAgainstFingerprint(pinned, key) };
  }
  const file = endpoint.knownHosts;
  if (!file) throw fail("config", "no way to check the host key: set knownHosts or hostKeyFingerprint");
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw fail("config", `cannot read knownHosts ${file}: ${(error as Error).message}`);
  }
  const entries = parseKnownHosts(text);
  const known = knownKeysFor(entries, endpoint.host, endpoint.port);
  const algorithms = hostKeyAlgorithmsFor(known).filter((a): a is ServerHostKeyAlgorithm => SUPPORTED_HOST_KEY_ALGORITHMS.has(a));
  return {
    judge: (key) => judgeAgainstKnownHosts(entries, endpoint.host, endpoint.port, key, file),
    algorithms: algorithms.length > 0 ? algorithms : undefined,
  };
}

const SUPPORTED_HOST_KEY_ALGORITHMS = new Set<string>([
  "ssh-ed25519",
  "ecdsa-sha2-nistp256",
  "ecdsa-sha2-nistp384",
  "ecdsa-sha2-nistp521",
  "rsa-sha2-512",
  "rsa-sha2-256",
  "ssh-rsa",
]);

/** A Duplex that exists now and is wired to a stream that arrives later; writes wait for it, errors pass through. */
function deferredDuplex(pending: Promise<Duplex>): Duplex {
  let inner: Duplex | undefined;
  const proxy = new Duplex({
    read() {
      inner?.resume();
    },
    write(chunk: Buffer, _encoding, callback) {
      pending.then(
        (stream) => {
          stream.write(chunk, (error) => callback(error ?? null));
        },
        (error: Error) => callback(error),
      );
    },
    final(callback) {
      pending.then(
        (stream) => {
          stream.end();
          callback();
        },
        (error: Error) => callback(error),
      );
    },
    destroy(error, callback) {
      inner?.destroy();
      callback(error);
    },
  });
  pending.then(
    (stream) => {
      inner = stream;
      stream.on("data", (chunk: Buffer) => {
        if (!proxy.push(chunk)) stream.pause();
      });
      let ended = false;
      stream.on("end", () => {
        ended = true;
        proxy.push(null);
      });
      stream.on("error", (error: Error) => proxy.destroy(error));
      // A channel that closes without ending (connection lost) must still look closed to the client.
      stream.on("close", () => {
        if (!ended && !proxy.destroyed) proxy.destroy();
      });
    },
    (error: Error) => proxy.destroy(error),
  );
  return proxy;
}
