// The bench lines of `store › every stored file as written` (issue 28), on data set (a)'s directory backup:
//   store.transfer.{warm,cold}: the restore's transfer with every stored file hashed alongside, as the pipeline runs it,
//     against the same two primitives run side by side by hand (cp -a, and openssl dgst -sha256 over the same files two
//     at a time): what restoretest adds to them;
//   store.restore: the night's restore and verification (transfer, prepare, start, every check) with the store check,
//     until both are done, against the same without it: what the check costs the night.
// The transfer alone is printed beside them: on a warm page cache cp copies at memory speed (2.5 GB/s here) and
// SHA-256 runs at 1.2 GB/s a core, so no hash of every byte can fit in the copy's own time; the night pays for it
// only where prepare, start and verify do not hide it, which store.restore measures. `npm run bench -- --only store`.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { runCommand } from "../src/base/command.ts";
import { runBackupJob } from "../src/backup/job.ts";
import { listBackups, type StoredBackup } from "../src/store/layout.ts";
import { backupTool, type PhysicalBackupTool } from "../src/backup/tool.ts";
import { parseServices } from "../src/config/load.ts";
import type { Service } from "../src/config/schema.ts";
import type { StartedServer } from "../src/hosts/sandbox.ts";
import { LocalProvider } from "../src/hosts/local.ts";
import { restoreService } from "../src/restore/pipeline.ts";
import { allFindings, captureRestored } from "../src/verify/verify.ts";
import { checkOptions } from "../src/checks/options.ts";
import { transferLink } from "../src/restore/transfer.ts";
import { StoreCheck, type StoreCheckResult } from "../src/store/storeCheck.ts";
import { serverServiceYaml } from "../test/support/services.ts";
import { fmtMs, MIN_RUNS, spreadOf, formatSpread, type Outcome } from "./stats.ts";
import type { LineInput } from "./results.ts";

type Round = () => Promise<number>;

/** Rounds of each contender in turn (the order reversed every other round), so both see the same machine; a throw is FAIL. */
async function alternate(runs: number, a: Round, b: Round): Promise<[Outcome, Outcome]> {
  const ms: [number[], number[]] = [[], []];
  try {
    for (let i = 0; i < runs; i++) {
      for (const which of i % 2 ? [1, 0] : [0, 1]) ms[which as 0 | 1].push(await (which === 0 ? a() : b()));
    }
  } catch (error) {
    const failed: Outcome = { ok: false, message: (error as Error).message.split("\n")[0] ?? String(error) };
    return [failed, failed];
  }
  return [
    { ok: true, ms: ms[0] },
    { ok: true, ms: ms[1] },
  ];
}

/** A sound backup's store check must be green: a red one is a failed contender, never a time. */
function soundCheck(result: StoreCheckResult | undefined): void {
  if (!result) throw new Error("the store check never ran");
  if (result.problems.length > 0) throw new Error(`the store check of a sound backup is red: ${result.problems.join("; ")}`);
}

async function dropCaches(): Promise<void> {
  await runCommand("sync", []);
  writeFileSync("/proc/sys/vm/drop_caches", "3\n");
}

/** The transfer of the backup into a fresh local target, with the store check alongside when `checked`. */
function transferRound(link: StoredBackup, checked: boolean, cold: boolean): Round {
  const tool = backupTool(link.meta.tool, undefined, "mariadb") as PhysicalBackupTool;
  const provider = new LocalProvider();
  return async () => {
    const t = await provider.create("bench");
    // Cold: the store not in the page cache, as a nightly finds a backup written on another host or hours ago.
    if (cold) await dropCaches();
    try {
      const check = checked ? new StoreCheck() : undefined;
      const started = performance.now();
      const checking = check?.alongside([link], () => []);
      await transferLink(t, link, t.datadir, tool);
      await checking;
      const ms = performance.now() - started;
      if (check) soundCheck(await check.result());
      return ms;
    } finally {
      await t.destroy();
    }
  };
}

