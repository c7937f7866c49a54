// Debian's promtool (package prometheus) as the judge of what Prometheus would accept: metric files and rule files.
import { execa } from "execa";

export interface PromtoolResult {
  exitCode: number;
  /** Everything it printed: parse errors, lint findings, test failures. */
  output: string;
}

/** `promtool <args>`, with `input` on stdin. */
export async function promtool(args: string[], input?: string): Promise<PromtoolResult> {
  const r = await execa("promtool", args, { ...(input === undefined ? {} : { input }), reject: false, all: true });
  return { exitCode: r.exitCode ?? -1, output: String(r.all).trim() };
}

/** `promtool check metrics` on an exposition text: exit 0 and no output means Prometheus reads it and its lint finds nothing. */
export function promtoolCheckMetrics(text: string): Promise<PromtoolResult> {
  return promtool(["check", "metrics"], text);
}
