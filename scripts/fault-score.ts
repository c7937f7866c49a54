// Prints the fault catalogs' scores: faults detected / faults injected, and false alarms on clean restores, for the
// MariaDB service (mariadb-backup) and the MySQL 9.7 one (clone, written to during the backup).
// Run: npm run faults   (a few minutes: per catalog one backup, then one restore per fault; MySQL needs
// scripts/install-mysql.sh, which npm test runs)
import { runBackupJob } from "../src/backup/job.ts";
import type { Service } from "../src/config/schema.ts";
import { disposeAll } from "../src/base/disposers.ts";
import { FAULTS, missed, runFault, type Fault } from "../test/faults/catalog.ts";
import { MYSQL_FAULTS } from "../test/mysql/faults.ts";
import { mysqlService } from "../test/support/mysql.ts";
import { testService, testStore } from "../test/support/services.ts";

const CLEAN_RUNS = 3;

async function score(label: string, service: Service, faults: Fault[]): Promise<boolean> {
  console.log(`== ${label}`);
  const { dir } = await runBackupJob(service);
  let falseAlarms = 0;
  for (let i = 1; i <= CLEAN_RUNS; i++) {
    const r = await runFault(service, dir, undefined);
    const alarms = r.restoreError ? 1 : r.red.size;
    falseAlarms += alarms;
    console.log(`clean run ${i}: ${alarms === 0 ? "green" : `FALSE ALARM ${r.restoreError ?? [...r.red.keys()].join(", ")}`}`);
  }
  let detected = 0;
  for (const fault of faults) {
    const r = await runFault(service, dir, fault);
    const why = missed(fault, r);
    if (why === undefined) detected++;
    const what = r.restoreError ? `restore failed: ${r.restoreError.split("\n")[0]}` : [...r.red.keys()].join(", ") || "all green";
    console.log(`${why === undefined ? "caught" : "MISSED"}  ${fault.name.padEnd(58)} ${why ?? what}`);
  }
  console.log(`${label}: faults detected: ${detected}/${faults.length}; false alarms on ${CLEAN_RUNS} clean restores: ${falseAlarms}\n`);
  return detected === faults.length && falseAlarms === 0;
}

const mariadb = testStore();
const mysql = testStore();
try {
  const results = [
    await score("MariaDB 10.11, mariadb-backup", testService(mariadb.path), FAULTS),
    await score("MySQL 9.7, clone under writes", mysqlService(mysql.path, "shop", { changes: true }), MYSQL_FAULTS),
  ];
  process.exitCode = results.every(Boolean) ? 0 : 1;
} finally {
  mariadb.remove();
  mysql.remove();
  await disposeAll();
}
