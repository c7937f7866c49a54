// JUnit XML for Jenkins: one <testsuite> per project, classname `service.database.table`, the check as test name.
import { mkdirSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { dirname } from "node:path";
import type { Reporter, TestCase, TestModule, TestSuite } from "vitest/node";
import type { SerializedError } from "vitest";
import { maskSecrets } from "../base/secrets.ts";
import "./meta.ts";

export interface JUnitCase {
  classname: string;
  name: string;
  timeSeconds: number;
  state: "passed" | "failed" | "skipped";
  /** First line of the failure, for the message attribute; the whole text goes in the body. */
  failure?: { message: string; type: string; body: string };
  skippedMessage?: string;
  properties: { name: string; value: string }[];
}

export interface JUnitSuite {
  name: string;
  timestamp: string;
  cases: JUnitCase[];
}

const escapeXml = (text: string): string =>
  // XML 1.0 forbids most control characters even when escaped; drop them.
  // eslint-disable-next-line no-control-regex
  text.replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F]/g, "").replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);


/** A case's properties as `name: value` lines (test/support/junit.ts reads them back the same way). */
export function renderProperties(properties: JUnitCase["properties"]): string {
  return properties.map((p) => `${p.name}: ${p.value.replace(/\r?\n/g, " ")}`).join("\n");
}

/** Render suites as JUnit XML valid against our schema of what Jenkins reads (test/support/junit-jenkins.xsd). */
export function renderJUnit(suites: JUnitSuite[], name = "restoretest"): string {
  const count = (s: JUnitSuite[], state: JUnitCase["state"]) => s.flatMap((x) => x.cases).filter((c) => c.state === state).length;
  const total = (s: JUnitSuite[]) => s.reduce((n, x) => n + x.cases.length, 0);
  const time = (s: JUnitSuite[]) => s.flatMap((x) => x.cases).reduce((t, c) => t + c.timeSeconds, 0);
  const out = [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    // junit-jenkins.xsd allows no `skipped` on <testsuites>: the per-suite counts carry it.
    `<testsuites name="${escapeXml(name)}" tests="${total(suites)}" failures="${count(suites, "failed")}" errors="0" time="${time(suites).toFixed(3)}">`,
  ];
  suites.forEach((suite, id) => {
    out.push(
      `  <testsuite name="${escapeXml(suite.name)}" id="${id}" hostname="${escapeXml(hostname())}" timestamp="${suite.timestamp}" ` +
        `tests="${suite.cases.length}" failures="${count([suite], "failed")}" errors="0" skipped="${count([suite], "skipped")}" time="${time([suite]).toFixed(3)}">`,
    );
    for (const c of suite.cases) {
      const attrs = `classname="${escapeXml(c.classname)}" name="${escapeXml(c.name)}" time="${c.timeSeconds.toFixed(3)}"`;
      const children: string[] = [];
      if (c.failure) {
        children.push(`      <failure message="${escapeXml(c.failure.message)}" type="${escapeXml(c.failure.type)}">${escapeXml(c.failure.body)}</failure>`);
      }
      if (c.state === "skipped") children.push(`      <skipped${c.skippedMessage ? ` message="${escapeXml(c.skippedMessage)}"` : ""}/>`);
      // junit-jenkins.xsd has no <properties> in a <testcase>; Jenkins shows a case's <system-out> on its page instead.
      if (c.properties.length > 0) children.push(`      <system-out>${escapeXml(renderProperties(c.properties))}</system-out>`);
      out.push(children.length ? `    <testcase ${attrs}>\n${children.join("\n")}\n    </testcase>` : `    <testcase ${attrs}/>`);
    }
    out.push(`  </testsuite>`);
  });
  out.push(`</testsuites>`, "");
  return out.join("\n");
}

function ancestors(node: TestCase | TestSuite): string[] {
  const names: string[] = [];
  let parent = node.parent;
  while (parent.type === "suite") {
    names.unshift(parent.name);
    parent = parent.parent;
  }
  return names;
}

const PLAIN_FAILURES = new Set(["CheckFailed", "ConfigFailed"]);

/** Default classname for the tool's own tests: the file, then describe blocks. */
function classnameOf(test: TestCase): string {
  return test.meta().classname ?? [test.module.relativeModuleId, ...ancestors(test)].join(" › ");
}

function failureOf(errors: readonly SerializedError[]): JUnitCase["failure"] {
  const text = errors.map((e) => maskSecrets(`${e.message ?? String(e)}`)).join("\n\n");
  const first = errors[0];
  // A check's or a config entry's failure is its message: a stack trace would only bury it.
  const body = errors.map((e) => maskSecrets(e.stack && !PLAIN_FAILURES.has(e.name ?? "") ? e.stack : `${e.name}: ${e.message}`)).join("\n\n");
  return { message: text.split("\n")[0]?.slice(0, 500) ?? "", type: first?.name ?? "Error", body };
}

function caseOf(test: TestCase): JUnitCase {
  const result = test.result();
  const properties = test.annotations().map((a) => ({ name: a.type, value: maskSecrets(a.message) }));
  const base = { classname: classnameOf(test), name: test.name, timeSeconds: (test.diagnostic()?.duration ?? 0) / 1000, properties };
  if (result.state === "failed") return { ...base, state: "failed", failure: failureOf(result.errors) };
  if (result.state === "passed") return { ...base, state: "passed" };
  return { ...base, state: "skipped", skippedMessage: result.state === "skipped" ? result.note : "not run" };
}

/** Hook failures (beforeAll/afterAll) and module load errors become failed cases of their own, never silent skips. */
function hookFailures(module: TestModule): JUnitCase[] {
  const cases: JUnitCase[] = [];
  const fromErrors = (classname: string, name: string, errors: readonly SerializedError[]) => {
    if (errors.length > 0) cases.push({ classname, name, timeSeconds: 0, state: "failed", failure: failureOf(errors), properties: [] });
  };
  fromErrors(module.relativeModuleId, "(module)", module.errors());
  for (const suite of module.children.allSuites()) fromErrors([...ancestors(suite), suite.name].join("."), "(suite hooks)", suite.errors());
  return cases;
}

export function junitSuites(modules: readonly TestModule[]): JUnitSuite[] {
  const byProject = new Map<string, JUnitSuite>();
  for (const module of modules) {
    const name = module.project.name || "default";
    const suite = byProject.get(name) ?? { name, timestamp: new Date().toISOString().replace(/\.\d+Z$/, ""), cases: [] };
    byProject.set(name, suite);
    suite.cases.push(...[...module.children.allTests()].map(caseOf), ...hookFailures(module));
  }
  return [...byProject.values()];
}

/** vitest reporter writing `outputFile` at the end of the run. */
export default class JUnitReporter implements Reporter {
  constructor(private readonly options: { outputFile: string }) {}

  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    mkdirSync(dirname(this.options.outputFile), { recursive: true });
    writeFileSync(this.options.outputFile, renderJUnit(junitSuites(modules)));
  }
}
