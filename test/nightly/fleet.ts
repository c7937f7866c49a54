// A fleet for the nightly tests: one real backup of the small seed, copied under several service names, and vitest runs over it.
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { execa } from "execa";
import { runBackupJob } from "../../src/backup/job.ts";
import { parseJUnit, type ParsedCase } from "../support/junit.ts";
import { testService, testServiceYaml, testStore, type TestStore } from "../support/services.ts";
import { recordEditedManifest } from "../support/storeFixtures.ts";

export const ROOT = resolve(import.meta.dirname, "../..");

/** A services.yaml over copies of one backup; `reports` is where a run writes (RESTORETEST_REPORTS). */
export interface Fleet {
  config: string;
  services: string[];
}

export interface FleetStore extends TestStore {
  /** The one backup all services restore (taken once: a backup is the slow part). */
  backupDir: string;
}

export async function fleetStore(): Promise<FleetStore> {
  const store = testStore();
  try {
    const result = await runBackupJob(testService(join(store.path, "origin")));
    return { ...store, backupDir: result.dir };
  } catch (error) {
    store.remove();
    throw error;
  }
}


/**
 * Copy the backup into a store per service (renamed, since a manifest names its service), optionally damaging one,
 * and write a services.yaml listing them in order.
 */
export function fleet(store: FleetStore, name: string, services: string[], damage: Record<string, (backupDir: string) => void> = {}): Fleet {
  const dir = join(store.path, name);
  const yaml: string[] = [];
  for (const service of services) {
    const copy = join(dir, "store", service, "copy");
    mkdirSync(copy, { recursive: true });
    cpSync(store.backupDir, copy, { recursive: true });
    for (const file of ["manifest.json", "backup.json"]) {
      const path = join(copy, file);
      writeFileSync(path, JSON.stringify({ ...(JSON.parse(readFileSync(path, "utf8")) as object), service }));
    }
    recordEditedManifest(copy);
    damage[service]?.(copy);
    // Each service block from the shared one-service YAML, without its `services:` header.
    yaml.push(testServiceYaml(join(dir, "store"), "", service).replace(/^services:\n/, ""));
  }
  const config = join(dir, "services.yaml");
  writeFileSync(config, `services:\n${yaml.join("")}`);
  return { config, services };
}

export interface Run {
  exitCode: number;
  output: string;
  reports: string;
  cases: ParsedCase[];
}

/** `npx vitest <args>` in the repository, as Jenkins runs it (CI=true: plain progress lines). */
export async function vitest(f: Fleet, reports: string, args: string[], env: Record<string, string> = {}): Promise<Run> {
  const run = await execa("npx", ["vitest", ...args], {
    cwd: ROOT,
    reject: false,
    all: true,
    env: { RESTORETEST_CONFIG: f.config, RESTORETEST_REPORTS: reports, CI: "true", ...env },
  });
  const junit = join(reports, "junit.xml");
  return {
    exitCode: run.exitCode ?? -1,
    output: String(run.all),
    reports,
    cases: existsSync(junit) ? parseJUnit(readFileSync(junit, "utf8")) : [],
  };
}

/** Service projects only: the tool's own project never runs inside a fleet run. */
export const SERVICES_ONLY = ["--project", "!restoretest"];
