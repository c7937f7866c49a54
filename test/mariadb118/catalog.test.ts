// The MariaDB fault catalog (test/faults/catalog.ts, the one test/faults/catalog.test.ts runs on the host's 10.11) on
// MariaDB 11.8 LTS (Debian trixie's packages, scripts/install-mariadb.sh): a mariadb-backup of 11.8 taken while the
// source is written to, prepared by 11.8's own mariadb-backup, restores green, and every fault goes red as it must.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runBackupJob } from "../../src/backup/job.ts";
import { readManifest } from "../../src/store/manifest.ts";
import { FAULTS, missed, redFindings, runFault } from "../faults/catalog.ts";
import { restoreService } from "../../src/restore/pipeline.ts";
import { mariadb118Service, mariadb118Toolchain } from "../support/mariadb118.ts";
import { MARIADB118_FAULTS } from "./faults.ts";
import { sandboxServers, testStore } from "../support/services.ts";

const store = testStore();
let backupDir = "";
const service = () => mariadb118Service(store.path, "shop", { changes: true });

beforeAll(async () => {
  // snapshot consistency with the sandbox's changes written between the backup and the baseline: writes during the backup.
  backupDir = (await runBackupJob(service())).dir;
}, 180_000);

afterAll(async () => {
  store.remove();
  expect(await sandboxServers()).toEqual([]);
});

describe("MariaDB 11.8: a mariadb-backup taken under writes", () => {
  it("records MariaDB 11.8 and its position, backed up by 11.8's own mariadb-backup", () => {
    const manifest = readManifest(join(backupDir, "manifest.json"));
    expect(manifest.server).toMatchObject({ flavor: "mariadb", version: expect.stringMatching(/^11\.8\.\d+-MariaDB/) });
    expect(manifest.position?.gtid).toMatch(/^0-1-\d+$/);
  });
});

// Three restores at a time: each fault's restore is a server of its own, and most of a restore is waiting on it.
describe.concurrent("MariaDB 11.8 fault catalog", () => {
  it("a clean restore is all green: prepared by 11.8's mariadb-backup, started as 11.8, the writes replayed", async ({ expect }) => {
    const restored = await restoreService(service());
    try {
      expect(restored.steps.map((s) => s.step)).toEqual(["locate", "provision", "transfer", "prepare", "start", "replay"]);
      expect(restored.steps.find((s) => s.step === "prepare")?.command).toMatch(new RegExp(`^${mariadb118Toolchain()}/mariadb-backup --prepare `));
      expect(restored.steps.find((s) => s.step === "replay")?.command).toContain(`${mariadb118Toolchain()}/mariadb-binlog `);
      expect(Object.fromEntries(await redFindings(restored, service()))).toEqual({});
      const [who] = await restored.db.query<{ v: string }>("SELECT VERSION() AS v");
      expect(who?.v).toMatch(/^11\.8\./);
    } finally {
      await restored.destroy();
    }
  }, 120_000);

  for (const fault of [...FAULTS, ...MARIADB118_FAULTS]) {
    it(`catches: ${fault.name}`, async ({ expect }) => {
      const result = await runFault(service(), backupDir, fault);
      expect(missed(fault, result)).toBeUndefined();
      // 11.8's Aria files are checked by 11.8's aria_chk, the toolchain's, never the host's 10.11 one on PATH.
      if ("restoreFails" in fault && /aria_chk/.test(String(fault.restoreFails))) expect(result.restoreError).toContain(`${mariadb118Toolchain()}/aria_chk on the backup's copy`);
    }, 120_000);
  }
});

describe("MariaDB 11.8: the logical dump with mariadb-dump", () => {
  it("backs up under writes and restores green through 11.8's own client, accounts and events included", async () => {
    const dumpStore = mkdtempSync(join(tmpdir(), "restoretest-store-"));
    try {
      const dump = mariadb118Service(dumpStore, "shop", { tool: "dump", changes: true });
      const backup = await runBackupJob(dump);
      expect(backup.meta.tool).toBe("dump");
      expect(backup.meta.toolVersion).toMatch(/mariadb-dump from 11\.8\./);
      const restored = await restoreService(dump);
      try {
        expect(restored.steps.map((s) => s.step)).toEqual(["locate", "provision", "transfer", "prepare", "start", "load", "replay"]);
        expect(restored.steps.find((s) => s.step === "prepare")?.command).toContain(`${mariadb118Toolchain()}/mariadb-install-db `);
        expect(Object.fromEntries(await redFindings(restored, dump))).toEqual({});
      } finally {
        await restored.destroy();
      }
    } finally {
      rmSync(dumpStore, { recursive: true, force: true });
    }
  }, 240_000);
});
