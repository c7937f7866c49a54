// The registry of checks, by the names services.yaml uses; adding a check is adding a module and a line here.
import type { CheckName } from "../config/schema.ts";
import { autoIncrement } from "./autoIncrement.ts";
import { checksum } from "./checksum.ts";
import { definition } from "./definition.ts";
import { indexes } from "./indexes.ts";
import { integrity } from "./integrity.ts";
import { database, events, routines, tables, triggers, views } from "./objects.ts";
import { accounts } from "./accounts.ts";
import { rowCount } from "./rowCount.ts";
import { server } from "./settings.ts";
import type { Check, DatabaseCheck, ServerCheck, TableCheck } from "./types.ts";

export const CHECKS: Record<CheckName, Check> = {
  tables: tables as DatabaseCheck,
  views: views as DatabaseCheck,
  triggers: triggers as DatabaseCheck,
  routines: routines as DatabaseCheck,
  events: events as DatabaseCheck,
  database: database as DatabaseCheck,
  checksum: checksum as TableCheck,
  definition: definition as TableCheck,
  rowCount: rowCount as TableCheck,
  integrity: integrity as TableCheck,
  indexes: indexes as TableCheck,
  autoIncrement: autoIncrement as TableCheck,
  accounts: accounts as ServerCheck,
  server: server as ServerCheck,
};

export function check(name: string): Check {
  const found = (CHECKS as Record<string, Check | undefined>)[name];
  if (!found) throw new Error(`unknown check "${name}" (known: ${Object.keys(CHECKS).join(", ")})`);
  return found;
}

export function tableChecks(names: readonly string[]): TableCheck[] {
  return names.map(check).filter((c): c is TableCheck => c.scope === "table");
}

export function databaseChecks(names: readonly string[]): DatabaseCheck[] {
  return names.map(check).filter((c): c is DatabaseCheck => c.scope === "database");
}

export function serverChecks(names: readonly string[]): ServerCheck[] {
  return names.map(check).filter((c): c is ServerCheck => c.scope === "server");
}

export type { Check, DatabaseCheck, Finding, ServerCheck, TableCheck, TableRef } from "./types.ts";
