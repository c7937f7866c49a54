// Local sandboxes: a throwaway directory and a `mariadbd` child process in it, always stopped by pid and removed.
import { spawn, type ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync, chmodSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Db } from "../db/connection.ts";
import { registerDisposer } from "../base/disposers.ts";
import { recordOwner } from "../base/owner.ts";
import { registerSecret } from "../base/secrets.ts";
import { runCommand, shellQuote, tail } from "../base/command.ts";
import { MARIADB_FLAVOR, type ServerFlavor } from "../server/flavor.ts";
import { clientOptions, type ClientOptions } from "../server/optionFile.ts";

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
  // A SIGKILL of the whole process tree skips every disposer: the next run's sweep goes by this record.
  recordOwner(path);
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

/** Create an empty datadir with the system tables (`mariadb-install-db`, or `mysqld --initialize-insecure`). */
export async function installDatadir(datadir: string, flavor: ServerFlavor = MARIADB_FLAVOR.server): Promise<void> {
  // MySQL makes the datadir itself and refuses one that exists and is not empty; an empty one it accepts.
  mkdirSync(datadir, { recursive: true, mode: 0o700 });
  const templates = process.env.RESTORETEST_DATADIR_TEMPLATES;
  if (templates) return copyTemplate(datadir, flavor, templates);
  const command = flavor.initialize(datadir);
  await runCommand(command.file, command.args, { timeoutMs: 120_000 });
}

/**
 * `RESTORETEST_DATADIR_TEMPLATES` (the self-tests set it, per run): each flavour's empty datadir is made once, in that
 * directory, and copied for every later one. Made here: mariadb-install-db 2.2 s, mysqld --initialize 3.2 s; copied
 * 0.3 s. MySQL's auto.cnf is left out of the copy, so every server still gets a server_uuid of its own.
 */
async function copyTemplate(datadir: string, flavor: ServerFlavor, templates: string): Promise<void> {
  const probe = flavor.initialize("@DATADIR@");
  const key = createHash("sha256").update(JSON.stringify([probe.file, probe.args])).digest("hex").slice(0, 16);
  const template = join(templates, `${flavor.name}-${key}`);
  if (!existsSync(template)) {
    mkdirSync(templates, { recursive: true, mode: 0o700 });
    // Made beside and renamed into place: a second process making the same template at once loses nothing.
    const making = mkdtempSync(join(templates, `.making-${flavor.name}-`));
    try {
      const command = flavor.initialize(join(making, "datadir"));
      // Its bootstrap server's temporary tables in a directory of its own: in the shared temp dir one was found
      // deleted under it ("Error on delete of '…/#sql-temptable-….MAI'") while two were being made at once.
      const tmp = join(making, "tmp");
      mkdirSync(tmp);
      await runCommand(command.file, command.args, { timeoutMs: 120_000, env: { TMPDIR: tmp } });
      rmSync(join(making, "datadir", "auto.cnf"), { force: true });
      try {
        renameSync(join(making, "datadir"), template);
      } catch (error) {
        if (!existsSync(template)) throw error;
      }
    } finally {
      rmSync(making, { recursive: true, force: true });
    }
  }
  await runCommand("cp", ["-a", `${template}/.`, datadir]);
}

/**
 * The account a restored server is verified through: made by `--init-file` at start, after the server has loaded the
 * backup's own grant tables exactly as a normal start does, and left out of every comparison. Its password is random
 * per restore; the server still listens on nothing but its socket.
 */
export interface VerifierAccount {
  user: string;
  host: "localhost";
  password: string;
}

export function newVerifierAccount(): VerifierAccount {
  const password = randomBytes(18).toString("base64url");
  registerSecret(password);
  return { user: `restoretest_verifier_${randomBytes(4).toString("hex")}`, host: "localhost", password };
}

/** The init file's statements (they run before the server accepts connections; the file is mode 0600 and removed with the restore). */
export function verifierInitSql(v: VerifierAccount): string {
  // The init file is read under the restored server's sql_mode (NO_BACKSLASH_ESCAPES or not): only words that need no
  // escaping either way go into its string literals. Ours are (hex, base64url); anything else is refused, not mangled.
  for (const word of [v.user, v.password]) if (!/^[\w-]+$/.test(word)) throw new Error("a verifier account's name and password are letters, digits, _ and - only");
  const account = `'${v.user}'@'${v.host}'`;
  // PROXY too (not part of ALL): a dump's accounts include proxy grants, which only a holder of it may give. The init
  // file's session may not GRANT PROXY, so the row goes in as mysql_install_db writes root's, then the ACL reloads.
  return (
    `CREATE USER ${account} IDENTIFIED BY '${v.password}';\nGRANT ALL PRIVILEGES ON *.* TO ${account} WITH GRANT OPTION;\n` +
    `INSERT INTO mysql.proxies_priv (Host, User, Proxied_host, Proxied_user, With_grant, Grantor) VALUES ('${v.host}', '${v.user}', '%', '', 1, '');\n` +
    "FLUSH PRIVILEGES;\n"
  );
}

