// What a team query (`verify.queries[].expect`) must answer: its grammar, read from services.yaml.
//
//   expect: 0                 the answer is one row of one column, and its value is 0 (numerically)
//   expect: "active"          one row of one column, and its value is the text "active"
//   expect: null              one row of one column, and its value is NULL
//   expect: rows > 0          the answer's row count compared: rows = N, rows != N, rows < N, rows <= N, rows > N, rows >= N
//   expect: baseline          the same answer the source gave in the backup's snapshot (its keyed digest and row count)
//   expect: {value: baseline} the single value is the text "baseline" (any text the forms above would read otherwise)

export type RowComparison = "=" | "!=" | "<" | "<=" | ">" | ">=";

export type Expectation =
  | { kind: "value"; value: number | string | null }
  | { kind: "rows"; op: RowComparison; count: number }
  | { kind: "baseline" };

/** `rows` then a comparison and a whole number; `==` and `<>` are read as `=` and `!=`. */
const ROWS = /^rows\s*(==|=|!=|<>|<=|>=|<|>)\s*(\d+)$/;
/** A text that means to be a row count comparison (it starts like one), so a typo there is an error, not a value. */
const LOOKS_LIKE_ROWS = /^rows\s*[<>=!]/;

export const EXPECTATION_FORMS = 'a number, a text, null, "baseline", a row count like "rows > 0", or {value: …}';

/** The expectation `raw` (a YAML value) states, or why it states none. */
export function parseExpectation(raw: unknown): Expectation | { problem: string } {
  if (raw === null) return { kind: "value", value: null };
  if (typeof raw === "number") return Number.isFinite(raw) ? { kind: "value", value: raw } : { problem: `expected a finite number` };
  if (typeof raw === "string") {
    const text = raw.trim();
    if (text === "baseline") return { kind: "baseline" };
    const rows = ROWS.exec(text);
    if (rows) {
      const op = rows[1] === "==" ? "=" : rows[1] === "<>" ? "!=" : (rows[1] as RowComparison);
      return { kind: "rows", op, count: Number(rows[2]) };
    }
    if (LOOKS_LIKE_ROWS.test(text)) {
      return { problem: `expected a row count comparison like "rows > 0": rows, then =, !=, <, <=, > or >=, then a whole number (a single value that is this text: {value: ${JSON.stringify(raw)}})` };
    }
    return { kind: "value", value: raw };
  }
  if (typeof raw === "boolean") return { problem: `expected ${EXPECTATION_FORMS}; for a boolean answer write 1 or 0, as the server returns it` };
  if (typeof raw === "object" && !Array.isArray(raw)) {
    const keys = Object.keys(raw);
    const value = (raw as { value?: unknown }).value;
    if (keys.length === 1 && keys[0] === "value" && (value === null || typeof value === "string" || (typeof value === "number" && Number.isFinite(value)))) {
      return { kind: "value", value };
    }
    return { problem: `expected ${EXPECTATION_FORMS}; a map holds only value: (a number, a text or null)` };
  }
  return { problem: `expected ${EXPECTATION_FORMS}` };
}

/** The expectation in words, as a test's description and messages say it. */
export function describeExpectation(e: Expectation): string {
  switch (e.kind) {
    case "baseline":
      return "the answer the source gave in the backup's snapshot";
    case "rows":
      return `rows ${e.op} ${e.count}`;
    case "value":
      return `the single value ${e.value === null ? "NULL" : JSON.stringify(e.value)}`;
  }
}
