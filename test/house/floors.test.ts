// The house follows the data flow: every import in src/ points to its own folder or to a folder on a lower floor
// (docs/development.md lists them, lowest first), so no circle of folders can form and no concept reaches up.
// Its tests mirror it: test/store tests src/store, and a folder of test/ that is no floor's says why it is kept.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const SRC = resolve(import.meta.dirname, "../../src");
const TEST = resolve(import.meta.dirname, "..");
/** Lowest first: a folder may import from itself and from the folders before it. */
const FLOORS = ["base", "server", "config", "db", "binlog", "store", "checks", "queries", "baseline", "hosts", "backup", "verify", "restore", "rejoin", "report", "cli.ts"];

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : []));
}

/** Every folder of `src` not on a floor, and every import that runs up a floor (`from → to`). */
function survey(src: string): { unplaced: string[]; upward: string[] } {
  const room = (file: string) => relative(src, file).split("/")[0] as string;
  const files = sources(src);
  const upward = files.flatMap((file) =>
    [...readFileSync(file, "utf8").matchAll(/(?:import|export)\s[^;]*?from\s+["'](\.[^"']+)["']/gs)]
      .map((m) => resolve(dirname(file), m[1] as string))
      .filter((target) => target.startsWith(src) && FLOORS.indexOf(room(target)) > FLOORS.indexOf(room(file)))
      .map((target) => `${relative(src, file)} → ${relative(src, target)}`),
  );
  return { unplaced: [...new Set(files.map(room))].filter((r) => !FLOORS.includes(r)), upward };
}

/** Folders of test/ that are no floor's: each tests something across the floors, or outside src/, or helps the others. */
const KEPT: Record<string, string> = {
  support: "helpers the tests share: seeds, sshd, sandboxes, each worker's temp root",
  e2e: "the tool as a user runs it, through every floor",
  security: "secrets, signals, hostile paths and a failing world, end to end",
  faults: "the fault catalog and its judge, through every floor",
  matrix: "generated schemas on each server, through every floor",
  mysql: "the whole tool on MySQL 9.7",
  mariadb118: "the whole tool on MariaDB 11.8",
  nightly: "a nightly run of a fleet, and the Jenkinsfile that drives it",
  house: "the layout of src/ itself",
  docs: "docs/, checked against the code",
  fixtures: "fixtures/, the seeds the tests load",
  bench: "bench/, the measurements' own arithmetic",
};

/** Folders of `test` named for no folder of `src` and not kept, and kept ones that are gone or are a floor's after all. */
function mirror(test: string, src: string, kept: Record<string, string>): { unmatched: string[]; stale: string[] } {
  const folders = (dir: string) => readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
  const rooms = folders(src);
  const tests = folders(test);
  return {
    unmatched: tests.filter((name) => !rooms.includes(name) && !(name in kept)),
    stale: Object.keys(kept).filter((name) => !tests.includes(name) || rooms.includes(name)),
  };
}

describe("the house", () => {
  it("has every folder of src/ on a floor, and no import that runs up a floor", () => {
    expect(survey(SRC)).toEqual({ unplaced: [], upward: [] });
  });

  it("names an upward import and a folder without a floor (a tree made for the test)", () => {
    const src = mkdtempSync(join(tmpdir(), "restoretest-house-"));
    try {
      for (const dir of ["store", "report", "misc"]) mkdirSync(join(src, dir));
      writeFileSync(join(src, "report", "summary.ts"), 'import { layout } from "../store/layout.ts";\nexport const s = layout;\n');
      writeFileSync(join(src, "store", "layout.ts"), 'import type { S } from "../report/summary.ts";\nexport const layout = 1;\n');
      writeFileSync(join(src, "misc", "x.ts"), "export const x = 1;\n");
      expect(survey(src)).toEqual({ unplaced: ["misc"], upward: ["store/layout.ts → report/summary.ts"] });
    } finally {
      rmSync(src, { recursive: true, force: true });
    }
  });

  it("has test/ mirror src/: each test folder is a floor's, or kept with a reason", () => {
    expect(mirror(TEST, SRC, KEPT)).toEqual({ unmatched: [], stale: [] });
  });

  it("names a test folder of no floor, and a kept one that is gone or is a floor's (a tree made for the test)", () => {
    const root = mkdtempSync(join(tmpdir(), "restoretest-house-"));
    try {
      for (const dir of ["src/base", "src/store", "test/base", "test/lifecycle", "test/support", "test/store"]) mkdirSync(join(root, dir), { recursive: true });
      const kept = { support: "helpers", e2e: "end to end", store: "kept by mistake" };
      expect(mirror(join(root, "test"), join(root, "src"), kept)).toEqual({ unmatched: ["lifecycle"], stale: ["e2e", "store"] });
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
