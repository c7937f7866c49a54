// The services.yaml schema: one definition gives validation, the TypeScript types and the error messages.
import { z } from "zod";
import { parseDuration } from "../base/duration.ts";
import { parseExpectation } from "./expectation.ts";
import { parseSize } from "../base/size.ts";

/** A duration written like "90s", "30m", "1h30m" or "500ms", stored as milliseconds. */
export const Duration = z.string().transform((text, ctx) => {
  const ms = parseDuration(text);
  if (ms === undefined) {
    // `params.expected` lets the loader word the message itself, showing `${VAR}` instead of a substituted value.
    ctx.addIssue({
      code: "custom",
      message: `expected a duration like "30m", got ${JSON.stringify(text)}`,
      params: { expected: 'a duration like "30m"' },
    });
    return z.NEVER;
  }
  return ms;
});

/** A size written like "256MB" or "1GiB", stored as bytes. */
export const Size = z.string().transform((text, ctx) => {
  const bytes = parseSize(text);
  if (bytes === undefined) {
    ctx.addIssue({ code: "custom", message: `expected a size like "256MB", got ${JSON.stringify(text)}`, params: { expected: 'a size like "256MB"' } });
    return z.NEVER;
  }
  return bytes;
});

export const CHECK_NAMES = [
  "tables",
  "views",
  "triggers",
  "routines",
  "events",
  "database",
  "checksum",
  "definition",
  "rowCount",
  "integrity",
  "indexes",
  "autoIncrement",
  "accounts",
  "server",
] as const;
export type CheckName = (typeof CHECK_NAMES)[number];

/** A source the tool creates itself: a local sandbox seeded from fixture files (the demo). */
const SandboxSource = z.strictObject({
  sandbox: z.strictObject({
    /** Directory of seed files, applied in name order: *.sql through the mariadb client, *.ts modules exporting `seed(conn)`. */
    seed: z.string().min(1),
    /**
     * Directory of files like the seed's, applied on every backup job between the backup and the baseline: the writes a
     * live server gets, so that incrementals carry changes and binlogs are replayed (the demo's incremental policy).
     */
    changes: z.string().min(1).optional(),
    /** The sandbox's server: default the backup tool's own (MySQL for clone and xtrabackup, else MariaDB). */
    flavor: z.enum(["mariadb", "mysql"]).optional(),
  }),
});

/** An existing server (normally the backup replica); the backup runs on its host. */
const ServerSource = z.strictObject({
  host: z.string().min(1).default("127.0.0.1"),
  port: z.number().int().min(1).max(65535).default(3306),
  socket: z.string().min(1).optional(),
  user: z.string().min(1),
  password: z.string().optional(),
  /** The server's datadir, needed by physical backup tools that run beside it. */
  datadir: z.string().min(1).optional(),
});

export const SourceSchema = z.union([SandboxSource, ServerSource]);

/**
 * A running server restored tables are delivered into (`restore --table … --into NAME`), reached like a server source;
 * the password normally `${ENV}`. The account needs CREATE, ALTER, INSERT and DROP on the schemas delivered into
 * (docs/chains.md).
 */
export const IntoServerSchema = z.strictObject({
  host: z.string().min(1).default("127.0.0.1"),
  port: z.number().int().min(1).max(65535).default(3306),
  socket: z.string().min(1).optional(),
  user: z.string().min(1),
  password: z.string().optional(),
});

