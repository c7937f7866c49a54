// Which services a shard restores: vitest shards by a hash of the test file's path, and every service runs the same file.
// And in which order files start: longest first, from the durations of an earlier run where one is named.
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
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
 * `items` longest first by `durations` (ms by key), those without a duration first of all (a new file may be long; as
 * vitest runs unknown files first). Two workers over files of 1 s to 160 s end together only when the long ones start
 * early: in name order the longest (a catalog, 158 s) could start last and run alone at the end.
 */
export function longestFirst<T>(items: readonly T[], key: (item: T) => string, durations: Readonly<Record<string, number>>): T[] {
  const known = (item: T) => durations[key(item)];
  return [...items].sort((a, b) => {
    const da = known(a);
    const db = known(b);
    if (da === undefined || db === undefined) return da === undefined ? (db === undefined ? 0 : -1) : 1;
    return db - da;
  });
}

/** The durations file `RESTORETEST_DURATIONS` names (`{"<project>:<file>": ms}`); empty without one. */
function readDurations(): Record<string, number> {
  const path = process.env.RESTORETEST_DURATIONS;
  if (!path || !existsSync(path)) return {};
  try {
    return JSON.parse(readFileSync(path, "utf8")) as Record<string, number>;
  } catch {
    return {};
  }
}

/**
 * Shards by project and file. With the path alone all services hash alike and their order decides, which differs
 * between processes (projects are collected concurrently): two shards then ran one service twice and another never.
 */
export default class ServiceSequencer extends BaseSequencer {
  /** vitest's order (projects one after another, its cached durations where it has them), then longest first within each project where a durations file says. */
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const durations = readDurations();
    if (Object.keys(durations).length === 0) return sorted;
    const { root } = this.ctx.config;
    const projects = [...new Set(sorted.map((f) => f.project.name))];
    return projects.flatMap((p) => longestFirst(sorted.filter((f) => f.project.name === p), (f) => `${p}:${relative(root, f.moduleId)}`, durations));
  }

  override async shard(files: TestSpecification[]): Promise<TestSpecification[]> {
    const { shard, root } = this.ctx.config;
    if (!shard) return files;
    return shardOf(files, (f) => `${f.project.name}:${relative(root, f.moduleId)}`, shard.index, shard.count);
  }
}
