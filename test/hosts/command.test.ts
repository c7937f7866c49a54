// The command provider with the shipped example hooks (a real sshd "host" per restore): restore and verify, and destroy after every failure.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { runBackupJob } from "../../src/backup/job.ts";
import { DEFAULT_CHECK_OPTIONS } from "../../src/checks/types.ts";
import type { CommandHooks, Service } from "../../src/config/schema.ts";
import { CommandProvider, HookError, HostDescriptionError, parseHostDescription } from "../../src/hosts/command.ts";
import type { HookRun } from "../../src/hosts/types.ts";
import { pendingDisposers } from "../../src/base/disposers.ts";
import { RestoreStepError, restoreService } from "../../src/restore/pipeline.ts";
import { allFindings, captureRestored } from "../../src/verify/verify.ts";
import { sandboxServers, testService, testStore } from "../support/services.ts";
import { processesMentioning } from "../support/sshd.ts";
import { rejection } from "../support/rejection.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const HOOKS = "examples/hooks";

const store = testStore();
const scratch = mkdtempSync(join(tmpdir(), "restoretest-hooks-"));

function hooks(overrides: Partial<CommandHooks> = {}): CommandHooks {
  return {
    create: `${HOOKS}/create-host.sh`,
    configure: `${HOOKS}/configure-host.sh`,
    destroy: `${HOOKS}/destroy-host.sh`,
    timeout: 60_000,
    cwd: ROOT,
    ...overrides,
  };
}

function commandService(command: CommandHooks): Service {
  const base = testService(store.path);
  return { ...base, restore: { ...base.restore, provider: "command", command } };
}

/** The example host create made: its sshd pid and directory, from the JSON it printed. */
function exampleHost(runs: readonly HookRun[]): { pid: number; dir: string } {
  const created = runs.find((r) => r.hook === "create");
  if (!created) throw new Error("create did not run");
  return JSON.parse(created.stdout) as { pid: number; dir: string };
}

function exampleHostsLeft(): string[] {
  return readdirSync(tmpdir()).filter((d) => d.startsWith("restoretest-example-host-"));
}


const hostsBefore = exampleHostsLeft();

beforeAll(async () => {
  await runBackupJob(testService(store.path));
}, 120_000);

afterAll(() => {
  store.remove();
  rmSync(scratch, { recursive: true, force: true });
});

afterEach(async () => {
  expect(pendingDisposers()).toEqual([]);
  expect(exampleHostsLeft()).toEqual(hostsBefore);
  expect(processesMentioning("restoretest-example-host-")).toEqual([]);
  expect((await sandboxServers()).filter((line) => line.includes("restoretest-example-host-"))).toEqual([]);
});

