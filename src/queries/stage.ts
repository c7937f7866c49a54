// The team's own tests (`queries › <name>`): each query of services.yaml asked read-only on the restored server, as
// its verifier, at the backup's position P, and judged against its expectation or the source's answer at the snapshot.
import type { Manifest } from "../store/manifest.ts";
import { dialectOf } from "../server/flavor.ts";
import type { Finding } from "../checks/types.ts";
import type { Expectation } from "../config/expectation.ts";
import type { Service } from "../config/schema.ts";
import type { Db } from "../db/connection.ts";
import { answerDigest, ask, beginReadOnly, sqlDigest, type TeamQuery } from "./answer.ts";
import { judgeAnswer, missingBaseline } from "./judge.ts";
import { placeholdersIn, substitute } from "../config/querySql.ts";

export interface ServiceQuery extends TeamQuery {
  expect: Expectation;
}

/** The service's queries, each with its SQL (the loader read `file:` into it) and its limit. */
export function serviceQueries(service: Service): ServiceQuery[] {
  return service.verify.queries.map((q) => ({ name: q.name, sql: q.sql ?? "", timeoutMs: q.timeout ?? service.verify.queryTimeout, expect: q.expect }));
}

/** The queries whose answer the backup job records at the snapshot. */
export function baselineQueries(service: Service): TeamQuery[] {
  return serviceQueries(service)
    .filter((q) => q.expect.kind === "baseline")
    .map(({ name, sql, timeoutMs }) => ({ name, sql, timeoutMs }));
}

export interface QueryVerdict {
  finding: Finding;
  durationMs: number | null;
  /**
   * The backup predates the query as services.yaml has it now (no answer recorded for it, its SQL changed since, or no
   * placeholder values): red on the newest backup until the next one records it; an older backup is not judged by it.
   */
  newerThanBackup?: true;
}

/**
 * Every query's verdict, asked one after another on one session of the restored server in one read-only transaction
 * (before anything rolls it forward past P). `key` is the backup's digest key; `backupId` names the backup in messages.
 */
export async function answerQueries(db: Db, queries: readonly ServiceQuery[], manifest: Manifest, key: Buffer | undefined, backupId: string): Promise<Map<string, QueryVerdict>> {
  const verdicts = new Map<string, QueryVerdict>();
  if (queries.length === 0) return verdicts;
  const dialect = await dialectOf(db);
  const placeholders = manifest.queries?.placeholders;
  const session = await db.session();
  try {
    await beginReadOnly(session);
    for (const query of queries) {
      const named = placeholdersIn(query.sql);
      if (named.length > 0 && !placeholders) {
        const list = named.map((n) => `{{${n}}}`).join(", ");
        verdicts.set(query.name, {
          finding: { ok: false, message: `backup ${backupId} recorded no value for ${list} (it was taken before the service had queries): the next backup records them` },
          durationMs: null,
          newerThanBackup: true,
        });
        continue;
      }
      if (query.expect.kind === "baseline" && !key) {
        verdicts.set(query.name, { finding: { ok: false, message: `backup ${backupId} has no digest key (digest.key): its answers cannot be compared; take a new backup` }, durationMs: null });
        continue;
      }
      const baseline = key && {
        recorded: manifest.queries?.answers.find((a) => a.name === query.name),
        sqlDigest: sqlDigest(key, query.sql),
        digest: (answer: Parameters<typeof answerDigest>[1]) => answerDigest(key, answer),
        backupId,
      };
      // Nothing to compare with: not asked (a query the source could not answer in time would only time out again).
      const missing = query.expect.kind === "baseline" ? missingBaseline(baseline || undefined) : undefined;
      if (missing) {
        const recorded = baseline ? baseline.recorded : undefined;
        const newer = !recorded || (baseline && recorded.sql !== baseline.sqlDigest);
        verdicts.set(query.name, { finding: missing, durationMs: null, ...(newer ? { newerThanBackup: true as const } : {}) });
        continue;
      }
      const asked = await ask(session, db, dialect, substitute(query.sql, placeholders ?? {}), query.timeoutMs);
      verdicts.set(query.name, { finding: judgeAnswer(query.expect, asked, baseline || undefined), durationMs: asked.durationMs });
    }
    // Nothing was written (the transaction is read-only): a connection a query broke is only given back.
    await session.query("COMMIT").catch(() => undefined);
  } finally {
    session.release();
  }
  return verdicts;
}
