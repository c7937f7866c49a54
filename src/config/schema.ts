// The services.yaml schema: one definition gives validation, the TypeScript types and the error messages.
import { z } from "zod";
import { parseDuration } from "./duration.ts";
import { parseSize } from "./size.ts";

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
] as const;
export type CheckName = (typeof CHECK_NAMES)[number];

/** A source the tool creates itself: a local sandbox seeded from fixture files (the demo). */
const SandboxSource = z.strictObject({
  sandbox: z.strictObject({
    /** Directory of seed files, applied in name order: *.sql through the mariadb client, *.ts modules exporting `seed(conn)`. */
    seed: z.string().min(1),
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

const BackupSchema = z.strictObject({
  tool: z.enum(["mariabackup"]).default("mariabackup"),
  /**
   * How the baseline is made consistent with the backup: `quiescent` (nothing writes; checked), `snapshot`
   * (backup, then a consistent snapshot; binlogs replayed to it on restore) or `pausedReplica` (SQL thread stopped).
   */
  consistency: z.enum(["quiescent", "snapshot", "pausedReplica"]).default("snapshot"),
  /** Store directory; each service gets `<store>/<service>/<backup id>/`. */
  store: z.string().min(1).default("backups"),
  timeout: Duration.default(3_600_000),
});

const RestoreSchema = z.strictObject({
  /** `local` is the embedded sandbox; `ssh` and `command` providers plug in at the same seam. */
  provider: z.enum(["local"]).default("local"),
  timeout: Duration.default(1_800_000),
  /** Where the local provider makes its throwaway directories (default: the OS temp dir). */
  workDir: z.string().min(1).optional(),
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
});

/** Settings a service may override; the `defaults` block holds the same keys. */
const Overridable = z.strictObject({
  backup: BackupSchema.partial().optional(),
  restore: RestoreSchema.partial().optional(),
  verify: VerifySchema.partial().optional(),
});

export const ServiceInputSchema = Overridable.extend({
  source: SourceSchema,
  /** Databases to baseline and verify; default: every non-system database. */
  databases: z.array(z.string().min(1)).min(1).optional(),
});

export const ServicesFileSchema = z.strictObject({
  defaults: Overridable.optional(),
  services: z.record(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]*$/, "service names use letters, digits, - and _"), ServiceInputSchema),
});

export type ServicesFileInput = z.infer<typeof ServicesFileSchema>;
export type Source = z.infer<typeof SourceSchema>;
export type SandboxSourceConfig = z.infer<typeof SandboxSource>;
export type ServerSourceConfig = z.infer<typeof ServerSource>;

/** A service after defaults are merged: what every other module receives. */
export interface Service {
  name: string;
  source: Source;
  databases?: string[];
  backup: z.infer<typeof BackupSchema>;
  restore: z.infer<typeof RestoreSchema>;
  verify: z.infer<typeof VerifySchema>;
}

export { BackupSchema, RestoreSchema, VerifySchema };
