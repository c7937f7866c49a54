// A config message that suggests a fix names the key that fixes it: for each broken services.yaml below, the edit is read
// from the message itself (the key it names, the value it suggests), made in the YAML, and that problem must be gone.
// Every message of the loader and the schema that suggests a fix must be produced by one of these files, so a new
// message without a working fix fails here.
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { parseDocument, parse as parseYaml, type Document } from "yaml";
import { z } from "zod";
import { ConfigError, parseServices, type ConfigProblem } from "../../src/config/load.ts";
import { ServicesFileSchema } from "../../src/config/schema.ts";

type KeyPath = (string | number)[];
type Edit = { op: "set"; path: KeyPath; value: unknown } | { op: "delete"; path: KeyPath } | { op: "rename"; path: KeyPath; to: string };

/** What a key the message names but gives no value for is set to (a named key without one here fails the test). */
const SAMPLE_VALUES: Record<string, unknown> = {
  host: "db1.example.com",
  user: "restoretest",
  identityFile: "/etc/restoretest/id_ed25519",
  knownHosts: "/etc/restoretest/known_hosts",
  create: "true",
  destroy: "true",
  sql: "SELECT COUNT(*) FROM shop.orders",
  expect: 0,
};

const SOURCE = "    source:\n      host: db1.example.com\n      user: backup\n";

/** Broken files, each with the problems whose messages suggest a fix (one service, shop). */
const BROKEN: { name: string; yaml: string; top?: string }[] = [
  { name: "a mistyped key", yaml: `${SOURCE}    restore:\n      tiemout: 30m\n` },
  { name: "a mistyped check", yaml: `${SOURCE}    verify:\n      checks: [rowcount, tables]\n` },
  { name: "a value not in the list", yaml: `${SOURCE}    backup:\n      tool: mariabakup\n` },
  { name: "a duration that is not one", yaml: `${SOURCE}    backup:\n      timeout: half an hour\n` },
  { name: "a size that is not one", yaml: `${SOURCE}    verify:\n      chunkMinSize: big\n` },
  { name: "a number too small", yaml: `${SOURCE}    verify:\n      concurrency: 0\n` },
  { name: "a number too big", yaml: `${SOURCE}    verify:\n      concurrency: 100\n` },
  { name: "a required key missing", yaml: "    source:\n      host: db1.example.com\n" },
  { name: "provider ssh without its block", yaml: `${SOURCE}    restore:\n      provider: ssh\n` },
  { name: "provider command without its block", yaml: `${SOURCE}    restore:\n      provider: command\n` },
  { name: "an ssh block without a key", yaml: `${SOURCE}    restore:\n      provider: ssh\n      ssh:\n        host: r1\n        user: restore\n        knownHosts: /k\n` },
  { name: "an ssh block without a host key check", yaml: `${SOURCE}    restore:\n      provider: ssh\n      ssh:\n        host: r1\n        user: restore\n        agent: true\n` },
  {
    name: "an ssh block with two host key checks",
    yaml: `${SOURCE}    restore:\n      provider: ssh\n      ssh:\n        host: r1\n        user: restore\n        agent: true\n        knownHosts: /k\n        hostKeyFingerprint: "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU"\n`,
  },
  { name: "a host key fingerprint that is not one", yaml: `${SOURCE}    restore:\n      provider: ssh\n      ssh:\n        host: r1\n        user: restore\n        agent: true\n        hostKeyFingerprint: ab:cd\n` },
  { name: "a stream for a tool that writes a directory", yaml: `${SOURCE}    backup:\n      tool: dump\n      format: stream\n` },
  { name: "compression of a directory backup", yaml: `${SOURCE}    backup:\n      compress: zstd\n` },
  { name: "a Pushgateway that is no URL", yaml: SOURCE, top: "metrics:\n  pushgateway: pushgateway:9091\n" },
  { name: "a team query without its SQL", yaml: `${SOURCE}    verify:\n      queries:\n        - name: orders\n          expect: 0\n` },
  { name: "a team query with both sql and file", yaml: `${SOURCE}    verify:\n      queries:\n        - name: orders\n          sql: SELECT 1\n          file: q.sql\n          expect: 1\n` },
  { name: "a team query without what it expects", yaml: `${SOURCE}    verify:\n      queries:\n        - name: orders\n          sql: SELECT 1\n` },
  { name: "rejoin without a replication user, from a source reached by socket", yaml: "    source:\n      socket: /run/mysqld/mysqld.sock\n      user: backup\n    rejoin:\n      catchUpTimeout: 5m\n" },
];

const file = (body: string, top = "") => `${top}services:\n  shop:\n${body}`;

