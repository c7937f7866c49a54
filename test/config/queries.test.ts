// verify.queries in services.yaml: the expectation grammar, the statement rules, and every problem as `file:line key`.
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseExpectation } from "../../src/config/expectation.ts";
import { ConfigError, loadServices } from "../../src/config/load.ts";
import { statementProblems, substitute } from "../../src/config/querySql.ts";

const dir = mkdtempSync(join(tmpdir(), "restoretest-queries-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** services.yaml in its own directory with `queries` (YAML lines under `verify:`), and optional files beside it. */
function load(queries: string[], files: Record<string, string> = {}): ReturnType<typeof loadServices> {
  const base = mkdtempSync(join(dir, "case-"));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(base, name, ".."), { recursive: true });
    writeFileSync(join(base, name), text);
  }
  const lines = ["services:", "  shop:", "    source:", "      user: backup", "    verify:", "      queries:", ...queries.map((l) => `        ${l}`), ""];
  writeFileSync(join(base, "services.yaml"), lines.join("\n"));
  return loadServices(join(base, "services.yaml"), {});
}

/** The problems of a services.yaml, each `services.yaml:line key: message` (the directory dropped). */
function problems(queries: string[], files: Record<string, string> = {}): string[] {
  try {
    load(queries, files);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return error.problems.map((p) => `services.yaml:${p.line} ${p.keyPath}: ${p.message.replace(join(p.file, ".."), "<dir>")}`);
  }
  throw new Error("expected a ConfigError");
}

describe("expect: the grammar", () => {
  it("reads values, row counts and baseline", () => {
    expect(parseExpectation(0)).toEqual({ kind: "value", value: 0 });
    expect(parseExpectation("active")).toEqual({ kind: "value", value: "active" });
    expect(parseExpectation(null)).toEqual({ kind: "value", value: null });
    expect(parseExpectation("baseline")).toEqual({ kind: "baseline" });
    expect(parseExpectation("rows > 0")).toEqual({ kind: "rows", op: ">", count: 0 });
    expect(parseExpectation("rows>=10")).toEqual({ kind: "rows", op: ">=", count: 10 });
    expect(parseExpectation("rows == 3")).toEqual({ kind: "rows", op: "=", count: 3 });
    expect(parseExpectation("rows <> 3")).toEqual({ kind: "rows", op: "!=", count: 3 });
    // The escape for a single value that reads like a form.
    expect(parseExpectation({ value: "baseline" })).toEqual({ kind: "value", value: "baseline" });
    expect(parseExpectation({ value: "rows > 0" })).toEqual({ kind: "value", value: "rows > 0" });
    // Text that does not start like a comparison is a value.
    expect(parseExpectation("rowsmith")).toEqual({ kind: "value", value: "rowsmith" });
  });

  it("refuses what reads like a comparison but is not one, booleans and lists", () => {
    expect(parseExpectation("rows > -1")).toHaveProperty("problem");
    expect(parseExpectation("rows >> 1")).toHaveProperty("problem");
    expect(parseExpectation(true)).toHaveProperty("problem");
    expect(parseExpectation([1])).toHaveProperty("problem");
    expect(parseExpectation({ value: 1, other: 2 })).toHaveProperty("problem");
  });
});

describe("the statement", () => {
  it("takes one reading statement, with placeholders, comments and a trailing semicolon", () => {
    expect(statementProblems("SELECT COUNT(*) FROM shop.orders WHERE created_at >= '{{backupTime}}' - INTERVAL 1 DAY;")).toEqual([]);
    expect(statementProblems("-- yesterday\nWITH t AS (SELECT 1 AS a) SELECT a FROM t")).toEqual([]);
    expect(statementProblems("(SELECT 1) UNION (SELECT 2)")).toEqual([]);
    expect(statementProblems("SELECT 'a;b', 'INTO' FROM t")).toEqual([]);
    expect(substitute("x >= '{{ backupTime }}' AND d = '{{backupDate}}'", { backupTime: "2026-12-06 10:00:00", backupDate: "2026-12-06" })).toBe("x >= '2026-12-06 10:00:00' AND d = '2026-12-06'");
  });

  it("refuses writes, DDL, several statements, INTO, row locks and unknown placeholders, each named", () => {
    expect(statementProblems("DELETE FROM t")).toEqual(["not a read-only query: it starts with DELETE; a query is one SELECT (or WITH …, VALUES, TABLE) statement"]);
    expect(statementProblems("CREATE DATABASE x")[0]).toMatch(/^not a read-only query: it starts with CREATE/);
    expect(statementProblems("SELECT 1; DROP TABLE t")).toContain("more than one statement: a query is one statement (each query is its own test)");
    expect(statementProblems("SELECT * FROM t INTO OUTFILE '/tmp/x'")).toEqual(["SELECT … INTO writes (a file or variables): a query only reads"]);
    expect(statementProblems("SELECT * FROM t FOR UPDATE")[0]).toMatch(/^takes row locks/);
    expect(statementProblems("SELECT * FROM t LOCK IN SHARE MODE")[0]).toMatch(/^takes row locks/);
    expect(statementProblems("SELECT '{{backupTim}}'")).toEqual(["unknown placeholder {{backupTim}} (known: {{backupTime}}, {{backupTimeUtc}}, {{backupDate}})"]);
    expect(statementProblems("  ")).toEqual(["holds no statement"]);
  });
});

