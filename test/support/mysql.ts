// MySQL 9.7 LTS for the tool's own tests: the toolchain scripts/install-mysql.sh makes from Debian's packages, and
// services whose sandbox source runs it.
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseServices } from "../../src/config/load.ts";
import type { Service } from "../../src/config/schema.ts";

const ROOT = resolve(import.meta.dirname, "../..");
export const MYSQL_SEED = resolve(import.meta.dirname, "seed-mysql");
export const MYSQL_CHANGES = resolve(import.meta.dirname, "changes-mysql");

/** The toolchain directory (mysqld, mysql, mysqldump, mysqlbinlog); a clear error when it was not made. */
export function mysqlToolchain(): string {
  const bin = join(process.env.RESTORETEST_MYSQL_HOME ?? join(ROOT, ".cache", "mysql-sid"), "bin");
  if (!existsSync(join(bin, ".complete"))) {
    throw new Error(`the MySQL 9.7 toolchain is not in ${bin}: run scripts/install-mysql.sh (npm test runs it first)`);
  }
  return bin;
}

/** The YAML of a one-service file whose sandbox source runs MySQL; `backupLines` go under `backup:` (6 spaces). */
export function mysqlServiceYaml(store: string, name = "shop", options: { tool?: string; changes?: boolean; extra?: string[]; backupLines?: string[] } = {}): string {
  return [
    "services:",
    `  ${name}:`,
    "    source:",
    "      sandbox:",
    `        seed: ${MYSQL_SEED}`,
    ...(options.changes ? [`        changes: ${MYSQL_CHANGES}`] : []),
    "        flavor: mysql",
    "    databases: [shop]",
    "    backup:",
    `      store: ${store}`,
    `      tool: ${options.tool ?? "clone"}`,
    `      toolchain: ${mysqlToolchain()}`,
    ...(options.backupLines ?? []),
    ...(options.extra ?? []),
    "",
  ].join("\n");
}

export function mysqlService(store: string, name = "shop", options: Parameters<typeof mysqlServiceYaml>[2] = {}): Service {
  const [service] = parseServices(mysqlServiceYaml(store, name, options), join(store, "services.yaml"));
  if (!service) throw new Error("no service parsed");
  return service;
}
