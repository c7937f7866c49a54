// Ctrl-C as a terminal sends it: run `vitest run --project <service>` in its own process group, and signal the whole
// group when a line matching `when` appears in its output.
import { join, resolve } from "node:path";
import { execa } from "execa";

const ROOT = resolve(import.meta.dirname, "../..");

export async function interruptSuite(options: {
  project: string;
  config: string;
  reports: string;
  when: RegExp;
  signal: "SIGINT" | "SIGTERM";
}): Promise<{ signalled: boolean; output: string }> {
  const child = execa("node", [join(ROOT, "node_modules/vitest/vitest.mjs"), "run", "--project", options.project], {
    cwd: ROOT,
    detached: true,
    reject: false,
    all: true,
    env: { RESTORETEST_CONFIG: options.config, RESTORETEST_REPORTS: options.reports, CI: "true" },
  });
  let signalled = false;
  child.all?.on("data", (chunk: Buffer) => {
    if (!signalled && options.when.test(chunk.toString()) && child.pid) {
      signalled = true;
      process.kill(-child.pid, options.signal);
    }
  });
  const result = await child;
  return { signalled, output: String(result.all) };
}
