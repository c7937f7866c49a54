// How a SQL statement reads to the server: comments skipped, executable comments (`/*! … */`, `/*M! … */`) read as
// code, strings and quoted names whole, as sql_mode's ANSI_QUOTES and NO_BACKSLASH_ESCAPES say.

export interface Token {
  type: "word" | "quoted" | "string" | "punct";
  text: string;
  /** A word's text in upper case (keywords); empty for the other types. */
  upper: string;
}

const ANSI_QUOTES = 1n << 2n;
const NO_BACKSLASH_ESCAPES = 1n << 20n;

/** The statement's tokens, as the server reads it: comments skipped, executable comments read, strings kept whole. */
export function tokenize(sql: string, sqlMode = 0n): Token[] {
  const tokens: Token[] = [];
  const ansiQuotes = (sqlMode & ANSI_QUOTES) !== 0n;
  const backslashes = (sqlMode & NO_BACKSLASH_ESCAPES) === 0n;
  const n = sql.length;
  let i = 0;
  let executable = false;
  const wordChar = (c: string) => /[A-Za-z0-9_$]/.test(c) || c.charCodeAt(0) >= 0x80;
  while (i < n) {
    const c = sql[i] as string;
    const next = sql[i + 1] ?? "";
    if (/\s/.test(c)) {
      i++;
    } else if (c === "#" || (c === "-" && next === "-" && (i + 2 >= n || sql.charCodeAt(i + 2) <= 0x20))) {
      const eol = sql.indexOf("\n", i);
      i = eol < 0 ? n : eol + 1;
    } else if (c === "/" && next === "*") {
      const version = /^\/\*M?!\d{0,6}/.exec(sql.slice(i, i + 12));
      if (version && !executable) {
        executable = true;
        i += version[0].length;
      } else {
        const close = sql.indexOf("*/", i + 2);
        i = close < 0 ? n : close + 2;
      }
    } else if (c === "*" && next === "/" && executable) {
      executable = false;
      i += 2;
    } else if (c === "`" || (c === '"' && ansiQuotes)) {
      let text = "";
      i++;
      while (i < n) {
        if (sql[i] === c) {
          if (sql[i + 1] === c) {
            text += c;
            i += 2;
            continue;
          }
          i++;
          break;
        }
        text += sql[i];
        i++;
      }
      tokens.push({ type: "quoted", text, upper: "" });
    } else if (c === "'" || c === '"') {
      i++;
      while (i < n) {
        if (backslashes && sql[i] === "\\") i += 2;
        else if (sql[i] === c && sql[i + 1] === c) i += 2;
        else if (sql[i] === c) {
          i++;
          break;
        } else i++;
      }
      tokens.push({ type: "string", text: "", upper: "" });
    } else if (wordChar(c)) {
      let j = i + 1;
      while (j < n && wordChar(sql[j] as string)) j++;
      const text = sql.slice(i, j);
      tokens.push({ type: "word", text, upper: text.toUpperCase() });
      i = j;
    } else {
      tokens.push({ type: "punct", text: c, upper: "" });
      i++;
    }
  }
  return tokens;
}
