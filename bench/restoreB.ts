// The restore of data set (b) (10,000 tablespaces) against the same steps by hand: `mariadb-backup --prepare` and
// `mariadbd` with the restored server's own options until it accepts connections, on copies of one backup, alternately.
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { runBackupJob } from "../src/backup/job.ts";
import { parseServices } from "../src/config/load.ts";
import { createWorkDir, serverFiles, type StartedServer } from "../src/hosts/sandbox.ts";
import { registerDisposer } from "../src/base/disposers.ts";
import { runCommand } from "../src/base/command.ts";
import { restoreService } from "../src/restore/pipeline.ts";
import { serverServiceYaml } from "../test/support/services.ts";
import type { Dataset } from "./datasets.ts";
import type { LineInput } from "./results.ts";

/** The cheapest check set the coverage rule accepts: the restore is timed, not the checks. */
const CHECKS = "[tables, triggers, routines, events, database, definition, accounts, server]";

interface Round {
  prepare: number;
  start: number;
  /** The other steps, for the record (the tool's locate, provision, transfer; the copy by hand). */
  other: Record<string, number>;
}

const fmt = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`);
const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`;
const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

/** Until the server on `socket` sends its greeting to a new connection (what "accepts connections" means to a client). */
async function greeted(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = connect(socket);
    const done = (ok: boolean) => {
      c.destroy();
      resolve(ok);
    };
    c.once("data", () => done(true));
    c.once("error", () => done(false));
    c.once("close", () => done(false));
  });
}

/**
 * `mariadbd` started by hand with `args` (the restored server's own command line, its paths moved into `dir`), timed
 * from spawn until a connection is greeted, polled every 2 ms; then stopped by its pid.
 */
export async function startByHand(args: readonly string[], dir: string): Promise<number> {
  const files = serverFiles(dir);
  mkdirSync(files.tmpdir, { recursive: true });
  const started = performance.now();
  const child = spawn("mariadbd", args, { stdio: "ignore" });
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  let gone = false;
  void exited.then(() => (gone = true));
  const stop = registerDisposer(`mariadbd pid ${child.pid} (by hand) in ${dir}`, async () => {
    if (!gone) child.kill("SIGTERM");
    await exited;
  });
  try {
    while (!(await greeted(files.socket))) {
      if (gone) throw new Error(`mariadbd by hand exited during start: ${readFileSync(files.errorLog, "utf8").split("\n").slice(-10).join("\n")}`);
      if (performance.now() - started > 600_000) throw new Error("mariadbd by hand did not accept connections within 10 minutes");
      await new Promise((r) => setTimeout(r, 2));
    }
    return performance.now() - started;
  } finally {
    await stop();
  }
}

/** The restored server's command line, read from /proc: the options the by-hand start uses too. */
function commandLine(server: StartedServer): string[] {
  return readFileSync(`/proc/${server.pid}/cmdline`, "utf8").split("\0").filter(Boolean).slice(1);
}

/**
 * The redo checkpointed before the backup, as a backup replica's long is: a tablespace created after the checkpoint is
 * not copied but made again by prepare from the redo (half of (b)'s were, and prepare took 25 s instead of 0.3 s).
 * Within 4 MiB, not to the byte (bench/run.ts's checkpoint): after verification a trickle of background writes goes on.
 * Returns the checkpoint age it reached.
 */
