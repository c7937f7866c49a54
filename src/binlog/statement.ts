// Whether a statement destroys a table's data (destructive.ts's table of what is matched), read as the server reads
// it (server/sql.ts's tokens).
import { tokenize, type Token } from "../server/sql.ts";
import type { TableName } from "../db/quote.ts";

export type DestructiveKind = "DROP TABLE" | "DROP DATABASE" | "CREATE OR REPLACE" | "TRUNCATE" | "DELETE" | "UPDATE" | "ALTER" | "RENAME";


interface Name {
  db?: string;
  name: string;
}

/** Words that end a table reference rather than name its alias. */
const NOT_ALIAS = new Set([
  "ON", "USING", "WHERE", "SET", "JOIN", "INNER", "LEFT", "RIGHT", "CROSS", "NATURAL", "STRAIGHT_JOIN", "OUTER", "FULL",
  "PARTITION", "USE", "IGNORE", "FORCE", "ORDER", "LIMIT", "RETURNING", "FOR", "GROUP", "HAVING", "WINDOW", "UNION",
  "LOCK", "INTO", "VALUES", "SELECT", "FROM", "TO", "WAIT", "NOWAIT",
]);
const REFERENCES_END = new Set(["WHERE", "SET", "ORDER", "LIMIT", "RETURNING"]);
const SUBQUERY = new Set(["SELECT", "WITH", "VALUES", "TABLE"]);

class Cursor {
  i = 0;
  constructor(readonly tokens: Token[]) {}
  get done(): boolean {
    return this.i >= this.tokens.length || this.punct(";");
  }
  /** The unquoted word `k` tokens ahead, upper-cased; "" otherwise. */
  kw(k = 0): string {
    const t = this.tokens[this.i + k];
    return t?.type === "word" ? t.upper : "";
  }
  punct(text: string, k = 0): boolean {
    const t = this.tokens[this.i + k];
    return t?.type === "punct" && t.text === text;
  }
  /** Take one of `words` if it is next. */
  accept(...words: string[]): boolean {
    if (!words.includes(this.kw())) return false;
    this.i++;
    return true;
  }
  /** Take `words` in that order if they are all next. */
  acceptAll(...words: string[]): boolean {
    if (!words.every((w, k) => this.kw(k) === w)) return false;
    this.i += words.length;
    return true;
  }
  acceptPunct(text: string): boolean {
    if (!this.punct(text)) return false;
    this.i++;
    return true;
  }
  identifier(): string | undefined {
    const t = this.tokens[this.i];
    if (t?.type !== "word" && t?.type !== "quoted") return undefined;
    this.i++;
    return t.text;
  }
  /** `name` or `db.name` (either part quoted); a trailing `.*` (a multi-table DELETE's target) is taken too. */
  name(): Name | undefined {
    const first = this.identifier();
    if (first === undefined) return undefined;
    if (this.punct(".") && (this.tokens[this.i + 1]?.type === "word" || this.tokens[this.i + 1]?.type === "quoted")) {
      this.i++;
      const second = this.identifier() as string;
      if (this.punct(".") && this.punct("*", 1)) this.i += 2;
      return { db: first, name: second };
    }
    if (this.punct(".") && this.punct("*", 1)) this.i += 2;
    return { name: first };
  }
  /** Past a parenthesised group (the cursor is on its `(`). */
  skipGroup(): void {
    let depth = 0;
    do {
      if (this.punct("(")) depth++;
      else if (this.punct(")")) depth--;
      this.i++;
    } while (depth > 0 && this.i < this.tokens.length);
  }
  /** Past tokens up to the next top-level `,` or one of `words` (not taken), or the end. */
  skipTo(words: Set<string>): void {
    while (!this.done && !this.punct(",") && !words.has(this.kw())) {
      if (this.punct("(")) this.skipGroup();
      else this.i++;
    }
  }
  alias(): string | undefined {
    if (this.accept("AS")) return this.identifier();
    const t = this.tokens[this.i];
    if (t?.type === "quoted" || (t?.type === "word" && !NOT_ALIAS.has(t.upper))) {
      this.i++;
      return t.text;
    }
    return undefined;
  }
}

