// Every fault catalog `npm run faults` scores, by the name its score line and the docs carry: one service and one list
// of faults per server.
import type { Service } from "../../src/config/schema.ts";
import { FAULTS, type Fault } from "./catalog.ts";
import { MARIADB118_FAULTS } from "../mariadb118/faults.ts";
import { MYSQL_FAULTS } from "../mysql/faults.ts";
import { mariadb118Service } from "../support/mariadb118.ts";
import { mysqlService } from "../support/mysql.ts";
import { testService } from "../support/services.ts";

export interface Catalog {
  label: string;
  service: (store: string) => Service;
  faults: Fault[];
}

export const CATALOGS: Record<string, Catalog> = {
  mariadb: { label: "MariaDB 10.11, mariadb-backup", service: (store) => testService(store), faults: FAULTS },
  mariadb118: { label: "MariaDB 11.8, mariadb-backup under writes", service: (store) => mariadb118Service(store, "shop", { changes: true }), faults: [...FAULTS, ...MARIADB118_FAULTS] },
  mysql: { label: "MySQL 9.7, clone under writes", service: (store) => mysqlService(store, "shop", { changes: true }), faults: MYSQL_FAULTS },
};

/** The docs' block of scores (docs/checks.md), between these lines: written by `npm run faults -- --write-docs`. */
export const SCORES_BEGIN = "<!-- npm run faults -- --write-docs writes the scores below; test/docs checks them against the catalogs -->";
export const SCORES_END = "<!-- end of scores -->";

/** One catalog's score line, as printed and as the docs keep it. */
export function catalogLine(name: string, detected: number, faults: number, falseAlarms: number, cleanRuns: number): string {
  return `catalog ${name}: faults detected ${detected}/${faults}; false alarms ${falseAlarms} on ${cleanRuns} clean restores (${CATALOGS[name]?.label ?? name})`;
}