/** The same two primitives by hand, side by side: cp -a, and openssl dgst -sha256 over every file two at a time. */
function byHandRound(link: StoredBackup, cold: boolean): Round {
  const provider = new LocalProvider();
  return async () => {
    const t = await provider.create("bench");
    if (cold) await dropCaches();
    try {
      // The pipeline's copy (hosts/local.ts putDirectory) and the check's reads: every file of the backup's directory.
      const script = 'cp -a --reflink=auto "$1/." "$2" & find "$3" -type f -print0 | xargs -0 -n 8 -P 2 openssl dgst -sha256 >/dev/null; wait $!';
      const started = performance.now();
      await runCommand("bash", ["-c", `set -e; ${script}`, "bench", link.dataDir, t.datadir, link.dir]);
      return performance.now() - started;
    } finally {
      await t.destroy();
    }
  };
}

/**
 * A night's restore and verification (transfer, prepare, start, every check of every table), with the store check until
 * it too is done, or without it: the night's tests end when both have.
 */
function restoreRound(service: Service, checked: boolean, log: (s: string) => void): Round {
  return async () => {
    const check = checked ? new StoreCheck() : undefined;
    const started = performance.now();
    const restored = await restoreService(service, check ? { storeCheck: check } : {});
    try {
      const v = await captureRestored(restored.db, restored.manifest, service.verify.checks, checkOptions(service), service.verify.concurrency, restored.serverContext);
      const red = allFindings(v).filter((f) => !f.finding.ok);
      if (red.length > 0) throw new Error(`the verification of a sound restore is red: ${red.map((f) => f.key).join(", ")}`);
      const result = await check?.result();
      const ms = performance.now() - started;
      if (check) soundCheck(result);
      const steps = restored.steps.map((s) => `${s.step} ${fmtMs(s.durationMs)}`).join(", ");
      log(`      ${checked ? "with" : "without"} the check ${fmtMs(ms)}: ${steps}, verify ${fmtMs(v.durationMs)}${result ? `; check ${fmtMs(result.durationMs)} from the transfer's start` : ""}`);
      return ms;
    } finally {
      await restored.destroy();
    }
  };
}

export async function storeBench(server: StartedServer, store: string, runs: number, target: number, log: (s: string) => void, record: (line: LineInput) => void): Promise<void> {
  const yaml = serverServiceYaml("bench", server, store, ["consistency: quiescent"], "bench_a");
  const [service] = parseServices(yaml, join(store, "services.yaml"), { SOURCE_PASSWORD: server.password });
  if (!service) throw new Error("no bench service");
  await runBackupJob(service);
  const link = listBackups(store, "bench").complete.at(-1);
  if (!link) throw new Error("no backup of (a)");
  const mb = `${(link.meta.bytes / 1e6).toFixed(0)} MB`;
  log(`store › every stored file as written, (a) ${mb} directory backup, ${runs} rounds each (alternating)`);
  for (const cold of [false, true]) {
    const state = cold ? "cold (caches dropped before each round)" : "warm (the store in the page cache)";
    // Warm: the page cache holds the store first, so every round compares work, not which one read the disk first.
    if (!cold) await transferRound(link, false, false)();
    const [checked, byHand] = await alternate(runs, transferRound(link, true, cold), byHandRound(link, cold));
    // Printed for the record only (see the module's first comment): not a contender of either line.
    const alone: number[] = [];
    for (let i = 0; i < MIN_RUNS; i++) alone.push(await transferRound(link, false, cold)());
    log(`  ${state}: the transfer alone (cp -a, nothing hashed) ${formatSpread(spreadOf(alone))}`);
    record({
      id: `store.transfer.${cold ? "cold" : "warm"}`,
      set: "store",
      measured: `transfer of (a), ${mb}, every stored file hashed alongside, ${cold ? "cold" : "warm"}`,
      tool: checked,
      reference: { label: "cp -a beside openssl dgst -sha256 by hand", outcome: byHand },
      ratioName: "restoretest / by hand",
      target: { op: "≤", value: target },
      paired: true,
      readme: false,
    });
  }
  const [without, withCheck] = await alternate(runs, restoreRound(service, false, log), restoreRound(service, true, log));
  record({
    id: "store.restore",
    set: "store",
    measured: `restore and verification of (a), ${mb}, with the store check beside them until it is done`,
    tool: withCheck,
    reference: { label: "the same restore without the store check", outcome: without },
    ratioName: "with check / without",
    target: { op: "≤", value: target },
    paired: true,
    readme: true,
  });
}
