// A run killed as a Jenkins abort kills it (SIGKILL to every process of the build, the detached reapers included) at
// transfer, prepare and verify leaves its restore directory behind; the next run (or `restoretest sweep`) removes it.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runBackupJob } from "../../src/backup/job.ts";
import { parseServices } from "../../src/config/load.ts";
import { OWNER_FILE, processStat, readOwner } from "../../src/base/owner.ts";
import { parseJUnit } from "../support/junit.ts";
import { testServiceYaml, testStore } from "../support/services.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const store = testStore();
const config = () => join(store.path, "services.yaml");
/** restore.workDir: the runs' directories land here, where no other test's sweep looks. */
const work = () => join(store.path, "work");

/** Processes whose command line names `text` (the reapers' `sh -c … rm -rf '<dir>'`, servers), as `pid args`. */
function processesNaming(text: string): { pid: number; args: string }[] {
  const out = execFileSync("ps", ["-ww", "-eo", "pid=,args="], { encoding: "utf8" });
  return out
    .split("\n")
    .map((l) => /^\s*(\d+) (.*)$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null && m[2]?.includes(text) === true && Number(m[1]) !== process.pid)
    .map((m) => ({ pid: Number(m[1]), args: m[2] as string }))
    .filter((p) => {
      const stat = processStat(p.pid);
      return stat !== undefined && stat.state !== "Z";
    });
}

const runDirs = () => readdirSync(work()).filter((d) => d.startsWith("restoretest-"));

/**
 * `vitest run --project shop` in its own process group; when the progress line says `step` has started, SIGKILL the
 * whole group and every process naming the work directory (the reaper of a started server, the server).
 */
async function killedRun(step: string, reports: string): Promise<{ output: string; killedAt: string | undefined }> {
  const child = execa("node", [join(ROOT, "node_modules/vitest/vitest.mjs"), "run", "--project", "shop"], {
    cwd: ROOT,
    detached: true,
    reject: false,
    all: true,
    env: { RESTORETEST_CONFIG: config(), RESTORETEST_REPORTS: reports, CI: "true" },
  });
  let killedAt: string | undefined;
  const started = new RegExp(`\\[restoretest\\] shop › ${step}: started`);
  child.all?.on("data", (chunk: Buffer) => {
    if (killedAt === undefined && started.test(chunk.toString()) && child.pid) {
      // The group first, then what runs outside it: a reaper the run spawned between a look and the group's kill
      // would otherwise outlive the kill (seen at load average 7: a prepare's reaper started in that moment).
      process.kill(-child.pid, "SIGKILL");
      const detached = processesNaming(work());
      for (const p of detached) process.kill(p.pid, "SIGKILL");
      killedAt = `${step} (also killed: ${detached.map((p) => p.args.split(" ")[0]).join(", ") || "nothing outside the group"})`;
    }
  });
  const result = await child;
  return { output: String(result.all), killedAt };
}

async function greenRun(reports: string): Promise<{ exitCode: number; output: string; failed: string[]; tests: number }> {
  const run = await execa("node", [join(ROOT, "node_modules/vitest/vitest.mjs"), "run", "--project", "shop"], {
    cwd: ROOT,
    reject: false,
    all: true,
    env: { RESTORETEST_CONFIG: config(), RESTORETEST_REPORTS: reports, CI: "true" },
  });
  const cases = parseJUnit(readFileSync(join(reports, "junit.xml"), "utf8"));
  return { exitCode: run.exitCode ?? -1, output: String(run.all), failed: cases.filter((c) => c.failure).map((c) => c.name), tests: cases.length };
}

beforeAll(async () => {
  mkdirSync(work());
  writeFileSync(config(), testServiceYaml(store.path, `    restore:\n      workDir: ${work()}`));
  const [service] = parseServices(readFileSync(config(), "utf8"), config());
  if (!service) throw new Error("no service parsed");
  await runBackupJob(service);
}, 120_000);

afterAll(() => {
  for (const p of processesNaming(work())) process.kill(p.pid, "SIGKILL");
  store.remove();
});

describe("a run killed with its whole process tree", () => {
  // What each step leaves in the restore directory: proof the kill landed there, not before.
  const cases: [step: string, evidence: string, next: "run" | "sweep"][] = [
    ["transfer", "datadir", "run"],
    ["prepare", "datadir/xtrabackup_checkpoints", "sweep"],
    ["verify", "mysqld.pid", "run"],
  ];
  for (const [step, evidence, next] of cases) {
    it(`SIGKILL at ${step} leaves its restore directory; the next ${next === "run" ? "run" : "`restoretest sweep`"} removes it and is green`, async () => {
      const reports = join(store.path, `reports-${step}`);
      const { output, killedAt } = await killedRun(step, reports);
      expect(killedAt, output).toBeDefined();
      // Left behind: nothing that could remove it is running any more.
      const [left, ...more] = runDirs();
      expect(more, `${killedAt}\n${output}`).toEqual([]);
      const dir = join(work(), left as string);
      expect(existsSync(join(dir, evidence)), `${killedAt}: ${readdirSync(dir).join(", ")}`).toBe(true);
      expect(processesNaming(dir)).toEqual([]);
      const owner = readOwner(dir);
      if (!("owner" in owner)) throw new Error(`no ${OWNER_FILE} in ${dir}`);
      // Gone, or a zombie its new parent has not reaped yet.
      expect(processStat(owner.owner.pid)?.state ?? "gone").toMatch(/^(gone|Z)$/);

      if (next === "sweep") {
        const sweep = await execa(join(ROOT, "bin/restoretest"), ["sweep", "--config", config()], { cwd: ROOT, reject: false, all: true });
        expect(sweep.exitCode, String(sweep.all)).toBe(0);
        // Other dead runs of this machine (in the temp dir) may be swept too: ours is one line among them.
        const lines = String(sweep.stdout).split("\n");
        const ours = new RegExp(`^swept ${dir} \\(owner pid ${owner.owner.pid}: process ${owner.owner.pid} (no longer exists|has exited)\\); freed \\d+\\.\\d MB$`);
        expect(lines.filter((l) => ours.test(l)), String(sweep.stdout)).toHaveLength(1);
        expect(lines.at(-1)).toMatch(/^sweep: \d+ stale run director(y|ies) removed, \d+\.\d MB freed(; \d+ director(y of a live run|ies of live runs) kept)?$/);
        expect(runDirs()).toEqual([]);
      }
      const second = await greenRun(join(store.path, `reports-${step}-next`));
      expect(second.exitCode, second.output).toBe(0);
      expect(second.failed).toEqual([]);
      expect(second.tests).toBeGreaterThan(30);
      if (next === "run") expect(second.output).toContain(`restoretest: swept ${dir} (owner pid ${owner.owner.pid}: `);
      // Nothing of either run is left: no directory, no server, no reaper.
      expect(runDirs()).toEqual([]);
      expect(processesNaming(work())).toEqual([]);
    });
  }
});
