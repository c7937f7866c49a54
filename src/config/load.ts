// Reading services.yaml into merged Service objects, and every message a user sees about that file.
import { registerSecret } from "../base/secrets.ts";
import { statementProblems } from "./querySql.ts";
import { existsSync, readFileSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { isMap, isNode, isScalar, isSeq, LineCounter, parseDocument, type Document, type Scalar, type YAMLError } from "yaml";
import { z } from "zod";
import {
  BackupSchema,
  CHECK_NAMES,
  MetricsSchema,
  RestoreSchema,
  ServicesFileSchema,
  SourceSchema,
  VerifySchema,
  type MetricsSettings,
  type Service,
} from "./schema.ts";

/** One thing wrong with the file, located well enough to fix without reading the schema. */
export interface ConfigProblem {
  file: string;
  line: number | undefined;
  /** Dotted path such as `services.blog.restore.timeout`; list items appear as `checks[1]`. */
  keyPath: string;
  message: string;
}

/** Every problem found in a config file; the message has one `file:line keyPath: message` line per problem. */
export class ConfigError extends Error {
  readonly file: string;
  readonly line: number | undefined;
  readonly keyPath: string;
  readonly problems: ConfigProblem[];

  constructor(problems: ConfigProblem[]) {
    const sorted = sortByLine(problems);
    super(sorted.map(formatProblem).join("\n"));
    this.name = "ConfigError";
    this.problems = sorted;
    const first = sorted[0];
    this.file = first?.file ?? "";
    this.line = first?.line;
    this.keyPath = first?.keyPath ?? "";
  }
}

/** `services.yaml:12 services.blog.restore.timeout: expected ...`, dropping whichever location parts are unknown. */
export function formatProblem(problem: ConfigProblem): string {
  const where = problem.file && problem.line !== undefined ? `${problem.file}:${problem.line}` : problem.file;
  const location = [where, problem.keyPath].filter(Boolean).join(" ");
  return location ? `${location}: ${problem.message}` : problem.message;
}

function sortByLine(problems: ConfigProblem[]): ConfigProblem[] {
  // One wrong value can surface through more than one check; saying it twice only adds noise.
  const unique = [...new Map(problems.map((p) => [formatProblem(p), p])).values()];
  // Array.prototype.sort is stable, so problems on one line keep the order they were found in.
  return unique.sort((a, b) => (a.line ?? Number.MAX_SAFE_INTEGER) - (b.line ?? Number.MAX_SAFE_INTEGER));
}

/** Reads and validates a services.yaml file; relative paths in it are taken from the file's directory. */
export function loadServices(file: string, env: Record<string, string | undefined> = process.env): Service[] {
  return parseServices(readConfigFile(file), file, env);
}

/** What the metrics reporter takes from services.yaml: the `metrics` block and which services the file defines. */
export interface MetricsConfig {
  metrics: MetricsSettings | undefined;
  services: string[];
}

/**
 * The `metrics` block (its variables substituted) and the service names, reporting only the block's own problems: a
 * service's problems are its project's to report, and must not take the other services' metrics down with it.
 */
export function loadMetricsConfig(file: string, env: Record<string, string | undefined> = process.env): MetricsConfig {
  return parseMetricsConfig(readConfigFile(file), file, env);
}

/** loadMetricsConfig on services.yaml text; `file` is used in messages. Throws ConfigError. */
export function parseMetricsConfig(text: string, file: string, env: Record<string, string | undefined> = process.env): MetricsConfig {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const ctx: FileContext = { file, doc, lines, originals: new Map(), envProblemPaths: new Set() };
  if (doc.errors.length > 0) throw new ConfigError(doc.errors.map((error) => yamlProblem(ctx, error)));
  const inBlock = (problem: ConfigProblem) => problem.keyPath === "metrics" || problem.keyPath.startsWith("metrics.");
  const problems = substituteVariables(ctx, env).filter(inBlock);
  const raw: unknown = doc.toJS();
  const result = MetricsSchema.optional().safeParse(valueAt(raw, ["metrics"]));
  if (!result.success) {
    const located = result.error.issues.map((issue) => ({ issue, keyPath: ["metrics", ...toKeyPath(issue.path)] }));
    problems.push(...located.flatMap((l) => describeIssue(ctx, raw, l)).filter((p) => !ctx.envProblemPaths.has(p.keyPath)));
  }
  if (problems.length > 0 || !result.success) throw new ConfigError(problems);
  const pushgateway = result.data?.pushgateway;
  // A basic-auth password in the URL is a secret like any other: scrubbed from every message this process prints.
  if (pushgateway) registerSecret(decodeURIComponent(new URL(pushgateway).password));
  const services = valueAt(raw, ["services"]);
  return { metrics: result.data, services: isRecord(services) ? Object.keys(services) : [] };
}

function readConfigFile(file: string): string {
  const fileProblem = (message: string) => new ConfigError([{ file, line: undefined, keyPath: "", message }]);
  if (!existsSync(file)) throw fileProblem(`file does not exist (looked for ${path.resolve(file)})`);
  if (statSync(file).isDirectory()) throw fileProblem("is a directory, expected a YAML file");
  try {
    return readFileSync(file, "utf8");
  } catch (error) {
    throw fileProblem(`cannot read the file: ${(error as Error).message}`);
  }
}

/** The service called `name`; the error lists the names that do exist so a typo is obvious. */
export function findService(services: Service[], name: string): Service {
  const found = services.find((service) => service.name === name);
  if (found) return found;
  const known = services.map((service) => service.name);
  const message = known.length === 0
    ? `unknown service ${JSON.stringify(name)}: no services are defined`
    : `unknown service ${JSON.stringify(name)}${suggestion(name, known)} (known services: ${known.join(", ")})`;
  throw new ConfigError([{ file: "", line: undefined, keyPath: "", message }]);
}

// ---------------------------------------------------------------------------------------------------------------
// Parsing

type Segment = string | number;
type KeyPath = Segment[];
type ParsedFile = z.output<typeof ServicesFileSchema>;

/** What problem reporting needs: where nodes are, and which values must not be shown. */
interface FileContext {
  file: string;
  doc: Document.Parsed;
  lines: LineCounter;
  /** Source text of scalars that had variables substituted, by dotted key path: shown instead of their (secret) values. */
  originals: Map<string, string>;
  /** Paths already reported for a bad variable reference; zod's follow-up complaints there would be noise. */
  envProblemPaths: Set<string>;
}

/** Validates services.yaml text; `file` is used in messages and to resolve relative paths. Throws ConfigError. */
export function parseServices(text: string, file: string, env: Record<string, string | undefined> = process.env): Service[] {
  const fleet = parseFleet(text, file, env, "all");
  const problems = fleet.broken.flatMap((b) => b.error.problems);
  if (problems.length > 0) throw new ConfigError(problems);
  return fleet.services;
}

/** Whose `${ENV}` secrets a run resolves: every service's, or only the services it selects. */
export type SecretScope = "all" | readonly string[];

/**
 * A services.yaml read service by service: one service's bad key or unset secret is that service's problem only.
 * The file's own problems (YAML syntax, `defaults`, unknown top-level keys) still concern every service and throw.
 */
export interface Fleet {
  /** Every service named in the file, in file order (broken and unresolved ones too: each still gets its project). */
  names: string[];
  /** The services that validated, secrets resolved for those in the scope. */
  services: Service[];
  /** Services with problems of their own (a bad key, or an unset secret of a service in the scope). */
  broken: { name: string; error: ConfigError }[];
  /** Services outside the scope that cannot be built without their secrets (`port: ${DB_PORT}` unset): not broken. */
  unresolved: string[];
}

export function loadFleet(file: string, env: Record<string, string | undefined> = process.env, secrets: SecretScope = "all"): Fleet {
  return parseFleet(readConfigFile(file), file, env, secrets);
}

export function parseFleet(text: string, file: string, env: Record<string, string | undefined> = process.env, secrets: SecretScope = "all"): Fleet {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const ctx: FileContext = { file, doc, lines, originals: new Map(), envProblemPaths: new Set() };
  // Validating a document the YAML parser could not read would only pile guesses on top of the real error.
  if (doc.errors.length > 0) throw new ConfigError(doc.errors.map((error) => yamlProblem(ctx, error)));
  if (isEmptyDocument(doc)) {
    throw new ConfigError([{ file, line: undefined, keyPath: "", message: 'file is empty, expected a "services:" map' }]);
  }
  const envProblems = new Set(substituteVariables(ctx, env));
  const raw: unknown = doc.toJS();
  const baseDir = path.dirname(path.resolve(file));
  const validation = validate(ctx, raw);
  const problems = [
    ...envProblems,
    ...validation.problems,
    ...fileSystemProblems(ctx, raw, baseDir),
    ...providerProblems(ctx, raw),
    ...storageProblems(ctx, raw),
    ...rejoinProblems(ctx, raw),
    ...queryProblems(ctx, raw, baseDir),
  ];
  const rawServices = valueAt(raw, ["services"]);
  const names = isRecord(rawServices) ? Object.keys(rawServices) : [];
  const inScope = (name: string) => secrets === "all" || secrets.includes(name);
  const fileLevel: ConfigProblem[] = [];
  const byService = new Map<string, ConfigProblem[]>();
  const withUnsetSecrets = new Set<string>();
  for (const problem of problems) {
    const name = serviceOf(problem, names);
    if (name === undefined) fileLevel.push(problem);
    else if (envProblems.has(problem) && !inScope(name)) withUnsetSecrets.add(name);
    else byService.set(name, [...(byService.get(name) ?? []), problem]);
  }
  // Every problem at once, the services' too: fixing the file is one pass.
  if (fileLevel.length > 0) throw new ConfigError([...fileLevel, ...[...byService.values()].flat()]);
  const broken = [...byService].map(([name, list]) => ({ name, error: new ConfigError(list) }));
  // The others are built on their own: first as they are, then without those whose unset secrets (out of scope) make
  // a value invalid, which are then only named.
  let data = validation.data;
  let unresolved: string[] = [];
  const only = (keep: readonly string[]) => validate(ctx, { ...(raw as object), services: Object.fromEntries(keep.map((n) => [n, (rawServices as Record<string, unknown>)[n]])) }).data;
  if (!data || broken.length > 0) {
    const dropped = new Set(broken.map((b) => b.name));
    unresolved = [...withUnsetSecrets].filter((n) => !dropped.has(n) && !only([n]));
    data = only(names.filter((n) => !dropped.has(n) && !unresolved.includes(n)));
    if (!data) throw new ConfigError(problems);
  }
  const services = buildServices(data, raw, baseDir);
  // From here on every output of this process is scrubbed of the configured passwords.
  for (const service of services) {
    if ("password" in service.source) registerSecret(service.source.password);
    registerSecret(service.rejoin?.password);
    registerSecret(service.rejoin?.monitor?.password);
    for (const server of Object.values(service.into ?? {})) registerSecret(server.password);
  }
  return { names, services, broken, unresolved };
}

/** The service a problem is about, from its key path (`services.<name>.…`); undefined for the file's own. */
function serviceOf(problem: ConfigProblem, names: readonly string[]): string | undefined {
  return names.find((n) => problem.keyPath === `services.${n}` || problem.keyPath.startsWith(`services.${n}.`));
}

function isEmptyDocument(doc: Document.Parsed): boolean {
  return doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null);
}

