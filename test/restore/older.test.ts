// Which older backups a night proves (verify.older), and naming one backup to restore (--backup, RESTORETEST_BACKUP).
import { describe, expect, it } from "vitest";
import { namedBackup } from "../../src/restore/locate.ts";
import { nextBackup, olderToVerify } from "../../src/restore/older.ts";
import { leaveOutAccounts } from "../../src/verify/verify.ts";
import type { Manifest } from "../../src/store/manifest.ts";
import type { BackupListing } from "../../src/store/layout.ts";

const backup = (id: string, verifiedAt?: string) => ({ id, finishedAt: `${id.slice(0, 10)}T00:00:00Z`, ...(verifiedAt ? { verifiedAt } : {}) });

describe("olderToVerify", () => {
  const backups = [
    backup("2026-12-01"),
    backup("2026-12-02", "2026-12-03T05:00:00Z"),
    backup("2026-12-03"),
    backup("2026-12-04", "2026-12-05T05:00:00Z"),
    backup("2026-12-05", "2026-12-04T05:00:00Z"),
    backup("2026-12-06"),
  ];

  it("takes never verified backups first, oldest first, then the longest since their last proof, never the newest", () => {
    expect(olderToVerify(backups, "2026-12-06", 1).map((b) => b.id)).toEqual(["2026-12-01"]);
    expect(olderToVerify(backups, "2026-12-06", 4).map((b) => b.id)).toEqual(["2026-12-01", "2026-12-03", "2026-12-02", "2026-12-05"]);
    expect(olderToVerify(backups, "2026-12-06", 10).map((b) => b.id)).not.toContain("2026-12-06");
    expect(olderToVerify([backup("2026-12-06")], "2026-12-06", 2)).toEqual([]);
  });
});

describe("nextBackup", () => {
  it("is the retained backup that finished next (where the archive proof rolls forward to), by finish time, not by list order", () => {
    const backups = [backup("2026-12-03"), backup("2026-12-01"), backup("2026-12-02")];
    expect(nextBackup(backups, "2026-12-01")?.id).toBe("2026-12-02");
    expect(nextBackup(backups, "2026-12-02")?.id).toBe("2026-12-03");
    expect(nextBackup(backups, "2026-12-03")).toBeNull();
    expect(nextBackup(backups, "2026-11-30")).toBeNull();
  });
});

describe("leaveOutAccounts", () => {
  it("drops only the named accounts from the accounts baseline (a sandbox's root, whose password no archive carries), and leaves the manifest itself alone", () => {
    const accounts = { "'root'@'localhost'": { kind: "user" }, "'app'@'%'": { kind: "user" } };
    const manifest = { serverChecks: { accounts, server: { x: 1 } } } as unknown as Manifest;
    const left = leaveOutAccounts(manifest, [{ user: "root", host: "localhost" }]);
    expect(left.serverChecks).toEqual({ accounts: { "'app'@'%'": { kind: "user" } }, server: { x: 1 } });
    expect(Object.keys(accounts)).toHaveLength(2);
    expect(leaveOutAccounts(manifest, [])).toBe(manifest);
  });
});

describe("namedBackup", () => {
  const listing = { complete: [{ id: "2026-12-01T00-00-00Z" }, { id: "2026-12-02T00-00-00Z" }], incomplete: [{ id: "2026-12-03T00-00-00Z", reason: "no backup.json (backup unfinished or interrupted)" }] } as unknown as BackupListing;

  it("finds a complete backup by id, and says what the store keeps when there is none", () => {
    expect(namedBackup(listing, "shop", "2026-12-02T00-00-00Z").id).toBe("2026-12-02T00-00-00Z");
    expect(() => namedBackup(listing, "shop", "2026-11-30T00-00-00Z")).toThrow('no backup 2026-11-30T00-00-00Z of service "shop" (kept: 2026-12-01T00-00-00Z, 2026-12-02T00-00-00Z)');
    expect(() => namedBackup(listing, "shop", "2026-12-03T00-00-00Z")).toThrow('backup 2026-12-03T00-00-00Z of service "shop" is not complete: no backup.json (backup unfinished or interrupted)');
  });
});
