// Reading JUnit XML back in tests: just enough to assert names, verdicts and messages; and checking it against Jenkins' schema.
import { resolve } from "node:path";
import { execa } from "execa";

/** Jenkins xUnit plugin's schema for JUnit XML (vendored, MIT: see the file's header). */
export const JUNIT_XSD = resolve(import.meta.dirname, "junit-jenkins.xsd");

/** xmllint's verdict on a JUnit file (Debian package libxml2-utils, installed by scripts/install-system-deps.sh). */
export async function validateJUnit(path: string): Promise<{ valid: boolean; errors: string }> {
  const r = await execa("xmllint", ["--noout", "--schema", JUNIT_XSD, path], { reject: false });
  return { valid: r.exitCode === 0, errors: String(r.stderr) };
}

export interface ParsedCase {
  classname: string;
  name: string;
  timeSeconds: number;
  failure?: string;
  failureBody?: string;
  skipped: boolean;
  /** `<skipped message="…">`: why, when the test said. */
  skippedMessage?: string;
  properties: Record<string, string>;
}

const unescape = (text: string): string =>
  text
    .replace(/&#(\d+);/g, (_, code: string) => String.fromCharCode(Number(code)))
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, "&");

export function parseJUnit(xml: string): ParsedCase[] {
  const cases: ParsedCase[] = [];
  const re = /<testcase classname="([^"]*)" name="([^"]*)" time="([^"]*)"(?:\/>|>([\s\S]*?)<\/testcase>)/g;
  for (const m of xml.matchAll(re)) {
    const body = m[4] ?? "";
    const failure = /<failure message="([^"]*)" type="[^"]*">([\s\S]*?)<\/failure>/.exec(body);
    const properties: Record<string, string> = {};
    // A case's properties are `name: value` lines in its <system-out> (junit-jenkins.xsd allows no <properties> there).
    const out = /<system-out>([\s\S]*?)<\/system-out>/.exec(body);
    for (const line of unescape(out?.[1] ?? "").split("\n")) {
      const p = /^([\w.-]+): (.*)$/.exec(line);
      if (p) properties[p[1] as string] = p[2] as string;
    }
    cases.push({
      classname: unescape(m[1] as string),
      name: unescape(m[2] as string),
      timeSeconds: Number(m[3]),
      failure: failure ? unescape(failure[1] as string) : undefined,
      failureBody: failure ? unescape(failure[2] as string) : undefined,
      skipped: /<skipped/.test(body),
      ...(/<skipped message="([^"]*)"/.exec(body) ? { skippedMessage: unescape(/<skipped message="([^"]*)"/.exec(body)?.[1] as string) } : {}),
      properties,
    });
  }
  return cases;
}