function yamlProblem(ctx: FileContext, error: YAMLError): ConfigProblem {
  const offset = error.pos[0];
  const { line, col } = ctx.lines.linePos(offset);
  if (error.code === "DUPLICATE_KEY") return duplicateKeyProblem(ctx, offset, line);
  return { file: ctx.file, line, keyPath: "", message: `invalid YAML at column ${col}: ${error.message}` };
}

function duplicateKeyProblem(ctx: FileContext, offset: number, line: number): ConfigProblem {
  const found = findKeyAt(ctx.doc.contents, offset, []);
  if (!found) return { file: ctx.file, line, keyPath: "", message: "duplicate key" };
  const firstLine = ctx.lines.linePos(found.firstOffset).line;
  return {
    file: ctx.file,
    line,
    keyPath: formatKeyPath(found.keyPath),
    message: `duplicate key ${JSON.stringify(String(found.keyPath.at(-1)))} (first defined on line ${firstLine})`,
  };
}

/** The map key starting at `offset`, and where the first key of the same name in that map starts. */
function findKeyAt(node: unknown, offset: number, keyPath: KeyPath): { keyPath: KeyPath; firstOffset: number } | undefined {
  if (isMap(node)) {
    for (const pair of node.items) {
      const name = keyName(pair.key);
      if (startOf(pair.key) === offset) {
        const first = node.items.find((other) => keyName(other.key) === name);
        return { keyPath: [...keyPath, name], firstOffset: startOf(first?.key) ?? offset };
      }
      const inside = findKeyAt(pair.value, offset, [...keyPath, name]);
      if (inside) return inside;
    }
  }
  if (isSeq(node)) {
    for (const [index, item] of node.items.entries()) {
      const inside = findKeyAt(item, offset, [...keyPath, index]);
      if (inside) return inside;
    }
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// Locating nodes

function keyName(key: unknown): string {
  return isScalar(key) ? String(key.value) : String(key);
}

function startOf(node: unknown): number | undefined {
  return isNode(node) ? node.range?.[0] : undefined;
}

/** The YAML node at `keyPath`, with the key node that introduces it when it sits in a map. */
function entryAt(ctx: FileContext, keyPath: KeyPath): { key?: unknown; value: unknown } | undefined {
  let entry: { key?: unknown; value: unknown } | undefined = { value: ctx.doc.contents };
  for (const segment of keyPath) {
    const node: unknown = entry?.value;
    if (isMap(node)) {
      const pair = node.items.find((item) => keyName(item.key) === String(segment));
      entry = pair && { key: pair.key, value: pair.value };
    } else if (isSeq(node) && typeof segment === "number") {
      entry = segment < node.items.length ? { value: node.items[segment] } : undefined;
    } else {
      entry = undefined;
    }
    if (!entry) return undefined;
  }
  return entry;
}

function lineOf(ctx: FileContext, offset: number | undefined): number | undefined {
  return offset === undefined ? undefined : ctx.lines.linePos(offset).line;
}

/** Line of the key (or list item) at `keyPath`; a missing key points at its parent, where it should be added. */
function keyLine(ctx: FileContext, keyPath: KeyPath): number | undefined {
  if (keyPath.length === 0) return lineOf(ctx, startOf(ctx.doc.contents)) ?? 1;
  const entry = entryAt(ctx, keyPath);
  if (!entry) return keyLine(ctx, keyPath.slice(0, -1));
  return lineOf(ctx, startOf(entry.key ?? entry.value)) ?? keyLine(ctx, keyPath.slice(0, -1));
}

/** Line of a scalar value; maps, lists and empty values point at the key that introduces them, where people look. */
function valueLine(ctx: FileContext, keyPath: KeyPath): number | undefined {
  const node = entryAt(ctx, keyPath)?.value;
  if (isScalar(node) && node.value !== null) return lineOf(ctx, startOf(node));
  return keyLine(ctx, keyPath);
}

function formatKeyPath(keyPath: KeyPath): string {
  return keyPath.map((segment, i) => (typeof segment === "number" ? `[${segment}]` : i === 0 ? segment : `.${segment}`)).join("");
}

function problemAt(ctx: FileContext, keyPath: KeyPath, line: number | undefined, message: string): ConfigProblem {
  return { file: ctx.file, line, keyPath: formatKeyPath(keyPath), message };
}

// ---------------------------------------------------------------------------------------------------------------
// ${VAR} substitution

/** `${NAME}`, or `$${NAME}` which escapes to a literal `${NAME}`. */
const VARIABLE_REFERENCE = /\$(\$?)\{([^}]*)\}/g;
const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

interface Expansion {
  value: string;
  substituted: boolean;
  missing: string[];
  invalid: string[];
}

function expandVariables(text: string, env: Record<string, string | undefined>): Expansion {
  const result: Expansion = { value: text, substituted: false, missing: [], invalid: [] };
  result.value = text.replace(VARIABLE_REFERENCE, (match, escape: string, name: string) => {
    if (escape) return match.slice(1);
    if (!VARIABLE_NAME.test(name)) {
      result.invalid.push(name);
      return match;
    }
    const value = env[name];
    if (value === undefined) {
      result.missing.push(name);
      return match;
    }
    result.substituted = true;
    return value;
  });
  return result;
}

/** Substitutes variables in every string value of the document in place, before validation sees it. */
function substituteVariables(ctx: FileContext, env: Record<string, string | undefined>): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  forEachStringScalar(ctx.doc.contents, [], (scalar, keyPath) => problems.push(...substituteScalar(ctx, scalar, keyPath, env)));
  return problems;
}

