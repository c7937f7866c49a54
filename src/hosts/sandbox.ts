// Local sandboxes: a throwaway directory and a `mariadbd` child process in it, always stopped by pid and removed.
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Db } from "../db/connection.ts";
import { registerDisposer } from "../lifecycle/disposers.ts";
import { registerSecret } from "../lifecycle/secrets.ts";
import { runCommand, tail } from "../process/command.ts";

/** The binaries of the server flavour found on this machine. */
export const MARIADB = {
  server: "mariadbd",
  installDb: "mariadb-install-db",
  client: "mariadb",
} as const;

/** A directory that is removed when disposed, also on Ctrl-C. */
export interface WorkDir {
  path: string;
  remove(): Promise<void>;
}

/** mkdtemp (mode 0700) under `base`, registered for removal. */
export function createWorkDir(prefix: string, base?: string): WorkDir {
  const parent = resolve(base ?? tmpdir());
  mkdirSync(parent, { recursive: true });
  const path = mkdtempSync(join(parent, `restoretest-${prefix.replace(/[^\w-]/g, "_")}-`));
  chmodSync(path, 0o700);
  const remove = registerDisposer(`directory ${path}`, () => rmSync(path, { recursive: true, force: true }));
  return { path, remove };
}

/** A free TCP port on 127.0.0.1 (the server binds it right after; a lost race is retried by the caller). */
export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

/** Create an empty datadir with the system tables (`mariadb-install-db`). */
export async function installDatadir(datadir: string): Promise<void> {
  mkdirSync(datadir, { recursive: true, mode: 0o700 });
  await runCommand(
    MARIADB.installDb,
    ["--no-defaults", `--datadir=${datadir}`, "--user=root", "--auth-root-authentication-method=normal", "--skip-test-db", "--skip-name-resolve"],
    { timeoutMs: 120_000 },
  );
}

export interface ServerSpec {
  /** Directory owning the socket, pid file, error log and tmpdir. */
  dir: string;
  datadir: string;
  /** Listen on a free 127.0.0.1 port as well as the socket. */
  tcp: boolean;
  /** Binary logging (a source needs it for positions; a restored server does not). */
  logBin?: boolean;
  serverId?: number;
  /** Start without privilege checks: how a restored copy is read without production credentials. Implies no TCP. */
  skipGrantTables?: boolean;
  readOnly?: boolean;
  extraArgs?: string[];
  /** The server program (default mariadbd; mysqld for a MySQL backup). */
  binary?: string;
  startTimeoutMs?: number;
}

/** A running sandbox server. Created only by `startServer`; stop() is idempotent. */
export interface StartedServer {
  pid: number;
  socket: string;
  port: number | undefined;
  datadir: string;
  errorLog: string;
  /** Credentials that work on this server (root over the socket). */
  user: string;
  password: string | undefined;
  connect(options?: { database?: string; poolSize?: number }): Promise<Db>;
  errorLogTail(lines?: number): string;
  stop(): Promise<void>;
}

export class ServerStartError extends Error {
  override name = "ServerStartError";
}

/** Where a server started in `dir` keeps its socket, pid file, error log and tmpdir (the same on this machine and on a host). */
export function serverFiles(dir: string): { socket: string; pidFile: string; errorLog: string; tmpdir: string } {
  return { socket: join(dir, "mysqld.sock"), pidFile: join(dir, "mysqld.pid"), errorLog: join(dir, "error.log"), tmpdir: join(dir, "tmp") };
}

/** The `mariadbd` command line for `spec`: shared by the local sandbox and the ssh provider so both are equally inert. */
export function serverArgs(spec: ServerSpec, port: number | undefined): string[] {
  const files = serverFiles(spec.dir);
  const args = [
    "--no-defaults",
    `--datadir=${spec.datadir}`,
    `--socket=${files.socket}`,
    `--pid-file=${files.pidFile}`,
    `--log-error=${files.errorLog}`,
    `--tmpdir=${files.tmpdir}`,
    "--user=root",
    "--character-set-server=utf8mb4",
    "--collation-server=utf8mb4_unicode_ci",
    // A restored copy of a replica must never reconnect to production or fire events.
    "--skip-slave-start",
    "--event-scheduler=OFF",
    "--skip-name-resolve",
    "--innodb-buffer-pool-size=256M",
    // MyISAM's key cache and Aria's page cache are allocated and initialised whole at start (128 MB each by default):
    // ~150 ms of every start, for caches a throwaway server barely uses (MyISAM index reads fall back on the page cache).
    "--key-buffer-size=8M",
    "--loose-aria-pagecache-buffer-size=8M",
    "--max-connections=64",
    `--server-id=${spec.serverId ?? 1 + (randomBytes(3).readUIntBE(0, 3) % 1_000_000)}`,
  ];
  if (port !== undefined) args.push(`--port=${port}`, "--bind-address=127.0.0.1");
  else args.push("--skip-networking");
  if (spec.logBin) args.push(`--log-bin=${join(spec.dir, "binlog", "mysql-bin")}`, "--binlog-format=ROW");
  if (spec.skipGrantTables) args.push("--skip-grant-tables");
  // A read-only server (a restored copy) maps MyISAM data files instead of reading them with one pread per row:
  // CHECKSUM TABLE of a fixed-length MyISAM table measured 22× faster (3.5 s → 0.16 s for 2M rows), same checksum.
  if (spec.readOnly) args.push("--read-only", "--loose-myisam-use-mmap=ON");
  return [...args, ...(spec.extraArgs ?? [])];
}