/** Where a server in `dir` finds its verifier's init file, and a client option file for people (restore drills). */
export function verifierFiles(dir: string): { initFile: string; clientFile: string } {
  return { initFile: join(dir, "verifier-init.sql"), clientFile: join(dir, "client.cnf") };
}

/**
 * What a failed or half-failed start says about the privilege tables, from the server's error log: the lines that name
 * the table, and what they mean. Undefined when the log says nothing about them.
 */
export function privilegeTableTrouble(log: string): string | undefined {
  const lines = log
    .split("\n")
    .filter((l) => /privilege tables|Missing system table|ERROR: \d+ |Table 'mysql\.|mysql\/\w+\.(MAI|MAD|MYI|MYD|ibd)|init[_-]file/i.test(l))
    .map((l) => l.replace(/^\d{4}-\d\d-\d\d\s+\d+:\d\d:\d\d\s+\d+\s+/, "").trim());
  if (lines.length === 0) return undefined;
  const view = lines.some((l) => /'mysql\.user' is not of type 'TABLE'/.test(l))
    ? "\nmysql.user is a view over mysql.global_priv on MariaDB: the account table mysql.global_priv is missing or unreadable in this backup."
    : "";
  return `the restored server's privilege tables do not load as a normal start loads them: a server started from this backup cannot authenticate the service's accounts.\n${[...new Set(lines)].map((l) => `  ${l}`).join("\n")}${view}`;
}

export interface ServerSpec {
  /** Directory owning the socket, pid file, error log and tmpdir. */
  dir: string;
  datadir: string;
  /**
   * A restored server: starts with its grant tables loaded, verified through this account (made by --init-file).
   * Implies no TCP.
   */
  verifier?: VerifierAccount;
  /** The source's settings as startup options (src/checks/settings.ts startupOptions); default utf8mb4. */
  settings?: readonly string[];
  /** The service's own option file (restore.optionsFile) instead of --no-defaults and `settings`; the safety overrides still win. */
  defaultsFile?: string;
  /** Listen on a free 127.0.0.1 port as well as the socket. */
  tcp: boolean;
  /** Binary logging (a source needs it for positions; a restored server does not). */
  logBin?: boolean;
  serverId?: number;
  /** Start without privilege checks: how a restored copy is read without production credentials. Implies no TCP. */
  skipGrantTables?: boolean;
  readOnly?: boolean;
  extraArgs?: string[];
  /** The server's flavour: its program and the options only it takes (default MariaDB's mariadbd). */
  flavor?: ServerFlavor;
  startTimeoutMs?: number;
}

/** A running sandbox server. Created only by `startServer`; stop() is idempotent. */
export interface StartedServer {
  pid: number;
  socket: string;
  port: number | undefined;
  datadir: string;
  errorLog: string;
  /** Credentials that work on this server (root over the socket, or a restored server's verifier account). */
  user: string;
  password: string | undefined;
  /** A restored server's verifier account: left out of the accounts comparison. */
  verifier?: { user: string; host: string };
  /** A client option file for this server's credentials, on the host it runs on (restore drills print it). */
  clientOptionFile?: string;
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
  const flavor = spec.flavor ?? MARIADB_FLAVOR.server;
  const args = [
    // --defaults-file must come first; what follows on the command line wins over the file.
    spec.defaultsFile ? `--defaults-file=${spec.defaultsFile}` : "--no-defaults",
    `--datadir=${spec.datadir}`,
    `--socket=${files.socket}`,
    `--pid-file=${files.pidFile}`,
    `--log-error=${files.errorLog}`,
    `--tmpdir=${files.tmpdir}`,
    "--user=root",
    ...(spec.defaultsFile ? [] : (spec.settings ?? ["--character-set-server=utf8mb4", "--collation-server=utf8mb4_unicode_ci"])),
    // A restored copy of a replica must never reconnect to production or fire events.
    flavor.skipReplicaStart,
    "--event-scheduler=OFF",
    "--skip-name-resolve",
    // A service's option file names its own files: a restored copy writes none of them outside its directory.
    // Its memory sizing is the service's too (the restore host is sized for it); without one, a lean throwaway server.
    ...(spec.defaultsFile
      ? ["--skip-log-bin", "--general-log=OFF", "--slow-query-log=OFF", `--relay-log=${join(spec.dir, "relay-bin")}`, `--innodb-log-group-home-dir=${spec.datadir}`, `--innodb-undo-directory=${spec.datadir}`, "--innodb-data-home-dir="]
      : [
          "--innodb-buffer-pool-size=256M",
          // MyISAM's key cache and Aria's page cache are allocated and initialised whole at start (128 MB each by default):
          // ~150 ms of every start, for caches a throwaway server barely uses (MyISAM index reads fall back on the page cache).
          "--key-buffer-size=8M",
          "--loose-aria-pagecache-buffer-size=8M",
        ]),
    "--max-connections=64",
    `--server-id=${spec.serverId ?? 1 + (randomBytes(3).readUIntBE(0, 3) % 1_000_000)}`,
    // Before --log-bin below: MySQL's flavour turns binary logging off unless the spec asks for it.
    ...flavor.extraArgs(files),
  ];
  if (port !== undefined) args.push(`--port=${port}`, "--bind-address=127.0.0.1");
  else args.push("--skip-networking");
  if (spec.logBin) args.push(`--log-bin=${join(spec.dir, "binlog", "mysql-bin")}`, "--binlog-format=ROW");
  if (spec.skipGrantTables) args.push("--skip-grant-tables");
  if (spec.verifier) args.push(`--init-file=${verifierFiles(spec.dir).initFile}`);
  // A read-only server (a restored copy) maps MyISAM data files instead of reading them with one pread per row:
  // CHECKSUM TABLE of a fixed-length MyISAM table measured 22× faster (3.5 s → 0.16 s for 2M rows), same checksum.
  if (spec.readOnly) args.push("--read-only", "--loose-myisam-use-mmap=ON");
  return [...args, ...(spec.extraArgs ?? [])];
}

/**
 * The account whose random password a sandbox sets at every start (outside the binlog: the statement holds it in
 * clear). On a kept sandbox source it changes from one backup to the next with no event in any archive.
 */
export const SANDBOX_ROOT = { user: "root", host: "localhost" } as const;

/**
 * Start `mariadbd` on an existing datadir and wait until it answers.
 * A reaper process kills the server and removes `spec.dir` if this process dies without cleaning up.
 */
export async function startServer(spec: ServerSpec): Promise<StartedServer> {
  const files = serverFiles(spec.dir);
  const { socket, errorLog } = files;
  mkdirSync(files.tmpdir, { recursive: true });
  if (spec.logBin) mkdirSync(join(spec.dir, "binlog"), { recursive: true });
  const tcp = spec.tcp && !spec.skipGrantTables && !spec.verifier;
  const verifier = writeVerifierFiles(spec, socket);
  let lastError: Error | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = tcp ? await freePort() : undefined;
    const running = await launch(spec, files, verifier, port);
    if ("portTaken" in running) {
      lastError = running.portTaken;
      continue;
    }
    const { user, password } = await account(spec, socket);
    return {
      pid: running.pid,
      socket,
      port,
      datadir: spec.datadir,
      errorLog,
      user,
      password,
      ...(spec.verifier && verifier ? { verifier: { user: spec.verifier.user, host: spec.verifier.host }, clientOptionFile: verifier.clientFile } : {}),
      connect: (options = {}) => Db.connect({ socketPath: socket, user, password, database: options.database, poolSize: options.poolSize }),
      errorLogTail: running.logTail,
      stop: running.stop,
    };
  }
  throw new ServerStartError(`could not find a free port for ${(spec.flavor ?? MARIADB_FLAVOR.server).binary}: ${lastError?.message}`);
}

