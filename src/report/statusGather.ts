// Reading what `restoretest status` shows: each service's store listing (with verified.json times) and the last summary.json.
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { z } from "zod";
import { listBackups, VERIFIED_FILE } from "../store/layout.ts";
import { serviceStatus, type FleetStatus, type StoreFacts, type SummaryFacts } from "./status.ts";

/** The part of summary.json status reads: lenient, so fields added later (objectives) pass through. */
const SummaryRecord = z.object({
  service: z.string(),
  verdict: z.enum(["pass", "fail"]),
  verifiedAt: z.string(),
  backup: z.object({ id: z.string() }).nullable(),
  rtoMs: z.number().nullable(),
  rpoMs: z.number().nullable(),
  failedStep: z.string().nullable(),
  failed: z.array(z.string()),
  objectives: z.unknown().optional(),
});
const SummaryFile = z.object({ generatedAt: z.string(), services: z.array(SummaryRecord) });

/** A summary.json as status reads it: records by service, or why it could not be read (status still shows the store). */
export function readSummary(path: string): { generatedAt: string | null; records: Map<string, SummaryFacts>; problem: string | null } {
  const none = (problem: string) => ({ generatedAt: null, records: new Map<string, SummaryFacts>(), problem });
  if (!existsSync(path)) return none("not found (no verification run has written one here)");
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    return none(`not valid JSON: ${(error as Error).message}`);
  }
  const parsed = SummaryFile.safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return none(`not a summary: ${issue?.path.join(".") || "(top)"}: ${issue?.message ?? "unreadable"}`);
  }
  const records = new Map<string, SummaryFacts>();
  for (const r of parsed.data.services) {
    records.set(r.service, {
      verdict: r.verdict,
      verifiedAt: r.verifiedAt,
      backupId: r.backup?.id ?? null,
      rtoMs: r.rtoMs,
      rpoMs: r.rpoMs,
      failedStep: r.failedStep,
      failed: r.failed,
      ...(r.objectives === undefined ? {} : { objectives: r.objectives }),
    });
  }
  return { generatedAt: parsed.data.generatedAt, records, problem: null };
}

/** The store's facts for one service: its listing, and when each green verification was recorded. */
export function readStoreFacts(store: string, service: string): StoreFacts {
  const listing = listBackups(resolve(store), service);
  return {
    complete: listing.complete.map((b) => ({ ...b, ...(b.verified ? verifiedAt(b.dir) : {}) })),
    incomplete: listing.incomplete,
  };
}

function verifiedAt(dir: string): { verifiedAt?: string } {
  try {
    const at = (JSON.parse(readFileSync(join(dir, VERIFIED_FILE), "utf8")) as { verifiedAt?: unknown }).verifiedAt;
    return typeof at === "string" ? { verifiedAt: at } : {};
  } catch {
    return {};
  }
}

/** The status of every service in services.yaml, from its store and the summary at `summaryPath`. */
export function gatherStatus(services: readonly { name: string; backup: { store: string } }[], summaryPath: string, now = new Date()): FleetStatus {
  const summary = readSummary(summaryPath);
  return {
    version: 1,
    generatedAt: now.toISOString(),
    summary: { path: summaryPath, generatedAt: summary.generatedAt, problem: summary.problem },
    services: services.map((s) => serviceStatus(s.name, readStoreFacts(s.backup.store, s.name), summary.records.get(s.name), now)),
  };
}
