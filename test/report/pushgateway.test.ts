// Pushing to a real Pushgateway (Debian's prometheus-pushgateway on a loopback port): one group per service, replaced alone, read back over HTTP.
import { readFileSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../src/hosts/sandbox.ts";
import { parseSamples, renderFamilies, type ParsedSample } from "../../src/report/prometheus.ts";
import { groupingPath, PushError, pushRequest, pushService } from "../../src/report/pushgateway.ts";
import { metricFamilies } from "../../src/report/serviceMetrics.ts";
import { SummarySchema, type ServiceSummary } from "../../src/report/summary.ts";
import { startPushgateway, type TestPushgateway } from "./gateway.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const DOCUMENTED = SummarySchema.parse(JSON.parse(/```json\n([\s\S]*?)\n```/.exec(readFileSync(join(ROOT, "docs/summary.md"), "utf8"))?.[1] ?? "null"));
const [BLOG, SHOP] = DOCUMENTED.services as [ServiceSummary, ServiceSummary];
/** shop's next night: the backup was fixed, the restore went through without a replay step. */
const SHOP_FIXED: ServiceSummary = {
  ...SHOP,
  verdict: "pass",
  verifiedAt: "2026-11-26T03:40:51.000Z",
  steps: [
    { step: "locate", durationMs: 20, ok: true },
    { step: "provision", durationMs: 2, ok: true },
    { step: "transfer", durationMs: 101, bytes: 18_500_000, ok: true },
    { step: "prepare", durationMs: 470, ok: true },
    { step: "start", durationMs: 600, ok: true },
  ],
  failedStep: null,
  rtoMs: 1193,
  failed: [],
};

const body = (s: ServiceSummary) => renderFamilies(metricFamilies([s]));

/** The restoretest_* and push_time samples of one group, as the gateway serves them to Prometheus. */
function group(scraped: ParsedSample[], job: string, service: string): ParsedSample[] {
  return scraped.filter((s) => s.labels.job === job && s.labels.service === service && (s.name.startsWith("restoretest_") || s.name === "push_time_seconds"));
}

/** What was pushed, as the gateway shows it: with the grouping key's labels and its empty `instance`. */
function asServed(s: ServiceSummary, job = "restoretest"): ParsedSample[] {
  return parseSamples(body(s)).map((p) => ({ ...p, labels: { ...p.labels, instance: "", job } }));
}

const withoutPushTime = (samples: ParsedSample[]) => samples.filter((s) => s.name !== "push_time_seconds");
const sortSamples = (samples: ParsedSample[]) => [...samples].sort((a, b) => `${a.name}${JSON.stringify(a.labels)}`.localeCompare(`${b.name}${JSON.stringify(b.labels)}`));

describe("the push request", () => {
  it("groups by job and service, in the gateway's base64 form when a value holds a slash", () => {
    expect(groupingPath("restoretest", "blog")).toBe("/metrics/job/restoretest/service/blog");
    expect(groupingPath("nightly/eu", "blog")).toBe("/metrics/job@base64/bmlnaHRseS9ldQ/service/blog");
    expect(groupingPath("night ly", "")).toBe("/metrics/job/night%20ly/service@base64/=");
  });

  it("takes credentials out of the URL into a basic-auth header, and keeps a path prefix", () => {
    expect(pushRequest({ url: "https://restoretest:s%40cret@gw.example:9443/pushgateway/", job: "restoretest" }, "shop")).toEqual({
      url: "https://gw.example:9443/pushgateway/metrics/job/restoretest/service/shop",
      authorization: `Basic ${Buffer.from("restoretest:s@cret").toString("base64")}`,
    });
    expect(pushRequest({ url: "http://127.0.0.1:9091", job: "restoretest" }, "shop")).toEqual({ url: "http://127.0.0.1:9091/metrics/job/restoretest/service/shop" });
  });
});

describe("a real Pushgateway", () => {
  let gateway: TestPushgateway;
  beforeAll(async () => {
    gateway = await startPushgateway();
  });
  afterAll(async () => {
    await gateway?.stop();
  });

  it("fails a refused push with the URL (no credentials), the HTTP status and the gateway's reason", async () => {
    const url = gateway.url.replace("http://", "http://restoretest:hunter22@");
    const wrongPath = await pushService({ url: `${url}/wrong-prefix`, job: "restoretest" }, "blog", body(BLOG)).catch((e: unknown) => e);
    expect(wrongPath).toBeInstanceOf(PushError);
    expect((wrongPath as PushError).status).toBe(404);
    expect((wrongPath as Error).message).toBe(`metrics push to ${gateway.url}/wrong-prefix/metrics/job/restoretest/service/blog failed: HTTP 404: Not Found: 404 page not found`);

    // Another exporter pushed restoretest_success as a counter first (this test runs on an empty gateway): the gateway
    // refuses ours as inconsistent with it.
    const foreign = `${gateway.url}/metrics/job/other/service/x`;
    const put = await fetch(foreign, { method: "PUT", body: "# TYPE restoretest_success counter\nrestoretest_success 3\n" });
    expect(put.status).toBe(200);
    try {
      const refused = await pushService({ url, job: "restoretest" }, "blog", body(BLOG)).catch((e: unknown) => e);
      expect((refused as PushError).status).toBe(400);
      expect((refused as Error).message).toMatch(
        new RegExp(`^metrics push to ${gateway.url}/metrics/job/restoretest/service/blog failed: HTTP 400: Bad Request: pushed metrics are invalid or inconsistent with existing metrics: .*restoretest_success`),
      );
      expect((refused as Error).message).not.toMatch(/hunter22/);
    } finally {
      await fetch(foreign, { method: "DELETE" });
    }
    // The refused push stored no metric; the gateway records the failure's time in the group, for alerting.
    const scraped = parseSamples(await gateway.scrape()).filter((s) => s.labels.job === "restoretest" && s.labels.service === "blog");
    expect(scraped.filter((s) => s.name.startsWith("restoretest_"))).toEqual([]);
    expect(scraped.find((s) => s.name === "push_failure_time_seconds")?.value).toBeGreaterThan(Date.now() / 1000 - 60);
  });

  it("holds each service in its own group, and a second push of one service replaces that group only", async () => {
    const target = { url: gateway.url, job: "restoretest" };
    await pushService(target, "blog", body(BLOG));
    await pushService(target, "shop", body(SHOP));
    const first = parseSamples(await gateway.scrape());
    expect(sortSamples(withoutPushTime(group(first, "restoretest", "blog")))).toEqual(sortSamples(asServed(BLOG)));
    expect(sortSamples(withoutPushTime(group(first, "restoretest", "shop")))).toEqual(sortSamples(asServed(SHOP)));

    await pushService(target, "shop", body(SHOP_FIXED));
    const second = parseSamples(await gateway.scrape());
    // blog's group, its push time included, is exactly what it was: the shop push did not touch it.
    expect(sortSamples(group(second, "restoretest", "blog"))).toEqual(sortSamples(group(first, "restoretest", "blog")));
    // shop's group is the new push alone: its failed prepare and its replay step are gone, not merged.
    expect(sortSamples(withoutPushTime(group(second, "restoretest", "shop")))).toEqual(sortSamples(asServed(SHOP_FIXED)));
    expect(group(second, "restoretest", "shop").find((s) => s.name === "restoretest_success")?.value).toBe(1);
    const pushTime = (samples: ParsedSample[]) => group(samples, "restoretest", "shop").find((s) => s.name === "push_time_seconds")?.value ?? 0;
    expect(pushTime(second)).toBeGreaterThan(pushTime(first));
  });

  it("accepts a job with a slash and credentials in the URL, which become a header", async () => {
    const url = gateway.url.replace("http://", "http://restoretest:not-checked-here@");
    await pushService({ url, job: "nightly/eu" }, "blog", body(BLOG));
    const scraped = parseSamples(await gateway.scrape());
    expect(sortSamples(withoutPushTime(group(scraped, "nightly/eu", "blog")))).toEqual(sortSamples(asServed(BLOG, "nightly/eu")));
  });

  it("fails with the cause when nothing listens, and gives up on a gateway that never answers", async () => {
    const port = await freePort();
    const refused = await pushService({ url: `http://127.0.0.1:${port}`, job: "restoretest" }, "blog", body(BLOG)).catch((e: unknown) => e);
    expect((refused as Error).message).toBe(`metrics push to http://127.0.0.1:${port}/metrics/job/restoretest/service/blog failed: connect ECONNREFUSED 127.0.0.1:${port}`);
    expect((refused as PushError).status).toBeUndefined();

    const sockets: Socket[] = [];
    const silent: Server = createServer((socket) => sockets.push(socket));
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", () => r()));
    try {
      const address = silent.address();
      const silentPort = typeof address === "object" && address ? address.port : 0;
      const started = Date.now();
      const timedOut = await pushService({ url: `http://127.0.0.1:${silentPort}`, job: "restoretest" }, "blog", body(BLOG), 300).catch((e: unknown) => e);
      expect((timedOut as Error).message).toBe(`metrics push to http://127.0.0.1:${silentPort}/metrics/job/restoretest/service/blog failed: no answer within 0.3s`);
      expect(Date.now() - started).toBeLessThan(3000);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((r) => silent.close(r));
    }
  });
});