function problemsOf(yaml: string): ConfigProblem[] {
  try {
    parseServices(yaml, "services.yaml", {});
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
}

/** `services.shop.verify.checks[0]` as segments. */
function segments(keyPath: string): KeyPath {
  return keyPath.split(".").flatMap((part) => {
    const [name, ...indexes] = part.split(/[[\]]+/).filter(Boolean);
    return [name as string, ...indexes.map(Number)];
  });
}

/** The schema at a key path (undefined: no such key), walked as the loader walks it. */
function schemaAt(path: KeyPath): z.ZodType | undefined {
  let current: z.ZodType | undefined = ServicesFileSchema;
  for (const segment of path) {
    while (current instanceof z.ZodOptional || current instanceof z.ZodDefault || current instanceof z.ZodPipe) {
      current = (current instanceof z.ZodPipe ? current.in : current.unwrap()) as z.ZodType;
    }
    if (current instanceof z.ZodUnion) {
      const options = current.options as z.ZodType[];
      current = options.find((o) => schemaAt1(o, segment)) ?? options[0];
    }
    current = current ? schemaAt1(current, segment) : undefined;
    if (!current) return undefined;
  }
  return current;
}

function schemaAt1(schema: z.ZodType, segment: string | number): z.ZodType | undefined {
  let s = schema;
  while (s instanceof z.ZodOptional || s instanceof z.ZodDefault) s = s.unwrap() as z.ZodType;
  if (s instanceof z.ZodObject) return s.shape[String(segment)] as z.ZodType | undefined;
  if (s instanceof z.ZodRecord) return s.valueType as z.ZodType;
  if (s instanceof z.ZodArray) return s.element as z.ZodType;
  return undefined;
}

/**
 * Where a key a message names lives: a dotted name (`rejoin.source.host`) in the service, a bare one (`identityFile`)
 * in the block the problem is at, or beside the key it is about. Undefined when it is no key there.
 */
function resolveKey(name: string, at: KeyPath): KeyPath | undefined {
  const service = at.slice(0, 2);
  const candidates = name.includes(".") ? [[...service, ...name.split(".")]] : [[...at, name], [...at.slice(0, -1), name]];
  return candidates.find((c) => schemaAt(c) !== undefined);
}

function scalar(text: string): unknown {
  return parseYaml(text) as unknown;
}

/** The keys after "set"/"add": items by comma or "and"; of alternatives ("A or B", "(or …)"), the first. */
function namedKeys(text: string, at: KeyPath): Edit[] {
  const list = text.split(";")[0]?.replace(/\([^)]*\)/g, "") ?? "";
  const edits: Edit[] = [];
  for (const item of list.split(/,\s*(?:and\s+)?|\s+and\s+/)) {
    const trimmed = item.trim();
    if (!trimmed || /^or\b/.test(trimmed)) continue;
    const first = trimmed.split(/\s+or\s+/)[0] as string;
    const [, key, value] = /^([A-Za-z][\w.]*)(?::\s*(\S+))?/.exec(first) ?? [];
    const path = key ? resolveKey(key, at) : undefined;
    if (!key || !path) continue;
    const leaf = String(path.at(-1));
    if (value === undefined && !(leaf in SAMPLE_VALUES)) throw new Error(`the message names ${key} without a value, and this test has no sample value for ${leaf}: add one to SAMPLE_VALUES`);
    edits.push({ op: "set", path, value: value === undefined ? SAMPLE_VALUES[leaf] : scalar(value) });
  }
  return edits;
}

