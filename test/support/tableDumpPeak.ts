// Run alone (tsx): `restore --table … --dump` through the library (restoreTables, what the CLI runs) for a service of a
// services.yaml, then this process's peak RSS (VmHWM), so that a test measures the memory of exactly the runner that
// carried the dump. Argument: JSON { yaml, password, tables, position, dump }; prints JSON { rows, bytes, peakBytes, steps }.
import { readFileSync, statSync } from "node:fs";
import { parseServices } from "../../src/config/load.ts";
import { disposeAll } from "../../src/base/disposers.ts";
import type { Position } from "../../src/binlog/position.ts";
import { parseTableName, restoreTables } from "../../src/restore/table.ts";

const { yaml, password, tables, position, dump } = JSON.parse(process.argv[2] as string) as { yaml: string; password: string; tables: string[]; position: Position; dump: string };
const [service] = parseServices(readFileSync(yaml, "utf8"), yaml, { SOURCE_PASSWORD: password });
if (!service) throw new Error(`no service in ${yaml}`);
try {
  const result = await restoreTables(service, tables.map(parseTableName), { position }, dump);
  const kb = Number(/^VmHWM:\s+(\d+) kB/m.exec(readFileSync("/proc/self/status", "utf8"))?.[1]);
  const rows = result.tables.reduce((n, t) => n + t.rows, 0);
  process.stdout.write(`${JSON.stringify({ rows, bytes: statSync(dump).size, peakBytes: kb * 1024, steps: result.steps })}\n`);
} finally {
  await disposeAll();
}
