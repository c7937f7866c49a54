// Prints the fault catalogs' scores: faults detected / faults injected, and false alarms on clean restores, for the
// MariaDB 10.11 service (the host's, mariadb-backup), the same catalog on MariaDB 11.8 LTS (its own mariadb-backup,
// written to during the backup) and the MySQL 9.7 one (clone, written to during the backup), side by side at the end.
// Run: npm run faults   (a few minutes: per catalog one backup, then one restore per fault; MySQL 9.7 and MariaDB 11.8
// need scripts/install-mysql.sh and scripts/install-mariadb.sh, which npm test runs)
// One or some catalogs only: npm run faults -- mariadb118   (names: mariadb, mariadb118, mysql)
import { runBackupJob } from "../src/backup/job.ts";
import type { Service } from "../src/config/schema.ts";
import { disposeAll } from "../src/base/disposers.ts";
import { FAULTS, missed, runFault, type Fault } from "../test/faults/catalog.ts";
import { MYSQL_FAULTS } from "../test/mysql/faults.ts";
import { MARIADB118_FAULTS } from "../test/mariadb118/faults.ts";
import { mariadb118Service } from "../test/support/mariadb118.ts";
import { mysqlService } from "../test/support/mysql.ts";
import { testService, testStore, type TestStore } from "../test/support/services.ts";

const CLEAN_RUNS = 3;

interface Score {
  label: string;
  detected: number;
  faults: number;
  falseAlarms: number;
}

async function score(label: string, service: Service, faults: Fault[]): Promise<Score> {
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
  return { label, detected, faults: faults.length, falseAlarms };
}

const CATALOGS: Record<string, { label: string; service: (store: string) => Service; faults: Fault[] }> = {
  mariadb: { label: "MariaDB 10.11, mariadb-backup", service: (store) => testService(store), faults: FAULTS },
  mariadb118: { label: "MariaDB 11.8, mariadb-backup under writes", service: (store) => mariadb118Service(store, "shop", { changes: true }), faults: [...FAULTS, ...MARIADB118_FAULTS] },
  mysql: { label: "MySQL 9.7, clone under writes", service: (store) => mysqlService(store, "shop", { changes: true }), faults: MYSQL_FAULTS },
};

const asked = process.argv.slice(2);
const unknown = asked.filter((name) => !(name in CATALOGS));
if (unknown.length > 0) throw new Error(`unknown catalog(s) ${unknown.join(", ")} (known: ${Object.keys(CATALOGS).join(", ")})`);
const stores: TestStore[] = [];
try {
  const results: Score[] = [];
  for (const name of asked.length > 0 ? asked : Object.keys(CATALOGS)) {
    const catalog = CATALOGS[name] as (typeof CATALOGS)[string];
    const store = testStore();
    stores.push(store);
    results.push(await score(catalog.label, catalog.service(store.path), catalog.faults));
  }
  console.log("== scores");
  for (const r of results) console.log(`${r.label.padEnd(42)} faults detected ${r.detected}/${r.faults}, false alarms ${r.falseAlarms}/${CLEAN_RUNS} clean restores`);
  process.exitCode = results.every((r) => r.detected === r.faults && r.falseAlarms === 0) ? 0 : 1;
} finally {
  for (const store of stores) store.remove();
  await disposeAll();
}
