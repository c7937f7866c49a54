// Where this run reads its services and writes its reports (overridable for jobs and the tool's own tests).
import { resolve } from "node:path";

export function configPath(env = process.env): string {
  return resolve(env.RESTORETEST_CONFIG ?? "services.yaml");
}

export function reportsDir(env = process.env): string {
  return resolve(env.RESTORETEST_REPORTS ?? "reports");
}

/** The backup a run restores instead of the newest (`restoretest verify <service> --backup <id>`); undefined: the newest. */
export function requestedBackup(env = process.env): string | undefined {
  const id = env.RESTORETEST_BACKUP?.trim();
  return id ? id : undefined;
}
