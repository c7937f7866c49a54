// mariadb-backup runs BACKUP LOCK on every non-InnoDB table without escaping a backtick in its name, and dies on the
// syntax error (10.11 and 11.8). The backup job refuses such a source before the copy starts, naming every such table
// and what to do; an InnoDB table of the same name is backed up as any other.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runBackupJob } from "../../src/backup/job.ts";
import { parseServices } from "../../src/config/load.ts";
import { listBackups } from "../../src/store/layout.ts";
import { testStore } from "../support/services.ts";

const store = testStore();
afterAll(() => store.remove());

function serviceWith(sql: string, name: string) {
  const seed = mkdtempSync(join(tmpdir(), "seed-"));
  writeFileSync(join(seed, "01.sql"), sql);
  const yaml = ["services:", `  ${name}:`, "    source:", "      sandbox:", `        seed: ${seed}`, "    databases: [odd]", "    backup:", `      store: ${store.path}`, ""].join("\n");
  const [service] = parseServices(yaml, join(store.path, "services.yaml"));
  if (!service) throw new Error("no service parsed");
  return service;
}

describe("mariadb-backup and a backtick in a non-InnoDB table's name", () => {
  it("refuses the backup before the copy, naming each such table, its engine and what to do", async () => {
    const service = serviceWith(
      "CREATE DATABASE odd;\nCREATE TABLE odd.`a``ria` (x INT) ENGINE=Aria;\nCREATE TABLE odd.`my``isam` (x INT) ENGINE=MyISAM;\nCREATE TABLE odd.`inno``db` (x INT) ENGINE=InnoDB;\n",
      "refused",
    );
    await expect(runBackupJob(service)).rejects.toThrow(
      "mariadb-backup cannot copy 2 table(s) whose name holds a backtick, of engines it locks one by one: `odd`.`a``ria` (Aria), `odd`.`my``isam` (MyISAM). " +
        "It runs BACKUP LOCK on each without escaping the backtick, and the statement fails. Rename them, convert them to InnoDB (ALTER TABLE … ENGINE=InnoDB), or back this service up with tool: dump",
    );
    // Nothing half-made is left in the store.
    expect(listBackups(store.path, "refused").complete).toEqual([]);
    expect(listBackups(store.path, "refused").incomplete).toEqual([]);
  }, 120_000);

  it("backs up an InnoDB table of such a name", async () => {
    const service = serviceWith("CREATE DATABASE odd;\nCREATE TABLE odd.`inno``db` (x INT PRIMARY KEY) ENGINE=InnoDB;\nINSERT INTO odd.`inno``db` VALUES (1);\n", "innodb");
    const { meta } = await runBackupJob(service);
    expect(meta.tool).toBe("mariabackup");
    expect(listBackups(store.path, "innodb").complete).toHaveLength(1);
  }, 120_000);
});
