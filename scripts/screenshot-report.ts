// Takes docs/images/allure-report.png, the README's picture of the demo's Allure report, with headless Chromium.
// Run: npx tsx scripts/screenshot-report.ts              runs `npm run demo` and `npm run report` first (~30 s)
//      npx tsx scripts/screenshot-report.ts --existing   photographs reports/allure-report as it is
//      options: --out <png> (default docs/images/allure-report.png)
// Needs Debian's `chromium` (apt-get install -y chromium). The report is served on a free 127.0.0.1 port (Allure's
// report loads its data with fetch, which file:// refuses), every request to another origin is refused (the report
// embeds an analytics tag, and a report describes production backups), and the server, Chromium and its profile
// directory are gone afterwards, also on failure or Ctrl-C.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { dirname, extname, join, resolve, sep } from "node:path";
import type { Readable, Writable } from "node:stream";

const ROOT = resolve(import.meta.dirname, "..");
const VIEWPORT = { width: 1400, height: 1100 };
const STEP_TIMEOUT_MS = 20_000;
// The table whose checks are shown expanded; any other table of the report does if the demo's schema changes.
const SHOWN_TABLE = "blog.posts";

interface Options {
  existing: boolean;
  out: string;
  reportDir: string;
}

function parseArgs(argv: string[]): Options {
  const reports = process.env.RESTORETEST_REPORTS ?? "reports";
  const options: Options = {
    existing: false,
    out: resolve(ROOT, "docs/images/allure-report.png"),
    reportDir: resolve(ROOT, process.env.ALLURE_REPORT ?? `${reports}/allure-report`),
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--existing") options.existing = true;
    else if (arg === "--out" && argv[i + 1]) options.out = resolve(argv[++i]!);
    else throw new Error(`screenshot-report: unknown argument "${arg}" (known: --existing, --out <png>)`);
  }
  return options;
}

/** Cleanups run in reverse order on success, failure and SIGINT/SIGTERM, so nothing started here outlives the script. */
const cleanups: Array<() => void> = [];
function cleanUp(): void {
  for (const cleanup of cleanups.splice(0).reverse()) {
    try {
      cleanup();
    } catch (error) {
      console.error(`screenshot-report: cleanup failed: ${(error as Error).message}`);
    }
  }
}
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    cleanUp();
    process.exit(130);
  });
}

function npmRun(script: string): void {
  console.log(`== npm run ${script}`);
  const run = spawnSync("npm", ["run", script], { cwd: ROOT, stdio: "inherit" });
  if (run.status !== 0) {
    // The README shows a green demo: a red one is a bug to fix, not a picture to publish.
    throw new Error(`screenshot-report: npm run ${script} failed (exit code ${run.status ?? run.signal}); the picture is unchanged`);
  }
}

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".json": "application/json",
  ".js": "text/javascript",
  ".css": "text/css",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".woff2": "font/woff2",
  ".txt": "text/plain; charset=utf-8",
  ".csv": "text/csv; charset=utf-8",
};

/** Serves `dir` read-only on a free loopback port. */
async function serve(dir: string): Promise<{ origin: string; server: Server }> {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
    const file = resolve(dir, `.${path.endsWith("/") ? `${path}index.html` : path}`);
    if (req.method !== "GET" || !(file === dir || file.startsWith(dir + sep)) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": CONTENT_TYPES[extname(file)] ?? "application/octet-stream" });
    res.end(readFileSync(file));
  });
  await new Promise<void>((ok, fail) => server.once("error", fail).listen(0, "127.0.0.1", ok));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("screenshot-report: the report server has no port");
  return { origin: `http://127.0.0.1:${address.port}`, server };
}

interface CdpMessage {
  id?: number;
  method?: string;
  params?: Record<string, unknown>;
  sessionId?: string;
  result?: Record<string, unknown>;
  error?: { message: string };
}

/** The Chrome DevTools Protocol over Chromium's --remote-debugging-pipe (fd 3 in, fd 4 out, NUL-separated JSON). */
class Cdp {
  private nextId = 0;
  private readonly pending = new Map<number, { ok: (r: Record<string, unknown>) => void; fail: (e: Error) => void }>();
  private readonly listeners: Array<(m: CdpMessage) => void> = [];
  private buffer = "";

