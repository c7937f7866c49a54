// The text exposition format: escaping, names, values and reading a file back, judged by Debian's promtool as Prometheus would.
import { describe, expect, it } from "vitest";
import { escapeHelp, escapeLabelValue, parseSamples, renderFamilies, type MetricFamily } from "../../src/report/prometheus.ts";
import { promtoolCheckMetrics } from "./promtool.ts";

const gauge = (name: string, samples: MetricFamily["samples"], help = "Some help."): MetricFamily => ({ name, help, type: "gauge", samples });

describe("rendering", () => {
  it("writes HELP and TYPE once per family, then its samples, and leaves out families without samples", () => {
    const text = renderFamilies([
      gauge("restoretest_success", [
        { labels: { service: "blog" }, value: 1 },
        { labels: { service: "shop" }, value: 0 },
      ]),
      gauge("restoretest_rejoin_catch_up_seconds", []),
      gauge("restoretest_restore_step_seconds", [{ labels: { service: "blog", step: "prepare" }, value: 0.448 }], "Time a step took."),
    ]);
    expect(text).toBe(
      [
        "# HELP restoretest_success Some help.",
        "# TYPE restoretest_success gauge",
        'restoretest_success{service="blog"} 1',
        'restoretest_success{service="shop"} 0',
        "# HELP restoretest_restore_step_seconds Time a step took.",
        "# TYPE restoretest_restore_step_seconds gauge",
        'restoretest_restore_step_seconds{service="blog",step="prepare"} 0.448',
        "",
      ].join("\n"),
    );
    expect(renderFamilies([gauge("restoretest_success", [])])).toBe("");
  });

  it("escapes backslash, double quote and line feed in label values, and backslash and line feed in HELP", () => {
    expect(escapeLabelValue('a\\b"c\nd')).toBe('a\\\\b\\"c\\nd');
    expect(escapeHelp('say "hi"\\\nbye')).toBe('say "hi"\\\\\\nbye');
    const text = renderFamilies([gauge("m", [{ labels: { service: 'we"ird\\na\nme' }, value: 2 }], "line one\nline two \\ end")]);
    expect(text).toBe('# HELP m line one\\nline two \\\\ end\n# TYPE m gauge\nm{service="we\\"ird\\\\na\\nme"} 2\n');
  });

  it("writes special values the way Prometheus reads them", () => {
    const text = renderFamilies([
      gauge("m", [
        { labels: { v: "nan" }, value: NaN },
        { labels: { v: "inf" }, value: Infinity },
        { labels: { v: "-inf" }, value: -Infinity },
        { labels: { v: "tiny" }, value: 1e-7 },
        { labels: { v: "time" }, value: 1795578051.169 },
      ]),
    ]);
    expect(text.split("\n").slice(2, 7)).toEqual(['m{v="nan"} NaN', 'm{v="inf"} +Inf', 'm{v="-inf"} -Inf', 'm{v="tiny"} 1e-7', 'm{v="time"} 1795578051.169']);
  });

  it("refuses names Prometheus would reject, a family given twice and a series written twice", () => {
    expect(() => renderFamilies([gauge("restoretest-success", [{ labels: {}, value: 1 }])])).toThrow('invalid metric name "restoretest-success"');
    expect(() => renderFamilies([gauge("m", [{ labels: { "step-name": "x" }, value: 1 }])])).toThrow('invalid label name "step-name"');
    expect(() => renderFamilies([gauge("m", [{ labels: { __name__: "x" }, value: 1 }])])).toThrow('invalid label name "__name__"');
    expect(() => renderFamilies([gauge("m", []), gauge("m", [])])).toThrow("metric family m given twice");
    const twice = { labels: { service: "blog", step: "apply-incremental" }, value: 1 };
    expect(() => renderFamilies([gauge("m", [twice, twice])])).toThrow('duplicate sample m{service="blog",step="apply-incremental"}');
  });
});

describe("reading a file back", () => {
  it("gives back every sample it wrote, escapes undone, special values included", () => {
    const families = [
      gauge("a", [
        { labels: { service: 'q"uo\\te\nnl', step: "x,y}" }, value: 1.5 },
        { labels: { service: "shop" }, value: NaN },
      ]),
      gauge("b", [{ labels: {}, value: -Infinity }]),
    ];
    const parsed = parseSamples(renderFamilies(families));
    expect(parsed).toEqual([
      { name: "a", labels: { service: 'q"uo\\te\nnl', step: "x,y}" }, value: 1.5 },
      { name: "a", labels: { service: "shop" }, value: NaN },
      { name: "b", labels: {}, value: -Infinity },
    ]);
  });

  it("skips lines it cannot read instead of giving up on the file", () => {
    const text = ['ok{service="blog"} 1', 'broken{service="blog} 1', "no_value", 'bad_value{service="x"} one', "plain 2", ""].join("\n");
    expect(parseSamples(text)).toEqual([
      { name: "ok", labels: { service: "blog" }, value: 1 },
      { name: "plain", labels: {}, value: 2 },
    ]);
  });
});

describe("promtool check metrics", () => {
  it("accepts a rendered file with awkward label values, and its lint finds nothing", async () => {
    const text = renderFamilies([
      gauge("restoretest_success", [
        { labels: { service: 'we"ird\\na\nme' }, value: 1 },
        { labels: { service: "shop" }, value: 0 },
      ]),
      gauge("restoretest_rto_seconds", [{ labels: { service: "shop" }, value: 1.117 }], "Recovery time.\nSecond line."),
    ]);
    expect(await promtoolCheckMetrics(text)).toEqual({ exitCode: 0, output: "" });
  });

  it("is a real judge: it rejects an unescaped quote and flags a gauge without help", async () => {
    const unescaped = '# HELP m h\n# TYPE m gauge\nm{service="a"b"} 1\n';
    const broken = await promtoolCheckMetrics(unescaped);
    expect(broken.exitCode).not.toBe(0);
    expect(broken.output).toMatch(/parsing error/);
    const lint = await promtoolCheckMetrics("# TYPE m gauge\nm 1\n");
    expect(lint).toEqual({ exitCode: 3, output: "m no help text" });
  });
});