const BackupSchema = z.strictObject({
  /**
   * `mariabackup` (MariaDB), `xtrabackup` (Percona XtraBackup, MySQL 8), `clone` (MySQL's clone plugin, 8.0.17+; full
   * only) or `dump` (mariadb-dump or mysqldump, for tiny services).
   */
  tool: z.enum(["mariabackup", "xtrabackup", "clone", "dump"]).default("mariabackup"),
  /**
   * Directory holding the programs of the service's flavour (mysqld, mysql, mysqldump, mysqlbinlog; or mariadbd,
   * mariadb, mariadb-backup, …), on every host that runs them: backup, binlog copying and restore. Default: PATH.
   */
  toolchain: z.string().min(1).optional(),
  /** `full`: every backup is a full one; `incremental`: chains of a full and incrementals (`--incremental-basedir`). */
  policy: z.enum(["full", "incremental"]).default("full"),
  /** Backups per chain, the full included: the 8th backup with the default starts a new chain. */
  fullEvery: z.number().int().min(1).default(7),
  /** Also start a new chain when the chain's full is this many days old. */
  fullEveryDays: z.number().positive().optional(),
  /** Whole chains kept after each backup (oldest deleted first); the newest chain that verified green is always kept. */
  keepChains: z.number().int().min(1).default(2),
  /**
   * How the baseline is made consistent with the backup: `quiescent` (nothing writes; checked), `snapshot`
   * (backup, then a consistent snapshot; binlogs replayed to it on restore) or `pausedReplica` (SQL thread stopped).
   */
  consistency: z.enum(["quiescent", "snapshot", "pausedReplica"]).default("snapshot"),
  /** Store directory; each service gets `<store>/<service>/<backup id>/`. */
  store: z.string().min(1).default("backups"),
  /**
   * `directory`: the tool's own files, as it writes them. `stream`: one file per backup (`--stream=mbstream` or
   * `xbstream`), compressed and encrypted as it is written, and restored in one pass (mariabackup and xtrabackup).
   */
  format: z.enum(["directory", "stream"]).default("directory"),
  /** zstd for stream backups, their binlogs and the binlog archive's closed files. */
  compress: z.enum(["none", "zstd"]).default("none"),
  /** zstd's level (1 fastest, 19 smallest). */
  compressLevel: z.number().int().min(1).max(19).default(3),
  /** zstd's threads; 0: one per core. */
  compressThreads: z.number().int().min(0).default(0),
  /**
   * Encrypt what the store holds with age, to the X25519 identity in `keyFile` (made by `age-keygen -o FILE`), which
   * also decrypts. The key stays on the hosts that back up and restore; its content never appears in any output.
   */
  encrypt: z.strictObject({ keyFile: z.string().min(1) }).optional(),
  timeout: Duration.default(3_600_000),
});

/** `SHA256:` and 43 characters of unpadded base64, as `ssh-keygen -lf key.pub` prints a key's fingerprint. */
const HOST_KEY_FINGERPRINT = /^SHA256:[A-Za-z0-9+/]{43}=?$/;

/** How to reach a restore host over SSH: the `ssh` block, and (with extra keys allowed) what a `create` hook prints. */
export const sshHostFields = {
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535).default(22),
  user: z.string().min(1),
  /** Private key file, unencrypted (a key with a passphrase goes in ssh-agent: `agent: true`). */
  identityFile: z.string().min(1).optional(),
  /** Also offer the keys of the ssh-agent at SSH_AUTH_SOCK. */
  agent: z.boolean().optional(),
  /** known_hosts file that must list the host's key... */
  knownHosts: z.string().min(1).optional(),
  /** ...or the one key fingerprint the host may present. */
  hostKeyFingerprint: z
    .string()
    .regex(HOST_KEY_FINGERPRINT, 'expected a fingerprint like "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU" (SHA256: and 43 base64 characters), as `ssh-keygen -lf key.pub` prints it')
    .optional(),
  /** Directory on the host under which each restore makes (and removes) its own directory. */
  workDir: z.string().startsWith("/", "must be an absolute path on the host").default("/tmp"),
};

