// Prints the fault catalog's score: faults detected / faults injected, and false alarms on clean restores.
// Run: npm run faults   (about a minute: one backup, then one restore per fault)
import { runBackupJob } from "../src/backup/job.ts";
import { disposeAll } from "../src/lifecycle/disposers.ts";
import { caught, FAULTS, runFault } from "../test/faults/catalog.ts";
import { testService, testStore } from "../test/support/services.ts";

const CLEAN_RUNS = 3;
const store = testStore();
try {
  const service = testService(store.path);
  const { dir } = await runBackupJob(service);
  let falseAlarms = 0;
  for (let i = 1; i <= CLEAN_RUNS; i++) {
    const r = await runFault(service, dir, undefined);
    const alarms = r.restoreError ? 1 : r.red.size;
    falseAlarms += alarms;
    console.log(`clean run ${i}: ${alarms === 0 ? "green" : `FALSE ALARM ${r.restoreError ?? [...r.red.keys()].join(", ")}`}`);
  }
  let detected = 0;
  for (const fault of FAULTS) {
    const r = await runFault(service, dir, fault);
    const ok = caught(fault, r);
    if (ok) detected++;
    const what = r.restoreError ? `restore failed: ${r.restoreError.split("\n")[0]}` : [...r.red.keys()].join(", ") || "all green";
    console.log(`${ok ? "caught" : "MISSED"}  ${fault.name.padEnd(58)} ${what}`);
  }
  console.log(`\nfaults detected: ${detected}/${FAULTS.length}; false alarms on ${CLEAN_RUNS} clean restores: ${falseAlarms}`);
  process.exitCode = detected === FAULTS.length && falseAlarms === 0 ? 0 : 1;
} finally {
  store.remove();
  await disposeAll();
}