function forEachStringScalar(node: unknown, keyPath: KeyPath, visit: (scalar: Scalar, keyPath: KeyPath) => void): void {
  if (isMap(node)) {
    for (const pair of node.items) forEachStringScalar(pair.value, [...keyPath, keyName(pair.key)], visit);
  } else if (isSeq(node)) {
    for (const [index, item] of node.items.entries()) forEachStringScalar(item, [...keyPath, index], visit);
  } else if (isScalar(node) && typeof node.value === "string") {
    visit(node, keyPath);
  }
}

function substituteScalar(ctx: FileContext, scalar: Scalar, keyPath: KeyPath, env: Record<string, string | undefined>): ConfigProblem[] {
  const original = scalar.value as string;
  const expansion = expandVariables(original, env);
  const line = valueLine(ctx, keyPath);
  const problems = [
    ...expansion.missing.map((name) => problemAt(ctx, keyPath, line, `environment variable ${name} is not set`)),
    ...expansion.invalid.map((name) =>
      problemAt(ctx, keyPath, line, `invalid variable reference ${JSON.stringify("${" + name + "}")}: names use letters, digits and _`),
    ),
  ];
  if (problems.length > 0) ctx.envProblemPaths.add(formatKeyPath(keyPath));
  if (expansion.substituted) ctx.originals.set(formatKeyPath(keyPath), original);
  scalar.value = expansion.substituted && expectsNumber(keyPath) && /^\d+$/.test(expansion.value) ? Number(expansion.value) : expansion.value;
  return problems;
}

