// Where this run reads its services and writes its reports (overridable for jobs and the tool's own tests).
import { resolve } from "node:path";

export function configPath(env = process.env): string {
  return resolve(env.RESTORETEST_CONFIG ?? "services.yaml");
}

export function reportsDir(env = process.env): string {
  return resolve(env.RESTORETEST_REPORTS ?? "reports");
}