  constructor(private readonly input: Writable, output: Readable, private readonly stderrTail: () => string) {
    output.on("data", (chunk: Buffer) => {
      this.buffer += chunk.toString("utf8");
      for (let end = this.buffer.indexOf("\0"); end >= 0; end = this.buffer.indexOf("\0")) {
        const message = JSON.parse(this.buffer.slice(0, end)) as CdpMessage;
        this.buffer = this.buffer.slice(end + 1);
        const waiting = message.id === undefined ? undefined : this.pending.get(message.id);
        if (waiting && message.id !== undefined) {
          this.pending.delete(message.id);
          if (message.error) waiting.fail(new Error(message.error.message));
          else waiting.ok(message.result ?? {});
        } else {
          for (const listener of this.listeners) listener(message);
        }
      }
    });
    output.on("close", () => {
      for (const waiting of this.pending.values()) waiting.fail(new Error(`Chromium closed its DevTools pipe; its stderr ends:\n${this.stderrTail()}`));
      this.pending.clear();
    });
  }

  send(method: string, params: Record<string, unknown> = {}, sessionId?: string): Promise<Record<string, unknown>> {
    const id = ++this.nextId;
    return withTimeout(
      new Promise((ok, fail) => {
        this.pending.set(id, { ok, fail });
        this.input.write(`${JSON.stringify({ id, method, params, sessionId })}\0`);
      }),
      `Chromium to answer ${method}`,
    );
  }

  on(listener: (m: CdpMessage) => void): void {
    this.listeners.push(listener);
  }
}

