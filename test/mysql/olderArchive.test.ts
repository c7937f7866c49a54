// The archive proof between two retained backups on MySQL 9.7 (clone backups, GTIDs on): where the path differs from
// MariaDB's, each transaction of the archive carries its GTID (SET GTID_NEXT) into the older backup's restore, which
// must not hold it yet. Green on a clean chain, stopped at the next backup's position; red naming a removed file.
import { rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { binlogArchiveDir } from "../../src/store/layout.ts";
import { olderArchiveChain, type OlderArchiveChain } from "../support/olderArchive.ts";
import { sandboxServers, testStore } from "../support/services.ts";

const store = testStore();
let chain: OlderArchiveChain;

beforeAll(async () => {
  chain = await olderArchiveChain(store.path, "mysql");
}, 300_000);

afterAll(async () => {
  await chain?.destroy();
  store.remove();
  expect(await sandboxServers()).toEqual([]);
});

describe("MySQL 9.7: archive › <older> + archive = <next>", () => {
  it("green on a clean chain: rolled forward with its GTIDs to the next backup's position, equal to its baseline and answers", async () => {
    expect(chain.between.length).toBeGreaterThan(0);
    const { exitCode, cases, output } = await chain.runSuite(chain.variant("clean"), false);
    expect(exitCode, output.slice(-3000)).toBe(0);
    const test = cases.find((c) => c.classname === "shop.archive" && c.name === chain.proofName);
    expect(test?.failure, output.slice(-3000)).toBeUndefined();
    expect(test?.properties.archive).toMatch(new RegExp(`to ${chain.to.file.replace(/\./g, "\\.")}:${chain.to.position}; (\\d+) of \\1 tests equal backup ${chain.next.id}'s baseline$`));
  }, 600_000);

  it("red naming the gap when an archived binlog between the two backups is removed", async () => {
    const removed = chain.between[0] as string;
    const { exitCode, cases, output } = await chain.runSuite(chain.variant("gap", (s) => rmSync(join(binlogArchiveDir(s, "shop"), removed))));
    expect(exitCode, output.slice(-3000)).toBe(1);
    expect(cases.filter((c) => c.failure).map((c) => c.name)).toEqual([chain.proofName]);
    expect(cases.find((c) => c.name === chain.proofName)?.failureBody).toMatch(new RegExp(`^ {2}gap in the archive: ${removed.replace(/\./g, "\\.")} is missing between `, "m"));
  }, 600_000);
});