/** The tables of a FROM/UPDATE clause and their aliases (null: a derived table's); the cursor stops at its end. */
function tableReferences(c: Cursor): { refs: Name[]; aliases: Map<string, Name | null> } {
  const refs: Name[] = [];
  const aliases = new Map<string, Name | null>();
  let factor = true;
  while (!c.done && !REFERENCES_END.has(c.kw())) {
    if (c.punct("(")) {
      // A parenthesised join's tables are references like any other; a subquery's are not.
      if (factor && !SUBQUERY.has(c.kw(1))) {
        c.i++;
        continue;
      }
      c.skipGroup();
      if (factor) {
        const alias = c.alias();
        if (alias !== undefined) aliases.set(alias, null);
        factor = false;
      }
    } else if (c.punct(",") || c.kw() === "JOIN" || c.kw() === "STRAIGHT_JOIN") {
      factor = true;
      c.i++;
    } else if (factor && c.kw() !== "LATERAL" && c.kw() !== "ONLY") {
      const ref = c.name();
      if (!ref) {
        c.i++;
        continue;
      }
      refs.push(ref);
      if (c.accept("PARTITION") && c.punct("(")) c.skipGroup();
      const alias = c.alias();
      if (alias !== undefined) aliases.set(alias, ref);
      factor = false;
    } else c.i++;
  }
  return { refs, aliases };
}

/**
 * Whether `sql` (one statement, as a query event holds it) destroys data of `table`, and how; `database` is the
 * statement's current database (the query event's), `sqlMode` its sql_mode (for ANSI_QUOTES and NO_BACKSLASH_ESCAPES).
 * What is matched: the comment at the top of this file.
 */
export function destructiveStatement(sql: string, table: TableName, context: { database?: string; sqlMode?: bigint } = {}): DestructiveKind | undefined {
  const c = new Cursor(tokenize(sql, context.sqlMode ?? 0n));
  const is = (ref: Name | null | undefined): boolean => !!ref && (ref.db ?? context.database) === table.database && ref.name === table.table;
  if (!skipPrefix(c)) return undefined;
  const verb = c.kw();
  c.i++;
  return VERBS[verb]?.(c, { is, database: table.database });
}

/** What a verb's reader asks of the statement's table: is a name it (qualified or in the current database). */
interface Matcher {
  is(ref: Name | null | undefined): boolean;
  database: string;
}

/** A target of a multi-table statement: an alias of a table reference, or a table. */
function resolveTarget(target: Name, aliases: Map<string, Name | null>): Name | null {
  return target.db === undefined && aliases.has(target.name) ? (aliases.get(target.name) ?? null) : target;
}

/** Past MariaDB's `SET STATEMENT … FOR` and MySQL's `WITH …` to the statement itself; false when a WITH is not one. */
function skipPrefix(c: Cursor): boolean {
  if (c.acceptAll("SET", "STATEMENT")) {
    while (!c.done && !c.accept("FOR")) {
      if (c.punct("(")) c.skipGroup();
      else c.i++;
    }
  }
  if (c.accept("WITH")) {
    c.accept("RECURSIVE");
    do {
      c.identifier();
      if (c.punct("(")) c.skipGroup();
      if (!c.accept("AS")) return false;
      if (c.punct("(")) c.skipGroup();
    } while (c.acceptPunct(","));
  }
  return true;
}

