// vitest projects: one per service in services.yaml, plus the tool's own tests.
import type { TestProjectInlineConfiguration } from "vitest/config";
import type { Service } from "../config/schema.ts";

export const SUITE_FILE = "suites/restore.test.ts";
export const TOOL_PROJECT = "restoretest";

/**
 * A service's project: the generic suite, told which service it is through `provide`. `service` is absent for a
 * service whose entry could not be read: its project still runs, and its one test, `config`, says why.
 */
export function serviceProject(name: string, service?: Service): TestProjectInlineConfiguration {
  return {
    test: {
      name,
      include: [SUITE_FILE],
      provide: { service: name },
      // Generated tests compare captured values; the long work (restore) has its own timeout from services.yaml.
      testTimeout: service ? service.restore.timeout + service.verify.timeout : 120_000,
      hookTimeout: 120_000,
      sequence: { concurrent: false },
    },
  };
}

/** How many services restore at once (vitest's maxWorkers): each needs a server's memory and twice its backup on disk. */
export function maxConcurrentRestores(env: NodeJS.ProcessEnv = process.env): number {
  const text = env.RESTORETEST_MAX_RESTORES;
  if (text === undefined || text === "") return 1;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`RESTORETEST_MAX_RESTORES must be a whole number ≥ 1, got ${JSON.stringify(text)}`);
  return n;
}

export function toolProject(): TestProjectInlineConfiguration {
  return {
    test: {
      name: TOOL_PROJECT,
      include: ["test/**/*.test.ts"],
      // Files run side by side (scripts/test.sh sets how many workers): each worker has its own temp root
      // (test/support/workerRoot.ts), and every server and port a test starts is its own.
      setupFiles: ["test/support/workerRoot.ts"],
      // Within a file, tests marked concurrent (the MySQL fault catalog's restores) run three at a time on 2 cores.
      maxConcurrency: 3,
      testTimeout: 120_000,
      hookTimeout: 120_000,
    },
  };
}

declare module "vitest" {
  export interface ProvidedContext {
    service: string;
  }
}