async function checkpointRedo(server: StartedServer): Promise<number> {
  const db = await server.connect({ poolSize: 1 });
  try {
    await db.query("SET GLOBAL innodb_io_capacity_max = 40000");
    await db.query("SET GLOBAL innodb_io_capacity = 20000, GLOBAL innodb_max_dirty_pages_pct_lwm = 0, GLOBAL innodb_max_dirty_pages_pct = 0");
    const deadline = Date.now() + 300_000;
    for (;;) {
      const [row] = await db.query<{ Value: string }>("SHOW GLOBAL STATUS LIKE 'Innodb_checkpoint_age'");
      const age = Number(row?.Value);
      if (age < 4 * 2 ** 20 || Date.now() > deadline) return age;
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    await db.close();
  }
}

/**
 * A directory backup of (b) on `server` (its redo checkpointed first), then `runs`
 * alternating rounds: restoretest's restore (its prepare and start steps) and the same by hand on a copy of the same
 * stored backup (`mariadb-backup --prepare`, then `mariadbd` with the restored server's options less the tool's
 * --init-file, until it accepts connections).
 */
export async function restoreOfB(server: StartedServer, ds: Dataset, runs: number, target: number, log: (s: string) => void, record: (line: LineInput) => void): Promise<void> {
  const work = createWorkDir("bench-restore-b");
  try {
    const store = join(work.path, "store");
    mkdirSync(store);
    const yaml = serverServiceYaml("bench_b", server, store, ["consistency: quiescent"], ds.database);
    const [service] = parseServices(`${yaml}    verify:\n      checks: ${CHECKS}\n`, join(store, "services.yaml"), { SOURCE_PASSWORD: server.password ?? "" });
    if (!service) throw new Error("no bench_b service");
    const age = await checkpointRedo(server);
    const backupStarted = performance.now();
    const { dir, meta } = await runBackupJob(service);
    const backupMs = performance.now() - backupStarted;
    const data = join(dir, "data");
    const files = Number((await runCommand("bash", ["-c", `find ${data} -name '*.ibd' | wc -l`])).stdout.trim());

    // One restore first, untimed: the page cache warm for every round, and the restored server's command line.
    let args: string[] = [];
    let toolDir = "";
    const first = await restoreService(service);
    try {
      args = commandLine(first.server);
      toolDir = first.target.workDir;
    } finally {
      await first.destroy();
    }
    const tool: Round[] = [];
    const hand: Round[] = [];
    const toolRound = async () => {
      const restored = await restoreService(service);
      try {
        const ms = (step: string) => restored.steps.filter((s) => s.step === step).reduce((n, s) => n + s.durationMs, 0);
        tool.push({ prepare: ms("prepare"), start: ms("start"), other: { locate: ms("locate"), provision: ms("provision"), transfer: ms("transfer") } });
      } finally {
        await restored.destroy();
      }
    };
    const handRound = async () => {
      const into = createWorkDir("bench-restore-b-by-hand");
      try {
        const datadir = join(into.path, "datadir");
        const copyStarted = performance.now();
        await runCommand("cp", ["-a", "--reflink=auto", data, datadir]);
        const copy = performance.now() - copyStarted;
        const prepareStarted = performance.now();
        await runCommand("mariadb-backup", ["--prepare", `--target-dir=${datadir}`], { timeoutMs: 3_600_000 });
        const prepare = performance.now() - prepareStarted;
        const own = args.filter((a) => !a.startsWith("--init-file=")).map((a) => a.replaceAll(toolDir, into.path));
        const start = await startByHand(own, into.path);
        hand.push({ prepare, start, other: { copy } });
      } finally {
        await into.remove();
      }
    };
    for (let i = 0; i < runs; i++) {
      if (i % 2) {
        await handRound();
        await toolRound();
      } else {
        await toolRound();
        await handRound();
      }
    }
    const sum = (r: Round) => r.prepare + r.start;
    const t = { prepare: median(tool.map((r) => r.prepare)), start: median(tool.map((r) => r.start)), both: median(tool.map(sum)) };
    const h = { prepare: median(hand.map((r) => r.prepare)), start: median(hand.map((r) => r.start)), both: median(hand.map(sum)) };
    const rounds = (rs: readonly Round[]) => rs.map((r) => `${fmt(r.prepare)} + ${fmt(r.start)}`).join(", ");
    log(`\nrestore of (b): ${files} .ibd files, ${(meta.bytes / 1e6).toFixed(0)} MB directory backup (taken in ${fmt(backupMs)}, checkpoint age ${(age / 2 ** 20).toFixed(1)} MiB before it); median of ${runs} alternating rounds`);
    log(`  by hand: mariadb-backup --prepare, mariadbd until it accepts connections   prepare ${fmt(h.prepare)}, start ${fmt(h.start)}  (rounds: ${rounds(hand)}; copy ${fmt(median(hand.map((r) => r.other.copy ?? 0)))})`);
    log(`  restoretest: its prepare and start steps                                   prepare ${fmt(t.prepare)}, start ${fmt(t.start)}  (rounds: ${rounds(tool)}; ${["locate", "provision", "transfer"].map((s) => `${s} ${fmt(median(tool.map((r) => r.other[s] ?? 0)))}`).join(", ")})`);
    const transfer = median(tool.map((r) => r.other.transfer ?? 0));
    const copy = median(hand.map((r) => r.other.copy ?? 0));
    log(`    prepare ${ratio(t.prepare, h.prepare)}, start ${ratio(t.start, h.start)}; transfer / cp -a ${ratio(transfer, copy)} (informational)`);
    record({
      id: "b.restore",
      set: "restore-b",
      measured: "restore of (b), prepare + start",
      tool: { ok: true, ms: tool.map(sum) },
      reference: { label: "by hand", outcome: { ok: true, ms: hand.map(sum) } },
      ratioName: "restoretest / by hand, prepare + start",
      target: { op: "≤", value: target },
      paired: true,
      readme: true,
    });
  } finally {
    await work.remove();
  }
}