/** A restored server's verifier: the init file that makes its account, and the client option file that logs in with it. */
function writeVerifierFiles(spec: ServerSpec, socket: string): ReturnType<typeof verifierFiles> | undefined {
  const verifier = spec.verifier ? verifierFiles(spec.dir) : undefined;
  if (spec.verifier && verifier) {
    writeFileSync(verifier.initFile, verifierInitSql(spec.verifier), { mode: 0o600 });
    writeFileSync(verifier.clientFile, clientOptions({ user: spec.verifier.user, password: spec.verifier.password, socket }), { mode: 0o600 });
  }
  return verifier;
}

/** One try at starting the server: running and answering, or the port it was given taken meanwhile (try another). */
async function launch(
  spec: ServerSpec,
  { socket, errorLog }: ReturnType<typeof serverFiles>,
  verifier: ReturnType<typeof verifierFiles> | undefined,
  port: number | undefined,
): Promise<{ pid: number; stop: () => Promise<void>; logTail: (lines?: number) => string } | { portTaken: Error }> {
  const logStart = existsSync(errorLog) ? readFileSync(errorLog).length : 0;
  const binary = (spec.flavor ?? MARIADB_FLAVOR.server).binary;
  const { child, pid } = await spawnServer(binary, spec, port);
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
    // A restored server is asked with its verifier account from the first try: one login proves both that it answers
    // and that the grant tables it loaded accept the account its init file made (that login is the start's end).
    await waitUntilAnswering(binary, socket, exited, spec.startTimeoutMs ?? 60_000, spec.verifier);
  } catch (error) {
    const refused = error instanceof LoginRefused;
    const log = logTail(refused ? 60 : 30);
    await stopAndRemove();
    if (port !== undefined && /Address already in use/.test(log)) {
      return { portTaken: error as Error };
    }
    const trouble = privilegeTableTrouble(log) ?? (refused ? VERIFIER_REFUSED : undefined);
    const message = refused ? `(${error.message})` : (error as Error).message;
    throw new ServerStartError(`${trouble ? `${trouble}\n` : ""}${message}\nserver error log (last lines):\n${tail(log, 30)}`);
  } finally {
    if (verifier) rmSync(verifier.initFile, { force: true });
  }
  return { pid, stop: stopAndRemove, logTail };
}

