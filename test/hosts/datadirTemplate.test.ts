// RESTORETEST_DATADIR_TEMPLATES (the self-tests' run root sets it): each flavour's empty datadir is made once and
// copied for the others. Two made at once leave one template; the copies start and answer; MySQL servers started on
// copies of one template still have server_uuids of their own (auto.cnf is not copied).
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backupTool } from "../../src/backup/tool.ts";
import { LocalProvider } from "../../src/hosts/local.ts";
import { installDatadir } from "../../src/hosts/sandbox.ts";
import type { ServerFlavor } from "../../src/server/flavor.ts";
import { MARIADB_FLAVOR } from "../../src/server/flavor.ts";
import { mysqlToolchain } from "../support/mysql.ts";

const templates = mkdtempSync(join(tmpdir(), "templates-"));
const before = process.env.RESTORETEST_DATADIR_TEMPLATES;
beforeAll(() => {
  process.env.RESTORETEST_DATADIR_TEMPLATES = templates;
});
afterAll(() => {
  if (before === undefined) delete process.env.RESTORETEST_DATADIR_TEMPLATES;
  else process.env.RESTORETEST_DATADIR_TEMPLATES = before;
  rmSync(templates, { recursive: true, force: true });
});

/** Two datadirs made at once from the flavour's template, each started; what `sql` answers on each. */
async function twoServers(flavor: ServerFlavor, sql: string): Promise<string[]> {
  const provider = new LocalProvider();
  const targets = await Promise.all([provider.create("template-a"), provider.create("template-b")]);
  try {
    await Promise.all(targets.map((t) => installDatadir(t.datadir, flavor)));
    const answers: string[] = [];
    for (const t of targets) {
      const server = await t.startServer(flavor);
      const db = await server.connect();
      const [row] = await db.query<{ v: string }>(sql);
      answers.push(String(row?.v));
      await db.close();
    }
    return answers;
  } finally {
    await Promise.all(targets.map((t) => t.destroy()));
  }
}

describe("datadir templates", () => {
  it("MariaDB: two datadirs made at once leave one template, and both servers start on their copies", async () => {
    const answers = await twoServers(MARIADB_FLAVOR.server, "SELECT COUNT(*) AS v FROM mysql.user");
    expect(answers.map(Number).every((n) => n > 0)).toBe(true);
    const made = readdirSync(templates);
    expect(made.filter((n) => n.startsWith("mariadb-"))).toHaveLength(1);
    // Nothing half-made is left beside it.
    expect(made.filter((n) => n.startsWith(".making-"))).toEqual([]);
  }, 120_000);

  it("MySQL 9.7: servers on copies of one template have server_uuids of their own", async () => {
    const mysql = backupTool("clone", mysqlToolchain()).flavor.server;
    const [a, b] = await twoServers(mysql, "SELECT @@server_uuid AS v");
    expect(a).toMatch(/^[0-9a-f-]{36}$/);
    expect(b).toMatch(/^[0-9a-f-]{36}$/);
    expect(a).not.toBe(b);
    const template = readdirSync(templates).find((n) => n.startsWith("mysql-"));
    expect(template).toBeDefined();
    expect(existsSync(join(templates, template as string, "auto.cnf"))).toBe(false);
  }, 180_000);
});
