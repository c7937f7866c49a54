// The team's queries as a user runs them (`vitest run --project shop`): each one a test `queries › <name>` in JUnit,
// Allure and summary.json, green on a clean restore, red when its answer is not what it must be, and no value of any
// answer in any output or stored file.
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runBackupJob } from "../../src/backup/job.ts";
import { findService, loadServices } from "../../src/config/load.ts";
import { parseJUnit, type ParsedCase } from "../support/junit.ts";
import { SMALL_SEED, sandboxServers, testStore } from "../support/services.ts";
import { recordEditedManifest } from "../support/storeFixtures.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const store = testStore();

/** Every value the queries' answers hold (the small seed's customers 1–20: emails, names, balances). */
const ANSWER_VALUES = Array.from({ length: 20 }, (_, i) => i + 1).flatMap((id) => [
  ...(id % 7 === 0 ? [] : [`c${id}@example.test`]),
  `customer ${id}`,
  (id * 1.25).toFixed(2),
]);
const EMAILS = /c\d+@example\.test/;

const QUERIES = [
  "      queries:",
  "        - name: every order has its customer",
  "          sql: SELECT COUNT(*) FROM shop.orders o LEFT JOIN shop.customers c ON c.id = o.customer_id WHERE c.id IS NULL",
  "          expect: 0",
  "        - name: the first customers",
  "          sql: SELECT id, name, email, balance FROM shop.customers WHERE id <= 20",
  "          expect: baseline",
  "        - name: orders before the backup",
  "          sql: SELECT COUNT(*), MAX(placed_at) FROM shop.orders WHERE placed_at < '{{backupTime}}'",
  "          expect: baseline",
  "        - name: the login query answers",
  "          file: queries/login.sql",
  "          expect: rows > 0",
];

/** A services.yaml in `dir` for the store in `dir/store`, with the queries (and `more` after them), and queries/login.sql. */
function writeConfig(dir: string, more: string[] = []): string {
  mkdirSync(join(dir, "queries"), { recursive: true });
  writeFileSync(join(dir, "queries", "login.sql"), "-- the login page's lookup\nSELECT id, name FROM shop.customers WHERE id = 1;\n");
  const config = join(dir, "services.yaml");
  const lines = ["services:", "  shop:", "    source:", "      sandbox:", `        seed: ${SMALL_SEED}`, "    databases: [shop]", "    backup:", `      store: ${join(dir, "store")}`, "    verify:", ...QUERIES, ...more, ""];
  writeFileSync(config, lines.join("\n"));
  return config;
}

let backupDir = "";

/** A copy of the backup in a store of its own (optionally changed), a services.yaml for it, and its reports. */
function variant(name: string, change?: (backupDir: string) => void, more: string[] = []): { config: string; reports: string; dir: string } {
  const dir = join(store.path, name);
  const copy = join(dir, "store", "shop", "copy");
  mkdirSync(copy, { recursive: true });
  cpSync(backupDir, copy, { recursive: true });
  change?.(copy);
  return { config: writeConfig(dir, more), reports: join(dir, "reports"), dir };
}

interface Run {
  exitCode: number;
  cases: ParsedCase[];
  output: string;
  summary: { services: { verdict: string; failed: string[] }[] };
  allure: { name: string; status: string; labels: { name: string; value: string }[]; statusDetails?: { message?: string } }[];
}

async function runSuite(v: { config: string; reports: string }): Promise<Run> {
  const run = await execa("npx", ["vitest", "run", "--project", "shop"], {
    cwd: ROOT,
    reject: false,
    env: { RESTORETEST_CONFIG: v.config, RESTORETEST_REPORTS: v.reports, CI: "true" },
    all: true,
  });
  const junit = join(v.reports, "junit.xml");
  const results = join(v.reports, "allure-results");
  return {
    exitCode: run.exitCode ?? -1,
    cases: existsSync(junit) ? parseJUnit(readFileSync(junit, "utf8")) : [],
    output: String(run.all),
    summary: JSON.parse(readFileSync(join(v.reports, "summary.json"), "utf8")) as Run["summary"],
    allure: readdirSync(results)
      .filter((f) => f.endsWith("-result.json"))
      .map((f) => JSON.parse(readFileSync(join(results, f), "utf8")) as Run["allure"][number]),
  };
}

/** Every file under `dir` but the backup's own data and binlogs (those are the database, as the tool copied it). */
function writtenFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((f) => !/(^|\/)(data|binlogs)(\/|$)/.test(f))
    .map((f) => join(dir, f))
    .filter((f) => statSync(f).isFile());
}

