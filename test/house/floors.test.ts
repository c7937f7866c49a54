// The house follows the data flow: every import in src/ points to its own folder or to a folder on a lower floor
// (docs/development.md lists them, lowest first), so no circle of folders can form and no concept reaches up.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const SRC = resolve(import.meta.dirname, "../../src");
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
});
