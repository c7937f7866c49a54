// MariaDB 11.8 LTS for the tool's own tests: the toolchain scripts/install-mariadb.sh makes from Debian's trixie
// packages, and services whose sandbox source runs it (the MariaDB seeds and fault catalog, on 11.8).
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseServices } from "../../src/config/load.ts";
import type { Service } from "../../src/config/schema.ts";
import { SMALL_CHANGES, SMALL_SEED } from "./services.ts";

const ROOT = resolve(import.meta.dirname, "../..");

/** The toolchain directory (mariadbd, mariadb, mariadb-backup, mbstream, …); a clear error when it was not made. */
export function mariadb118Toolchain(): string {
  const bin = join(process.env.RESTORETEST_MARIADB_HOME ?? join(ROOT, ".cache", "mariadb-trixie"), "bin");
  if (!existsSync(join(bin, ".complete"))) {
    throw new Error(`the MariaDB 11.8 toolchain is not in ${bin}: run scripts/install-mariadb.sh (npm test runs it first)`);
  }
  return bin;
}

/**
 * The YAML of a one-service file whose sandbox source runs MariaDB 11.8 with the small seed (the one the MariaDB fault
 * catalog is written for); `backupLines` go under `backup:` (6 spaces), `extra` under the service (4 spaces).
 */
export function mariadb118ServiceYaml(store: string, name = "shop", options: { tool?: string; seed?: string; changes?: boolean; extra?: string[]; backupLines?: string[] } = {}): string {
  return [
    "services:",
    `  ${name}:`,
    "    source:",
    "      sandbox:",
    `        seed: ${options.seed ?? SMALL_SEED}`,
    ...(options.changes ? [`        changes: ${SMALL_CHANGES}`] : []),
    "        flavor: mariadb",
    "    databases: [shop]",
    "    backup:",
    `      store: ${store}`,
    `      tool: ${options.tool ?? "mariabackup"}`,
    `      toolchain: ${mariadb118Toolchain()}`,
    ...(options.backupLines ?? []),
    ...(options.extra ?? []),
    "",
  ].join("\n");
}

export function mariadb118Service(store: string, name = "shop", options: Parameters<typeof mariadb118ServiceYaml>[2] = {}): Service {
  const [service] = parseServices(mariadb118ServiceYaml(store, name, options), join(store, "services.yaml"));
  if (!service) throw new Error("no service parsed");
  return service;
}
