// A team query's text: what may be written (one statement that only reads), and its {{placeholders}}.
import { tokenize } from "../server/sql.ts";

/**
 * The values a query may name as `{{name}}`, read from the source inside the backup's snapshot (at its binlog position
 * P) and recorded in the manifest: the verification substitutes the very same text, so a query about "yesterday"
 * means the backup's yesterday on every night it is verified. Values are in the source's session time zone; write
 * them in quotes (`'{{backupTime}}'`).
 */
export const PLACEHOLDERS = {
  backupTime: "DATE_FORMAT(NOW(), '%Y-%m-%d %H:%i:%s')",
  backupTimeUtc: "DATE_FORMAT(UTC_TIMESTAMP(), '%Y-%m-%d %H:%i:%s')",
  backupDate: "DATE_FORMAT(CURDATE(), '%Y-%m-%d')",
} as const;

export type PlaceholderName = keyof typeof PLACEHOLDERS;
export const PLACEHOLDER_NAMES = Object.keys(PLACEHOLDERS) as PlaceholderName[];

const PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;

/** The placeholders `sql` names, each once, in order. */
export function placeholdersIn(sql: string): string[] {
  return [...new Set([...sql.matchAll(PLACEHOLDER)].map((m) => m[1] as string))];
}

/** `sql` with each placeholder replaced by its recorded value (every one it names must be in `values`). */
export function substitute(sql: string, values: Readonly<Record<string, string>>): string {
  return sql.replace(PLACEHOLDER, (match, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`no value for placeholder ${match}`);
    return value;
  });
}

/** The statement as sent: one trailing `;` dropped (the client protocol takes the statement without it). */
export function runnable(sql: string): string {
  return sql.trim().replace(/;\s*$/, "");
}

/**
 * Why `sql` cannot be a team query, one line each; empty when it can. A query runs on the source at backup time (as the
 * source user) and on the restored server, inside a READ ONLY transaction; but a statement that commits implicitly
 * (DDL) or writes outside the tables (a file) would not be stopped by that, so only reading statements are taken: one
 * SELECT, WITH …, VALUES or TABLE statement, without INTO (files, variables) and without row locks.
 */
export function statementProblems(sql: string): string[] {
  const problems: string[] = [];
  const unknown = placeholdersIn(sql).filter((name) => !(name in PLACEHOLDERS));
  for (const name of unknown) problems.push(`unknown placeholder {{${name}}} (known: ${PLACEHOLDER_NAMES.map((n) => `{{${n}}}`).join(", ")})`);
  const sample = Object.fromEntries([...PLACEHOLDER_NAMES, ...unknown].map((n) => [n, "2000-01-01 00:00:00"]));
  const tokens = tokenize(runnable(substitute(sql, sample)));
  const first = tokens.find((t) => !(t.type === "punct" && t.text === "("));
  if (!first) return [...problems, "holds no statement"];
  if (first.type !== "word" || !["SELECT", "WITH", "VALUES", "TABLE"].includes(first.upper)) {
    problems.push(`not a read-only query: it starts with ${first.type === "word" ? first.upper : JSON.stringify(first.text)}; a query is one SELECT (or WITH …, VALUES, TABLE) statement`);
  }
  if (tokens.some((t) => t.type === "punct" && t.text === ";")) problems.push("more than one statement: a query is one statement (each query is its own test)");
  const words = tokens.map((t) => (t.type === "word" ? t.upper : ""));
  if (words.includes("INTO")) problems.push("SELECT … INTO writes (a file or variables): a query only reads");
  const locks = words.some((w, i) => (w === "FOR" && (words[i + 1] === "UPDATE" || words[i + 1] === "SHARE")) || (w === "LOCK" && words[i + 1] === "IN"));
  if (locks) problems.push("takes row locks (FOR UPDATE, FOR SHARE, LOCK IN SHARE MODE): on the source at backup time that would hold up the service's writes");
  return problems;
}