/** `port: ${DB_PORT}` has to become a number, but only where the schema wants one: a password of digits stays text. */
function expectsNumber(keyPath: KeyPath): boolean {
  return unwrapSchema(schemaAt(keyPath)) instanceof z.ZodNumber;
}

// ---------------------------------------------------------------------------------------------------------------
// Walking the schema (for known keys and expected types)

type AnySchema = z.ZodType;

function unwrapSchema(schema: AnySchema | undefined): AnySchema | undefined {
  let current = schema;
  while (current) {
    if (current instanceof z.ZodOptional || current instanceof z.ZodDefault) current = current.unwrap() as AnySchema;
    else if (current instanceof z.ZodPipe) current = current.in as AnySchema;
    else return current;
  }
  return undefined;
}

function childSchema(schema: AnySchema | undefined, segment: Segment): AnySchema | undefined {
  const current = unwrapSchema(schema);
  if (current instanceof z.ZodObject) return current.shape[String(segment)] as AnySchema | undefined;
  if (current instanceof z.ZodRecord) return current.valueType as AnySchema;
  if (current instanceof z.ZodArray) return current.element as AnySchema;
  if (current instanceof z.ZodUnion) {
    for (const option of current.options) {
      const child = childSchema(option as AnySchema, segment);
      if (child) return child;
    }
  }
  return undefined;
}

function schemaAt(keyPath: KeyPath): AnySchema | undefined {
  let schema: AnySchema | undefined = ServicesFileSchema;
  for (const segment of keyPath) schema = childSchema(schema, segment);
  return schema;
}

/** Which kind of source the user meant: the `sandbox` key decides, so errors describe that kind only. */
function sourceBranch(value: unknown): AnySchema {
  const [sandbox, server] = SourceSchema.options;
  return isRecord(value) && "sandbox" in value ? sandbox : server;
}

function knownKeys(keyPath: KeyPath, value: unknown): string[] {
  let schema = unwrapSchema(schemaAt(keyPath));
  if (schema instanceof z.ZodUnion) schema = sourceBranch(value);
  return schema instanceof z.ZodObject ? Object.keys(schema.shape).sort() : [];
}

