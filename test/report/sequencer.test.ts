// Shards: every service in exactly one shard, the same split in every process whatever order it listed the services in.
import { describe, expect, it } from "vitest";
import { longestFirst, shardOf } from "../../src/report/sequencer.ts";

const services = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta"].map((s) => `${s}:suites/restore.test.ts`);
const identity = (s: string) => s;

describe("shardOf", () => {
  it("puts every service in exactly one shard, the sizes differing by one at most", () => {
    for (let count = 1; count <= 9; count++) {
      const shards = Array.from({ length: count }, (_, i) => shardOf(services, identity, i + 1, count));
      expect(shards.flat().sort()).toEqual([...services].sort());
      const sizes = shards.map((s) => s.length);
      expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
    }
  });

  it("splits the same way whatever order the services arrive in", () => {
    const reversed = [...services].reverse();
    for (let i = 1; i <= 3; i++) expect(shardOf(reversed, identity, i, 3)).toEqual(shardOf(services, identity, i, 3));
  });
});

describe("longestFirst", () => {
  it("starts the longest files first and files without a recorded duration before all of them", () => {
    const durations = { "p:a": 1_000, "p:b": 158_000, "p:c": 20_000 };
    expect(longestFirst(["p:a", "p:b", "p:new", "p:c"], identity, durations)).toEqual(["p:new", "p:b", "p:c", "p:a"]);
    expect(longestFirst(["p:a", "p:b"], identity, {})).toEqual(["p:a", "p:b"]);
  });
});
