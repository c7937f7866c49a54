// The `command` host provider: user hooks create, configure and destroy a host (cloud API, chef-solo, ansible…); the restore then goes over ssh.
import path from "node:path";
import os from "node:os";
import { execa } from "execa";
import { z } from "zod";
import { CHECK_SSH_HOST_ALWAYS, checkSshHost, sshHostFields, type CommandHooks } from "../config/schema.ts";
import { registerDisposer } from "../base/disposers.ts";
import { maskSecrets } from "../base/secrets.ts";
import { CommandError, tail } from "../base/command.ts";
import { SshProvider, type SshHostConfig, type SshProviderOptions } from "./ssh.ts";
import type { HookRun, HostProvider, Target } from "./types.ts";

/** What `create` prints: the `ssh` block's keys, plus any of the hook's own (an instance id…) that destroy will need. */
export const HostDescriptionSchema = z.looseObject(sshHostFields).superRefine(checkSshHost, CHECK_SSH_HOST_ALWAYS);
export type HostDescription = z.infer<typeof HostDescriptionSchema>;

type HookName = HookRun["hook"];

/** A hook that failed or timed out: a CommandError naming the hook, with the whole run kept for the report. */
export class HookError extends CommandError {
  override name = "HookError";
  constructor(
    readonly run: HookRun,
    signal: string | undefined,
  ) {
    super(`${run.hook} hook: ${run.command}`, run.exitCode, signal, run.timedOut, tail(run.stderr), run.durationMs);
  }
}

/** `create` ran but did not print a usable host description. */
export class HostDescriptionError extends Error {
  override name = "HostDescriptionError";
  constructor(
    message: string,
    /** The JSON object it did print, if any: destroy still gets it. */
    readonly json?: string,
  ) {
    super(maskSecrets(message));
  }
}

const OUTPUT_KEEP = 64 * 1024;
const EXAMPLE =
  '{"host": "10.0.0.5", "port": 22, "user": "restore", "identityFile": "/path/to/key", "hostKeyFingerprint": "SHA256:…", "workDir": "/tmp"}';

export class CommandProvider implements HostProvider {
  readonly name = "command";
  /** Every hook run by this provider, oldest first, with output: for the report, also when create fails. */
  readonly runs: HookRun[] = [];
  /** Process groups of hooks running now. */
  private readonly running = new Set<number>();

  constructor(
    private readonly hooks: CommandHooks,
    private readonly options: SshProviderOptions = {},
  ) {}

  async create(service: string): Promise<Target> {
    const cwd = this.hooks.cwd ?? process.cwd();
    // What destroy is told: the JSON create printed, as printed (it may carry keys only the hooks understand).
    const state: { json: string; host?: HostDescription } = { json: "{}" };
    const runDestroyHook = registerDisposer(`destroy hook of ${service}: ${this.hooks.destroy}`, async () => {
      // On Ctrl-C a create or configure hook may still be running (in its own process group): stop it first.
      for (const pid of this.running) signalGroup(pid, "SIGTERM");
      await this.runHook("destroy", service, state);
    });
    let target: Target;
    try {
      const created = await this.runHook("create", service, state);
      const described = parseHostDescription(created.stdout, `create hook: ${maskSecrets(this.hooks.create)}`, cwd);
      if (described.json !== undefined) state.json = described.json;
      state.host = described.host;
      if (this.hooks.configure) await this.runHook("configure", service, state);
      target = await new SshProvider(sshConfig(described.host), this.options).create(service);
    } catch (error) {
      if (error instanceof HostDescriptionError && error.json !== undefined) state.json = error.json;
      try {
        await runDestroyHook();
      } catch (destroyError) {
        throw new Error(
          `${(error as Error).message}\nand then the destroy hook failed too, so the host may still exist:\n${(destroyError as Error).message}`,
          { cause: error },
        );
      }
      throw error;
    }
    const ssh = target;
    let destroyed: Promise<void> | undefined;
    return {
      description: `${ssh.description} (host made by the create hook)`,
      workDir: ssh.workDir,
      stagingDir: ssh.stagingDir,
      datadir: ssh.datadir,
      hookRuns: this.runs,
      exec: (file, args, options) => ssh.exec(file, args, options),
      putDirectory: (localPath, remotePath, options) => ssh.putDirectory(localPath, remotePath, options),
      startServer: (flavor, options) => ssh.startServer(flavor, options),
      destroy: () =>
        (destroyed ??= (async () => {
          // The hook runs whatever happened on the host: it is what removes the host itself.
          let targetError: unknown;
          try {
            await ssh.destroy();
          } catch (error) {
            targetError = error;
          }
          await runDestroyHook();
          if (targetError) throw targetError;
        })()),
    };
  }

