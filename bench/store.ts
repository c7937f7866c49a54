// The bench line of `store › every stored file as written` (issue 28): the restore's transfer of data set (a) as the
// nightly runs it (the copy, and every stored file hashed alongside it against checksums.json) against the transfer
// alone, alternately, on a local target. `npm run bench -- --only store`.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { runCommand } from "../src/base/command.ts";
import { runBackupJob } from "../src/backup/job.ts";
import { listBackups } from "../src/store/layout.ts";
import { backupTool, type PhysicalBackupTool } from "../src/backup/tool.ts";
import { parseServices } from "../src/config/load.ts";
import type { StartedServer } from "../src/hosts/sandbox.ts";
import { LocalProvider } from "../src/hosts/local.ts";
import { transferLink } from "../src/restore/transfer.ts";
import { StoreCheck } from "../src/store/storeCheck.ts";
import { serverServiceYaml } from "../test/support/services.ts";

const fmt = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`);

/**
 * `runs` (odd, ≥ 3) rounds of each contender, in turn, the order reversed every other round: the transfer into a fresh
 * local target's datadir (cp -a --reflink=auto, as the pipeline copies), and the same transfer with the store check
 * alongside, awaited as the pipeline awaits it. Prints both medians with min–max, the ratio and the verdict.
 */
export async function storeBench(server: StartedServer, store: string, runs: number, target: number, log: (s: string) => void): Promise<boolean> {
  const yaml = serverServiceYaml("bench", server, store, ["consistency: quiescent"], "bench_a");
  const [service] = parseServices(yaml, join(store, "services.yaml"), { SOURCE_PASSWORD: server.password });
  if (!service) throw new Error("no bench service");
  await runBackupJob(service);
  const link = listBackups(store, "bench").complete.at(-1);
  if (!link) throw new Error("no backup of (a)");
  const tool = backupTool(link.meta.tool, undefined, "mariadb") as PhysicalBackupTool;
  const provider = new LocalProvider();
  const once = async (checked: boolean, cold = false): Promise<number> => {
    const t = await provider.create("bench");
    // Cold: the store not in the page cache, as a nightly finds a backup written on another host or hours ago.
    if (cold) await dropCaches();
    try {
      const check = checked ? new StoreCheck() : undefined;
      const started = performance.now();
      const checking = check?.alongside([link], () => []);
      await transferLink(t, link, t.datadir, tool);
      const result = await checking;
      const ms = performance.now() - started;
      if (result && result.problems.length > 0) throw new Error(`the store check of a sound backup is red: ${result.problems.join("; ")}`);
      return ms;
    } finally {
      await t.destroy();
    }
  };
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  const span = (xs: number[]) => `${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))}`;
  log(`store › every stored file as written, (a) ${(link.meta.bytes / 1e6).toFixed(0)} MB directory backup, ${runs} rounds each (alternating)`);
  let ok = true;
  for (const cold of [false, true]) {
    // Warm: the page cache holds the store first, so every round compares work, not which one read the disk first.
    if (!cold) await once(false);
    const alone: number[] = [];
    const withCheck: number[] = [];
    for (let i = 0; i < runs; i++) {
      for (const checked of i % 2 ? [true, false] : [false, true]) (checked ? withCheck : alone).push(await once(checked, cold));
    }
    const a = median(alone);
    const c = median(withCheck);
    ok &&= c <= a * target;
    log(`  ${cold ? "cold (caches dropped before each round)" : "warm (the store in the page cache)"}`);
    log(`    transfer alone (cp -a --reflink=auto)                ${fmt(a)}   (min–max ${span(alone)})`);
    log(`    transfer + every stored file hashed alongside         ${fmt(c)}   (min–max ${span(withCheck)})`);
    log(`    with the store check / alone   ${(c / a).toFixed(2)}×   (target ≤ ${target}×: ${c <= a * target ? "within target" : "OUTSIDE TARGET"}; per round: ${withCheck.map((x, i) => `${(x / (alone[i] as number)).toFixed(2)}×`).join(", ")})`);
  }
  return ok;
}

async function dropCaches(): Promise<void> {
  await runCommand("sync", []);
  writeFileSync("/proc/sys/vm/drop_caches", "3\n");
}