// ---------------------------------------------------------------------------------------------------------------
// Validation and issue wording

interface LocatedIssue {
  issue: z.core.$ZodIssue;
  keyPath: KeyPath;
}

function validate(ctx: FileContext, raw: unknown): { problems: ConfigProblem[]; data?: ParsedFile } {
  const result = ServicesFileSchema.safeParse(raw);
  // zod's union error for `source` mixes both kinds of source; sourceIssues reports the one the user meant instead.
  const fileIssues = (result.success ? [] : result.error.issues)
    .map((issue) => ({ issue, keyPath: toKeyPath(issue.path) }))
    .filter(({ keyPath }) => !isSourcePath(keyPath));
  const problems = [...fileIssues, ...sourceIssues(raw)]
    .flatMap((located) => describeIssue(ctx, raw, located))
    .filter((problem) => !ctx.envProblemPaths.has(problem.keyPath));
  return { problems, data: result.success ? result.data : undefined };
}

function toKeyPath(zodPath: readonly PropertyKey[]): KeyPath {
  return zodPath.map((segment) => (typeof segment === "number" ? segment : String(segment)));
}

function isSourcePath(keyPath: KeyPath): boolean {
  return keyPath.length >= 3 && keyPath[0] === "services" && keyPath[2] === "source";
}

function sourceIssues(raw: unknown): LocatedIssue[] {
  const services = isRecord(raw) ? raw.services : undefined;
  if (!isRecord(services)) return [];
  return Object.entries(services).flatMap(([name, service]) => {
    if (!isRecord(service)) return [];
    const result = sourceBranch(service.source).safeParse(service.source);
    if (result.success) return [];
    return result.error.issues.map((issue) => ({ issue, keyPath: ["services", name, "source", ...toKeyPath(issue.path)] }));
  });
}

function describeIssue(ctx: FileContext, raw: unknown, { issue, keyPath }: LocatedIssue): ConfigProblem[] {
  const value = valueAt(raw, keyPath);
  const at = (message: string) => problemAt(ctx, keyPath, valueLine(ctx, keyPath), message);
  switch (issue.code) {
    case "unrecognized_keys":
      return issue.keys.map((key) =>
        problemAt(ctx, [...keyPath, key], keyLine(ctx, [...keyPath, key]), unknownKeyMessage(key, knownKeys(keyPath, value))),
      );
    case "invalid_type":
      if (isMissing(raw, keyPath)) return [problemAt(ctx, keyPath, keyLine(ctx, keyPath.slice(0, -1)), "required key missing")];
      return [at(`expected ${describeExpected(issue.expected)}, got ${shown(ctx, keyPath, value)}`)];
    case "invalid_value":
      return [at(invalidValueMessage(ctx, keyPath, value, issue.values))];
    case "too_small":
      return [at(tooSmallMessage(ctx, keyPath, value, issue.origin, issue.minimum))];
    case "too_big":
      return [at(`must be at most ${String(issue.maximum)}, got ${shown(ctx, keyPath, value)}`)];
    case "invalid_key":
      return [problemAt(ctx, keyPath, keyLine(ctx, keyPath), `invalid name: ${issue.issues.map((inner) => inner.message).join("; ")}`)];
    case "custom":
      if (typeof issue.params?.expected === "string") return [at(`expected ${issue.params.expected}, got ${shown(ctx, keyPath, value)}`)];
      return [at(redactSubstituted(ctx, keyPath, value, issue.message))];
    default:
      return [at(redactSubstituted(ctx, keyPath, value, issue.message))];
  }
}

function unknownKeyMessage(key: string, known: string[]): string {
  const list = known.length > 0 ? ` (known keys: ${known.join(", ")})` : "";
  return `unknown key ${JSON.stringify(key)}${suggestion(key, known)}${list}`;
}

function invalidValueMessage(ctx: FileContext, keyPath: KeyPath, value: unknown, values: readonly unknown[]): string {
  if (keyPath.at(-2) === "checks") {
    const name = JSON.stringify(value);
    return `unknown check ${name}${suggestion(String(value), [...CHECK_NAMES])} (known checks: ${CHECK_NAMES.join(", ")})`;
  }
  return `expected one of ${values.map((v) => JSON.stringify(v)).join(", ")}, got ${shown(ctx, keyPath, value)}`;
}

function tooSmallMessage(ctx: FileContext, keyPath: KeyPath, value: unknown, origin: string, minimum: number | bigint): string {
  if (origin === "string") return "must not be empty";
  if (origin === "array") return `must list at least ${String(minimum)} item${minimum === 1 ? "" : "s"}`;
  return `must be at least ${String(minimum)}, got ${shown(ctx, keyPath, value)}`;
}

const EXPECTED_WORDS: Record<string, string> = {
  string: "a string",
  number: "a number",
  int: "an integer",
  boolean: "true or false",
  object: "a map",
  array: "a list",
};

function describeExpected(expected: string): string {
  return EXPECTED_WORDS[expected] ?? `a value of type ${expected}`;
}

const SECRET_KEYS = new Set(["password"]);
const SHOWN_VALUE_LENGTH = 40;