describe("services.yaml verify.queries", () => {
  it("loads inline and file queries, the file's SQL read relative to services.yaml, with their limits", () => {
    const [service] = load(
      [
        "- name: every order has its customer",
        "  sql: SELECT COUNT(*) FROM shop.orders",
        "  expect: 0",
        "- name: the login query answers",
        "  file: queries/login.sql",
        "  expect: rows > 0",
        "  timeout: 5s",
      ],
      { "queries/login.sql": "SELECT id FROM shop.customers WHERE id = 1;\n" },
    );
    expect(service?.verify.queryTimeout).toBe(30_000);
    expect(service?.verify.queries.map((q) => [q.name, q.sql, q.expect, q.timeout])).toEqual([
      ["every order has its customer", "SELECT COUNT(*) FROM shop.orders", { kind: "value", value: 0 }, undefined],
      ["the login query answers", "SELECT id FROM shop.customers WHERE id = 1;", { kind: "rows", op: ">", count: 0 }, 5000],
    ]);
  });

  it("reports each problem as file:line key", () => {
    expect(
      problems(
        [
          "- name: a", //                                 line 7
          "  sql: UPDATE shop.orders SET total = 0",
          "  expect: 0",
          "- name: a", //                                 line 10
          "  sql: SELECT 1",
          "  expect: rows >> 1",
          "- name: no sql", //                            line 13
          "  expect: 1",
          "- name: missing file", //                      line 15
          "  file: queries/nope.sql",
          "  expect: baseline",
          "- name: both", //                              line 18
          "  sql: SELECT 1",
          "  file: queries/ok.sql",
          "  expect: 1",
          "- name: bad file", //                          line 22
          "  file: queries/bad.sql",
          "  expect: 1",
          "- name: no expectation", //                    line 25
          "  sql: SELECT 1",
          "- name: slow", //                              line 27
          "  sql: SELECT 1",
          "  expect: 1",
          "  timeout: soon",
          "  retries: 3",
        ],
        { "queries/ok.sql": "SELECT 1", "queries/bad.sql": "SELECT '{{yesterday}}'" },
      ),
    ).toEqual([
      "services.yaml:8 services.shop.verify.queries[0].sql: not a read-only query: it starts with UPDATE; a query is one SELECT (or WITH …, VALUES, TABLE) statement",
      "services.yaml:10 services.shop.verify.queries[1].name: duplicate query name \"a\" (first on line 7): each query is one test, named by it",
      'services.yaml:12 services.shop.verify.queries[1].expect: expected a row count comparison like "rows > 0": rows, then =, !=, <, <=, > or >=, then a whole number (a single value that is this text: {value: "rows >> 1"})',
      "services.yaml:13 services.shop.verify.queries[2].sql: required key missing: sql (the query), or file (a file of SQL beside services.yaml)",
      `services.yaml:16 services.shop.verify.queries[3].file: file does not exist: ${"<dir>"}/queries/nope.sql`,
      "services.yaml:20 services.shop.verify.queries[4].file: set either sql or file, not both",
      "services.yaml:23 services.shop.verify.queries[5].file: queries/bad.sql: unknown placeholder {{yesterday}} (known: {{backupTime}}, {{backupTimeUtc}}, {{backupDate}})",
      "services.yaml:25 services.shop.verify.queries[6].expect: required key missing: what the answer must be (a value, rows > N, or baseline)",
      'services.yaml:30 services.shop.verify.queries[7].timeout: expected a duration like "30m", got "soon"',
      'services.yaml:31 services.shop.verify.queries[7].retries: unknown key "retries" (known keys: expect, file, name, sql, timeout)',
    ]);
  });
});

describe("docs/config.md", () => {
  it("the worked example of the team's own queries loads as written", () => {
    const page = readFileSync(join(import.meta.dirname, "../../docs/config.md"), "utf8");
    const section = page.slice(page.indexOf("## The team's own queries"));
    const yaml = /```yaml\n([\s\S]*?)```/.exec(section)?.[1];
    expect(yaml).toBeDefined();
    const base = mkdtempSync(join(dir, "docs-"));
    mkdirSync(join(base, "queries"));
    writeFileSync(join(base, "queries", "login.sql"), "SELECT id FROM shop.customers WHERE id = 1");
    writeFileSync(join(base, "services.yaml"), yaml ?? "");
    const [shop] = loadServices(join(base, "services.yaml"), { SHOP_BACKUP_PASSWORD: "x" });
    expect(shop?.verify.queries.map((q) => [q.name, q.expect.kind, q.timeout ?? shop.verify.queryTimeout])).toEqual([
      ["every order has its customer", "value", 30_000],
      ["yesterday's orders and revenue", "baseline", 30_000],
      ["the login query answers", "rows", 5000],
    ]);
  });
});
