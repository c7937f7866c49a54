// Reading JUnit XML back in tests: just enough to assert names, verdicts and messages.

export interface ParsedCase {
  classname: string;
  name: string;
  failure?: string;
  failureBody?: string;
  skipped: boolean;
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
  const re = /<testcase classname="([^"]*)" name="([^"]*)" time="[^"]*"(?:\/>|>([\s\S]*?)<\/testcase>)/g;
  for (const m of xml.matchAll(re)) {
    const body = m[3] ?? "";
    const failure = /<failure message="([^"]*)" type="[^"]*">([\s\S]*?)<\/failure>/.exec(body);
    const properties: Record<string, string> = {};
    for (const p of body.matchAll(/<property name="([^"]*)" value="([^"]*)"\/>/g)) properties[unescape(p[1] as string)] = unescape(p[2] as string);
    cases.push({
      classname: unescape(m[1] as string),
      name: unescape(m[2] as string),
      failure: failure ? unescape(failure[1] as string) : undefined,
      failureBody: failure ? unescape(failure[2] as string) : undefined,
      skipped: /<skipped/.test(body),
      properties,
    });
  }
  return cases;
}