/** A value as it may appear in a message: never a substituted variable's value, never a password. */
function shown(ctx: FileContext, keyPath: KeyPath, value: unknown): string {
  const original = ctx.originals.get(formatKeyPath(keyPath));
  if (original !== undefined) return truncate(JSON.stringify(original));
  if (SECRET_KEYS.has(String(keyPath.at(-1)))) return "a hidden value";
  if (value === null || value === undefined) return "an empty value";
  // Collections are named, not dumped: their members may hold substituted secrets.
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a map";
  return truncate(JSON.stringify(value));
}

function truncate(text: string): string {
  return text.length <= SHOWN_VALUE_LENGTH ? text : `${text.slice(0, SHOWN_VALUE_LENGTH - 1)}…`;
}

/** A message zod wrote itself may quote the value; at a substituted path that value is swapped for the `${VAR}` text. */
function redactSubstituted(ctx: FileContext, keyPath: KeyPath, value: unknown, message: string): string {
  const original = ctx.originals.get(formatKeyPath(keyPath));
  if (original === undefined || typeof value !== "string" || value === "") return message;
  return message.split(value).join(original);
}

function isMissing(raw: unknown, keyPath: KeyPath): boolean {
  const parent = valueAt(raw, keyPath.slice(0, -1));
  const key = keyPath.at(-1);
  return keyPath.length > 0 && isRecord(parent) && !Object.hasOwn(parent, String(key));
}

function valueAt(raw: unknown, keyPath: KeyPath): unknown {
  let current = raw;
  for (const segment of keyPath) {
    if (Array.isArray(current) && typeof segment === "number") current = current[segment];
    else if (isRecord(current)) current = current[String(segment)];
    else return undefined;
  }
  return current;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

// ---------------------------------------------------------------------------------------------------------------
// Typo suggestions

/** `, did you mean "timeout"?` when `word` is a near typo of one candidate, else nothing. */
function suggestion(word: string, candidates: string[]): string {
  const limit = word.length > 5 ? 2 : 1;
  let best: { candidate: string; distance: number } | undefined;
  for (const candidate of candidates) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (distance <= limit && (!best || distance < best.distance)) best = { candidate, distance };
  }
  return best ? `, did you mean ${JSON.stringify(best.candidate)}?` : "";
}

/** Optimal string alignment distance: like Levenshtein, but a swapped pair of letters ("tiemout") costs one edit. */
function editDistance(a: string, b: string): number {
  const rows: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 0; j <= b.length; j++) (rows[0] as number[])[j] = j;
  for (let i = 1; i <= a.length; i++) {
    const row = rows[i] as number[];
    const above = rows[i - 1] as number[];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min((above[j] as number) + 1, (row[j - 1] as number) + 1, (above[j - 1] as number) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        row[j] = Math.min(row[j] as number, ((rows[i - 2] as number[])[j - 2] as number) + 1);
      }
    }
  }
  return (rows[a.length] as number[])[b.length] as number;
}

// ---------------------------------------------------------------------------------------------------------------
// Checks zod cannot make: the file system, and a file with nothing to do

function fileSystemProblems(ctx: FileContext, raw: unknown, baseDir: string): ConfigProblem[] {
  const services = isRecord(raw) ? raw.services : undefined;
  if (!isRecord(services)) return [];
  if (Object.keys(services).length === 0) {
    return [problemAt(ctx, ["services"], keyLine(ctx, ["services"]), "no services defined")];
  }
  return Object.keys(services).flatMap((name) =>
    (["seed", "changes"] as const).flatMap((key) => seedProblems(ctx, raw, ["services", name, "source", "sandbox", key], baseDir)),
  );
}

function seedProblems(ctx: FileContext, raw: unknown, keyPath: KeyPath, baseDir: string): ConfigProblem[] {
  const seed = valueAt(raw, keyPath);
  if (typeof seed !== "string" || seed === "" || ctx.envProblemPaths.has(formatKeyPath(keyPath))) return [];
  const resolved = path.resolve(baseDir, seed);
  const named = ctx.originals.get(formatKeyPath(keyPath)) ?? resolved;
  if (!existsSync(resolved)) return [problemAt(ctx, keyPath, valueLine(ctx, keyPath), `directory does not exist: ${named}`)];
  if (!statSync(resolved).isDirectory()) return [problemAt(ctx, keyPath, valueLine(ctx, keyPath), `not a directory: ${named}`)];
  return [];
}

/** A key of a service's block as it applies after merging: the service's own, else the defaults block's, with where it was written. */
function effectiveSetting(raw: unknown, service: string, block: "backup" | "restore", key: string): { value: unknown; keyPath: KeyPath } {
  const own = valueAt(raw, ["services", service, block]);
  if (isRecord(own) && Object.hasOwn(own, key)) return { value: own[key], keyPath: ["services", service, block, key] };
  const defaults = valueAt(raw, ["defaults", block]);
  return { value: isRecord(defaults) ? defaults[key] : undefined, keyPath: ["defaults", block, key] };
}

/** What each non-local provider needs in its own block, for the message when that block is missing. */
const PROVIDER_BLOCKS: Record<string, string> = {
  ssh: "host, user, identityFile (or agent: true), and knownHosts or hostKeyFingerprint",
  command: "create and destroy hooks",
};

