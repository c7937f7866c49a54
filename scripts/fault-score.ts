// Prints the fault catalogs' scores: faults detected / faults injected, and false alarms on clean restores, for the
// MariaDB 10.11 service (the host's, mariadb-backup), the same catalog on MariaDB 11.8 LTS (its own mariadb-backup,
// written to during the backup) and the MySQL 9.7 one (clone, written to during the backup); then the generated-schema
// matrix's, per server: schemas, objects and kinds, false reds, faults caught (test/matrix, docs/matrix.md).
// Run: npm run faults   (about an hour on 2 cores: per catalog one backup, then one restore per fault; per matrix seed
// one schema through every stage; MySQL 9.7 and MariaDB 11.8 need scripts/install-mysql.sh and install-mariadb.sh,
// which npm test runs)
//   npm run faults -- mariadb118      one or some catalogs only (names: mariadb, mariadb118, mysql), no matrix
//   npm run faults -- --matrix        the matrix only; RESTORETEST_MATRIX_SEED=1,2,3 picks its seeds (default: 3 fixed
//                                     and 1 random per server), RESTORETEST_MATRIX_SERVER=mysql-9.7 one server
//   npm run faults -- --write-docs    every catalog and the matrix, and the score lines written into docs/checks.md
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runBackupJob } from "../src/backup/job.ts";
import type { Service } from "../src/config/schema.ts";
import { disposeAll } from "../src/base/disposers.ts";
import { missed, runFault, type Fault } from "../test/faults/catalog.ts";
import { CATALOGS, catalogLine, SCORES_BEGIN, SCORES_END } from "../test/faults/catalogs.ts";
import { testStore, type TestStore } from "../test/support/services.ts";
import { runSchema, type SchemaRun } from "../test/matrix/run.ts";
import { MATRIX_SERVERS } from "../test/matrix/servers.ts";
import { matrixSeeds } from "../test/matrix/seeds.ts";

const CLEAN_RUNS = 3;

/** One catalog: a backup, clean restores, then every fault; its score line. */
async function score(name: string, service: Service, faults: Fault[]): Promise<{ line: string; ok: boolean }> {
  console.log(`== ${CATALOGS[name]?.label ?? name}`);
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
  const line = catalogLine(name, detected, faults.length, falseAlarms, CLEAN_RUNS);
  console.log(`${line}\n`);
  return { line, ok: detected === faults.length && falseAlarms === 0 };
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

/** The score lines into docs/checks.md, between its markers: the docs say what this run printed, not what was typed. */
function writeDocs(lines: string[]): void {
  const path = join(import.meta.dirname, "..", "docs", "checks.md");
  const text = readFileSync(path, "utf8");
  const begin = text.indexOf(SCORES_BEGIN);
  const end = text.indexOf(SCORES_END);
  if (begin < 0 || end < begin) throw new Error(`${path} has no block between "${SCORES_BEGIN}" and "${SCORES_END}"`);
  const block = `${SCORES_BEGIN}\n\`\`\`\n${lines.join("\n")}\n\`\`\`\n`;
  writeFileSync(path, text.slice(0, begin) + block + text.slice(end));
  console.log(`scores written into ${path}`);
}

const args = process.argv.slice(2);
const asked = args.filter((a) => !a.startsWith("--"));
const unknown = asked.filter((name) => !(name in CATALOGS));
if (unknown.length > 0) throw new Error(`unknown catalog(s) ${unknown.join(", ")} (known: ${Object.keys(CATALOGS).join(", ")})`);
const matrixOnly = args.includes("--matrix");
const stores: TestStore[] = [];
try {
  const results: { line: string; ok: boolean }[] = [];
  for (const name of matrixOnly ? [] : asked.length > 0 ? asked : Object.keys(CATALOGS)) {
    const catalog = CATALOGS[name] as (typeof CATALOGS)[string];
    const store = testStore();
    stores.push(store);
    results.push(await score(name, catalog.service(store.path), catalog.faults));
  }
  // The matrix runs with every catalog (no names given) or alone (--matrix).
  const generated = asked.length === 0 ? await matrix() : { lines: [], ok: true };
  const lines = [...results.map((r) => r.line), ...generated.lines];
  console.log("== scores");
  for (const line of lines) console.log(line);
  if (args.includes("--write-docs")) writeDocs(lines);
  process.exitCode = results.every((r) => r.ok) && generated.ok ? 0 : 1;
} finally {
  for (const store of stores) store.remove();
  await disposeAll();
}
