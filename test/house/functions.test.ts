// Functions read as a list of named steps: none in src/ runs past 80 lines, but those listed here, each waiting to be
// split (a new one fails this test; a listed one that shrinks must leave the list).
import { readdirSync, readFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const SRC = resolve(import.meta.dirname, "../../src");
const LIMIT = 80;
/** `file:function` → lines today: still longer than the limit, to be split into named steps. */
const WAITING: Record<string, number> = {
  "report/suite.ts:defineRestoreSuite": 166,
  "backup/binlogs.ts:startBinlogCopy": 135,
  "hosts/ssh.ts:startServer": 113,
  "cli.ts:main": 108,
  "report/suite.ts:(anonymous)": 105,
  "hosts/sshConnection.ts:runOnce": 97,
  "restore/into.ts:deliverOne": 93,
  "hosts/sandbox.ts:startServer": 88,
  "hosts/sshConnection.ts:(anonymous)": 83,
  "backup/tool.ts:cloneTool": 81,
};

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : []));
}

/** Every function of `text` longer than `limit` lines, as `name` → lines (the longest of a name). */
export function longFunctions(file: string, text: string, limit: number): Map<string, number> {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const found = new Map<string, number>();
  const visit = (node: ts.Node): void => {
    if ((ts.isFunctionDeclaration(node) || ts.isMethodDeclaration(node) || ts.isArrowFunction(node) || ts.isFunctionExpression(node)) && node.body) {
      const lines = source.getLineAndCharacterOfPosition(node.end).line - source.getLineAndCharacterOfPosition(node.getStart()).line + 1;
      const parent = node.parent;
      const name = node.name?.getText() ?? (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent) ? parent.name.getText() : "(anonymous)");
      if (lines > limit) found.set(name, Math.max(lines, found.get(name) ?? 0));
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

describe("functions", () => {
  it(`run no longer than ${LIMIT} lines, but those waiting to be split, which only shrink`, () => {
    const long = new Map<string, number>();
    for (const file of sources(SRC)) {
      for (const [name, lines] of longFunctions(file, readFileSync(file, "utf8"), LIMIT)) long.set(`${relative(SRC, file)}:${name}`, lines);
    }
    const grown = [...long].filter(([key, lines]) => lines > (WAITING[key] ?? LIMIT)).map(([key, lines]) => `${key}: ${lines} lines`);
    expect(grown, `split into named steps (limit ${LIMIT} lines)`).toEqual([]);
    expect(Object.keys(WAITING).filter((key) => !long.has(key)), "split now: remove from WAITING").toEqual([]);
  });

  it("measures a function's lines, arrows and methods included", () => {
    const body = Array.from({ length: 90 }, (_, i) => `  const x${i} = ${i};`).join("\n");
    const text = `export function big() {\n${body}\n}\nconst small = () => 1;\nclass C {\n  m() {\n${body}\n  }\n}\n`;
    expect(Object.fromEntries(longFunctions("x.ts", text, LIMIT))).toEqual({ big: 92, m: 92 });
  });
});