/**
 * `provider: ssh` needs an `ssh` block and `provider: command` a `command` block, after defaults are merged:
 * either may come from the defaults block, so this is checked here rather than in the schema.
 */
function providerProblems(ctx: FileContext, raw: unknown): ConfigProblem[] {
  const services = isRecord(raw) ? raw.services : undefined;
  if (!isRecord(services)) return [];
  return Object.keys(services).flatMap((name) => {
    const setting = (key: string) => effectiveSetting(raw, name, "restore", key);
    const provider = setting("provider");
    if (typeof provider.value !== "string" || !(provider.value in PROVIDER_BLOCKS)) return [];
    if (setting(provider.value).value !== undefined) return [];
    const keyPath = ["services", name, "restore", provider.value];
    const message = `required when provider is "${provider.value}": add ${PROVIDER_BLOCKS[provider.value]}`;
    return [problemAt(ctx, keyPath, keyLine(ctx, provider.keyPath), message)];
  });
}

/**
 * A stream is written by the xtrabackup family only, and compression and encryption apply to streams (a directory
 * backup is the tool's own files). The keys may come from the defaults block, so this is checked here.
 */
function storageProblems(ctx: FileContext, raw: unknown): ConfigProblem[] {
  const services = isRecord(raw) ? raw.services : undefined;
  if (!isRecord(services)) return [];
  return Object.keys(services).flatMap((name) => {
    const setting = (key: string) => effectiveSetting(raw, name, "backup", key);
    const format = setting("format");
    const tool = setting("tool");
    const problems: ConfigProblem[] = [];
    const toolName = typeof tool.value === "string" ? tool.value : "mariabackup";
    if (format.value === "stream" && toolName !== "mariabackup" && toolName !== "xtrabackup") {
      problems.push(problemAt(ctx, format.keyPath, keyLine(ctx, format.keyPath), `format stream needs tool mariabackup or xtrabackup (service ${name} uses ${toolName}, which writes a directory)`));
    }
    for (const key of ["compress", "encrypt"]) {
      const value = setting(key);
      if (value.value === undefined || value.value === "none" || format.value === "stream") continue;
      problems.push(problemAt(ctx, value.keyPath, keyLine(ctx, value.keyPath), `${key} applies to stream backups: add format: stream to service ${name}'s backup block (a directory backup is stored as the tool wrote it)`));
    }
    return problems;
  });
}

/**
 * `rejoin` against a real server needs a replication user, and a TCP address for the replica to connect to; a
 * sandbox source has both made for it. These depend on the source block, so they are checked here.
 */
function rejoinProblems(ctx: FileContext, raw: unknown): ConfigProblem[] {
  const services = isRecord(raw) ? raw.services : undefined;
  if (!isRecord(services)) return [];
  return Object.keys(services).flatMap((name) => {
    const rejoin = valueAt(raw, ["services", name, "rejoin"]);
    const source = valueAt(raw, ["services", name, "source"]);
    if (!isRecord(rejoin) || rejoin.enabled === false || !isRecord(source) || "sandbox" in source) return [];
    const at = ["services", name, "rejoin"];
    const problems: ConfigProblem[] = [];
    if (rejoin.user === undefined) {
      problems.push(problemAt(ctx, [...at, "user"], keyLine(ctx, at), "required key missing: the replication user (REPLICATION SLAVE) the rebuilt replica connects as, and its password"));
    }
    if (rejoin.source === undefined && typeof source.socket === "string") {
      problems.push(
        problemAt(ctx, [...at, "source"], keyLine(ctx, at), "required key missing: the source is reached by socket, but a replica connects over TCP: set rejoin.source.host (and rejoin.source.port, default 3306), the source's address as the restore host reaches it"),
      );
    }
    return problems;
  });
}

/**
 * The team's queries (`verify.queries`, in a service or in defaults): each names itself once, has its SQL inline or in
 * a file beside services.yaml (never both), and that SQL is one statement that only reads, naming known placeholders.
 */