/**
 * Start `mariadbd` on an existing datadir and wait until it answers.
 * A reaper process kills the server and removes `spec.dir` if this process dies without cleaning up.
 */
export async function startServer(spec: ServerSpec): Promise<StartedServer> {
  const files = serverFiles(spec.dir);
  const { socket, errorLog } = files;
  mkdirSync(files.tmpdir, { recursive: true });
  if (spec.logBin) mkdirSync(join(spec.dir, "binlog"), { recursive: true });
  const tcp = spec.tcp && !spec.skipGrantTables;
  let lastError: Error | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = tcp ? await freePort() : undefined;
    const logStart = existsSync(errorLog) ? readFileSync(errorLog).length : 0;
    const binary = spec.binary ?? MARIADB.server;
    const child = spawn(binary, serverArgs(spec, port), { stdio: "ignore", detached: false });
    const pid = child.pid;
    if (pid === undefined) {
      const error = await new Promise<Error | undefined>((r) => {
        child.once("error", r);
        setImmediate(() => r(undefined));
      });
      const missing = (error as NodeJS.ErrnoException | undefined)?.code === "ENOENT";
      throw new ServerStartError(
        missing ? `${binary} is not installed on this machine (not found on PATH): a backup is restored by the server of its own flavour` : `could not spawn ${binary}: ${error?.message ?? "no pid"}`,
      );
    }
    const reaper = spawnReaper(pid, spec.dir);
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    let stopped: Promise<void> | undefined;
    const stopAndRemove = registerDisposer(`${binary} pid ${pid} in ${spec.dir}`, async () => {
      stopped ??= stopChild(child, exited);
      await stopped;
      reaper.kill("SIGKILL");
    });
    const logTail = (lines = 30) => (existsSync(errorLog) ? tail(readFileSync(errorLog).subarray(logStart).toString(), lines) : "");
    try {
      await waitUntilAnswering(socket, exited, spec.startTimeoutMs ?? 60_000);
    } catch (error) {
      const log = logTail();
      await stopAndRemove();
      if (port !== undefined && /Address already in use/.test(log)) {
        lastError = error as Error;
        continue;
      }
      throw new ServerStartError(`${(error as Error).message}\nserver error log (last lines):\n${log}`);
    }
    const user = "root";
    let password: string | undefined;
    if (!spec.skipGrantTables) {
      // A random root password per sandbox: nothing else on this machine can log in to it.
      password = randomBytes(18).toString("base64url");
      registerSecret(password);
      const db = await Db.connect({ socketPath: socket, user, password: "", poolSize: 1 });
      try {
        // Not in the binlog: binlogs are copied into the store, and the statement holds the password in clear.
        await db.query("SET SESSION sql_log_bin = 0");
        await db.query("ALTER USER 'root'@'localhost' IDENTIFIED BY ?", [password]);
      } finally {
        await db.close();
      }
    }
    return {
      pid,
      socket,
      port,
      datadir: spec.datadir,
      errorLog,
      user,
      password,
      connect: (options = {}) => Db.connect({ socketPath: socket, user, password, database: options.database, poolSize: options.poolSize }),
      errorLogTail: logTail,
      stop: stopAndRemove,
    };
  }
  throw new ServerStartError(`could not find a free port for ${MARIADB.server}: ${lastError?.message}`);
}

async function waitUntilAnswering(socket: string, exited: Promise<number | null>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exitCode: number | null | undefined;
  void exited.then((code) => {
    exitCode = code;
  });
  while (Date.now() < deadline) {
    if (exitCode !== undefined) throw new ServerStartError(`${MARIADB.server} exited with code ${exitCode} during start-up`);
    if (existsSync(socket)) {
      try {
        const db = await Db.connect({ socketPath: socket, user: "root", connectTimeoutMs: 2000 });
        await db.close();
        return;
      } catch (error) {
        // Access denied means it answers: the grant tables are in force (a restored source's own root password).
        if (/Access denied/.test((error as Error).message)) return;
      }
    }
    // Polled often: this wait is part of every restore's start step (the RTO).
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new ServerStartError(`${MARIADB.server} did not answer on ${socket} within ${Math.round(timeoutMs / 1000)}s`);
}

async function stopChild(child: ChildProcess, exited: Promise<number | null>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  await exited;
  clearTimeout(timer);
}

/** A detached watcher: when this process is gone, it kills the server and removes its directory. */
function spawnReaper(serverPid: number, dir: string): ChildProcess {
  const script = `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; kill -9 ${serverPid} 2>/dev/null; sleep 1; rm -rf '${dir.replace(/'/g, `'\\''`)}'`;
  const reaper = spawn("sh", ["-c", script], { stdio: "ignore", detached: true });
  reaper.unref();
  return reaper;
}

/** Write a client option file (mode 0600) so passwords never appear on a command line. */
export function writeClientOptionFile(path: string, options: { user: string; password?: string; socket?: string; host?: string; port?: number }): string {
  const lines = ["[client]", `user=${options.user}`];
  if (options.password) lines.push(`password=${options.password}`);
  if (options.socket) lines.push(`socket=${options.socket}`);
  if (options.host) lines.push(`host=${options.host}`);
  if (options.port) lines.push(`port=${options.port}`);
  writeFileSync(path, `${lines.join("\n")}\n`, { mode: 0o600 });
  return path;
}