function withTimeout<T>(promise: Promise<T>, what: string, ms = STEP_TIMEOUT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, fail) => {
    timer = setTimeout(() => fail(new Error(`screenshot-report: timed out after ${ms / 1000}s waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

interface Browser {
  cdp: Cdp;
  /** Closes Chromium (politely, then its whole process group by SIGKILL) and removes its profile directory. */
  close(): Promise<void>;
}

function startChromium(): Browser {
  if (spawnSync("sh", ["-c", "command -v chromium"]).status !== 0) {
    throw new Error("screenshot-report: chromium is not installed (Debian: apt-get install -y chromium)");
  }
  const profile = mkdtempSync(join(tmpdir(), "screenshot-chromium-"));
  const chromium = spawn(
    "chromium",
    [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", `--user-data-dir=${profile}`,
      `--window-size=${VIEWPORT.width},${VIEWPORT.height}`, "--hide-scrollbars", "--remote-debugging-pipe", "about:blank",
    ],
    // A process group of its own, so its zygote and renderers can be stopped with it.
    { stdio: ["ignore", "ignore", "pipe", "pipe", "pipe"], detached: true },
  );
  const exited = new Promise<void>((ok) => chromium.once("exit", () => ok()));
  const killGroup = () => {
    try {
      if (chromium.pid !== undefined) process.kill(-chromium.pid, "SIGKILL");
    } catch {
      // the group is already gone
    }
  };
  let stderr = "";
  chromium.stderr!.on("data", (chunk: Buffer) => {
    stderr = (stderr + chunk.toString("utf8")).slice(-4000);
  });
  const tail = () => stderr.split("\n").filter((l) => l && !l.includes("dbus")).slice(-10).join("\n");
  const cdp = new Cdp(chromium.stdio[3] as Writable, chromium.stdio[4] as Readable, tail);
  const removeProfile = () => rmSync(profile, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  // On a signal there is no time to ask politely: the group goes, then the profile.
  cleanups.push(() => {
    killGroup();
    removeProfile();
  });
  return {
    cdp,
    async close() {
      if (chromium.exitCode === null && chromium.signalCode === null) {
        await cdp.send("Browser.close").catch(() => undefined);
        await withTimeout(exited, "Chromium to exit", 5_000).catch(() => undefined);
      }
      killGroup(); // helpers that outlived the browser process
      removeProfile();
    },
  };
}

/** Opens the report with the suites tree beside the restore test, and returns the PNG. */
async function photograph(cdp: Cdp, origin: string): Promise<{ png: Buffer; blocked: string[] }> {
  const { targetId } = await cdp.send("Target.createTarget", { url: "about:blank" });
  const { sessionId } = await cdp.send("Target.attachToTarget", { targetId, flatten: true });
  const page = (method: string, params: Record<string, unknown> = {}) => cdp.send(method, params, sessionId as string);

  const blocked: string[] = [];
  cdp.on((m) => {
    if (m.method !== "Fetch.requestPaused" || m.sessionId !== sessionId) return;
    const { requestId, request } = m.params as { requestId: string; request: { url: string } };
    if (request.url.startsWith(`${origin}/`)) void page("Fetch.continueRequest", { requestId });
    else {
      blocked.push(request.url);
      void page("Fetch.failRequest", { requestId, errorReason: "BlockedByClient" });
    }
  });
  const loaded = new Promise<void>((ok) => cdp.on((m) => m.method === "Page.loadEventFired" && m.sessionId === sessionId && ok()));
  await page("Fetch.enable", { patterns: [{ urlPattern: "*" }] });
  await page("Page.enable");
  // Allure's side-by-side layout shows the tree and a test at once; it reads the choice from localStorage.
  await page("Page.addScriptToEvaluateOnNewDocument", { source: 'localStorage.setItem("layout", "split");' });
  await page("Emulation.setDeviceMetricsOverride", { ...VIEWPORT, deviceScaleFactor: 1, mobile: false });
  await page("Page.navigate", { url: `${origin}/` });
  await withTimeout(loaded, `the report page ${origin}/ to load`);

  const evaluate = async (expression: string): Promise<unknown> => {
    const answer = (await page("Runtime.evaluate", { expression, returnByValue: true })) as {
      result: { value?: unknown };
      exceptionDetails?: { text: string };
    };
    if (answer.exceptionDetails) throw new Error(`screenshot-report: ${expression}: ${answer.exceptionDetails.text}`);
    return answer.result.value;
  };
  const until = async (what: string, expression: string): Promise<void> => {
    const deadline = Date.now() + STEP_TIMEOUT_MS;
    while (!(await evaluate(expression))) {
      if (Date.now() > deadline) {
        const text = String(await evaluate("document.body ? document.body.innerText.slice(0, 300) : ''")).replace(/\s+/g, " ");
        throw new Error(`screenshot-report: the report never showed ${what} (${STEP_TIMEOUT_MS / 1000}s); the page reads: "${text}"`);
      }
      await new Promise((ok) => setTimeout(ok, 100));
    }
  };
  const sections = `[...document.querySelectorAll('[data-testid=tree-section]')]`;
  const sectionTitle = `(e) => e.querySelector('[data-testid=tree-section-title]')?.textContent`;
  const leaves = `[...document.querySelectorAll('[data-testid=tree-leaf]')]`;
  const leafTitle = `(e) => e.querySelector('[data-testid=tree-leaf-title]')?.textContent`;

  await until("the suites tree", `${sections}.length > 0`);
  // The first click on a service's subtree toggle opens its databases, tables and its restore test.
  await evaluate(`document.querySelector('[data-testid=tree-subtree-toggle]').click()`);
  await until("the tables of the service", `${sections}.length > 1 && ${leaves}.length > 0`);
  await evaluate(`(() => {
    const titles = ${sections}.map(${sectionTitle});
    const table = titles.includes(${JSON.stringify(SHOWN_TABLE)}) ? ${JSON.stringify(SHOWN_TABLE)} : titles.find((t, i) => i > 0 && t.includes("."));
    ${sections}.find((e) => (${sectionTitle})(e) === table)?.click();
  })()`);
  await until("the checks of a table", `${leaves}.length > 1`);
  await until("the restore test", `${leaves}.some((e) => (${leafTitle})(e) === "restore")`);
  await evaluate(`${leaves}.find((e) => (${leafTitle})(e) === "restore").click()`);
  await until("the restore test's steps", `/Test body[\\s\\S]*locate[\\s\\S]*transfer/.test(document.querySelector('[data-pane=testResult]')?.innerText ?? '')`);
  await new Promise((ok) => setTimeout(ok, 300)); // let the tree's scroll to the selected test settle
  const { data } = await page("Page.captureScreenshot", { format: "png" });
  return { png: Buffer.from(data as string, "base64"), blocked };
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  if (!options.existing) {
    npmRun("demo");
    npmRun("report");
  }
  if (!existsSync(join(options.reportDir, "index.html"))) {
    throw new Error(`screenshot-report: no ${options.reportDir}/index.html: run npm run demo && npm run report, or drop --existing`);
  }
  const { origin, server } = await serve(options.reportDir);
  cleanups.push(() => {
    server.closeAllConnections();
    server.close();
  });
  const browser = startChromium();
  try {
    const { png, blocked } = await photograph(browser.cdp, origin);
    mkdirSync(dirname(options.out), { recursive: true });
    writeFileSync(options.out, png);
    const kb = Math.round(png.length / 1024);
    console.log(`screenshot: ${options.out} (${VIEWPORT.width}×${VIEWPORT.height}, ${kb} KB) of ${options.reportDir}`);
    if (blocked.length > 0) console.log(`refused requests to other origins: ${[...new Set(blocked.map((u) => new URL(u).origin))].join(", ")}`);
    if (kb > 300) console.warn(`screenshot-report: ${kb} KB is more than the 300 KB a README picture should weigh`);
  } finally {
    await browser.close();
    cleanUp();
  }
}

try {
  await main();
} catch (error) {
  cleanUp();
  console.error((error as Error).message);
  process.exitCode = 1;
}
