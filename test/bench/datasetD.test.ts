// Data set (d) (bench/datasetD.ts): the shape of a big service, planned from its size alone and built from a seed, so
// two builds of one size hold the same rows; the cache key follows the generator, the size and the server only.
import { describe, expect, it } from "vitest";
import { buildD, cacheKey, planD } from "../../bench/datasetD.ts";
import { useSandboxDb } from "../support/sandboxDb.ts";

const sandbox = useSandboxDb("dataset-d", []);

describe("data set (d)", () => {
  it("plans one table of half the data, a partitioned table, 200 medium tables and 4 blob tables", () => {
    const plan = planD(20e9);
    expect(plan.tables.length).toBe(1 + 1 + 200 + 4);
    expect(plan.tables.filter((t) => /^m\d{3}$/.test(t)).length).toBe(200);
    expect(plan.tables.filter((t) => t.startsWith("blob")).length).toBe(4);
    // Rows × the measured row size: the big table is about half the bytes.
    expect(((plan.rows.big as number) * 300) / plan.bytes).toBeCloseTo(0.5, 2);
    expect(planD(20e9)).toEqual(plan);
  });

  it("keys the cache by the generator, the size and the server", () => {
    expect(cacheKey(20e9, "mariadbd 10.11")).toBe(cacheKey(20e9, "mariadbd 10.11"));
    expect(cacheKey(20e9, "mariadbd 10.11")).not.toBe(cacheKey(10e9, "mariadbd 10.11"));
    expect(cacheKey(20e9, "mariadbd 10.11")).not.toBe(cacheKey(20e9, "mariadbd 11.8"));
  });

  it("two builds of one size hold the same rows, with the planned shape", async () => {
    const plan = planD(4e6);
    await buildD(sandbox.db, plan, () => undefined, "d1");
    await buildD(sandbox.db, plan, () => undefined, "d2");
    const sums = async (database: string) => {
      const rows = await sandbox.db.query<{ Checksum: string }>(`CHECKSUM TABLE ${plan.tables.map((t) => `${database}.${t}`).join(", ")}`);
      return rows.map((r) => String(r.Checksum));
    };
    const first = await sums("d1");
    expect(first.every((c) => c !== "0" && c !== "null")).toBe(true);
    expect(await sums("d2")).toEqual(first);
    const [partitions] = await sandbox.db.query<{ n: number }>("SELECT COUNT(*) AS n FROM information_schema.PARTITIONS WHERE TABLE_SCHEMA = 'd1' AND TABLE_NAME = 'events'");
    expect(Number(partitions?.n)).toBe(8);
    const indexes = await sandbox.db.query<{ name: string }>("SELECT DISTINCT INDEX_NAME AS name FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = 'd1' AND TABLE_NAME = 'big' ORDER BY 1");
    expect(indexes.map((r) => r.name)).toEqual(["k_account", "k_status", "PRIMARY"]);
    for (const t of plan.tables) {
      const [count] = await sandbox.db.query<{ n: number }>(`SELECT COUNT(*) AS n FROM d1.${t}`);
      expect(Number(count?.n), t).toBe(plan.rows[t]);
    }
  }, 300_000);
});