/** No value of any answer in the run's output, its reports, or what restoretest wrote into the store. */
function expectNoAnswerValues(run: Run, v: { dir: string }): void {
  const texts = [run.output, ...writtenFiles(v.dir).map((f) => readFileSync(f, "utf8"))];
  for (const text of texts) expect(text).not.toMatch(EMAILS);
  const reports = writtenFiles(join(v.dir, "reports")).map((f) => readFileSync(f, "utf8"));
  for (const text of reports) for (const value of ANSWER_VALUES) expect(text.includes(`"${value}"`) || text.includes(`${value}@`)).toBe(false);
}

beforeAll(async () => {
  const config = writeConfig(join(store.path, "backup"));
  backupDir = (await runBackupJob(findService(loadServices(config), "shop"))).dir;
}, 180_000);

afterAll(async () => {
  store.remove();
  expect(await sandboxServers()).toEqual([]);
});

describe("verify.queries in vitest --project <service>", () => {
  it("makes each query a test, queries › <name>, green on a clean restore, in JUnit, Allure and summary.json", async () => {
    const v = variant("clean");
    const run = await runSuite(v);
    expect(run.exitCode, run.output.slice(-3000)).toBe(0);
    const queries = run.cases.filter((c) => c.classname === "shop.queries");
    expect(queries.map((c) => [c.name, c.failure ?? "passed"])).toEqual([
      ["every order has its customer", "passed"],
      ["the first customers", "passed"],
      ["orders before the backup", "passed"],
      ["the login query answers", "passed"],
    ]);
    expect(queries[1]?.properties.query).toMatch(/^20 rows, the same answer as the source's in the backup's snapshot, in \d+ms$/);
    expect(queries[3]?.properties.query).toMatch(/^1 row: rows > 0, in \d+ms$/);
    const allure = run.allure.filter((r) => r.labels.some((l) => l.name === "check" && l.value === "queries"));
    expect(allure.map((r) => [r.name, r.status]).sort()).toEqual([
      ["every order has its customer", "passed"],
      ["orders before the backup", "passed"],
      ["the first customers", "passed"],
      ["the login query answers", "passed"],
    ]);
    expect(run.summary.services[0]?.verdict).toBe("pass");
    expectNoAnswerValues(run, v);
  });

  it("turns a changed answer, an unmet expectation and a query past its timeout red, and shows none of the data", async () => {
    // The source's answer at the snapshot had 23 rows: what the restore gives (20) must be named as 3 fewer.
    const v = variant(
      "red",
      (dir) => {
        const path = join(dir, "manifest.json");
        const manifest = JSON.parse(readFileSync(path, "utf8")) as { queries: { answers: { name: string; rows: number }[] } };
        const answer = manifest.queries.answers.find((a) => a.name === "the first customers");
        if (!answer) throw new Error("the baseline recorded no answer for the first customers");
        answer.rows = 23;
        writeFileSync(path, JSON.stringify(manifest));
        recordEditedManifest(dir);
      },
      [
        "        - name: every customer has an email",
        "          sql: SELECT COUNT(*) FROM shop.customers WHERE email IS NULL",
        "          expect: 0",
        "        - name: a slow report",
        "          sql: SELECT COUNT(*) FROM information_schema.columns a, information_schema.columns b, information_schema.columns c",
        "          expect: rows = 1",
        "          timeout: 500ms",
      ],
    );
    const run = await runSuite(v);
    expectNoAnswerValues(run, v);
    expect(run.exitCode).toBe(1);
    const failed = Object.fromEntries(run.cases.filter((c) => c.failure).map((c) => [`${c.classname} › ${c.name}`, c.failure]));
    expect(failed).toEqual({
      "shop.queries › the first customers": expect.stringMatching(/^the answer differs from the source's in the backup's snapshot: 20 rows, the source's had 23 rows \(3 rows fewer\); values are not shown: /),
      "shop.queries › every customer has an email": expect.stringMatching(/^the answer is not the single value 0 \(its values are not shown: they are the restored server's data/),
      "shop.queries › a slow report": expect.stringMatching(/^the query did not answer within its timeout of 500ms \(stopped after \d+ms\); raise verify\.queryTimeout or the query's timeout$/),
    });
    expect(run.summary.services[0]?.failed.sort()).toEqual(["shop.queries › a slow report", "shop.queries › every customer has an email", "shop.queries › the first customers"]);
    // Allure shows the same messages (a CheckFailure is "broken" there, as every check's is).
    const red = Object.fromEntries(run.allure.filter((r) => r.status !== "passed").map((r) => [`shop.queries › ${r.name}`, r.statusDetails?.message]));
    expect(red).toEqual(failed);
  });
});