function queryProblems(ctx: FileContext, raw: unknown, baseDir: string): ConfigProblem[] {
  const services = valueAt(raw, ["services"]);
  const lists: KeyPath[] = [["defaults", "verify", "queries"], ...(isRecord(services) ? Object.keys(services).map((n) => ["services", n, "verify", "queries"]) : [])];
  return lists.flatMap((listPath) => {
    const list = valueAt(raw, listPath);
    if (!Array.isArray(list)) return [];
    const firstLine = new Map<string, number | undefined>();
    return list.flatMap((item, index): ConfigProblem[] => {
      if (!isRecord(item)) return [];
      const at = [...listPath, index];
      const problems: ConfigProblem[] = [];
      const problem = (key: string, message: string, line = valueLine(ctx, [...at, key])) => problems.push(problemAt(ctx, [...at, key], line, message));
      if (typeof item.name === "string" && item.name.trim()) {
        const name = item.name.trim();
        if (firstLine.has(name)) problem("name", `duplicate query name ${JSON.stringify(name)} (first on line ${firstLine.get(name)}): each query is one test, named by it`);
        else firstLine.set(name, valueLine(ctx, [...at, "name"]));
      }
      if (item.sql === undefined && item.file === undefined) {
        problem("sql", "required key missing: sql (the query), or file (a file of SQL beside services.yaml)", keyLine(ctx, at));
      } else if (item.sql !== undefined && item.file !== undefined) {
        problem("file", "set either sql or file, not both");
      } else if (typeof item.sql === "string" && !ctx.envProblemPaths.has(formatKeyPath([...at, "sql"]))) {
        for (const message of statementProblems(item.sql)) problem("sql", message);
      } else if (typeof item.file === "string" && item.file !== "" && !ctx.envProblemPaths.has(formatKeyPath([...at, "file"]))) {
        const resolved = path.resolve(baseDir, item.file);
        if (!existsSync(resolved)) problem("file", `file does not exist: ${resolved}`);
        else if (statSync(resolved).isDirectory()) problem("file", `is a directory, expected a file of SQL: ${resolved}`);
        else for (const message of statementProblems(readFileSync(resolved, "utf8"))) problem("file", `${item.file}: ${message}`);
      }
      return problems;
    });
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Merging defaults

function buildServices(data: ParsedFile, raw: unknown, baseDir: string): Service[] {
  const rawDefaults = valueAt(raw, ["defaults"]);
  return Object.entries(data.services).map(([name, parsed]) => {
    const rawService = valueAt(raw, ["services", name]);
    const section = <K extends "backup" | "restore" | "verify">(key: K) => [
      { parsed: data.defaults?.[key], raw: valueAt(rawDefaults, [key]) },
      { parsed: parsed[key], raw: valueAt(rawService, [key]) },
    ];
    const service: Service = {
      name,
      source: parsed.source,
      ...(parsed.databases ? { databases: parsed.databases } : {}),
      backup: mergeSection(BackupSchema.parse({}), section("backup")),
      restore: mergeSection(RestoreSchema.parse({}), section("restore")),
      verify: mergeSection(VerifySchema.parse({}), section("verify")),
      ...(parsed.rejoin?.enabled ? { rejoin: parsed.rejoin } : {}),
      ...(parsed.into ? { into: parsed.into } : {}),
      objectives: { ...data.defaults?.objectives, ...parsed.objectives },
    };
    return resolvePaths(service, baseDir);
  });
}

/**
 * Schema defaults, then each layer's keys. Only keys written in the file count: `.partial()` still fills in schema
 * defaults, which would otherwise let a service's block silently undo the `defaults` block.
 */
function mergeSection<T extends object>(schemaDefaults: T, layers: { parsed: object | undefined; raw: unknown }[]): T {
  const merged: Record<string, unknown> = { ...(schemaDefaults as Record<string, unknown>) };
  for (const { parsed, raw } of layers) {
    if (!parsed || !isRecord(raw)) continue;
    for (const key of Object.keys(raw)) {
      if (Object.hasOwn(parsed, key)) merged[key] = (parsed as Record<string, unknown>)[key];
    }
  }
  return merged as T;
}

/** Relative paths mean "next to services.yaml", whatever directory the tool is started from. */
function resolvePaths(service: Service, baseDir: string): Service {
  if ("sandbox" in service.source) {
    const { seed, changes } = service.source.sandbox;
    service.source = {
      sandbox: { ...service.source.sandbox, seed: path.resolve(baseDir, seed), ...(changes !== undefined ? { changes: path.resolve(baseDir, changes) } : {}) },
    };
  }
  service.backup.store = path.resolve(baseDir, service.backup.store);
  if (service.backup.toolchain !== undefined) service.backup.toolchain = localPath(baseDir, service.backup.toolchain);
  if (service.restore.workDir !== undefined) service.restore.workDir = path.resolve(baseDir, service.restore.workDir);
  if (service.backup.encrypt) service.backup.encrypt = { keyFile: localPath(baseDir, service.backup.encrypt.keyFile) };
  // A query's file is read once here: the backup job and the nightly run the SQL it held when services.yaml was read.
  service.verify.queries = service.verify.queries.map((q) => (q.file === undefined ? q : { ...q, file: path.resolve(baseDir, q.file), sql: readFileSync(path.resolve(baseDir, q.file), "utf8").trim() }));
  // Blocks merged from `defaults` are shared between services: replaced, never changed in place.
  const ssh = service.restore.ssh;
  if (ssh) {
    service.restore.ssh = {
      ...ssh,
      ...(ssh.identityFile !== undefined ? { identityFile: localPath(baseDir, ssh.identityFile) } : {}),
      ...(ssh.knownHosts !== undefined ? { knownHosts: localPath(baseDir, ssh.knownHosts) } : {}),
    };
  }
  const command = service.restore.command;
  if (command) service.restore.command = { ...command, cwd: command.cwd === undefined ? baseDir : localPath(baseDir, command.cwd) };
  return service;
}

/** A path on this machine: `~/` is the home directory (as in ssh_config), anything else relative is next to services.yaml. */
function localPath(baseDir: string, file: string): string {
  if (file === "~" || file.startsWith("~/")) return path.join(os.homedir(), file.slice(1));
  return path.resolve(baseDir, file);
}
