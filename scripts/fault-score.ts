// Prints the fault catalogs' scores: faults detected / faults injected, and false alarms on clean restores, for the
// MariaDB service (mariadb-backup) and the MySQL 9.7 one (clone, written to during the backup); then the generated-schema
// matrix's, per server: schemas, objects and kinds, false reds, faults caught (test/matrix, docs/matrix.md).
// Run: npm run faults   (about 20 minutes: per catalog one backup, then one restore per fault; per matrix seed one
// schema through every stage; MySQL needs scripts/install-mysql.sh, which npm test runs). `npm run faults -- --matrix`
// runs the matrix only; RESTORETEST_MATRIX_SEED=1,2,3 picks its seeds (default: 3 fixed and 1 random per server).
import { runBackupJob } from "../src/backup/job.ts";
import type { Service } from "../src/config/schema.ts";
import { disposeAll } from "../src/lifecycle/disposers.ts";
import { caught, FAULTS, runFault, type Fault } from "../test/faults/catalog.ts";
import { MYSQL_FAULTS } from "../test/mysql/faults.ts";
import { mysqlService } from "../test/support/mysql.ts";
import { testService, testStore } from "../test/support/services.ts";
import { runSchema, type SchemaRun } from "../test/matrix/run.ts";
import { MATRIX_SERVERS } from "../test/matrix/servers.ts";
import { matrixSeeds } from "../test/matrix/seeds.ts";

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
    const ok = caught(fault, r);
    if (ok) detected++;
    const what = r.restoreError ? `restore failed: ${r.restoreError.split("\n")[0]}` : [...r.red.keys()].join(", ") || "all green";
    console.log(`${ok ? "caught" : "MISSED"}  ${fault.name.padEnd(58)} ${what}`);
  }
  console.log(`${label}: faults detected: ${detected}/${faults.length}; false alarms on ${CLEAN_RUNS} clean restores: ${falseAlarms}\n`);
  return detected === faults.length && falseAlarms === 0;
}

/** The matrix on every server: each seed's schema through every stage, then its faults; one summary line per server. */
async function matrix(): Promise<{ lines: string[]; ok: boolean }> {
  const seeds = matrixSeeds([1, 2, 3]);
  const lines: string[] = [];
  let ok = true;
  // RESTORETEST_MATRIX_SERVER=mysql-9.7 runs one server's matrix only.
  const only = process.env.RESTORETEST_MATRIX_SERVER;
  for (const make of MATRIX_SERVERS) {
    const server = make();
    if (only && server.label !== only) continue;
    console.log(`== matrix ${server.label} (seeds ${seeds.join(", ")}; left out here: ${server.exclusions.join("; ")})`);
    const runs: SchemaRun[] = [];
    for (const seed of seeds) {
      const run = await runSchema(server, seed).catch((error: unknown) => {
        console.log(`seed ${seed}: FAILED to run: ${(error as Error).message}`);
        return undefined;
      });
      if (!run) {
        ok = false;
        continue;
      }
      runs.push(run);
      const caught = run.faults.filter((f) => f.caught).length;
      console.log(`seed ${seed}: ${run.objects.length} objects, ${run.tests.length} tests, ${run.writes} writes during the backup; false reds ${run.falseReds.length}; faults caught ${caught}/${run.faults.length} (${Math.round(run.durationMs / 1000)} s)`);
      for (const r of run.falseReds) console.log(`  FALSE RED ${r.stage} ${r.object}: ${r.message.split("\n")[0]}   (replay: RESTORETEST_MATRIX_SEED=${seed})`);
      for (const f of run.faults) console.log(`  ${f.caught ? "caught" : "MISSED"}  ${`${f.fault.kind} (${f.fault.object})`.padEnd(70)} ${f.detail.split("\n")[0]}`);
    }
    const objects = runs.reduce((n, r) => n + r.objects.length, 0);
    const kinds = new Set(runs.flatMap((r) => r.objects.map((o) => o.kind))).size;
    const falseReds = runs.reduce((n, r) => n + r.falseReds.length, 0);
    const faults = runs.flatMap((r) => r.faults);
    const caught = faults.filter((f) => f.caught).length;
    ok &&= falseReds === 0 && caught === faults.length && runs.length === seeds.length;
    lines.push(`matrix ${server.label}: ${runs.length} schemas, ${objects} objects, ${kinds} kinds; false reds ${falseReds}; faults caught ${caught}/${faults.length}`);
    console.log(`${lines.at(-1)}\n`);
  }
  return { lines, ok };
}

const mariadb = testStore();
const mysql = testStore();
try {
  const matrixOnly = process.argv.includes("--matrix");
  const results = matrixOnly
    ? []
    : [
        await score("MariaDB 10.11, mariadb-backup", testService(mariadb.path), FAULTS),
        await score("MySQL 9.7, clone under writes", mysqlService(mysql.path, "shop", { changes: true }), MYSQL_FAULTS),
      ];
  const generated = await matrix();
  for (const line of generated.lines) console.log(line);
  process.exitCode = results.every(Boolean) && generated.ok ? 0 : 1;
} finally {
  mariadb.remove();
  mysql.remove();
  await disposeAll();
}
