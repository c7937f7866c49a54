// The binlog archive's listing: which binlog files `<store>/<service>/binlogs/` holds, by plain name, in sequence order.
import { existsSync, readdirSync } from "node:fs";
import { binlogSequence } from "../binlog/replay.ts";
import { parseStoredName } from "./encoding.ts";
import { isPartialName } from "../base/partialFile.ts";

/** Binlog file names (`mysql-bin.000042`) in `names`, in sequence order. */
export function binlogFiles(names: readonly string[]): string[] {
  return names.filter((n) => /\.\d+$/.test(n)).sort((a, b) => binlogSequence(a) - binlogSequence(b));
}

/** The archive's binlog files by their plain names, sealed (compressed, encrypted) or not. */
export function listArchive(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return binlogFiles([...new Set(readdirSync(dir).filter((n) => !n.endsWith(".partial") && !isPartialName(n)).map((n) => parseStoredName(n).name))]);
}

