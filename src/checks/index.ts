// The registry of table checks, by the names services.yaml uses.
import type { CheckName } from "../config/schema.ts";
import { checksum } from "./checksum.ts";
import { definition } from "./definition.ts";
import { integrity } from "./integrity.ts";
import { rowCount } from "./rowCount.ts";
import type { TableCheck } from "./types.ts";

export const TABLE_CHECKS: Record<CheckName, TableCheck> = {
  checksum: checksum as TableCheck,
  definition: definition as TableCheck,
  rowCount: rowCount as TableCheck,
  integrity: integrity as TableCheck,
};

export function tableCheck(name: string): TableCheck {
  const check = (TABLE_CHECKS as Record<string, TableCheck | undefined>)[name];
  if (!check) throw new Error(`unknown check "${name}" (known: ${Object.keys(TABLE_CHECKS).join(", ")})`);
  return check;
}

export type { Finding, TableCheck, TableRef } from "./types.ts";
