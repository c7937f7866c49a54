// The archive proof between two retained backups as a user runs it (`vitest run --project shop`, verify.older: 1), on
// a real MariaDB source under writes with `restoretest binlogs` copying: the older backup restored, rolled forward
// through the archive to the next backup's position and compared with its baseline (`archive › <older> + archive =
// <next>`). Green on a clean chain; red, naming it, on an archived file removed between the two, a damaged event, and
// a next baseline that differs from what the archive leads to.
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { damageFifthEvent } from "../support/archive.ts";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { binlogSequence } from "../../src/binlog/replay.ts";
import { binlogArchiveDir } from "../../src/store/layout.ts";
import type { ParsedCase } from "../support/junit.ts";
import { olderArchiveChain, type OlderArchiveChain } from "../support/olderArchive.ts";
import { sandboxServers, testStore } from "../support/services.ts";
import { recordEditedManifest } from "../support/storeFixtures.ts";

const store = testStore();
let chain: OlderArchiveChain;

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
const proof = (cases: ParsedCase[]) => cases.find((c) => c.classname === "shop.archive" && c.name === chain.proofName);

beforeAll(async () => {
  chain = await olderArchiveChain(store.path);
}, 300_000);

afterAll(async () => {
  await chain?.destroy();
  store.remove();
  expect(await sandboxServers()).toEqual([]);
});

