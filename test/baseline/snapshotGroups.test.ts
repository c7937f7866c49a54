// A snapshot baseline of more tables than one snapshot transaction reads (TABLES_PER_SNAPSHOT) opens several snapshots,
// all under the same FLUSH TABLES WITH READ LOCK: every table is read at the one position, while writes go on.
import { describe, expect, it } from "vitest";
import { captureBaseline } from "../../src/baseline/capture.ts";
import { DEFAULT_CHECK_OPTIONS } from "../../src/checks/types.ts";
import { useSandboxDb } from "../support/sandboxDb.ts";

const COUNT = 1500;
const names = Array.from({ length: COUNT }, (_, i) => `t${String(i).padStart(4, "0")}`);

const sandbox = useSandboxDb("snapshot-groups", [
  ...names.map((t) => `CREATE TABLE s.${t} (id INT PRIMARY KEY, v INT NOT NULL) ENGINE=InnoDB`),
  ...names.map((t) => `INSERT INTO s.${t} VALUES (1, 0)`),
  // One transaction adds 1 to every table's row: a consistent read sees the same value in all of them.
  `CREATE PROCEDURE s.bump() BEGIN
     DECLARE i INT DEFAULT 0;
     START TRANSACTION;
     WHILE i < ${COUNT} DO
       SET @q = CONCAT('UPDATE s.t', LPAD(i, 4, '0'), ' SET v = v + 1');
       PREPARE st FROM @q; EXECUTE st; DEALLOCATE PREPARE st;
       SET i = i + 1;
     END WHILE;
     COMMIT;
   END`,
]);

describe("snapshot baseline of many tables", () => {
  it("reads every table at one position across several snapshot transactions while every table is written to", async () => {
    const writer = await sandbox.db.session();
    let bumps = 0;
    let stop = false;
    const load = (async () => {
      while (!stop) {
        await writer.query("CALL s.bump()");
        bumps++;
      }
    })();
    try {
      while (bumps < 1) await new Promise((r) => setTimeout(r, 10));
      // Four baselines, each consistent; a bump takes about as long as a baseline, so writes commit while most are read.
      let overlapped = 0;
      for (let run = 1; run <= 4; run++) {
        const before = bumps;
        // One session: two snapshots (1,500 tables), read one after the other, the second after the first committed.
        const manifest = await captureBaseline(sandbox.db, {
          service: "snapshot-groups",
          databases: ["s"],
          checks: ["checksum", "rowCount"],
          options: DEFAULT_CHECK_OPTIONS,
          concurrency: 1,
          mode: "snapshot",
        });
        const tables = manifest.databases[0]?.tables.filter((t) => t.type === "BASE TABLE") ?? [];
        expect(tables).toHaveLength(COUNT);
        expect(new Set(tables.map((t) => JSON.stringify(t.checks.checksum))).size, `run ${run}: tables read at different positions`).toBe(1);
        overlapped += bumps - before;
      }
      expect(overlapped, "no write committed while a baseline was read").toBeGreaterThan(0);
    } finally {
      stop = true;
      await load;
      writer.release();
    }
  }, 120_000);
});
