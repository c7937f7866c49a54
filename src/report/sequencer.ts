// Which services a shard restores: vitest shards by a hash of the test file's path, and every service runs the same file.
import { createHash } from "node:crypto";
import { relative } from "node:path";
import { BaseSequencer, type TestSpecification } from "vitest/node";

/** The files of shard `index` of `count` (1-based), as even as counts allow, after ordering by `key`. */
export function shardOf<T>(items: readonly T[], key: (item: T) => string, index: number, count: number): T[] {
  const hash = (item: T) => createHash("sha1").update(key(item)).digest("hex");
  const sorted = items.map((item) => ({ item, hash: hash(item) })).sort((a, b) => (a.hash < b.hash ? -1 : a.hash > b.hash ? 1 : 0));
  const base = Math.floor(sorted.length / count);
  const larger = sorted.length % count;
  const start = (index - 1) * base + Math.min(index - 1, larger);
  const size = base + (index <= larger ? 1 : 0);
  return sorted.slice(start, start + size).map((s) => s.item);
}

/**
 * Shards by project and file. With the path alone all services hash alike and their order decides, which differs
 * between processes (projects are collected concurrently): two shards then ran one service twice and another never.
 */
export default class ServiceSequencer extends BaseSequencer {
  override async shard(files: TestSpecification[]): Promise<TestSpecification[]> {
    const { shard, root } = this.ctx.config;
    if (!shard) return files;
    return shardOf(files, (f) => `${f.project.name}:${relative(root, f.moduleId)}`, shard.index, shard.count);
  }
}
