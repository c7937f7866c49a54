// The team's queries on real servers (MariaDB 10.11 and MySQL 9.7): answered at the baseline's snapshot, asked again
// read-only within their limit, judged, and never a value of an answer in a message.
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { captureBaseline } from "../../src/baseline/capture.ts";
import type { Manifest } from "../../src/store/manifest.ts";
import { dialectOf, MARIADB_FLAVOR } from "../../src/server/flavor.ts";
import { backupTool } from "../../src/backup/tool.ts";
import { DEFAULT_CHECK_OPTIONS } from "../../src/checks/types.ts";
import { parseExpectation, type Expectation } from "../../src/config/expectation.ts";
import type { Db } from "../../src/db/connection.ts";
import { createWorkDir, installDatadir, startServer, type StartedServer, type WorkDir } from "../../src/hosts/sandbox.ts";
import { ask, beginReadOnly } from "../../src/queries/answer.ts";
import { answerQueries, type QueryVerdict, type ServiceQuery } from "../../src/queries/stage.ts";
import { mysqlToolchain } from "../support/mysql.ts";
import { sandboxServers } from "../support/services.ts";

/** Values of the answers: none may appear in any message. */
const SECRETS = ["zq-secret-1@example.com", "zq-secret-2@example.com", "zq-secret-3@example.com", "73519.42", "88127.15", "61942.77"];

const SEED = [
  "CREATE DATABASE shop",
  "CREATE TABLE shop.customers (id INT PRIMARY KEY, email VARCHAR(100) NOT NULL) ENGINE=InnoDB",
  "CREATE TABLE shop.orders (id INT PRIMARY KEY, customer_id INT NOT NULL, total DECIMAL(10,2) NOT NULL, created_at DATETIME NOT NULL) ENGINE=InnoDB",
  "CREATE TABLE shop.log (a INT) ENGINE=InnoDB",
  "INSERT INTO shop.customers VALUES (1, 'zq-secret-1@example.com'), (2, 'zq-secret-2@example.com'), (3, 'zq-secret-3@example.com')",
  "INSERT INTO shop.orders VALUES (1, 1, 73519.42, NOW() - INTERVAL 2 HOUR), (2, 2, 88127.15, NOW() - INTERVAL 3 HOUR), (3, 3, 61942.77, NOW() - INTERVAL 5 DAY)",
];

const query = (name: string, sql: string, expect: unknown, timeoutMs = 10_000): ServiceQuery => ({ name, sql, timeoutMs, expect: parseExpectation(expect) as Expectation });

const QUERIES: ServiceQuery[] = [
  query("every order has its customer", "SELECT COUNT(*) FROM shop.orders o LEFT JOIN shop.customers c ON c.id = o.customer_id WHERE c.id IS NULL", 0),
  query("yesterday's orders and revenue", "SELECT COUNT(*), SUM(total) FROM shop.orders WHERE created_at >= '{{backupTime}}' - INTERVAL 1 DAY", "baseline"),
  query("the customers", "SELECT id, email FROM shop.customers", "baseline"),
  query("the login query answers", "SELECT id FROM shop.customers WHERE email = 'zq-secret-1@example.com'", "rows > 0"),
];

/** Each verdict as `name: ok` or `name: message`. */
function verdicts(map: Map<string, QueryVerdict>): Record<string, string> {
  return Object.fromEntries([...map].map(([name, v]) => [name, v.finding.ok ? "ok" : v.finding.message]));
}

function expectNoSecrets(text: string): void {
  for (const secret of SECRETS) expect(text).not.toContain(secret);
}

const FLAVORS = [
  { name: "MariaDB 10.11", server: () => MARIADB_FLAVOR.server },
  { name: "MySQL 9.7", server: () => backupTool("clone", mysqlToolchain()).flavor.server },
];

