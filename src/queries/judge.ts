// Whether a team query's answer meets its expectation: pure, and every message free of the answer's values.
import { describeExpectation, type Expectation, type RowComparison } from "../config/expectation.ts";
import type { Finding } from "../checks/types.ts";
import type { Answer } from "../db/connection.ts";
import type { Asked, BaselineAnswer } from "./answer.ts";

/** Said wherever a value is withheld: where a DBA can look at it instead. */
export const NOT_SHOWN = "values are not shown: they are the restored server's data; see them on a restore drill (bin/restoretest restore <service>)";

export interface BaselineContext {
  /** The manifest's record for this query; undefined when the backup has none. */
  recorded: BaselineAnswer | undefined;
  /** The keyed digest of the SQL as services.yaml has it now. */
  sqlDigest: string;
  /** The keyed digest of an answer, under the backup's key. */
  digest: (answer: Answer) => string;
  backupId: string;
}

const plural = (n: number, word: string) => `${n.toLocaleString("en-US")} ${word}${n === 1 ? "" : "s"}`;

function compareRows(op: RowComparison, actual: number, count: number): boolean {
  switch (op) {
    case "=":
      return actual === count;
    case "!=":
      return actual !== count;
    case "<":
      return actual < count;
    case "<=":
      return actual <= count;
    case ">":
      return actual > count;
    case ">=":
      return actual >= count;
  }
}

const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

/** The single value of an answer against an expected one, as the server returns it (DECIMAL and BIGINT come as text). */
function sameValue(expected: number | string | null, actual: unknown): boolean {
  if (expected === null) return actual === null;
  if (actual === null || actual === undefined) return false;
  const text = Buffer.isBuffer(actual) ? actual.toString("utf8") : typeof actual === "object" ? JSON.stringify(actual) : String(actual as string | number);
  if (typeof expected === "number") return DECIMAL.test(text.trim()) && Number(text) === expected;
  return text === expected;
}

/** The verdict on one query's answer (or its failure). */
export function judgeAnswer(expect: Expectation, asked: Asked, baseline?: BaselineContext): Finding {
  if (!asked.ok) return { ok: false, message: asked.timedOut ? `the query ${asked.message}` : `the query failed on the restored server: ${asked.message}` };
  const { answer } = asked;
  const shape = `${plural(answer.rows.length, "row")} of ${plural(answer.columns.length, "column")}`;
  switch (expect.kind) {
    case "rows": {
      if (compareRows(expect.op, answer.rows.length, expect.count)) return { ok: true, summary: `${plural(answer.rows.length, "row")}: ${describeExpectation(expect)}` };
      return { ok: false, message: `expected ${describeExpectation(expect)}, the answer has ${plural(answer.rows.length, "row")}` };
    }
    case "value": {
      if (answer.rows.length !== 1 || answer.columns.length !== 1) {
        return { ok: false, message: `expected ${describeExpectation(expect)}, but the answer has ${shape} (${NOT_SHOWN})` };
      }
      if (sameValue(expect.value, answer.rows[0]?.[0])) return { ok: true, summary: `one value: ${describeExpectation(expect)}` };
      return { ok: false, message: `the answer is not ${describeExpectation(expect)} (its ${NOT_SHOWN})` };
    }
    case "baseline":
      return judgeBaseline(answer, baseline);
  }
}

/** Why the backup has no answer this query's can be compared with (then it is not asked at all); undefined when it has one. */
export function missingBaseline(baseline: BaselineContext | undefined): Finding | undefined {
  const recorded = baseline?.recorded;
  if (!baseline || !recorded) {
    return { ok: false, message: `backup ${baseline?.backupId ?? "(unknown)"} recorded no answer for this query (it was added to services.yaml after that backup was taken): the next backup records it` };
  }
  if (recorded.sql !== baseline.sqlDigest) {
    return { ok: false, message: `the query's SQL changed since backup ${baseline.backupId} recorded its answer: the next backup records the new one` };
  }
  if (recorded.error !== undefined || recorded.rows === undefined || recorded.digest === undefined) {
    return { ok: false, message: `the source could not answer this query when backup ${baseline.backupId} was taken, so there is no answer to compare with: ${recorded.error ?? "no answer recorded"}` };
  }
  return undefined;
}

function judgeBaseline(answer: Answer, baseline: BaselineContext | undefined): Finding {
  const missing = missingBaseline(baseline);
  const recorded = baseline?.recorded;
  if (missing || !baseline || recorded?.digest === undefined || recorded.rows === undefined) return missing ?? { ok: false, message: "no answer recorded" };
  const recordedRows = recorded.rows;
  const rows = answer.rows.length;
  if (rows !== recordedRows) {
    const by = rows - recordedRows;
    return {
      ok: false,
      message: `the answer differs from the source's in the backup's snapshot: ${plural(rows, "row")}, the source's had ${plural(recordedRows, "row")} (${plural(Math.abs(by), "row")} ${by < 0 ? "fewer" : "more"}); ${NOT_SHOWN}`,
    };
  }
  if (baseline.digest(answer) !== recorded.digest) {
    return {
      ok: false,
      message: `the answer differs from the source's in the backup's snapshot: the same ${plural(rows, "row")}, different values (their keyed digests differ); ${NOT_SHOWN}`,
    };
  }
  return { ok: true, summary: `${plural(rows, "row")}, the same answer as the source's in the backup's snapshot` };
}
