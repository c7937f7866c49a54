// Services and stores for the tool's own tests, built the way services.yaml would build them.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Service } from "../../src/config/schema.ts";

export const SMALL_SEED = resolve(import.meta.dirname, "seed-small");
export const BLOG_SEED = resolve(import.meta.dirname, "../../fixtures/blog");

export interface TestStore {
  path: string;
  remove(): void;
}

export function testStore(): TestStore {
  const path = mkdtempSync(join(tmpdir(), "restoretest-store-"));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export function testService(store: string, overrides: Partial<Service> = {}): Service {
  return {
    name: "shop",
    source: { sandbox: { seed: SMALL_SEED } },
    databases: ["shop"],
    backup: { tool: "mariabackup", store, timeout: 300_000 },
    restore: { provider: "local", timeout: 300_000 },
    verify: { checks: ["checksum", "definition", "rowCount", "integrity"], timeout: 120_000, concurrency: 2 },
    ...overrides,
  };
}

/** mariadbd processes other than the machine's own system server. */
export async function sandboxServers(): Promise<string[]> {
  const { execa } = await import("execa");
  const r = await execa("pgrep", ["-a", "-x", "mariadbd"], { reject: false });
  return String(r.stdout)
    .split("\n")
    .filter((l) => l.trim() && !/ \/usr\/sbin\/mariadbd$/.test(l));
}