/** The edit a message asks for, read from its words; none when it suggests no fix. */
function editsFor(problem: ConfigProblem): Edit[] {
  const at = segments(problem.keyPath);
  const parent = at.slice(0, -1);
  const m = problem.message;
  let r: RegExpExecArray | null;
  if ((r = /^unknown key "[^"]+", did you mean "([^"]+)"\?/.exec(m))) return [{ op: "rename", path: at, to: r[1] as string }];
  if ((r = /did you mean "([^"]+)"\?/.exec(m))) return [{ op: "set", path: at, value: r[1] }];
  if ((r = /set either (\w+) or (\w+), not both/.exec(m))) return [{ op: "delete", path: [...parent, r[2] as string] }];
  if ((r = /add (\w+): (\S+) to service (\S+)'s (\w+) block/.exec(m))) return [{ op: "set", path: ["services", r[3] as string, r[4] as string, r[1] as string], value: scalar(r[2] as string) }];
  if ((r = /needs (\w+) (\w+)/.exec(m))) return [{ op: "set", path: [...parent, r[1] as string], value: r[2] }];
  if ((r = /(?:^|: )(?:set|add) (.*)$/.exec(m))) return namedKeys(r[1] as string, at);
  if ((r = /expected one of "([^"]*)"/.exec(m))) return [{ op: "set", path: at, value: r[1] }];
  if ((r = / like "([^"]+)"/.exec(m))) return [{ op: "set", path: at, value: r[1] }];
  if ((r = /must be at (?:least|most) (\d+)/.exec(m))) return [{ op: "set", path: at, value: Number(r[1]) }];
  if (/^required key missing(: |$)/.test(m)) {
    const leaf = String(at.at(-1));
    if (!(leaf in SAMPLE_VALUES)) throw new Error(`no sample value for the missing key ${leaf}: add one to SAMPLE_VALUES`);
    return [{ op: "set", path: at, value: SAMPLE_VALUES[leaf] }];
  }
  return [];
}

function apply(yaml: string, edits: Edit[]): string {
  const doc: Document = parseDocument(yaml);
  for (const edit of edits) {
    if (edit.op === "set") doc.setIn(edit.path, edit.value);
    else if (edit.op === "delete") doc.deleteIn(edit.path);
    else {
      const node = doc.getIn(edit.path, true);
      doc.deleteIn(edit.path);
      doc.setIn([...edit.path.slice(0, -1), edit.to], node);
    }
  }
  return String(doc);
}

const same = (a: ConfigProblem, b: ConfigProblem) => a.keyPath === b.keyPath && a.message === b.message;

describe("each message that suggests a fix names the key, and the fix it names works", () => {
  const produced: string[] = [];

  it.each(BROKEN)("$name", ({ yaml, top }) => {
    const broken = file(yaml, top);
    const problems = problemsOf(broken);
    expect(problems.length, broken).toBeGreaterThan(0);
    const all: Edit[] = [];
    for (const problem of problems) {
      produced.push(problem.message);
      const edits = editsFor(problem);
      expect(edits, `no fix read from: ${problem.keyPath}: ${problem.message}`).not.toEqual([]);
      const fixed = apply(broken, edits);
      const left = problemsOf(fixed);
      expect(left.filter((p) => same(p, problem)).map((p) => p.message), `${JSON.stringify(edits)} left it:\n${fixed}`).toEqual([]);
      all.push(...edits);
    }
    // Every fix made: the file loads.
    const fixed = apply(broken, all);
    expect(problemsOf(fixed).map((p) => `${p.keyPath}: ${p.message}`), fixed).toEqual([]);
  });

  it("covers every message of the loader and the schema that suggests a fix", () => {
    const sources = ["src/config/load.ts", "src/config/schema.ts"].map((f) => readFileSync(resolve(import.meta.dirname, "../..", f), "utf8"));
    const literals = sources.flatMap((text) => [...text.matchAll(/"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|`(?:[^`\\]|\\.|\$\{[^}]*\})*`/g)].map((x) => x[0]));
    const suggesting = literals.filter((l) => /did you mean|\b(set|add) [a-z]|expected one of|like "|must be at (least|most)|required key missing|needs tool/.test(l));
    expect(suggesting.length).toBeGreaterThanOrEqual(10);
    const text = produced.join("\n");
    // Each message's fixed words (between its `${…}` parts), as the cases above produced them.
    const uncovered = suggesting.filter((l) =>
      l
        .slice(1, -1)
        .split(/\$\{[^}]*\}/)
        .map((chunk) => chunk.replace(/\\(["'`\\])/g, "$1"))
        .filter((chunk) => chunk.length >= 6)
        .some((chunk) => !text.includes(chunk)),
    );
    expect(uncovered, "messages that suggest a fix with no broken file above").toEqual([]);
  });
});

/** Dotted words in src/ text that are not services.yaml keys: a file, a metric, and code a literal's `${…}` holds. */
const NOT_KEYS = new Set(["backup.json", "rejoin.catchUp", "source.release", "source.query"]);

describe("messages at run time", () => {
  it("name only keys services.yaml has (rejoin.serverId, backup.encrypt.keyFile, restore.optionsFile …)", () => {
    const src = resolve(import.meta.dirname, "../../src");
    const files = readdirSync(src, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".ts"));
    const named = new Map<string, string>();
    for (const f of files) {
      for (const [literal] of readFileSync(join(src, f), "utf8").matchAll(/"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|`(?:[^`\\]|\\.|\$\{[^}]*\})*`/g)) {
        const words = literal.slice(1, -1).replace(/\$\{[^}]*\}/g, " ");
        for (const [key] of words.matchAll(/(?<![\w./-])(?:source|backup|restore|verify|rejoin|into|objectives)\.[a-z][A-Za-z]*(?:\.[a-z][A-Za-z]*)*(?![\w/-])/g)) named.set(key, f);
      }
    }
    expect(named.size).toBeGreaterThan(20);
    const unknown = [...named].filter(([key]) => !NOT_KEYS.has(key) && schemaAt(["services", "shop", ...key.split(".")]) === undefined);
    expect(unknown.map(([key, f]) => `${f}: ${key}`)).toEqual([]);
  });
});
