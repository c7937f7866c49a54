// Pushing one service's metrics to a Prometheus Pushgateway, into a group of its own, and the error a failed push gives.
import { maskSecrets } from "../base/secrets.ts";

export interface PushTarget {
  /** The gateway's base URL, as services.yaml gives it (may hold `user:password@` and a path prefix). */
  url: string;
  job: string;
}

/** A push the gateway refused or never answered; the message names the URL (without credentials) and the HTTP status. */
export class PushError extends Error {
  constructor(
    readonly url: string,
    readonly status: number | undefined,
    readonly detail: string,
  ) {
    super(`metrics push to ${url} failed: ${status === undefined ? detail : `HTTP ${status}${detail ? `: ${detail}` : ""}`}`);
    this.name = "PushError";
  }
}

/**
 * `/metrics/job/<job>/service/<service>`: the grouping key. A value with a `/` cannot sit in a path segment, so the
 * gateway's `@base64` form (URL-safe base64) carries it; an empty value is written `=` in that form.
 */
export function groupingPath(job: string, service: string): string {
  const segment = (label: string, value: string) =>
    value === "" || value.includes("/")
      ? `${label}@base64/${Buffer.from(value).toString("base64url") || "="}`
      : `${label}/${encodeURIComponent(value)}`;
  return `/metrics/${segment("job", job)}/${segment("service", service)}`;
}

/** Where the group lives, without credentials (fetch refuses URLs that carry them), and the basic-auth header they become. */
export function pushRequest(target: PushTarget, service: string): { url: string; authorization?: string } {
  const url = new URL(target.url);
  const user = decodeURIComponent(url.username);
  const password = decodeURIComponent(url.password);
  url.username = "";
  url.password = "";
  url.pathname = `${url.pathname.replace(/\/+$/, "")}${groupingPath(target.job, service)}`;
  return {
    url: url.toString(),
    ...(user || password ? { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}` } : {}),
  };
}

/**
 * PUT replaces this service's group, and only it: every other service's group stays as it was, so a run of one project
 * never erases what the others pushed.
 */
export async function pushService(target: PushTarget, service: string, body: string, timeoutMs = 10_000): Promise<void> {
  const { url, authorization } = pushRequest(target, service);
  let response: Response;
  try {
    response = await fetch(url, {
      method: "PUT",
      headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8", ...(authorization ? { authorization } : {}) },
      body,
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    throw new PushError(url, undefined, maskSecrets(networkCause(error, timeoutMs)));
  }
  if (response.ok) return;
  // The gateway says why in its body (an inconsistent metric, a bad label); its first line is enough to act on.
  const text = await response.text().catch(() => "");
  const reason = text.trim().split("\n")[0]?.slice(0, 300) ?? "";
  throw new PushError(url, response.status, maskSecrets([response.statusText, reason].filter(Boolean).join(": ")));
}

/** `connect ECONNREFUSED 127.0.0.1:9091` rather than fetch's bare "fetch failed". */
function networkCause(error: unknown, timeoutMs: number): string {
  const e = error as Error & { cause?: Error & { code?: string } };
  if (e.name === "TimeoutError") return `no answer within ${timeoutMs / 1000}s`;
  return e.cause?.message ?? e.message;
}