describe("archive › <older> + archive = <next>", () => {
  it("green on a clean chain: the older backup rolled forward to the next one's position equals its baseline, the queries too", async () => {
    expect(chain.between.length, `archived files between ${chain.from.file} and ${chain.to.file}`).toBeGreaterThan(0);
    const dir = chain.variant("clean");
    const { exitCode, cases, output } = await chain.runSuite(dir, false);
    expect(exitCode, output.slice(-3000)).toBe(0);
    const test = proof(cases);
    expect(test, cases.map((c) => `${c.classname} › ${c.name}`).join("\n")).toBeDefined();
    expect(test?.failure).toBeUndefined();
    // It stopped at the next backup's position, not at the archive's newest event (writes came after it).
    expect(test?.properties.archive).toMatch(new RegExp(`^\\d+ file\\(s\\), \\d+ bytes applied in .* to ${chain.to.file.replace(/\./g, "\\.")}:${chain.to.position}; (\\d+) of \\1 tests equal backup ${chain.next.id}'s baseline$`));
    expect(cases.find((c) => c.classname === "shop.archive" && c.name === "applies to its newest event")?.failure).toBeUndefined();
    // Both backups are marked verified: the newest by its own tests, the older by its older test.
    for (const id of [chain.older.id, chain.next.id]) expect(readFileSync(join(dir, "store", "shop", id, "verified.json"), "utf8")).toMatch(/verifiedAt/);
  }, 600_000);

  it("red naming the gap when an archived binlog between the two backups is removed", async () => {
    const removed = chain.between[0] as string;
    const dir = chain.variant("gap", (s) => rmSync(join(binlogArchiveDir(s, "shop"), removed)));
    const { exitCode, cases, output } = await chain.runSuite(dir);
    expect(exitCode, output.slice(-3000)).toBe(1);
    expect(cases.filter((c) => c.failure).map((c) => `${c.classname} › ${c.name}`)).toEqual([`shop.archive › ${chain.proofName}`]);
    const test = proof(cases);
    expect(test?.failure).toMatch(new RegExp(`^backup ${chain.older.id} \\+ archive does not reach backup ${chain.next.id}: applied up to \\S+:\\d+, not to ${chain.to.file.replace(/\./g, "\\.")}:${chain.to.position}, where backup ${chain.next.id} is:$`));
    const name = (n: number) => `${removed.replace(/\.\d+$/, "")}.${String(n).padStart(6, "0")}`;
    const seq = binlogSequence(removed);
    expect(test?.failureBody).toMatch(new RegExp(`^ {2}${escape(`gap in the archive: ${removed} is missing between ${name(seq - 1)} and ${name(seq + 1)}`)}$`, "m"));
    // The older backup itself is sound: its own test stays green.
    expect(cases.find((c) => c.classname === "shop.older")?.failure).toBeUndefined();
  }, 600_000);

  it("red naming file and position when an archived event between the two backups is damaged", async () => {
    const target = chain.between[0] as string;
    let position = 0;
    const dir = chain.variant("damaged", (s) => {
      position = damageFifthEvent(join(binlogArchiveDir(s, "shop"), target));
    });
    const { exitCode, cases, output } = await chain.runSuite(dir);
    expect(exitCode, output.slice(-3000)).toBe(1);
    expect(proof(cases)?.failureBody).toMatch(new RegExp(`^ {2}${target.replace(/\./g, "\\.")}:${position}: damaged event \\(type \\d+, its CRC32 checksum does not hold\\): nothing after it can be applied$`, "m"));
  }, 600_000);

  it("red naming the object and check when the next backup's baseline differs from what the archive leads to", async () => {
    const dir = chain.variant("differs", (s) => {
      const copy = join(s, "shop", chain.next.id);
      const path = join(copy, "manifest.json");
      const manifest = JSON.parse(readFileSync(path, "utf8")) as { databases: { name: string; tables: { name: string; checks: { rowCount: { rows: number } } }[] }[] };
      const orders = manifest.databases.find((d) => d.name === "shop")?.tables.find((t) => t.name === "orders");
      if (!orders) throw new Error("no shop.orders in the baseline");
      orders.checks.rowCount.rows += 7;
      writeFileSync(path, JSON.stringify(manifest));
      recordEditedManifest(copy);
    });
    const { exitCode, cases, output } = await chain.runSuite(dir);
    expect(exitCode, output.slice(-3000)).toBe(1);
    const test = proof(cases);
    expect(test?.failure).toMatch(new RegExp(`^backup ${chain.older.id} \\+ archive to ${chain.to.file.replace(/\./g, "\\.")}:${chain.to.position} differs from backup ${chain.next.id}'s baseline \\(1 of \\d+ tests\\):$`));
    expect(test?.failureBody).toMatch(/^ {2}shop\.orders:rowCount: .*$/m);
  }, 600_000);

  it("red naming each difference when the source changed outside the binlog between two backups (an account's password, a row)", async () => {
    // Between the next backup and a third one: an account made in the binlog, then its password and a row changed
    // with sql_log_bin = 0. verify.older: 2 proves both older backups; the second one's proof is the one to go red.
    await chain.db.query("CREATE USER 'app'@'%' IDENTIFIED BY 'first-secret-1'");
    await chain.db.query("INSERT INTO shop.orders (customer_id, placed_at, note) VALUES (1, '2026-06-01 00:00:00', 'logged')");
    const session = await chain.db.session();
    try {
      await session.query("SET SESSION sql_log_bin = 0");
      await session.query("ALTER USER 'app'@'%' IDENTIFIED BY 'second-secret-2'");
      await session.query("UPDATE shop.customers SET balance = balance + 1 WHERE id = 1");
    } finally {
      await session.query("SET SESSION sql_log_bin = 1");
      session.release();
    }
    const third = await chain.backupAgain();
    const dir = chain.variant("unlogged");
    writeFileSync(join(dir, "services.yaml"), readFileSync(join(dir, "services.yaml"), "utf8").replace("older: 1", "older: 2"));
    const { exitCode, cases, output } = await chain.runSuite(dir, false);
    expect(exitCode, output.slice(-3000)).toBe(1);
    const name = `${chain.next.id} + archive = ${third.id}`;
    expect(cases.filter((c) => c.failure).map((c) => `${c.classname} › ${c.name}`)).toEqual([`shop.archive › ${name}`]);
    const body = cases.find((c) => c.name === name)?.failureBody ?? "";
    expect(body).toMatch(/^ {2}accounts: accounts differ from the baseline:$/m);
    expect(body).toMatch(/^ {2}'app'@'%': authentication changed: the password differs$/m);
    expect(body).toMatch(/^ {2}shop\.customers:checksum: /m);
    expect(body).toMatch(/^ {2}queries › customers and their balance: /m);
    // The first pair, before any of it, stays green; the passwords are in no output.
    expect(cases.find((c) => c.name === chain.proofName)?.failure).toBeUndefined();
    expect(output).not.toMatch(/first-secret-1|second-secret-2/);
  }, 600_000);
});
