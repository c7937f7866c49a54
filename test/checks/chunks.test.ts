// Chunked checksums: big tables are compared per primary-key range, and a difference names the range, not the rows.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runBackupJob } from "../../src/backup/job.ts";
import type { Manifest } from "../../src/store/manifest.ts";
import { runFault } from "../faults/catalog.ts";
import { testService, testStore } from "../support/services.ts";

// Every table above 1 KiB is "big" here, in chunks of 700 rows.
const store = testStore();
const service = testService(store.path, "    verify:\n      chunkMinSize: 1k\n      chunkRows: 700");
let dir = "";
let manifest: Manifest;

beforeAll(async () => {
  ({ dir, manifest } = await runBackupJob(service));
}, 120_000);
afterAll(() => store.remove());

function chunksOf(table: string) {
  const t = manifest.databases[0]?.tables.find((x) => x.name === table);
  return (t?.checks.checksum as { checksum: string | null; chunks?: { key: string[]; list: { lower: string | null; upper: string | null; rows: number }[] } })
    .chunks;
}

describe("chunked checksums", () => {
  it("records per-primary-key-range chunks for big tables in the baseline, covering every row", () => {
    const customers = chunksOf("customers");
    expect(customers?.key).toEqual(["id"]);
    expect(customers?.list.length).toBe(Math.ceil(2001 / 700));
    expect(customers?.list.reduce((n, c) => n + c.rows, 0)).toBe(2001);
    expect(customers?.list[0]).toMatchObject({ lower: null, upper: "[700]", rows: 700 });
    expect(customers?.list.at(-1)).toMatchObject({ upper: null, rows: 601 });
    const tags = chunksOf("order_tags");
    expect(tags?.key).toEqual(["order_id", "tag"]);
    // An empty table is one open range with no rows.
    expect(chunksOf("empty_table")?.list).toEqual([{ lower: null, upper: null, rows: 0, crc: "0" }]);
  });

  it("a clean restore matches every chunk", async () => {
    const result = await runFault(service, dir, undefined);
    expect(Object.fromEntries(result.red)).toEqual({});
  });

  it("a changed row is localised to its one range, with no row data in the message", async () => {
    const result = await runFault(service, dir, { name: "row changed", restored: ["UPDATE shop.customers SET name = 'secret-value' WHERE id = 1000"] });
    const message = result.red.get("shop.customers:checksum");
    expect(message).toBe(
      "table data differs from the baseline in 1 of 3 primary-key ranges of shop.customers:\n  id in (700, 1400]: same row count, content differs",
    );
    expect(message).not.toContain("secret-value");
  });

  it("NULL changed to an empty string is a difference (NULL-safe row hash)", async () => {
    const result = await runFault(service, dir, { name: "NULL to empty", restored: ["UPDATE shop.customers SET email = '' WHERE id = 7"] });
    expect(result.red.get("shop.customers:checksum")).toMatch(/id <= 700: same row count, content differs/);
  });

  it("a deleted row in a composite-key table names the range and the row counts", async () => {
    const result = await runFault(service, dir, { name: "row deleted", restored: ["DELETE FROM shop.order_tags WHERE order_id = 10 LIMIT 1"] });
    expect(result.red.get("shop.order_tags:checksum")).toMatch(
      /^table data differs from the baseline in 1 of \d+ primary-key ranges of shop\.order_tags:\n {2}\(order_id, tag\) <= \(\d+, "\w+"\): 699 rows, baseline 700$/,
    );
    expect(result.red.get("shop.order_tags:rowCount")).toMatch(/has \d+ rows, baseline \d+ \(-1\)/);
  });
});
