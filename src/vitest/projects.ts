// vitest projects: one per service in services.yaml, plus the tool's own tests.
import type { TestProjectInlineConfiguration } from "vitest/config";
import type { Service } from "../config/schema.ts";

export const SUITE_FILE = "suites/restore.test.ts";
export const TOOL_PROJECT = "restoretest";

/** A service's project: the generic suite, told which service it is through `provide`. */
export function serviceProject(service: Service): TestProjectInlineConfiguration {
  return {
    test: {
      name: service.name,
      include: [SUITE_FILE],
      provide: { service: service.name },
      // Generated tests compare captured values; the long work (restore) has its own timeout from services.yaml.
      testTimeout: service.restore.timeout + service.verify.timeout,
      hookTimeout: 120_000,
      sequence: { concurrent: false },
    },
  };
}

export function toolProject(): TestProjectInlineConfiguration {
  return {
    test: {
      name: TOOL_PROJECT,
      include: ["test/**/*.test.ts"],
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
