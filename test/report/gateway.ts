// A real Prometheus Pushgateway (Debian's prometheus-pushgateway) on a free loopback port, keeping nothing on disk, stopped by pid.
import { spawn } from "node:child_process";
import { freePort } from "../../src/hosts/sandbox.ts";

export const PUSHGATEWAY = "/usr/bin/prometheus-pushgateway";

export interface TestPushgateway {
  url: string;
  pid: number;
  /** The gateway's own /metrics page, as Prometheus would scrape it. */
  scrape(): Promise<string>;
  stop(): Promise<void>;
}

/** Start the gateway; the caller must stop() it. */
export async function startPushgateway(): Promise<TestPushgateway> {
  let log = "";
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    // Debian's build persists to /var/lib/prometheus/pushgateway.data unless told otherwise: an empty path keeps it in memory.
    const child = spawn(PUSHGATEWAY, [`--web.listen-address=127.0.0.1:${port}`, "--persistence.file="], { stdio: ["ignore", "ignore", "pipe"] });
    child.stderr?.on("data", (chunk: Buffer) => (log += chunk.toString()));
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    const url = `http://127.0.0.1:${port}`;
    if (await ready(url, exited)) {
      const pid = child.pid as number;
      return {
        url,
        pid,
        scrape: async () => {
          const response = await fetch(`${url}/metrics`);
          if (!response.ok) throw new Error(`GET ${url}/metrics: HTTP ${response.status}`);
          return response.text();
        },
        stop: async () => {
          if (child.exitCode === null && child.signalCode === null) process.kill(pid, "SIGTERM");
          await exited;
        },
      };
    }
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await exited;
  }
  throw new Error(`prometheus-pushgateway did not start:\n${log}`);
}

/** Polls /-/ready until the gateway answers, or it exits (a lost race for the port), or 10 s pass. */
async function ready(url: string, exited: Promise<void>): Promise<boolean> {
  let gone = false;
  void exited.then(() => (gone = true));
  for (const deadline = Date.now() + 10_000; Date.now() < deadline && !gone; ) {
    const ok = await fetch(`${url}/-/ready`).then((r) => r.ok, () => false);
    if (ok) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return false;
}