describe.each(FLAVORS)("team queries on $name", ({ server: flavor }) => {
  let work: WorkDir | undefined;
  let server: StartedServer | undefined;
  let db: Db;
  const key = randomBytes(32);
  let manifest: Manifest;

  beforeAll(async () => {
    work = createWorkDir("queries");
    const datadir = join(work.path, "datadir");
    await installDatadir(datadir, flavor());
    server = await startServer({ dir: work.path, datadir, tcp: false, flavor: flavor(), logBin: true });
    db = await server.connect({ poolSize: 3 });
    for (const sql of SEED) await db.query(sql);
    await db.query("CREATE FUNCTION shop.bump() RETURNS INT DETERMINISTIC MODIFIES SQL DATA BEGIN INSERT INTO shop.log VALUES (1); RETURN 1; END");
    // The backup job's baseline: the queries answered in their own snapshot at the baseline's position.
    manifest = await captureBaseline(db, {
      service: "shop",
      databases: ["shop"],
      checks: ["rowCount"],
      options: DEFAULT_CHECK_OPTIONS,
      concurrency: 2,
      mode: "snapshot",
      queries: { list: QUERIES.filter((q) => q.expect.kind === "baseline"), digestKey: key },
    });
  }, 120_000);

  afterAll(async () => {
    await db?.close();
    await server?.stop();
    await work?.remove();
    expect(server ? (await sandboxServers()).filter((l) => l.startsWith(`${server?.pid} `)) : []).toEqual([]);
  });

  it("keeps digests and row counts in the manifest, never a row, and the snapshot's time for {{backupTime}}", () => {
    expect(manifest.queries?.answers.map((a) => [a.name, a.rows, a.error])).toEqual([
      ["yesterday's orders and revenue", 1, undefined],
      ["the customers", 3, undefined],
    ]);
    expect(manifest.queries?.placeholders.backupTime).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    expect(manifest.queries?.placeholders.backupDate).toMatch(/^\d{4}-\d\d-\d\d$/);
    expectNoSecrets(JSON.stringify(manifest));
  });

  it("is green on the same data, red with how many rows or which kind of difference when the answer changed, and never shows the data", async () => {
    expect(verdicts(await answerQueries(db, QUERIES, manifest, key, "b1"))).toEqual({
      "every order has its customer": "ok",
      "yesterday's orders and revenue": "ok",
      "the customers": "ok",
      "the login query answers": "ok",
    });
    // One value changed: the same row count, a different digest.
    await db.query("UPDATE shop.customers SET email = 'zq-secret-3@example.com.changed' WHERE id = 3");
    // An order of the day lost its revenue: one row (the aggregate) either way.
    await db.query("UPDATE shop.orders SET total = 0 WHERE id = 2");
    let red = verdicts(await answerQueries(db, QUERIES, manifest, key, "b1"));
    expect(red["the customers"]).toBe(
      "the answer differs from the source's in the backup's snapshot: the same 3 rows, different values (their keyed digests differ); values are not shown: they are the restored server's data; see them on a restore drill (bin/restoretest restore <service>)",
    );
    expect(red["yesterday's orders and revenue"]).toMatch(/^the answer differs from the source's in the backup's snapshot: the same 1 row, different values/);
    // A customer gone: a row fewer, and an order without its customer.
    await db.query("DELETE FROM shop.customers WHERE id = 2");
    red = verdicts(await answerQueries(db, QUERIES, manifest, key, "b1"));
    expect(red["the customers"]).toMatch(/^the answer differs from the source's in the backup's snapshot: 2 rows, the source's had 3 rows \(1 row fewer\); values are not shown/);
    expect(red["every order has its customer"]).toBe(
      "the answer is not the single value 0 (its values are not shown: they are the restored server's data; see them on a restore drill (bin/restoretest restore <service>))",
    );
    expect(red["the login query answers"]).toBe("ok");
    expectNoSecrets(JSON.stringify(red));
    // Rows in another order are the same answer.
    await db.query("INSERT INTO shop.customers VALUES (2, 'zq-secret-2@example.com')");
    await db.query("UPDATE shop.customers SET email = 'zq-secret-3@example.com' WHERE id = 3");
    await db.query("UPDATE shop.orders SET total = 88127.15 WHERE id = 2");
    const reordered = query("the customers", "SELECT id, email FROM shop.customers ORDER BY id DESC", "baseline");
    const again = verdicts(await answerQueries(db, [reordered], manifest, key, "b1"));
    expect(again["the customers"]).toMatch(/^the query's SQL changed since backup b1 recorded its answer/);
    expect(verdicts(await answerQueries(db, QUERIES, manifest, key, "b1"))["the customers"]).toBe("ok");
  });

  it("judges fixed expectations: single values, text, NULL and row counts, red when not met", async () => {
    const fixed = [
      query("sum", "SELECT SUM(total) FROM shop.orders", 223589.34),
      query("sum is not", "SELECT SUM(total) FROM shop.orders", 5),
      query("text", "SELECT email FROM shop.customers WHERE id = 1", "zq-secret-1@example.com"),
      query("null", "SELECT MAX(id) FROM shop.customers WHERE id > 100", null),
      query("two columns", "SELECT id, email FROM shop.customers WHERE id = 1", 1),
      query("exactly three", "SELECT id FROM shop.customers", "rows = 3"),
      query("at most one", "SELECT id FROM shop.customers", "rows <= 1"),
    ];
    const result = verdicts(await answerQueries(db, fixed, manifest, key, "b1"));
    expect(result).toEqual({
      sum: "ok",
      "sum is not": expect.stringMatching(/^the answer is not the single value 5 \(its values are not shown/),
      text: "ok",
      null: "ok",
      "two columns": expect.stringMatching(/^expected the single value 1, but the answer has 1 row of 2 columns \(values are not shown/),
      "exactly three": "ok",
      "at most one": "expected rows <= 1, the answer has 3 rows",
    });
    expectNoSecrets(JSON.stringify(result));
  });

  it("stops a query at its timeout, red with a clear message, whether the server errs or quietly cuts it short", async () => {
    const started = performance.now();
    const slow = [
      query("cross join", "SELECT COUNT(*) FROM information_schema.columns a, information_schema.columns b, information_schema.columns c", 1, 500),
      query("sleeps", "SELECT SLEEP(5)", 0, 500),
      query("fast", "SELECT 1", 1, 500),
    ];
    const result = verdicts(await answerQueries(db, slow, manifest, key, "b1"));
    expect(result["cross join"]).toMatch(/^the query did not answer within its timeout of 500ms \(stopped after \d+ms\); raise verify.queryTimeout or the query's timeout$/);
    expect(result.sleeps).toMatch(/^the query did not answer within its timeout of 500ms/);
    expect(result.fast).toBe("ok");
    // Both stopped by the server's limit, not waited out.
    expect(performance.now() - started).toBeLessThan(4000);
  });

  it("stops a query the server's limit does not cover with KILL QUERY from another connection", async () => {
    const dialect = await dialectOf(db);
    // As if the server had no statement limit (MySQL's covers SELECT only): the backstop has to stop it.
    const unlimited = { ...dialect, statementTimeout: { set: () => "SET @no_limit = 1", errnos: [] } };
    const session = await db.session();
    try {
      await beginReadOnly(session);
      const started = performance.now();
      const asked = await ask(session, db, unlimited, "SELECT SLEEP(30)", 300);
      expect(asked.ok).toBe(false);
      expect(!asked.ok && asked.timedOut).toBe(true);
      expect(performance.now() - started).toBeLessThan(6000);
    } finally {
      session.release();
    }
  });

  it("answers at a quiescent baseline too, and keeps a source's failure to answer for the nightly test to name", async () => {
    const slow = query("a slow baseline", "SELECT COUNT(*) FROM information_schema.columns a, information_schema.columns b, information_schema.columns c", "baseline", 300);
    const quiescent = await captureBaseline(db, {
      service: "shop",
      databases: ["shop"],
      checks: ["rowCount"],
      options: DEFAULT_CHECK_OPTIONS,
      concurrency: 1,
      mode: "quiescent",
      queries: { list: [...QUERIES.filter((q) => q.expect.kind === "baseline"), slow], digestKey: key },
    });
    expect(quiescent.queries?.answers.map((a) => [a.name, a.rows, a.error?.replace(/after \d+ms/, "after N ms")])).toEqual([
      ["yesterday's orders and revenue", 1, undefined],
      ["the customers", 3, undefined],
      ["a slow baseline", undefined, "did not answer within its timeout of 300ms (stopped after N ms); raise verify.queryTimeout or the query's timeout"],
    ]);
    const result = verdicts(await answerQueries(db, [...QUERIES, slow], quiescent, key, "b2"));
    expect(result["the customers"]).toBe("ok");
    expect(result["a slow baseline"]).toMatch(/^the source could not answer this query when backup b2 was taken, so there is no answer to compare with: did not answer within its timeout of 300ms/);
  });

  it("tells a query newer than the backup (no answer recorded, or its SQL changed since) from a source that could not answer", async () => {
    const added = query("added since", "SELECT COUNT(*) FROM shop.orders", "baseline");
    const changed = query("the customers", "SELECT id FROM shop.customers", "baseline");
    const answered = await answerQueries(db, [added, changed, ...QUERIES.slice(1, 2)], manifest, key, "b1");
    expect([...answered].map(([name, v]) => [name, v.newerThanBackup ?? false, v.finding.ok])).toEqual([
      ["added since", true, false],
      ["the customers", true, false],
      ["yesterday's orders and revenue", false, true],
    ]);
    const failed = { ...manifest, queries: { placeholders: manifest.queries?.placeholders ?? {}, answers: [{ name: "added since", sql: (manifest.queries?.answers[0]?.sql as string), error: "timed out" }] } };
    const fromSource = await answerQueries(db, [{ ...added, sql: QUERIES[1]?.sql as string }], failed, key, "b1");
    expect(fromSource.get("added since")?.newerThanBackup).toBeUndefined();
    expect(fromSource.get("added since")?.finding).toMatchObject({ ok: false, message: expect.stringMatching(/^the source could not answer this query when backup b1 was taken/) });
  });

  it("runs read-only: a query whose function writes is refused by the server, and nothing is written", async () => {
    const result = verdicts(await answerQueries(db, [query("bump", "SELECT shop.bump()", 1)], manifest, key, "b1"));
    expect(result.bump).toMatch(/^the query failed on the restored server: query failed on .*: Cannot execute statement in a READ ONLY transaction/);
    expect((await db.query<{ n: string }>("SELECT COUNT(*) AS n FROM shop.log")).map((r) => Number(r.n))).toEqual([0]);
  });
});
