// Credentials and paths of any character, through every place they travel, as a user runs the tool: source user and
// password, the restored server's verifier, the table drill, `restore --table --into`, `rejoin`, the toolchain, the
// store, the workDir, the reports and services.yaml itself all under a directory named with #, quotes, \, blanks, ;, $,
// backtick and non-ASCII; passwords of every printable character and a line break. On real MariaDB and MySQL 9.7.
// Green, and none of the secrets in any output, report or stored file.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readManifest } from "../../src/store/manifest.ts";
import { flavor } from "../../src/server/flavor.ts";
import { applySeed, startSourceSandbox, type SeededSource } from "../../src/hosts/sourceSandbox.ts";
import { HOSTILE_NAME } from "../support/hostile.ts";
import { parseJUnit } from "../support/junit.ts";
import { MYSQL_SEED, mysqlToolchain } from "../support/mysql.ts";
import { SMALL_SEED, sandboxServers } from "../support/services.ts";

const ROOT = resolve(import.meta.dirname, "../..");
// Every datadir here is made by the hostile toolchain's own install programs in the hostile paths, as in production:
// not copied from the run's templates (test/support/workerRoot.ts), which would keep those paths from them.
delete process.env.RESTORETEST_DATADIR_TEMPLATES;
const PRINTABLE = Array.from({ length: 0x7f - 0x20 }, (_, i) => String.fromCharCode(0x20 + i)).join("");

/** Every printable character, a line break and non-ASCII (MariaDB and MySQL take any string as a password). */
const SOURCE_PASSWORD = `${PRINTABLE}\nsrc-ü€`;
const MYSQL_PASSWORD = `${PRINTABLE}\nmy-ü€`;
/** CHANGE MASTER TO's MASTER_PASSWORD takes at most 32 characters. */
const REPL_PASSWORD = `r#\\'" ;$\`ü\n€=[x]`;
const INTO_PASSWORD = `i#\\'" ;$\`ü\n€=[x] into`;
const SECRETS = [SOURCE_PASSWORD, MYSQL_PASSWORD, REPL_PASSWORD, INTO_PASSWORD];
/** Account names with the same characters (MySQL: at most 32). */
const user = (prefix: string) => `${prefix} #'"\\;$\`ü`;

let root = "";
let maria: SeededSource | undefined;
let mysql: SeededSource | undefined;
const outputs: string[] = [];

/** A toolchain directory under the hostile root: the programs of `from` (a directory, or where each lives), linked. */
function toolchain(name: string, programs: Record<string, string>): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  for (const [program, path] of Object.entries(programs)) symlinkSync(path, join(dir, program));
  return dir;
}

function yamlText(): string {
  const q = (s: string) => JSON.stringify(s);
  const m = maria as SeededSource;
  const my = mysql as SeededSource;
  const mariaPrograms = { mariadb: "/usr/bin/mariadb", "mariadb-binlog": "/usr/bin/mariadb-binlog", "mariadb-dump": "/usr/bin/mariadb-dump", mariadbd: "/usr/sbin/mariadbd", "mariadb-install-db": "/usr/bin/mariadb-install-db", "mariadb-backup": "/usr/bin/mariadb-backup", mbstream: "/usr/bin/mbstream" };
  const mysqlPrograms = Object.fromEntries(["mysql", "mysqld", "mysqldump", "mysqlbinlog"].map((p) => [p, join(mysqlToolchain(), p)]));
  return [
    "services:",
    "  shop:",
    "    source:",
    `      socket: ${q(m.server.socket)}`,
    `      user: ${q(user("b"))}`,
    "      password: ${SOURCE_PASSWORD}",
    `      datadir: ${q(m.server.datadir)}`,
    "    databases: [shop]",
    "    backup:",
    `      store: ${q(join(root, "store"))}`,
    `      toolchain: ${q(toolchain("tc-maria", mariaPrograms))}`,
    "    restore:",
    `      workDir: ${q(join(root, "w"))}`,
    "    verify:",
    "      tableDrill: 2",
    "    rejoin:",
    "      source:",
    "        host: 127.0.0.1",
    `        port: ${m.server.port}`,
    `      user: ${q(user("r"))}`,
    "      password: ${REPL_PASSWORD}",
    "    into:",
    "      target:",
    `        socket: ${q(m.server.socket)}`,
    `        user: ${q(user("i"))}`,
    "        password: ${INTO_PASSWORD}",
    "  myshop:",
    "    source:",
    `      socket: ${q(my.server.socket)}`,
    `      user: ${q(user("m"))}`,
    "      password: ${MYSQL_PASSWORD}",
    `      datadir: ${q(my.server.datadir)}`,
    "    databases: [shop]",
    "    backup:",
    // Not clone: MySQL's CLONE refuses a target path with a backslash (test/backup/tools.test.ts).
    "      tool: dump",
    `      store: ${q(join(root, "store"))}`,
    `      toolchain: ${q(toolchain("tc-mysql", mysqlPrograms))}`,
    "    restore:",
    `      workDir: ${q(join(root, "w"))}`,
    "",
  ].join("\n");
}

const ENV = { SOURCE_PASSWORD, MYSQL_PASSWORD, REPL_PASSWORD, INTO_PASSWORD };

async function run(file: string, args: string[], env: Record<string, string> = {}): Promise<{ exitCode: number; all: string }> {
  const r = await execa(file, args, { cwd: ROOT, reject: false, all: true, env: { CI: "true", ...ENV, ...env } });
  outputs.push(String(r.all));
  return { exitCode: r.exitCode ?? -1, all: String(r.all) };
}

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .map((f) => join(dir, f))
    .filter((f) => statSync(f).isFile());
}

