// Database-wide checks: the sets of tables, views, triggers, routines and events, and the database's charset.
import { z } from "zod";
import type { Queryable } from "../db/connection.ts";
import { databaseCharset, listEvents, listRoutines, listTableNames, listTriggers, listViews, type SchemaObject } from "../db/introspect.ts";
import { unifiedDiff } from "./diff.ts";
import type { DatabaseCheck, Finding } from "./types.ts";

const Objects = z.array(z.strictObject({ name: z.string(), definition: z.string() }));
type ObjectsValue = z.infer<typeof Objects>;

/** Missing, extra and changed objects by name, with a diff of every changed definition attached. */
function compareObjects(kind: string, expected: ObjectsValue, actual: ObjectsValue, database: string): Finding {
  const want = new Map(expected.map((o) => [o.name, o.definition]));
  const have = new Map(actual.map((o) => [o.name, o.definition]));
  const missing = [...want.keys()].filter((n) => !have.has(n));
  const extra = [...have.keys()].filter((n) => !want.has(n));
  const changed = [...want.keys()].filter((n) => have.has(n) && have.get(n) !== want.get(n));
  if (missing.length + extra.length + changed.length === 0) return { ok: true, summary: `${want.size} ${kind} as in the baseline` };
  const parts = [
    missing.length ? `missing from the restore: ${missing.join(", ")}` : "",
    extra.length ? `not in the baseline: ${extra.join(", ")}` : "",
    changed.length ? `definition changed: ${changed.join(", ")}` : "",
  ].filter(Boolean);
  const diffs = changed.map((n) => unifiedDiff(want.get(n) ?? "", have.get(n) ?? "", `baseline ${n}`, `restored ${n}`));
  return {
    ok: false,
    message: `${kind} of database ${database}: ${parts.join("; ")}`,
    diff: diffs.length ? diffs.join("\n") : undefined,
  };
}

function objectsCheck(name: string, kind: string, list: (db: Queryable, database: string) => Promise<SchemaObject[]>): DatabaseCheck<ObjectsValue> {
  return {
    name,
    scope: "database",
    description: `the database's ${kind} and their definitions equal the baseline's`,
    schema: Objects,
    capture: list,
    compare: (expected, actual, database) => compareObjects(kind, expected, actual, database),
  };
}

const TableList = z.array(z.strictObject({ name: z.string(), type: z.string() }));

export const tables: DatabaseCheck<z.infer<typeof TableList>> = {
  name: "tables",
  scope: "database",
  description: "the same tables and views exist (missing and extra ones named)",
  schema: TableList,
  capture: async (db, database) => (await listTableNames(db, database)).map((t) => ({ name: t.name, type: t.type })),
  compare(expected, actual, database) {
    const want = new Map(expected.map((t) => [t.name, t.type]));
    const have = new Map(actual.map((t) => [t.name, t.type]));
    const missing = [...want.keys()].filter((n) => !have.has(n));
    const extra = [...have.keys()].filter((n) => !want.has(n));
    const retyped = [...want.entries()].filter(([n, type]) => have.has(n) && have.get(n) !== type).map(([n]) => n);
    if (missing.length + extra.length + retyped.length === 0) return { ok: true, summary: `${want.size} tables and views present` };
    const parts = [
      missing.length ? `missing from the restore: ${missing.join(", ")}` : "",
      extra.length ? `not in the baseline: ${extra.join(", ")}` : "",
      retyped.length ? `type changed: ${retyped.map((n) => `${n} (${want.get(n)} → ${have.get(n)})`).join(", ")}` : "",
    ].filter(Boolean);
    return { ok: false, message: `tables of database ${database}: ${parts.join("; ")}` };
  },
};

export const views = objectsCheck("views", "views", listViews);
export const triggers = objectsCheck("triggers", "triggers", listTriggers);
export const routines = objectsCheck("routines", "routines", listRoutines);
export const events = objectsCheck("events", "events", listEvents);

const Charset = z.strictObject({ charset: z.string(), collation: z.string() });

export const database: DatabaseCheck<z.infer<typeof Charset>> = {
  name: "database",
  scope: "database",
  description: "the database's default character set and collation equal the baseline's",
  schema: Charset,
  capture: databaseCharset,
  compare(expected, actual, name) {
    if (expected.charset === actual.charset && expected.collation === actual.collation) return { ok: true, summary: `${actual.charset} / ${actual.collation}` };
    return {
      ok: false,
      message: `database ${name} defaults are ${actual.charset} / ${actual.collation}, baseline ${expected.charset} / ${expected.collation}`,
      expected: `${expected.charset} / ${expected.collation}`,
      actual: `${actual.charset} / ${actual.collation}`,
    };
  },
};
