// Every check and stage proven on MySQL 9.7 LTS (Debian's packages, scripts/install-mysql.sh): a clone backup taken
// while the source is written to restores green, every fault of the MySQL catalog goes red as it must, the logical
// dump restores green through MySQL's own mysqldump and client, and the clone tool refuses what it cannot copy.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runBackupJob } from "../../src/backup/job.ts";
import { readManifest } from "../../src/store/manifest.ts";
import { restoreService } from "../../src/restore/pipeline.ts";
import { missed, redFindings, runFault } from "../faults/catalog.ts";
import { mysqlService, mysqlToolchain } from "../support/mysql.ts";
import { sandboxServers, testStore } from "../support/services.ts";
import { MYSQL_FAULTS } from "./faults.ts";

const store = testStore();
let backupDir = "";
const service = () => mysqlService(store.path, "shop", { changes: true });

beforeAll(async () => {
  // snapshot consistency with the sandbox's changes written between the clone and the baseline: writes during the backup.
  backupDir = (await runBackupJob(service())).dir;
}, 180_000);

afterAll(async () => {
  store.remove();
  expect(await sandboxServers()).toEqual([]);
});

describe("MySQL 9.7: a clone backup taken under writes", () => {
  it("records MySQL, its GTID position, and the writes to replay", () => {
    const manifest = readManifest(join(backupDir, "manifest.json"));
    expect(manifest.server.flavor).toBe("mysql");
    expect(manifest.server.version).toMatch(/^9\.7\./);
    expect(manifest.position?.gtid).toMatch(/^[0-9a-f-]{36}:1-\d+$/);
  });

  it("restores green: transfer and start, no prepare, the writes replayed by GTID", async () => {
    const restored = await restoreService(service());
    try {
      expect(restored.steps.map((s) => s.step)).toEqual(["locate", "provision", "transfer", "start", "replay"]);
      expect(Object.fromEntries(await redFindings(restored, service()))).toEqual({});
      const [who] = await restored.db.query<{ v: string }>("SELECT VERSION() AS v");
      expect(who?.v).toMatch(/^9\.7\./);
    } finally {
      await restored.destroy();
    }
  }, 120_000);
});

// Three restores at a time: each fault's restore is a server of its own, and most of a restore is waiting on it.
describe.concurrent("MySQL 9.7 fault catalog", () => {
  for (const fault of MYSQL_FAULTS) {
    it(`catches: ${fault.name}`, async ({ expect }) => {
      expect(missed(fault, await runFault(service(), backupDir, fault))).toBeUndefined();
    }, 120_000);
  }
});

describe("MySQL 9.7: the logical dump with mysqldump", () => {
  it("backs up under writes and restores green through MySQL's own client, accounts and events included", async () => {
    const dumpStore = mkdtempSync(join(tmpdir(), "restoretest-store-"));
    try {
      const dump = mysqlService(dumpStore, "shop", { tool: "dump", changes: true });
      const backup = await runBackupJob(dump);
      expect(backup.meta.tool).toBe("dump");
      expect(backup.meta.toolVersion).toMatch(/mysqldump\s+Ver 9\.7/);
      const restored = await restoreService(dump);
      try {
        expect(restored.steps.map((s) => s.step)).toEqual(["locate", "provision", "transfer", "prepare", "start", "load", "replay"]);
        expect(Object.fromEntries(await redFindings(restored, dump))).toEqual({});
      } finally {
        await restored.destroy();
      }
    } finally {
      rmSync(dumpStore, { recursive: true, force: true });
    }
  }, 240_000);
});

describe("the clone tool refuses what it cannot copy whole", () => {
  it("names the tables of other engines, which a clone would restore empty", async () => {
    const refusedStore = mkdtempSync(join(tmpdir(), "restoretest-store-"));
    try {
      // The blog seed's page_views is InnoDB on MySQL (fixtures/blog/01b-mysql-innodb.ts): a seed of the small MySQL
      // shop plus one MyISAM table stands for a service that still has one.
      const refused = mysqlService(refusedStore, "shop", { backupLines: ["      consistency: quiescent"] });
      const { startSourceSandbox, applySeed } = await import("../../src/hosts/sourceSandbox.ts");
      const { flavor } = await import("../../src/server/flavor.ts");
      const source = await startSourceSandbox("refused", undefined, 1, flavor("mysql", refused.backup.toolchain));
      try {
        await applySeed(source, refused.source && "sandbox" in refused.source ? refused.source.sandbox.seed : "", "shop");
        const db = await source.server.connect();
        await db.query("CREATE TABLE shop.legacy (id INT PRIMARY KEY) ENGINE=MyISAM");
        const { backupTool } = await import("../../src/backup/tool.ts");
        const tool = backupTool("clone", refused.backup.toolchain);
        await expect(tool.preflight?.(db, ["shop"], "quiescent")).rejects.toThrow(
          /^clone copies InnoDB data only: 1 table\(s\) of other engines would be restored empty: shop\.legacy \(MyISAM\)\. Convert them to InnoDB/,
        );
        await db.query("SET GLOBAL gtid_mode = ON_PERMISSIVE");
        await expect(tool.preflight?.(db, ["shop"], "snapshot")).rejects.toThrow(/^clone with backup\.consistency snapshot needs gtid_mode=ON on the source \(it is ON_PERMISSIVE\)/);
        await db.close();
      } finally {
        await source.destroy();
      }
    } finally {
      rmSync(refusedStore, { recursive: true, force: true });
    }
  }, 120_000);

  // CLONE LOCAL writes a tablespace outside the data directory back to its own path: on the source's host, the source's
  // own file. The backup stopped with "ERROR 1086 … File '…/group.ibd' already exists" (found by the generated-schema
  // matrix, MySQL 9.7 with DATA DIRECTORY tables); the preflight names every such tablespace and what to do instead.
  it("names the tablespaces outside the data directory, which CLONE LOCAL cannot write back", async () => {
    const external = mkdtempSync(join(tmpdir(), "restoretest-external-"));
    try {
      const { startSourceSandbox } = await import("../../src/hosts/sourceSandbox.ts");
      const { flavor } = await import("../../src/server/flavor.ts");
      const f = flavor("mysql", mysqlToolchain());
      const source = await startSourceSandbox("external", undefined, 1, { ...f, server: { ...f.server, sourceArgs: [...f.server.sourceArgs, `--innodb-directories=${external}`] } });
      try {
        const db = await source.server.connect();
        try {
          await db.query("CREATE DATABASE shop");
          await db.query("CREATE TABLE shop.inside (id INT PRIMARY KEY)");
          await db.query(`CREATE TABLE shop.\`far-away\` (id INT PRIMARY KEY) DATA DIRECTORY = '${external}'`);
          const { backupTool } = await import("../../src/backup/tool.ts");
          const tool = backupTool("clone", mysqlToolchain());
          const path = `${external}/shop/far@002daway.ibd`.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
          await expect(tool.preflight?.(db, ["shop"], "snapshot")).rejects.toThrow(
            new RegExp(`^clone cannot copy 1 tablespace\\(s\\) outside the data directory on the source's own host \\(CLONE LOCAL writes them back to their own path, which exists\\): shop\\.far-away \\(${path}\\)\\. Recreate them without DATA DIRECTORY`),
          );
          // Without it, the same source passes.
          await db.query("DROP TABLE shop.`far-away`");
          await expect(tool.preflight?.(db, ["shop"], "snapshot")).resolves.toBeUndefined();
        } finally {
          await db.close();
        }
      } finally {
        await source.destroy();
      }
    } finally {
      rmSync(external, { recursive: true, force: true });
    }
  }, 120_000);
});
