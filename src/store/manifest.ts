// The manifest: a versioned JSON record of what the source looked like at one binlog position.
import { readFileSync } from "node:fs";
import { z } from "zod";
import { PositionSchema } from "../binlog/position.ts";

/**
 * 2: the system schemas (`system: true`) and server-wide checks (`serverChecks`); 3: the team's queries (`queries`).
 * Older versions still read.
 */
export const MANIFEST_VERSION = 3;


const ObjectSchema = z.strictObject({
  name: z.string(),
  /** BASE TABLE, VIEW, SEQUENCE, SYSTEM VERSIONED */
  type: z.string(),
  engine: z.string().nullable(),
  sizeBytes: z.number().nonnegative(),
  /** Per check name, the value that check captured (validated by the check's own schema on use). */
  checks: z.record(z.string(), z.unknown()),
});

/** What is kept of one `expect: baseline` query's answer at the snapshot: keyed digests and a row count, never a row. */
const BaselineAnswerSchema = z.strictObject({
  name: z.string(),
  /** HMAC of the query's SQL under the backup's digest key: a query changed since is named, not compared. */
  sql: z.string(),
  rows: z.number().int().nonnegative().optional(),
  /** HMAC of the answer (columns, row count, rows as a multiset) under the backup's digest key. */
  digest: z.string().optional(),
  /** Why the source gave no answer at backup time. */
  error: z.string().optional(),
});

/** The team's queries (services.yaml verify.queries), as the backup's snapshot saw them. */
const QueriesSchema = z.strictObject({
  /** The {{placeholders}}' values at the snapshot (src/config/querySql.ts): dates and times only. */
  placeholders: z.record(z.string(), z.string().regex(/^\d{4}-\d\d-\d\d( \d\d:\d\d:\d\d)?$/)),
  answers: z.array(BaselineAnswerSchema),
});

export const ManifestSchema = z.strictObject({
  version: z.number().int().min(1).max(MANIFEST_VERSION),
  service: z.string(),
  capturedAt: z.string(),
  durationMs: z.number().nonnegative(),
  server: z.strictObject({ version: z.string(), flavor: z.enum(["mariadb", "mysql"]) }),
  /** The binlog position the baseline describes (P); null when the source has no binary log. */
  position: PositionSchema.nullable(),
  /** How the baseline was made consistent with the backup (see services.yaml `backup.consistency`). */
  consistency: z.enum(["quiescent", "snapshot", "pausedReplica"]),
  /** Tables not covered by an MVCC snapshot (MyISAM, Aria…), and how they were made consistent. */
  nonTransactional: z.strictObject({ tables: z.array(z.string()), capturedUnder: z.string() }).optional(),
  /** On a paused replica: where its SQL thread stood in the primary's binlog (for rebuilding a replica). */
  replication: z
    .strictObject({ masterLogFile: z.string(), execMasterLogPos: z.number().int(), gtidSlavePos: z.string() })
    .optional(),
  checks: z.array(z.string()),
  /** Server-wide checks (accounts, server settings) by name; absent in manifests from before they existed. */
  serverChecks: z.record(z.string(), z.unknown()).optional(),
  queries: QueriesSchema.optional(),
  databases: z.array(
    z.strictObject({
      name: z.string(),
      /** A stored schema of the server itself (mysql, sys), checked whatever `databases` says. */
      system: z.boolean().optional(),
      /** Database-wide checks (tables, views, triggers, routines, events, database) by name. */
      checks: z.record(z.string(), z.unknown()),
      tables: z.array(ObjectSchema),
    }),
  ),
});

export type Manifest = z.infer<typeof ManifestSchema>;
export type ManifestTable = z.infer<typeof ObjectSchema>;
export type ManifestQueries = z.infer<typeof QueriesSchema>;

/** Parse and validate a manifest; errors say which file and what is wrong, and refuse newer versions by name. */
export function parseManifest(text: string, path: string): Manifest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new Error(`${path}: not valid JSON (${(error as Error).message})`);
  }
  const version = (raw as { version?: unknown } | null)?.version;
  if (typeof version === "number" && version > MANIFEST_VERSION) {
    throw new Error(`${path}: manifest version ${version} is newer than this restoretest understands (${MANIFEST_VERSION}); upgrade restoretest`);
  }
  const parsed = ManifestSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`${path}: invalid manifest at ${issue?.path.join(".") || "(root)"}: ${issue?.message}`);
  }
  return parsed.data;
}

export function readManifest(path: string): Manifest {
  return parseManifest(readFileSync(path, "utf8"), path);
}