/** Rules across keys: some credential, and exactly one way to check the host key (there is no trust on first use). */
export function checkSshHost(host: { identityFile?: string; agent?: boolean; knownHosts?: string; hostKeyFingerprint?: string }, ctx: z.RefinementCtx): void {
  if (!host.identityFile && !host.agent) {
    ctx.addIssue({ code: "custom", path: ["identityFile"], message: "required key missing: set identityFile (a private key file), or agent: true" });
  }
  if (!host.knownHosts && !host.hostKeyFingerprint) {
    ctx.addIssue({
      code: "custom",
      path: ["knownHosts"],
      message: 'required key missing: set knownHosts (a known_hosts file) or hostKeyFingerprint ("SHA256:…"); host keys are always checked',
    });
  }
  if (host.knownHosts && host.hostKeyFingerprint) {
    ctx.addIssue({ code: "custom", path: ["hostKeyFingerprint"], message: "set either knownHosts or hostKeyFingerprint, not both" });
  }
}

/** The cross-key rules also run when a key has a wrong value, so one pass reports every problem. */
export const CHECK_SSH_HOST_ALWAYS = { when: (payload: { value: unknown }) => typeof payload.value === "object" && payload.value !== null };

export const SshHostSchema = z.strictObject(sshHostFields).superRefine(checkSshHost, CHECK_SSH_HOST_ALWAYS);

/** User hooks that create, configure and destroy a restore host (cloud API, chef-solo, ansible…). */
export const CommandHooksSchema = z.strictObject({
  /** Prints the host as JSON on stdout: host, port, user, identityFile, knownHosts or hostKeyFingerprint, workDir. */
  create: z.string().min(1),
  /** Gets that JSON on stdin (and as RESTORETEST_* variables); a failure fails the restore, and destroy still runs. */
  configure: z.string().min(1).optional(),
  /** Always runs once create has started, also after failures and Ctrl-C; gets the JSON on stdin. */
  destroy: z.string().min(1),
  /** Limit for each hook. */
  timeout: Duration.default(600_000),
  /** Directory the hooks run in (default: the directory of services.yaml). */
  cwd: z.string().min(1).optional(),
});

const RestoreSchema = z.strictObject({
  /** `local`: a sandbox on this machine; `ssh`: an existing host; `command`: a host made and removed by user hooks. */
  provider: z.enum(["local", "ssh", "command"]).default("local"),
  timeout: Duration.default(1_800_000),
  /** Where the local provider makes its throwaway directories (default: the OS temp dir). */
  workDir: z.string().min(1).optional(),
  /** Required when provider is ssh. */
  ssh: SshHostSchema.optional(),
  /** Required when provider is command. */
  command: CommandHooksSchema.optional(),
  /**
   * The service's own server option file on the restore host (for `command`, the file your configure hook writes):
   * the restored server starts with it instead of the source's settings from the baseline. Safety overrides still apply.
   */
  optionsFile: z.string().startsWith("/", "must be an absolute path on the restore host").optional(),
});

/** What a team query must answer (src/config/expectation.ts has the grammar). */
const ExpectationSchema = z.unknown().transform((raw, ctx) => {
  if (raw === undefined) {
    ctx.addIssue({ code: "custom", message: "required key missing: what the answer must be (a value, rows > N, or baseline)" });
    return z.NEVER;
  }
  const parsed = parseExpectation(raw);
  if ("problem" in parsed) {
    ctx.addIssue({ code: "custom", message: parsed.problem });
    return z.NEVER;
  }
  return parsed;
});

/**
 * One of the team's own tests: a read-only query run on the restored server as the verifier, whose answer must meet
 * `expect` (`queries › <name>`). `sql` inline, or `file` (relative to services.yaml); the loader reads the file into `sql`.
 */
export const QuerySchema = z.strictObject({
  name: z.string().trim().min(1),
  sql: z.string().trim().min(1).optional(),
  file: z.string().min(1).optional(),
  expect: ExpectationSchema,
  /** This query's limit, over verify.queryTimeout. */
  timeout: Duration.optional(),
});