/** The server's process, or why it has none (a flavour's program not installed is named as such). */
async function spawnServer(binary: string, spec: ServerSpec, port: number | undefined): Promise<{ child: ChildProcess; pid: number }> {
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
  return { child, pid };
}

/** Who logs in to a started server: its verifier, root without a password (grant tables skipped), or root with a fresh one. */
async function account(spec: ServerSpec, socket: string): Promise<{ user: string; password: string | undefined }> {
  let user: string = SANDBOX_ROOT.user;
  let password: string | undefined;
  if (spec.verifier) {
    ({ user, password } = spec.verifier);
  } else if (!spec.skipGrantTables) {
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
  return { user, password };
}

/** What a start says when the verifier's login is refused and the error log names no privilege table. */
export const VERIFIER_REFUSED = "the restored server's privilege system did not accept the verifier account made at start";

/** The server answered, but refused the login the start is waiting with (a restored server's verifier account). */
class LoginRefused extends Error {}

/**
 * Until the server on `socket` answers a login: as `login` where given (refused is then an error, LoginRefused), else as
 * root with no password, where "access denied" answers too (the grant tables are in force: a source's own root password).
 */
async function waitUntilAnswering(
  binary: string,
  socket: string,
  exited: Promise<number | null>,
  timeoutMs: number,
  login?: { user: string; password: string },
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exitCode: number | null | undefined;
  void exited.then((code) => {
    exitCode = code;
  });
  while (Date.now() < deadline) {
    if (exitCode !== undefined) throw new ServerStartError(`${binary} exited with code ${exitCode} during start-up`);
    if (existsSync(socket)) {
      try {
        const db = await Db.connect({ socketPath: socket, user: login?.user ?? "root", password: login?.password, poolSize: 1, connectTimeoutMs: 2000 });
        await db.close();
        return;
      } catch (error) {
        const message = (error as Error).message;
        if (/Access denied/.test(message)) {
          if (login) throw new LoginRefused(message);
          return;
        }
      }
    }
    // Polled every 2 ms (one stat until the socket exists): this wait is part of every restore's start step (the RTO).
    await new Promise((r) => setTimeout(r, 2));
  }
  throw new ServerStartError(`${binary} did not answer on ${socket} within ${Math.round(timeoutMs / 1000)}s`);
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
  const script = `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; kill -9 ${serverPid} 2>/dev/null; sleep 1; rm -rf ${shellQuote(dir)}`;
  const reaper = spawn("sh", ["-c", script], { stdio: "ignore", detached: true });
  reaper.unref();
  return reaper;
}

/** Write a client option file (mode 0600) so passwords never appear on a command line. */
export function writeClientOptionFile(path: string, options: ClientOptions): string {
  writeFileSync(path, clientOptions(options), { mode: 0o600 });
  return path;
}

/** The client option file of a server reached by socket, or else by host and port (services.yaml's source and into: blocks). */
export function writeServerClientFile(path: string, server: { user: string; password?: string; socket?: string; host?: string; port?: number }): string {
  const { user, password, socket } = server;
  return writeClientOptionFile(path, socket ? { user, password, socket } : { user, password, host: server.host, port: server.port });
}
