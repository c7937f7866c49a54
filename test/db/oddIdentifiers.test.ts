// Odd identifiers and awkward tables are captured, restored and verified like any other (quoting lives in src/db/quote.ts).
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runBackupJob } from "../../src/backup/job.ts";
import type { Manifest } from "../../src/store/manifest.ts";
import { parseServices } from "../../src/config/load.ts";
import { qualifiedName, quoteIdent } from "../../src/db/quote.ts";
import { runFault } from "../faults/catalog.ts";
import { testStore } from "../support/services.ts";

// Identifiers are utf8mb3 on the server: no emoji there (they are fine in data).
const ODD_DB = "we`ird db.名前";
const LONG = "t".repeat(64);
const store = testStore();
const [service] = parseServices(
  [
    "services:",
    "  odd:",
    "    source:",
    "      sandbox:",
    `        seed: ${resolve(import.meta.dirname, "../support/seed-odd")}`,
    "    backup:",
    `      store: ${store.path}`,
    "    verify:",
    "      chunkMinSize: 1k",
    "      chunkRows: 100",
  ].join("\n"),
  join(store.path, "services.yaml"),
);
let dir = "";
let manifest: Manifest;

beforeAll(async () => {
  if (!service) throw new Error("no service");
  ({ dir, manifest } = await runBackupJob(service));
}, 120_000);
afterAll(() => store.remove());

describe("odd identifiers", () => {
  it("quotes backticks by doubling them, and refuses NUL", () => {
    expect(quoteIdent("we`ird")).toBe("`we``ird`");
    expect(qualifiedName("a.b", "c d")).toBe("`a.b`.`c d`");
    expect(() => quoteIdent("a\0b")).toThrow(/NUL/);
  });

  it("captures every database and table, whatever its name", () => {
    expect(manifest.databases.filter((d) => !d.system).map((d) => d.name).sort()).toEqual(["d".repeat(64), ODD_DB].sort());
    expect(manifest.databases.filter((d) => d.system).map((d) => d.name)).toEqual(["mysql", "sys"]);
    const odd = manifest.databases.find((d) => d.name === ODD_DB);
    expect(odd?.tables.map((t) => t.name).sort()).toEqual(
      [
        "#tag",
        "Upper_Case",
        "blobs",
        "café",
        "empty_one",
        "order-items",
        "generated_cols",
        "no_pk",
        "places",
        "select",
        'tab with `ticks`, spaces. and "quotes\'',
        LONG,
        "テーブル",
        "view `odd`",
      ].sort(),
    );
  });

  it("restores and verifies them all green (chunked checksums included)", async () => {
    if (!service) throw new Error("no service");
    const result = await runFault(service, dir, undefined);
    expect(result.restoreError).toBeUndefined();
    expect(Object.fromEntries(result.red)).toEqual({});
  });

  it("still catches a change in a table with a Unicode name and string key, naming the range", async () => {
    if (!service) throw new Error("no service");
    const result = await runFault(service, dir, {
      name: "row changed",
      restored: [`UPDATE ${qualifiedName(ODD_DB, "テーブル")} SET n = 99 WHERE \`列\` = '東京'`],
    });
    expect([...result.red.keys()]).toEqual([`${ODD_DB}.テーブル:checksum`]);
    expect(result.red.get(`${ODD_DB}.テーブル:checksum`)).toMatch(/^table data differs from the baseline in 1 of 1 primary-key ranges of we`ird db\.名前\.テーブル:\n {2}all rows: same row count, content differs$/);
  });
});

describe("tables with generated columns", () => {
  it("verify green at the default chunk threshold: CHECKSUM TABLE of a restored VIRTUAL-column table differs, so the row hash decides", async () => {
    const defaults = testStore();
    try {
      const [plain] = parseServices(
        ["services:", "  odd:", "    source:", "      sandbox:", `        seed: ${resolve(import.meta.dirname, "../support/seed-odd")}`, "    backup:", `      store: ${defaults.path}`].join("\n"),
        join(defaults.path, "services.yaml"),
      );
      if (!plain) throw new Error("no service");
      const backup = await runBackupJob(plain);
      const generated = backup.manifest.databases.find((d) => d.name === ODD_DB)?.tables.find((t) => t.name === "generated_cols");
      expect(generated?.checks.checksum).toMatchObject({ checksum: null, chunks: { key: ["id"] } });
      const result = await runFault(plain, backup.dir, undefined);
      expect(Object.fromEntries(result.red)).toEqual({});
    } finally {
      defaults.remove();
    }
  }, 120_000);
});