  /** Run one hook in its own process group, so a timeout stops everything it started; throws HookError on failure. */
  private async runHook(hook: HookName, service: string, state: { json: string; host?: HostDescription }): Promise<HookRun> {
    const command = hook === "create" ? this.hooks.create : hook === "configure" ? this.hooks.configure : this.hooks.destroy;
    if (command === undefined) throw new Error(`no ${hook} hook`);
    const started = performance.now();
    const child = execa("sh", ["-c", command], {
      cwd: this.hooks.cwd,
      input: hook === "create" ? "" : `${state.json}\n`,
      env: hookEnvironment(hook, service, state.host),
      detached: true,
      reject: false,
      stripFinalNewline: false,
    });
    let timedOut = false;
    const pid = child.pid;
    const killGroup = (signal: NodeJS.Signals) => {
      if (pid !== undefined) signalGroup(pid, signal);
    };
    if (pid !== undefined) this.running.add(pid);
    let forceKill: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup("SIGTERM");
      forceKill = setTimeout(() => killGroup("SIGKILL"), 5000);
    }, this.hooks.timeout);
    const result = await child;
    clearTimeout(timer);
    clearTimeout(forceKill);
    if (pid !== undefined) this.running.delete(pid);
    const run: HookRun = {
      hook,
      command: maskSecrets(command),
      exitCode: result.exitCode,
      timedOut,
      durationMs: performance.now() - started,
      stdout: maskSecrets(String(result.stdout ?? "").slice(-OUTPUT_KEEP)),
      stderr: maskSecrets(String(result.stderr ?? "").slice(-OUTPUT_KEEP)),
    };
    this.runs.push(run);
    if (result.failed || timedOut) {
      // A hook that could not even start (missing sh, bad cwd) says so in place of stderr.
      if (!run.stderr && result.exitCode === undefined && !timedOut) run.stderr = maskSecrets(String(result.shortMessage ?? ""));
      throw new HookError(run, result.signal);
    }
    return run;
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is already gone.
  }
}

/** The hooks' environment: who is asking, and (after create) the host, so shell hooks need not parse JSON. */
function hookEnvironment(hook: HookName, service: string, host: HostDescription | undefined): Record<string, string> {
  const env: Record<string, string> = { RESTORETEST_HOOK: hook, RESTORETEST_SERVICE: service };
  if (!host) return env;
  const fields: [string, string | number | boolean | undefined][] = [
    ["RESTORETEST_HOST", host.host],
    ["RESTORETEST_PORT", host.port],
    ["RESTORETEST_USER", host.user],
    ["RESTORETEST_IDENTITY_FILE", host.identityFile],
    ["RESTORETEST_KNOWN_HOSTS", host.knownHosts],
    ["RESTORETEST_HOST_KEY_FINGERPRINT", host.hostKeyFingerprint],
    ["RESTORETEST_WORK_DIR", host.workDir],
  ];
  for (const [name, value] of fields) if (value !== undefined) env[name] = String(value);
  return env;
}

/**
 * The host `create` printed. stdout must hold one JSON object; when a chatty tool printed lines before it, the last
 * line is tried as well. Relative paths are taken from the hooks' directory.
 */
export function parseHostDescription(stdout: string, source: string, cwd: string): { host: HostDescription; json?: string } {
  const text = stdout.trim();
  const candidates = [text, text.split("\n").filter((l) => l.trim()).at(-1) ?? ""];
  let parsed: unknown;
  let json: string | undefined;
  for (const candidate of candidates) {
    try {
      parsed = JSON.parse(candidate);
      json = candidate;
      break;
    } catch {
      // Try the next form.
    }
  }
  const excerpt = text.length > 200 ? `${text.slice(0, 200)}…` : text;
  if (json === undefined || typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new HostDescriptionError(
      `${source} must print one JSON object on stdout (logs go to stderr), like ${EXAMPLE}\n` + (text ? `it printed: ${excerpt}` : "it printed nothing"),
    );
  }
  const result = HostDescriptionSchema.safeParse(parsed);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `  ${issue.path.join(".") || "(top level)"}: ${describeIssue(issue, parsed)}`);
    throw new HostDescriptionError(`${source} printed a host description that is not usable:\n${problems.join("\n")}\nexpected something like ${EXAMPLE}`, json);
  }
  const host = result.data;
  const local = (file: string | undefined) =>
    file === undefined ? undefined : file === "~" || file.startsWith("~/") ? path.join(os.homedir(), file.slice(1)) : path.resolve(cwd, file);
  return { host: { ...host, identityFile: local(host.identityFile), knownHosts: local(host.knownHosts) }, json };
}

function describeIssue(issue: z.core.$ZodIssue, parsed: object): string {
  const parent = issue.path.slice(0, -1).reduce<unknown>((at, key) => (at as Record<PropertyKey, unknown>)?.[key], parsed);
  const key = issue.path.at(-1);
  const missing = key !== undefined && typeof parent === "object" && parent !== null && !Object.hasOwn(parent, key);
  if (issue.code === "invalid_type") {
    if (missing) return "required key missing";
    const value = issue.path.reduce<unknown>((at, k) => (at as Record<PropertyKey, unknown>)?.[k], parsed);
    return `expected ${issue.expected}, got ${JSON.stringify(value)?.slice(0, 60)}`;
  }
  return issue.message;
}

function sshConfig(host: HostDescription): SshHostConfig {
  return {
    host: host.host,
    port: host.port,
    user: host.user,
    identityFile: host.identityFile,
    agent: host.agent,
    knownHosts: host.knownHosts,
    hostKeyFingerprint: host.hostKeyFingerprint,
    workDir: host.workDir,
  };
}
