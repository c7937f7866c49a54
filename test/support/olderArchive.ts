// Two retained backups of a real source under writes, the binlog archive copied between and after them, for the tests
// of `archive › <older> + archive = <next>` (verify.older: 1): copies of the store damaged one way each, and the suite
// run on them as a user runs it (`vitest run --project shop`).
import { cpSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { execa } from "execa";
import { runBackupJob } from "../../src/backup/job.ts";
import { startBinlogCopy } from "../../src/backup/binlogs.ts";
import { parseServices } from "../../src/config/load.ts";
import type { Service } from "../../src/config/schema.ts";
import type { Db } from "../../src/db/connection.ts";
import { flavor } from "../../src/server/flavor.ts";
import { applySeed, startSourceSandbox, type SeededSource } from "../../src/hosts/sourceSandbox.ts";
import { binlogSequence } from "../../src/binlog/replay.ts";
import type { Position } from "../../src/binlog/position.ts";
import { listArchive } from "../../src/store/archive.ts";
import { binlogArchiveDir, type BackupMeta } from "../../src/store/layout.ts";
import { untilArchived } from "./archive.ts";
import { parseJUnit, type ParsedCase } from "./junit.ts";
import { MYSQL_SEED, mysqlToolchain } from "./mysql.ts";
import { SMALL_SEED, serverServiceYaml } from "./services.ts";
import { WriteLoad } from "./writeLoad.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface OlderArchiveChain {
  source: SeededSource;
  db: Db;
  older: BackupMeta;
  next: BackupMeta;
  /** The older backup's baseline position, and the next one's. */
  from: Position;
  to: Position;
  /** The archived files strictly between their files. */
  between: string[];
  /** `older + archive = next`: the proof's test name. */
  proofName: string;
  /** A copy of the store in `<root>/<name>` (`change` damages it) with its services.yaml; returns the directory. */
  variant(name: string, change?: (store: string) => void): string;
  /** One more backup of the source (into the chain's own store), the archive then copied to its newest event. */
  backupAgain(): Promise<BackupMeta>;
  /** `vitest run --project shop` on a variant; `onlyOlder`: just the older backup's tests (its restore and its proof). */
  runSuite(dir: string, onlyOlder?: boolean): Promise<{ exitCode: number; cases: ParsedCase[]; output: string }>;
  destroy(): Promise<void>;
}

/**
 * Under `root`: a source (MariaDB 10.11, or MySQL 9.7 backed up with clone) seeded, backed up, written to across two
 * binlog rotations, backed up again, written to once more (a roll-forward past the next backup would not equal its
 * baseline), and its binlogs archived to the newest event.
 */
export async function olderArchiveChain(root: string, server: "mariadb" | "mysql" = "mariadb"): Promise<OlderArchiveChain> {
  const mysql = server === "mysql";
  const source = await startSourceSandbox(`olderarchive-${server}`, undefined, 1, mysql ? flavor("mysql", mysqlToolchain()) : undefined);
  let db: Db | undefined;
  try {
    await applySeed(source, mysql ? MYSQL_SEED : SMALL_SEED, "shop");
    db = await source.server.connect();
    const backupLines = ["consistency: snapshot", ...(mysql ? ["tool: clone", `toolchain: ${mysqlToolchain()}`] : [])];
    const verify = ["    verify:", "      older: 1", "      queries:", "        - name: customers and their balance", "          sql: SELECT COUNT(*), SUM(balance) FROM shop.customers", "          expect: baseline"];
    const yaml = (dir: string) => serverServiceYaml("shop", source.server, join(dir, "store"), backupLines) + verify.join("\n") + "\n";
    const main = join(root, "main");
    const [service] = parseServices(yaml(main), join(main, "services.yaml"), { SOURCE_PASSWORD: source.server.password }) as [Service];
    const older = (await runBackupJob(service)).meta;
    const load = new WriteLoad(db, 60_000, 2);
    for (let i = 0; i < 2; i++) {
      await sleep(600);
      await db.query("FLUSH BINARY LOGS");
    }
    await sleep(600);
    await load.stop();
    const next = (await runBackupJob(service)).meta;
    await db.query("UPDATE shop.customers SET balance = balance + 1000 WHERE id <= 100");
    await db.query("DELETE FROM shop.orders WHERE id % 5 = 0");
    const archive = binlogArchiveDir(join(main, "store"), "shop");
    const archiveAll = async (on: Db) => {
      const copier = await startBinlogCopy(service, { restartDelayMs: 200 });
      try {
        await untilArchived(on, archive);
      } finally {
        await copier.stop();
      }
    };
    await archiveAll(db);
    const position = (id: string) => (JSON.parse(readFileSync(join(main, "store", "shop", id, "manifest.json"), "utf8")) as { position: Position }).position;
    const from = position(older.id);
    const to = position(next.id);
    const between = listArchive(archive).filter((f) => binlogSequence(f) > binlogSequence(from.file) && binlogSequence(f) < binlogSequence(to.file));
    const open = db;
    return {
      source,
      db: open,
      older,
      next,
      from,
      to,
      between,
      proofName: `${older.id} + archive = ${next.id}`,
      async backupAgain() {
        const meta = (await runBackupJob(service)).meta;
        // A write after it, as after the next backup: the newest backup's own roll-forward has something to apply.
        await open.query("UPDATE shop.customers SET balance = balance + 1 WHERE id = 2");
        await archiveAll(open);
        return meta;
      },
      variant(name, change) {
        const dir = join(root, name);
        cpSync(join(main, "store"), join(dir, "store"), { recursive: true });
        change?.(join(dir, "store"));
        writeFileSync(join(dir, "services.yaml"), yaml(dir));
        return dir;
      },
      async runSuite(dir, onlyOlder = true) {
        const reports = join(dir, "reports");
        const filter = onlyOlder ? ["-t", `${older.id} (restores|\\+ archive =)`] : [];
        const run = await execa("npx", ["vitest", "run", "--project", "shop", ...filter], {
          cwd: ROOT,
          reject: false,
          env: { RESTORETEST_CONFIG: join(dir, "services.yaml"), RESTORETEST_REPORTS: reports, SOURCE_PASSWORD: source.server.password, CI: "true" },
          all: true,
        });
        return { exitCode: run.exitCode ?? -1, cases: parseJUnit(readFileSync(join(reports, "junit.xml"), "utf8")), output: String(run.all) };
      },
      async destroy() {
        await open.close();
        await source.destroy();
      },
    };
  } catch (error) {
    await db?.close();
    await source.destroy();
    throw error;
  }
}
