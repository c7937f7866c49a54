// The generated-schema matrix, its fast slice: a fixed seed per server and one random seed, each schema backed up while
// it is written to, restored, verified, drilled, rolled forward and table-restored all green; then faults injected
// into its generated objects, each red for that object only. The full run (more seeds, every fault kind) is
// `npm run faults`. A failing seed replays: RESTORETEST_MATRIX_SEED=<seed> npx vitest run test/matrix.
import { afterAll, describe, expect, it } from "vitest";
import { generateSchema, objectsOf, schemaSql } from "./schema.ts";
import { faultBatches, faultsOf } from "./faults.ts";
import { runSchema, type SchemaRun } from "./run.ts";
import { MATRIX_SERVERS } from "./servers.ts";
import { matrixSeeds } from "./seeds.ts";
import { sandboxServers } from "../support/services.ts";

const FIXED = [1];
const seeds = matrixSeeds(FIXED);
const random = seeds.at(-1) as number;
// Printed whatever happens: a red random seed is replayed with this line.
process.stdout.write(`matrix seeds: ${seeds.join(", ")} (replay one: RESTORETEST_MATRIX_SEED=${random} npx vitest run --project restoretest test/matrix)\n`);

afterAll(async () => {
  expect(await sandboxServers()).toEqual([]);
});

describe("the schema generator", () => {
  it("replays a seed exactly, and makes different schemas from different seeds", () => {
    const caps = { flavor: "mariadb" as const, fileNameStyles: true, generalTablespaces: false, dataDirectory: true };
    expect(schemaSql(generateSchema(7, caps), "/d")).toEqual(schemaSql(generateSchema(7, caps), "/d"));
    expect(schemaSql(generateSchema(7, caps), "/d")).not.toEqual(schemaSql(generateSchema(8, caps), "/d"));
  });

  it("covers over 40 seeds what the catalog can hold: odd identifiers, table options, every column, index and object kind, accounts", () => {
    const kinds = new Set<string>();
    const sql: string[] = [];
    for (let seed = 1; seed <= 40; seed++) {
      for (const flavor of ["mariadb", "mysql"] as const) {
        const s = generateSchema(seed, { flavor, fileNameStyles: true, generalTablespaces: flavor === "mysql", dataDirectory: true });
        objectsOf(s).forEach((o) => kinds.add(`${flavor} ${o.kind}`));
        sql.push(...schemaSql(s, "/d").map((x) => x.sql));
      }
    }
    const text = sql.join("\n");
    for (const kind of [
      "mariadb system-versioned table", "mariadb sequence", "mariadb subpartitioned table", "mariadb partitioned table", "mariadb Aria table",
      "mariadb DATA DIRECTORY table", "mariadb compressed table", "mysql compressed table", "mysql functional index", "mysql general tablespace",
      "mariadb fulltext index", "mariadb spatial index", "mariadb descending index", "mariadb view on a view", "mariadb trigger", "mariadb function",
      "mariadb procedure", "mariadb event", "mariadb role", "mariadb column grant", "mariadb routine grant", "mariadb role grant", "mysql role grant",
      "mariadb CHECK constraint", "mariadb foreign key", "mariadb invisible column", "mariadb JSON column", "mariadb stored generated column", "mariadb virtual generated column",
    ]) expect(kinds, kind).toContain(kind);
    // Identifiers: non-ASCII, dashes, spaces, dots, reserved words, backticks, 64 characters, names differing in case.
    for (const pattern of [/`[^`]*ñé名前/, /`[^`]*-items-/, /`[^`]* with space /, /`[^`.]*\.v\d/, /`select`/, /`[^`]*``q/, /`[a-z]+_x{20,}\d+`/, /`Case\d+`/, /`case\d+`/]) {
      expect(text, String(pattern)).toMatch(pattern);
    }
    // Passwords: one account a schema has every printable character in its password.
    const printable = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i));
    const s = generateSchema(3, { flavor: "mariadb", fileNameStyles: true, generalTablespaces: false, dataDirectory: true });
    const password = s.accounts.find((a) => !a.role)?.password ?? "";
    expect(printable.filter((c) => !password.includes(c))).toEqual([]);
  });

  it("derives faults for every kind of object, batched so no two share a red test or a table", () => {
    const s = generateSchema(1, { flavor: "mariadb", fileNameStyles: true, generalTablespaces: false, dataDirectory: true });
    const batches = faultBatches(faultsOf(s), () => 0);
    for (const batch of batches) {
      const keys = batch.flatMap((f) => f.red);
      expect(new Set(keys).size).toBe(keys.length);
    }
    expect(new Set(batches.flat().map((f) => f.kind)).size).toBeGreaterThan(8);
  });
});

// Each server takes the fixed seeds; the random one runs on the server it picks (seed modulo the servers): a few
// minutes in all. A replayed seed list (RESTORETEST_MATRIX_SEED) runs on every server.
const replaying = process.env.RESTORETEST_MATRIX_SEED !== undefined;
MATRIX_SERVERS.forEach((make, index) => {
  const server = make();
  const own = replaying ? seeds : [...FIXED, ...(random % MATRIX_SERVERS.length === index ? [random] : [])];
  describe(`matrix on ${server.label}`, () => {
    for (const seed of own) {
      it(`seed ${seed}: green through backup under writes, restore, verify, drill, roll-forward and table restore; faults red for their object only`, { timeout: 600_000 }, async () => {
        // The slice's budget: one fault restore and one table restore per seed (npm run faults runs them all).
        const run: SchemaRun = await runSchema(server, seed, { faultRestores: 1, tableRestores: 1, log: (line) => process.stdout.write(`${line}\n`) });
        const replay = `replay: RESTORETEST_MATRIX_SEED=${seed} npx vitest run --project restoretest test/matrix -t '${server.label}'`;
        expect(run.falseReds.map((r) => `${r.stage} ${r.object}: ${r.message}`), replay).toEqual([]);
        expect(run.tests.filter((t) => t.stage === "verify").length, replay).toBeGreaterThan(20);
        for (const stage of ["backup", "restore", "drill", "archive", "table restore"]) expect(run.tests.some((t) => t.stage === stage && t.ok), `${stage}: ${replay}`).toBe(true);
        expect(run.writes, "writes during the backup").toBeGreaterThan(0);
        expect(run.faults.length).toBeGreaterThan(0);
        expect(run.faults.filter((f) => !f.caught).map((f) => `${f.fault.kind} (${f.fault.object}): ${f.detail}`), replay).toEqual([]);
      });
    }
  });
});