const VerifySchema = z.strictObject({
  checks: z.array(z.enum(CHECK_NAMES)).min(1).default([...CHECK_NAMES]),
  timeout: Duration.default(600_000),
  /** How many tables are checked at once on the restored server. */
  concurrency: z.number().int().min(1).max(64).default(2),
  /** Tables at least this big get per-primary-key-range chunk checksums, so a difference is located. */
  chunkMinSize: Size.default(256 * 1024 * 1024),
  chunkRows: z.number().int().min(100).default(100_000),
  /** CHECK TABLE ... EXTENDED (slow; finds more index damage). */
  extendedCheck: z.boolean().default(false),
  /**
   * The nightly table drill: after verification, this many tables (least recently drilled first) go the way
   * `restore --table … --into` delivers them into a second, empty server and are compared there with the baseline.
   */
  tableDrill: z.number().int().min(0).max(1000).default(0),
  /**
   * Tables bigger than this (their size in the baseline) are left out of the drill: the drill server holds a copy of
   * each. They show as skipped tests, so a table that is never drilled is seen.
   */
  tableDrillMaxSize: Size.default(10 * 1024 ** 3),
  /**
   * Besides the newest backup, restore and verify this many older retained backups each night: those proven least
   * recently (never verified first), each marked verified with the date when green (`older › <id> …`).
   */
  older: z.number().int().min(0).max(100).default(0),
  /** The team's own tests: read-only queries and what they must answer (docs/config.md#the-teams-own-queries). */
  queries: z.array(QuerySchema).default([]),
  /** How long one query may run, on the restored server and (expect: baseline) on the source at backup time. */
  queryTimeout: Duration.default(30_000),
});

/** Where the rebuilt replica connects: the replication source's address as the replica reaches it. */
const RejoinEndpoint = z.strictObject({
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535).default(3306),
});

/** A connection to the replication source for reading its positions and checksums (never for writing). */
const RejoinMonitor = z.strictObject({
  host: z.string().min(1).optional(),
  port: z.number().int().min(1).max(65535).optional(),
  socket: z.string().min(1).optional(),
  user: z.string().min(1),
  password: z.string().optional(),
});

/**
 * Rebuild a replica from the backup (opt-in per service): after verification the restored server replicates from the
 * source, from the backup's position, must catch up, and must then hold the source's data.
 */
export const RejoinSchema = z.strictObject({
  enabled: z.boolean().default(true),
  /**
   * The replication source. Default: the service's source, from the baseline's position. With backup.consistency
   * pausedReplica, set it to the primary: the replica then starts where the backup replica's SQL thread stood.
   */
  source: RejoinEndpoint.optional(),
  /** Replication user (REPLICATION SLAVE) and its password, normally `${ENV}`. A sandbox source gets one made. */
  user: z.string().min(1).optional(),
  password: z.string().optional(),
  /**
   * Reads the source's binlog list, server ids and table checksums (SELECT, BINLOG MONITOR / REPLICATION CLIENT,
   * RELOAD for a brief FLUSH TABLES WITH READ LOCK). Default: the service's source credentials.
   */
  monitor: RejoinMonitor.optional(),
  /** `gtid` (MASTER_USE_GTID=slave_pos), `file` (binlog file and position), or `auto`: GTID when the backup has one. */
  position: z.enum(["auto", "gtid", "file"]).default("auto"),
  /** The replica's server_id; default: a random one that neither the source nor its registered replicas use. */
  serverId: z.number().int().min(1).max(4_294_967_295).optional(),
  /** Both replication threads running, from START SLAVE. */
  startTimeout: Duration.default(60_000),
  /** Executing everything the source had written when catch-up began. */
  catchUpTimeout: Duration.default(600_000),
});

/**
 * What the team promises, each a test (`objectives › RTO` …) that goes red when breached: the restore's time, the age of
 * the newest restorable point, the newest backup's age, and (with `rejoin`) the replica's catch-up.
 */
const ObjectivesSchema = z.strictObject({
  rto: Duration.optional(),
  rpo: Duration.optional(),
  backupAge: Duration.optional(),
  catchUp: Duration.optional(),
  /** The longest any retained backup may go without a green verification (verify.older proves the older ones). */
  unprovenAge: Duration.optional(),
  /** The restored backup's hold on its source (replica SQL thread stopped, or snapshots open) while the baseline was read. */
  baselineHold: Duration.optional(),
});

