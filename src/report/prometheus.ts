// The Prometheus text exposition format (version 0.0.4): metric families rendered as text, and the samples of such a text read back.

export interface Sample {
  /** Label names to values, in the order they are written. */
  labels: Record<string, string>;
  value: number;
}

export interface MetricFamily {
  name: string;
  help: string;
  type: "gauge";
  samples: Sample[];
}

/** A sample line read back from a file: which family it belongs to, by name. */
export interface ParsedSample extends Sample {
  name: string;
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/**
 * The families as exposition text: HELP and TYPE once per family, then its samples. Families without samples are left
 * out; a bad name or two samples with one label set throw, since Prometheus would reject the whole file for either.
 */
export function renderFamilies(families: readonly MetricFamily[]): string {
  const lines: string[] = [];
  const names = new Set<string>();
  for (const family of families) {
    if (!METRIC_NAME.test(family.name)) throw new Error(`invalid metric name ${JSON.stringify(family.name)}`);
    if (names.has(family.name)) throw new Error(`metric family ${family.name} given twice`);
    names.add(family.name);
    if (family.samples.length === 0) continue;
    lines.push(`# HELP ${family.name} ${escapeHelp(family.help)}`, `# TYPE ${family.name} ${family.type}`);
    const seen = new Set<string>();
    for (const sample of family.samples) {
      const line = `${family.name}${renderLabels(sample.labels)} ${formatValue(sample.value)}`;
      const series = line.slice(0, line.lastIndexOf(" "));
      if (seen.has(series)) throw new Error(`duplicate sample ${series}`);
      seen.add(series);
      lines.push(line);
    }
  }
  return lines.length === 0 ? "" : `${lines.join("\n")}\n`;
}

function renderLabels(labels: Record<string, string>): string {
  const pairs = Object.entries(labels).map(([name, value]) => {
    if (!LABEL_NAME.test(name) || name.startsWith("__")) throw new Error(`invalid label name ${JSON.stringify(name)}`);
    return `${name}="${escapeLabelValue(value)}"`;
  });
  return pairs.length === 0 ? "" : `{${pairs.join(",")}}`;
}

/** Backslash, double quote and line feed are the three characters a label value escapes. */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

/** HELP text escapes only backslash and line feed. */
export function escapeHelp(text: string): string {
  return text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

export function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

/**
 * The sample lines of an exposition text, as renderFamilies writes them (no timestamps). Lines that do not parse are
 * skipped: a file someone edited by hand costs its broken lines, not the whole file.
 */
export function parseSamples(text: string): ParsedSample[] {
  const samples: ParsedSample[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const sample = parseSampleLine(line);
    if (sample) samples.push(sample);
  }
  return samples;
}

function parseSampleLine(line: string): ParsedSample | undefined {
  const name = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)?.[0];
  if (!name) return undefined;
  let rest = line.slice(name.length);
  const labels: Record<string, string> = {};
  if (rest.startsWith("{")) {
    const parsed = parseLabels(rest);
    if (!parsed) return undefined;
    Object.assign(labels, parsed.labels);
    rest = rest.slice(parsed.length);
  }
  const valueText = /^ (\S+)$/.exec(rest)?.[1];
  const value = valueText === undefined ? undefined : parseValue(valueText);
  return value === undefined ? undefined : { name, labels, value };
}

/** `{a="x",b="y\"z"}` at the start of `text`: the labels and how many characters they took. */
function parseLabels(text: string): { labels: Record<string, string>; length: number } | undefined {
  const labels: Record<string, string> = {};
  let i = 1;
  while (i < text.length) {
    if (text[i] === "}") return { labels, length: i + 1 };
    const name = /^[a-zA-Z_][a-zA-Z0-9_]*="/.exec(text.slice(i))?.[0];
    if (!name) return undefined;
    i += name.length;
    let value = "";
    for (; i < text.length && text[i] !== '"'; i++) {
      if (text[i] !== "\\") value += text[i];
      else value += text[++i] === "n" ? "\n" : (text[i] ?? "");
    }
    if (i >= text.length) return undefined;
    labels[name.slice(0, -2)] = value;
    i++;
    if (text[i] === ",") i++;
  }
  return undefined;
}

function parseValue(text: string): number | undefined {
  if (text === "NaN") return NaN;
  if (text === "+Inf") return Infinity;
  if (text === "-Inf") return -Infinity;
  const value = Number(text);
  return Number.isNaN(value) || text.trim() === "" ? undefined : value;
}
