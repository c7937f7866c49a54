// Chains resolved through their base links, refused when a link is missing or their LSNs do not join; retention of whole chains.
import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { checkChainLsns, groupChains, resolveChain } from "../../src/store/chain.ts";
import { applyRetention, binlogsToPrune, planRetention } from "../../src/store/retention.ts";
import { testStore } from "../support/services.ts";
import { writeFakeBackup } from "../support/storeFixtures.ts";

type L = { id: string; meta: { kind: "full" | "incremental"; base: string | null }; verified: boolean };
const full = (id: string, verified = false): L => ({ id, meta: { kind: "full", base: null }, verified });
const inc = (id: string, base: string, verified = false): L => ({ id, meta: { kind: "incremental", base }, verified });
const cp = (backupType: string, fromLsn: number, toLsn: number) => ({ backupType, fromLsn, toLsn });

describe("chains", () => {
  const backups = [full("a"), inc("b", "a"), inc("c", "b"), full("d"), inc("e", "d")];

  it("groups backups into chains, oldest first", () => {
    expect(groupChains(backups).map((c) => c.links.map((l) => l.id))).toEqual([["a", "b", "c"], ["d", "e"]]);
    const orphaned = groupChains([full("a"), inc("c", "b")]);
    expect(orphaned.map((c) => c.broken)).toEqual([undefined, "its base b is not in the store"]);
  });

  it("resolves the chain of a link back to its full", () => {
    expect(resolveChain(backups, "c").map((l) => l.id)).toEqual(["a", "b", "c"]);
    expect(resolveChain(backups, "d").map((l) => l.id)).toEqual(["d"]);
  });

  it("names the missing middle link, and why the store skipped it", () => {
    const withoutB = backups.filter((b) => b.id !== "b");
    expect(() => resolveChain(withoutB, "c")).toThrow(
      "backup chain of c is broken: link b, the base of incremental c, is missing from the store (deleted?); the links after it (c) cannot be restored",
    );
    expect(() => resolveChain(withoutB, "c", [{ id: "b", reason: "no backup.json (backup unfinished or interrupted)" }])).toThrow(
      /link b, the base of incremental c, is incomplete \(no backup\.json/,
    );
  });

  it("accepts a chain whose LSNs join", () => {
    expect(() =>
      checkChainLsns([
        { id: "a", checkpoints: cp("full-backuped", 0, 100) },
        { id: "b", checkpoints: cp("incremental", 100, 100) },
        { id: "c", checkpoints: cp("incremental", 100, 250) },
      ]),
    ).not.toThrow();
  });

  it("refuses a gap, an out-of-order link, a missing full and unreadable checkpoints, naming the link", () => {
    expect(() => checkChainLsns([{ id: "a", checkpoints: cp("full-backuped", 0, 100) }, { id: "c", checkpoints: cp("incremental", 180, 250) }])).toThrow(
      "backup chain does not join at c: it starts at LSN 180 but a ends at LSN 100; the changes between LSN 100 and 180 are missing: a link ending at LSN 180 is not in the chain",
    );
    expect(() => checkChainLsns([{ id: "a", checkpoints: cp("full-backuped", 0, 100) }, { id: "b", checkpoints: cp("incremental", 50, 120) }])).toThrow(
      /does not join at b: .* it was taken on an older base than a/,
    );
    expect(() => checkChainLsns([{ id: "b", checkpoints: cp("incremental", 100, 120) }])).toThrow(
      "backup chain starts with incremental b (from_lsn 100): the full backup the chain needs is missing",
    );
    expect(() => checkChainLsns([{ id: "a", checkpoints: null, file: "/s/a/data/xtrabackup_checkpoints" }])).toThrow(
      "backup chain link a has no readable /s/a/data/xtrabackup_checkpoints",
    );
  });
});

describe("retention", () => {
  const store = testStore();
  afterEach(() => store.remove());

  it("keeps the newest keepChains chains and the newest green one", () => {
    const chains = groupChains([full("a", true), inc("b", "a"), full("c", true), full("d"), inc("e", "d"), full("f")]);
    const plan = planRetention(chains, 2);
    expect(plan.keep.map((c) => c.links[0]?.id)).toEqual(["c", "d", "f"]);
    expect(plan.remove.map((c) => c.links[0]?.id)).toEqual(["a"]);
    const withGreenOld = planRetention(groupChains([full("a"), inc("b", "a", true), full("c"), full("d")]), 1);
    expect(withGreenOld.keep.map((c) => c.links[0]?.id)).toEqual(["a", "d"]);
    expect(withGreenOld.remove.map((c) => c.links[0]?.id)).toEqual(["c"]);
  });

  it("drops broken chains older than what is kept, keeps newer ones for a person to look at", () => {
    const plan = planRetention(groupChains([inc("x", "gone"), full("a"), full("c"), inc("y", "gone2")]), 1);
    expect(plan.keep.map((c) => c.links[0]?.id)).toEqual(["c", "y"]);
    expect(plan.remove.map((c) => c.links[0]?.id)).toEqual(["x", "a"]);
  });

  it("prunes archived binlogs before the oldest kept backup's file", () => {
    const files = ["mysql-bin.000003", "mysql-bin.000004", "mysql-bin.000005"];
    expect(binlogsToPrune(files, { file: "mysql-bin.000004", position: 9, gtid: "" })).toEqual(["mysql-bin.000003"]);
    expect(binlogsToPrune(files, null)).toEqual([]);
  });

  it("deletes whole chains oldest first, never the newest green one, and the archived binlogs before what is kept", () => {
    const write = (id: string, kind: "full" | "incremental", base: string | null, file: string, verified = false) =>
      writeFakeBackup(store.path, "shop", id, { kind, base, position: { file, position: 4, gtid: "" } }, verified);
    write("2026-11-21T03-00-00Z", "full", null, "mysql-bin.000001");
    write("2026-11-22T03-00-00Z", "incremental", "2026-11-21T03-00-00Z", "mysql-bin.000002", true);
    write("2026-11-23T03-00-00Z", "full", null, "mysql-bin.000003");
    write("2026-11-24T03-00-00Z", "incremental", "2026-11-23T03-00-00Z", "mysql-bin.000004");
    write("2026-11-25T03-00-00Z", "full", null, "mysql-bin.000005");
    mkdirSync(join(store.path, "shop", "2026-11-20T03-00-00Z"));
    const archive = join(store.path, "shop", "binlogs");
    mkdirSync(archive);
    for (let n = 1; n <= 5; n++) writeFileSync(join(archive, `mysql-bin.00000${n}`), "");
    const result = applyRetention(store.path, "shop", 1);
    expect(result.removedBackups).toEqual(["2026-11-24T03-00-00Z", "2026-11-23T03-00-00Z", "2026-11-20T03-00-00Z"]);
    expect(readdirSync(join(store.path, "shop")).sort()).toEqual(["2026-11-21T03-00-00Z", "2026-11-22T03-00-00Z", "2026-11-25T03-00-00Z", "binlogs"]);
    expect(result.removedBinlogs).toEqual([]);
    // Once it is not the newest green chain any more, the old chain goes too, and the binlogs only it needed.
    rmSync(join(store.path, "shop", "2026-11-22T03-00-00Z", "verified.json"));
    const second = applyRetention(store.path, "shop", 1);
    expect(second.removedBackups).toEqual(["2026-11-22T03-00-00Z", "2026-11-21T03-00-00Z"]);
    expect(second.removedBinlogs).toEqual(["mysql-bin.000001", "mysql-bin.000002", "mysql-bin.000003", "mysql-bin.000004"]);
    expect(readdirSync(archive)).toEqual(["mysql-bin.000005"]);
  });
});