/** Each verb's reader, the cursor past the verb. */
const VERBS: Record<string, (c: Cursor, m: Matcher) => DestructiveKind | undefined> = {
  DROP: (c, { is, database }) => {
    if (c.accept("TEMPORARY")) return undefined;
    if (c.accept("TABLE", "TABLES")) {
      c.acceptAll("IF", "EXISTS");
      do if (is(c.name())) return "DROP TABLE";
      while (c.acceptPunct(","));
      return undefined;
    }
    if (c.accept("DATABASE", "SCHEMA")) {
      c.acceptAll("IF", "EXISTS");
      const name = c.name();
      return name?.db === undefined && name?.name === database ? "DROP DATABASE" : undefined;
    }
    return undefined;
  },
  CREATE: (c, { is }) => {
    if (!c.acceptAll("OR", "REPLACE") || c.accept("TEMPORARY") || !c.accept("TABLE")) return undefined;
    return is(c.name()) ? "CREATE OR REPLACE" : undefined;
  },
  TRUNCATE: (c, { is }) => {
    c.accept("TABLE");
    return is(c.name()) ? "TRUNCATE" : undefined;
  },
  DELETE: (c, { is }) => {
    while (c.accept("LOW_PRIORITY", "QUICK", "IGNORE", "HISTORY"));
    const targets: Name[] = [];
    const single = c.accept("FROM");
    do {
      const target = c.name();
      if (target) targets.push(target);
    } while (c.acceptPunct(","));
    if (single && !c.accept("USING")) return targets.some(is) ? "DELETE" : undefined;
    if (!single && !c.accept("FROM")) return undefined;
    const { aliases } = tableReferences(c);
    return targets.some((t) => is(resolveTarget(t, aliases))) ? "DELETE" : undefined;
  },
  UPDATE: (c, { is }) => {
    while (c.accept("LOW_PRIORITY", "IGNORE"));
    const { refs, aliases } = tableReferences(c);
    if (!refs.some(is) || !c.accept("SET")) return undefined;
    if (refs.length === 1) return "UPDATE";
    // Several tables: the ones whose columns are assigned; an unqualified column may be the table's.
    while (!c.done) {
      const column: string[] = [];
      while (!c.done && !c.punct("=") && !c.punct(",")) {
        const part = c.identifier();
        if (part !== undefined) column.push(part);
        else c.i++;
      }
      if (column.length <= 1) return "UPDATE";
      const [a, b] = column as [string, string];
      if (is(column.length === 2 ? resolveTarget({ name: a }, aliases) : { db: a, name: b })) return "UPDATE";
      c.skipTo(new Set(["WHERE", "ORDER", "LIMIT", "RETURNING"]));
      if (!c.acceptPunct(",")) break;
    }
    return undefined;
  },
  ALTER: (c, { is }) => {
    while (c.accept("ONLINE", "IGNORE"));
    if (!c.accept("TABLE")) return undefined;
    c.acceptAll("IF", "EXISTS");
    const self = is(c.name());
    while (!c.done) {
      const kind = alterSpecification(c, self, is);
      if (kind) return kind;
      c.acceptPunct(",");
    }
    return undefined;
  },
  RENAME: (c, { is }) => {
    if (!c.accept("TABLE", "TABLES")) return undefined;
    c.acceptAll("IF", "EXISTS");
    do {
      if (is(c.name())) return "RENAME";
      while (!c.done && !c.punct(",") && !c.accept("TO")) c.i++;
      c.name();
    } while (c.acceptPunct(","));
    return undefined;
  },
};

/** ALTER TABLE's specifications that lose data (on the table itself, `self`, or EXCHANGE PARTITION with it). */
const KEEPS_DATA = new Set(["INDEX", "KEY", "PRIMARY", "FOREIGN", "CONSTRAINT", "CHECK", "UNIQUE", "FULLTEXT", "SPATIAL", "PERIOD"]);

/** One specification of an ALTER TABLE, the cursor left at the comma after it. */
function alterSpecification(c: Cursor, self: boolean, is: Matcher["is"]): DestructiveKind | undefined {
  const first = c.kw();
  const second = c.kw(1);
  if (self) {
    if (first === "DROP" && !KEEPS_DATA.has(second) && c.tokens[c.i + 1] !== undefined && c.tokens[c.i + 1]?.type !== "punct") return "ALTER";
    if ((first === "TRUNCATE" || first === "CONVERT") && second === "PARTITION") return "ALTER";
    if (first === "DISCARD") return "ALTER";
    if (first === "RENAME" && !["COLUMN", "INDEX", "KEY"].includes(second)) return "RENAME";
  }
  if (first === "EXCHANGE" && second === "PARTITION") {
    if (self) return "ALTER";
    while (!c.done && !c.punct(",") && !c.acceptAll("WITH", "TABLE")) c.i++;
    if (is(c.name())) return "ALTER";
  }
  // Table options are not separated by commas: ENGINE=BLACKHOLE may come anywhere in a specification.
  while (!c.done && !c.punct(",")) {
    if (self && c.accept("ENGINE")) {
      c.acceptPunct("=");
      if (c.kw() === "BLACKHOLE") return "ALTER";
    } else if (c.punct("(")) c.skipGroup();
    else c.i++;
  }
  return undefined;
}
