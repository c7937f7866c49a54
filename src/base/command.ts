// Running external programs (mariabackup, cp, mariadb): one error type that says what ran, how it ended and why.
import { writeFileSync } from "node:fs";
import type { Readable } from "node:stream";
import { execa } from "execa";
import { maskSecrets } from "./secrets.ts";

/** A program and its arguments, run without a shell. */
export interface CommandSpec {
  file: string;
  args: string[];
}

export interface CommandResult {
  stdout: string;
  stderr: string;
  durationMs: number;
}

export interface CommandOptions {
  cwd?: string;
  timeoutMs?: number;
  input?: string;
  inputFile?: string;
  /** Streamed to the program's stdin (a stored backup being restored). */
  stdin?: Readable;
  env?: Record<string, string>;
  /** Called with each chunk of stderr, for progress of long copies. */
  onStderr?: (chunk: string) => void;
  /**
   * stdout written to this file (made readable by its owner only), never held in memory: a table's dump can be
   * gigabytes, past V8's string limit. The result's stdout is then empty.
   */
  outputFile?: string;
}

const TAIL_LINES = 20;

/** A command that failed: everything needed to act on it, secrets already masked. */
export class CommandError extends Error {
  override name = "CommandError";
  constructor(
    readonly command: string,
    readonly exitCode: number | undefined,
    readonly signal: string | undefined,
    readonly timedOut: boolean,
    readonly stderrTail: string,
    readonly durationMs: number,
  ) {
    const how = timedOut
      ? `timed out after ${Math.round(durationMs / 1000)}s`
      : signal
        ? `was killed by ${signal}`
        : `exited with code ${exitCode}`;
    super(maskSecrets(`command ${how}: ${command}${stderrTail ? `\nstderr (last lines):\n${indent(stderrTail)}` : ""}`));
  }
}

export function tail(text: string, lines = TAIL_LINES): string {
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

function indent(text: string): string {
  return text
    .split("\n")
    .map((l) => `  ${l}`)
    .join("\n");
}

/** One argument for a POSIX shell line (`bash -c`), quoted only when it needs to be. */
export function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** The command as a person would type it, secrets masked, arguments with spaces quoted. */
export function describeCommand(file: string, args: readonly string[]): string {
  return maskSecrets([file, ...args].map(shellQuote).join(" "));
}

/** Run a program to completion; resolves with its output or throws CommandError. */
export async function runCommand(file: string, args: readonly string[], options: CommandOptions = {}): Promise<CommandResult> {
  const started = performance.now();
  if (options.outputFile) writeFileSync(options.outputFile, "", { mode: 0o600 });
  const child = execa(file, args, {
    ...(options.outputFile ? { stdout: { file: options.outputFile } } : {}),
    cwd: options.cwd,
    timeout: options.timeoutMs,
    input: options.stdin ?? options.input,
    inputFile: options.inputFile,
    env: options.env,
    reject: false,
    stripFinalNewline: false,
    forceKillAfterDelay: 5000,
  });
  if (options.onStderr) child.stderr?.on("data", (chunk: Buffer) => options.onStderr?.(chunk.toString()));
  const result = await child;
  const durationMs = performance.now() - started;
  const stderr = String(result.stderr ?? "");
  if (result.failed) {
    const detail = stderr || (result.exitCode === undefined && !result.timedOut && !result.signal ? String(result.shortMessage ?? "") : "");
    throw new CommandError(describeCommand(file, args), result.exitCode, result.signal, Boolean(result.timedOut), maskSecrets(tail(detail)), durationMs);
  }
  return { stdout: String(result.stdout ?? ""), stderr, durationMs };
}