/** Settings a service may override; the `defaults` block holds the same keys. */
const Overridable = z.strictObject({
  backup: BackupSchema.partial().optional(),
  restore: RestoreSchema.partial().optional(),
  verify: VerifySchema.partial().optional(),
  objectives: ObjectivesSchema.optional(),
});

export const ServiceInputSchema = Overridable.extend({
  source: SourceSchema,
  /** Databases to baseline and verify; default: every non-system database. */
  databases: z.array(z.string().min(1)).min(1).optional(),
  rejoin: RejoinSchema.optional(),
  /** Servers `restore --table … --into NAME` may deliver tables into, by name; `source` names the service's source. */
  into: z
    .record(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]*$/, "names use letters, digits, - and _").refine((name) => name !== "source", "`source` is taken: --into source names the service's own source"), IntoServerSchema)
    .optional(),
});

/** A Pushgateway's address: http(s), optionally with a path prefix and `user:password@` for basic auth. */
const PushgatewayUrl = z.string().superRefine((text, ctx) => {
  const url = URL.canParse(text) ? new URL(text) : undefined;
  if (url && (url.protocol === "http:" || url.protocol === "https:") && !url.search && !url.hash) return;
  const expected = 'an http:// or https:// URL like "http://pushgateway:9091", without ?query or #fragment';
  // A malformed value may still carry a password: then it is not repeated in the message.
  if (text.includes("@")) ctx.addIssue({ code: "custom", message: `expected ${expected} (the value is not shown: it may hold a password)` });
  else ctx.addIssue({ code: "custom", message: `expected ${expected}`, params: { expected } });
});

/** Where each run's Prometheus metrics go besides reports/restoretest.prom (docs/metrics.md). */
export const MetricsSchema = z.strictObject({
  /** Each service's metrics are PUT to `<pushgateway>/metrics/job/<job>/service/<service>` after every run. */
  pushgateway: PushgatewayUrl.optional(),
  job: z.string().min(1).default("restoretest"),
});

export const ServicesFileSchema = z.strictObject({
  defaults: Overridable.optional(),
  metrics: MetricsSchema.optional(),
  services: z.record(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]*$/, "service names use letters, digits, - and _"), ServiceInputSchema),
});

export type ServicesFileInput = z.infer<typeof ServicesFileSchema>;
export type Source = z.infer<typeof SourceSchema>;
export type SandboxSourceConfig = z.infer<typeof SandboxSource>;
export type ServerSourceConfig = z.infer<typeof ServerSource>;
export type SshHostSettings = z.infer<typeof SshHostSchema>;
export type CommandHooks = z.infer<typeof CommandHooksSchema>;
export type RejoinSettings = z.infer<typeof RejoinSchema>;
export type IntoServerConfig = z.infer<typeof IntoServerSchema>;
export type MetricsSettings = z.infer<typeof MetricsSchema>;
export type QueryConfig = z.infer<typeof QuerySchema>;

/** A service after defaults are merged: what every other module receives. */
export interface Service {
  name: string;
  source: Source;
  databases?: string[];
  backup: z.infer<typeof BackupSchema>;
  restore: z.infer<typeof RestoreSchema>;
  verify: z.infer<typeof VerifySchema>;
  /** Present when the service rebuilds a replica from its restore (`rejoin`, enabled). */
  rejoin?: RejoinSettings;
  /** Servers tables may be delivered into (`restore --table … --into NAME`), by name. */
  into?: Record<string, IntoServerConfig>;
  /** Limits in ms, from `objectives` (the service's keys over the defaults'); empty when none is set. */
  objectives: Objectives;
}

export type Objectives = z.infer<typeof ObjectivesSchema>;

export { BackupSchema, RestoreSchema, VerifySchema };
