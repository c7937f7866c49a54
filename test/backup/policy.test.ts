// nextBackupKind: when the next backup of a service is a full one and when an incremental, and why.
import { describe, expect, it } from "vitest";
import { nextBackupKind, type BackupPolicy } from "../../src/backup/policy.ts";

const mariabackup = { name: "mariabackup", incremental: true };
const policy = (p: Partial<BackupPolicy> = {}): BackupPolicy => ({ policy: "incremental", fullEvery: 7, tool: mariabackup, ...p });
const lsn = { backupType: "incremental", fromLsn: 1, toLsn: 2 };
const link = (id: string, kind: "full" | "incremental" = "incremental", startedAt = "2026-11-20T03:00:00.000Z") => ({
  id,
  kind,
  tool: "mariabackup",
  startedAt,
  checkpoints: lsn,
});
const chainOf = (n: number) => [link("f", "full"), ...Array.from({ length: n - 1 }, (_, i) => link(`i${i + 1}`))];
const now = new Date("2026-11-25T03:00:00Z");

describe("nextBackupKind", () => {
  it("takes a full when the policy is full, whatever the chain", () => {
    expect(nextBackupKind(chainOf(2), policy({ policy: "full" }), now)).toEqual({ kind: "full", reason: "backup.policy is full" });
  });

  it("starts a chain when there is none to continue", () => {
    expect(nextBackupKind([], policy(), now)).toEqual({ kind: "full", reason: "no chain to continue" });
  });

  it("takes an incremental on the newest link until the chain has fullEvery backups", () => {
    expect(nextBackupKind(chainOf(1), policy(), now)).toEqual({ kind: "incremental", base: "f", reason: "backup 2 of 7 in the chain of f" });
    expect(nextBackupKind(chainOf(6), policy(), now)).toMatchObject({ kind: "incremental", base: "i5" });
    expect(nextBackupKind(chainOf(7), policy(), now)).toEqual({ kind: "full", reason: "the chain of f has 7 backup(s) (backup.fullEvery: 7)" });
    expect(nextBackupKind(chainOf(1), policy({ fullEvery: 1 }), now).kind).toBe("full");
  });

  it("starts a new chain when its full is fullEveryDays old", () => {
    expect(nextBackupKind(chainOf(2), policy({ fullEveryDays: 7 }), now).kind).toBe("incremental");
    expect(nextBackupKind(chainOf(2), policy({ fullEveryDays: 5 }), now)).toEqual({
      kind: "full",
      reason: "the chain's full f is 5.0 days old (backup.fullEveryDays: 5)",
    });
  });

  it("does not continue a chain it cannot: another tool, no LSNs, no full, a tool without incrementals", () => {
    expect(nextBackupKind([{ ...link("f", "full"), tool: "xtrabackup" }], policy(), now).reason).toBe(
      "the newest chain was taken with xtrabackup, backup.tool is mariabackup",
    );
    expect(nextBackupKind([{ ...link("f", "full"), checkpoints: null }], policy(), now).reason).toBe("f recorded no LSNs (xtrabackup_checkpoints) to continue from");
    expect(nextBackupKind([link("i1")], policy(), now).reason).toBe("the newest chain has no full backup (starts with i1)");
    expect(nextBackupKind(chainOf(2), policy({ tool: { name: "dump", incremental: false } }), now)).toEqual({
      kind: "full",
      reason: "dump cannot take incrementals",
    });
  });
});