describe("command provider", () => {
  it("restores through a host the example hooks create and configure, verifies every table, and destroys the host", async () => {
    const restored = await restoreService(commandService(hooks()));
    const runs = restored.target.hookRuns ?? [];
    const host = exampleHost(runs);
    try {
      expect(runs.map((r) => [r.hook, r.exitCode])).toEqual([
        ["create", 0],
        ["configure", 0],
      ]);
      expect(runs[1]?.stderr).toMatch(/^configure-host: .* has mariadbd +Ver /);
      expect(restored.target.workDir.startsWith(`${host.dir}/restores/restoretest-restore-shop-`)).toBe(true);
      const verification = await captureRestored(restored.db, restored.manifest, restored.manifest.checks, DEFAULT_CHECK_OPTIONS, 2, restored.serverContext);
      const findings = allFindings(verification).map((f) => ({ at: f.key, finding: f.finding }));
      expect(findings.length).toBeGreaterThan(0);
      expect(findings.filter((f) => !f.finding.ok)).toEqual([]);
    } finally {
      await restored.destroy();
    }
    expect(runs.map((r) => r.hook)).toEqual(["create", "configure", "destroy"]);
    expect(runs[2]?.stderr).toContain(`destroy-host: stopped sshd pid ${host.pid} and removed ${host.dir}`);
    expect(existsSync(host.dir)).toBe(false);
  });

  it("runs destroy when configure fails, and reports the configure hook as the failed command of the provision step", async () => {
    const provider = new CommandProvider(hooks({ configure: 'echo "chef-solo: cookbook mariadb failed" >&2; exit 3' }));
    const error = await rejection(restoreService(commandService(hooks()), { provider }));
    expect(error).toBeInstanceOf(RestoreStepError);
    expect(error.message).toMatch(
      /^restore of shop failed at step "provision" after \d+\.\ds\ncommand: configure hook: echo "chef-solo: cookbook mariadb failed" >&2; exit 3\nexit code: 3\nstderr \(last lines\):\n {2}chef-solo: cookbook mariadb failed$/,
    );
    expect(error.cause).toBeInstanceOf(HookError);
    expect(provider.runs.map((r) => [r.hook, r.exitCode])).toEqual([
      ["create", 0],
      ["configure", 3],
      ["destroy", 0],
    ]);
    expect(existsSync(exampleHost(provider.runs).dir)).toBe(false);
  });

  it("says what is wrong with a host description create printed, and still gives it to destroy", async () => {
    const received = join(scratch, "destroy-stdin.json");
    const provider = new CommandProvider(
      hooks({
        create: `echo "booting..."; echo '{"host": "10.0.0.9", "port": "22", "instance": "i-0abc"}'`,
        configure: undefined,
        destroy: `cat > ${received}; echo "deleted $RESTORETEST_SERVICE" >&2`,
      }),
    );
    const error = await rejection(provider.create("shop"));
    expect(error).toBeInstanceOf(HostDescriptionError);
    expect(error.message).toBe(
      [
        `create hook: echo "booting..."; echo '{"host": "10.0.0.9", "port": "22", "instance": "i-0abc"}' printed a host description that is not usable:`,
        '  port: expected number, got "22"',
        "  user: required key missing",
        "  identityFile: required key missing: set identityFile (a private key file), or agent: true",
        '  knownHosts: required key missing: set knownHosts (a known_hosts file) or hostKeyFingerprint ("SHA256:…"); host keys are always checked',
        'expected something like {"host": "10.0.0.5", "port": 22, "user": "restore", "identityFile": "/path/to/key", "hostKeyFingerprint": "SHA256:…", "workDir": "/tmp"}',
      ].join("\n"),
    );
    expect(JSON.parse(readFileSync(received, "utf8"))).toEqual({ host: "10.0.0.9", port: "22", instance: "i-0abc" });
    expect(provider.runs.map((r) => r.hook)).toEqual(["create", "destroy"]);
    expect(provider.runs[1]?.stderr).toBe("deleted shop\n");
  });

  it("kills a hook that outlives its timeout together with what it started, then runs destroy", async () => {
    const provider = new CommandProvider(hooks({ create: "sleep 41.5 & sleep 42.5", configure: undefined, destroy: "echo cleaned >&2", timeout: 300 }));
    const started = performance.now();
    const error = await rejection(provider.create("shop"));
    expect(error).toBeInstanceOf(HookError);
    expect(error.message).toBe("command timed out after 0s: create hook: sleep 41.5 & sleep 42.5");
    expect(performance.now() - started).toBeLessThan(5000);
    expect(processesMentioning("sleep 41.5")).toEqual([]);
    expect(processesMentioning("sleep 42.5")).toEqual([]);
    expect(provider.runs.map((r) => [r.hook, r.timedOut])).toEqual([
      ["create", true],
      ["destroy", false],
    ]);
  });

  it("reads a host description from the last line when a tool printed logs before it, with paths relative to the hooks", () => {
    const { host } = parseHostDescription(
      'PLAY [all] ****\n{"host": "db1", "user": "restore", "identityFile": "keys/id", "hostKeyFingerprint": "SHA256:ksw1pQ3lPM8AqXmc7HTzaGvh1B1ITXmFIzSHiTo6INg"}\n',
      "create hook: x",
      "/etc/restoretest",
    );
    expect(host).toMatchObject({ host: "db1", port: 22, user: "restore", identityFile: "/etc/restoretest/keys/id", workDir: "/tmp" });
    expect(() => parseHostDescription("", "create hook: x", "/")).toThrow(/^create hook: x must print one JSON object on stdout .*\nit printed nothing$/);
  });
});