/** How a secret could show: as it is, JSON-escaped (summary.json, Allure), or its first line alone. */
function forms(secret: string): string[] {
  return [secret, JSON.stringify(secret).slice(1, -1), secret.split("\n")[0] as string];
}

beforeAll(async () => {
  const base = join(tmpdir(), HOSTILE_NAME);
  mkdirSync(base, { recursive: true });
  root = mkdtempSync(join(base, "e-"));
  maria = await startSourceSandbox("hostile", root);
  await applySeed(maria, SMALL_SEED, "shop");
  mysql = await startSourceSandbox("hostile-my", root, 1, flavor("mysql", mysqlToolchain()));
  await applySeed(mysql, MYSQL_SEED, "shop");
  const db = await maria.server.connect();
  try {
    await db.query("SET SESSION sql_log_bin = 0");
    await db.query("CREATE USER ?@'localhost' IDENTIFIED BY ?", [user("b"), SOURCE_PASSWORD]);
    await db.query("GRANT ALL ON *.* TO ?@'localhost' WITH GRANT OPTION", [user("b")]);
    await db.query("CREATE USER ?@'127.0.0.1' IDENTIFIED BY ?", [user("r"), REPL_PASSWORD]);
    await db.query("GRANT REPLICATION SLAVE ON *.* TO ?@'127.0.0.1'", [user("r")]);
    await db.query("CREATE USER ?@'localhost' IDENTIFIED BY ?", [user("i"), INTO_PASSWORD]);
    await db.query("GRANT SELECT, CREATE, ALTER, INSERT, DROP ON shop.* TO ?@'localhost'", [user("i")]);
  } finally {
    await db.close();
  }
  const my = await mysql.server.connect();
  try {
    await my.query("SET SESSION sql_log_bin = 0");
    await my.query("CREATE USER ?@'localhost' IDENTIFIED BY ?", [user("m"), MYSQL_PASSWORD]);
    await my.query("GRANT ALL ON *.* TO ?@'localhost' WITH GRANT OPTION", [user("m")]);
  } finally {
    await my.close();
  }
  writeFileSync(join(root, "services.yaml"), yamlText());
}, 300_000);

afterAll(async () => {
  await maria?.destroy();
  await mysql?.destroy();
  expect(await sandboxServers()).toEqual([]);
});

describe("credentials and paths of any character", () => {
  it("back up, restore, verify, drill, rejoin and deliver --into on MariaDB, and back up, restore and verify on MySQL 9.7; no secret written anywhere", async () => {
    const config = join(root, "services.yaml");
    const reports = join(root, "reports");
    for (const service of ["shop", "myshop"]) {
      const backup = await run("bin/restoretest", ["backup", service, "--config", config]);
      expect(backup.exitCode, backup.all).toBe(0);
      expect(backup.all).toMatch(new RegExp(`^OK backup ${service} `, "m"));
    }
    const suite = await run("npx", ["vitest", "run", "--project", "shop", "--project", "myshop"], { RESTORETEST_CONFIG: config, RESTORETEST_REPORTS: reports });
    const cases = parseJUnit(readFileSync(join(reports, "junit.xml"), "utf8"));
    expect(cases.filter((c) => c.failure !== undefined).map((c) => `${c.classname} ${c.name}: ${c.failure ?? ""}`), suite.all).toEqual([]);
    expect(suite.exitCode, suite.all).toBe(0);
    // The drill and the rejoin ran (through the drill's and the replica's own option files and connections).
    expect(cases.filter((c) => /drill/.test(c.classname) && c.failure === undefined && !c.skipped).length, suite.all).toBeGreaterThanOrEqual(2);
    expect(cases.filter((c) => /rejoin/.test(c.classname) && c.failure === undefined && !c.skipped).length, suite.all).toBeGreaterThanOrEqual(3);
    expect(cases.filter((c) => c.classname.startsWith("myshop") && c.failure === undefined && !c.skipped).length).toBeGreaterThan(10);

    const storeDir = join(root, "store", "shop");
    const [id] = readdirSync(storeDir).filter((d) => /^\d/.test(d));
    const position = readManifest(join(storeDir, id as string, "manifest.json")).position;
    const into = await run("bin/restoretest", ["restore", "shop", "--table", "shop.customers", "--to", `${position?.file}:${position?.position}`, "--into", "target", "--as", "shop.customers_back", "--yes", "--config", config]);
    expect(into.exitCode, into.all).toBe(0);
    expect(into.all).toMatch(/^OK into target /m);

    // The restore drill prints a line to paste into a shell: a shell reads it as the client and its option file.
    const drill = await run("bin/restoretest", ["restore", "shop", "--config", config]);
    expect(drill.exitCode, drill.all).toBe(0);
    const line = /^connect: (.*?) {3}\(read-only/m.exec(drill.all)?.[1] as string;
    const words = String((await execa("bash", ["-c", `printf '%s\\0' ${line}`])).stdout).split("\0").slice(0, -1);
    expect(words).toEqual([join(root, "tc-maria", "mariadb"), expect.stringMatching(/^--defaults-file=.*\/client\.cnf$/)]);
    expect(words[1]).toContain(join(root, "w"));

    for (const text of outputs) for (const secret of SECRETS) for (const form of forms(secret)) expect(text.includes(form), `a secret in the output:\n${text}`).toBe(false);
    const written = [...filesUnder(reports), ...filesUnder(join(root, "store"))];
    expect(written.some((f) => f.endsWith("summary.json"))).toBe(true);
    for (const file of written) for (const secret of SECRETS) for (const form of forms(secret)) expect(readFileSync(file).includes(form), file).toBe(false);
  }, 900_000);
});
