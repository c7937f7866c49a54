// Backups written straight into a test store (backup.json + manifest.json, no data): for store, chain and retention logic.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { BackupMeta } from "../../src/store/layout.ts";

/** A complete backup.json of a full mariabackup backup of `shop`; `overrides` change what the test is about. */
export function fakeMeta(id: string, overrides: Partial<BackupMeta> = {}): BackupMeta {
  return {
    version: 1,
    id,
    service: "shop",
    tool: "mariabackup",
    kind: "full",
    base: null,
    checkpoints: null,
    startedAt: "2026-11-25T03:00:00.000Z",
    finishedAt: "2026-11-25T03:01:00.000Z",
    durationMs: 1,
    bytes: 1,
    position: null,
    binlogs: [],
    toolVersion: "10.11",
    format: "directory",
    dataFile: null,
    compression: null,
    encrypted: false,
    checksums: null,
    ...overrides,
  };
}

/** `<store>/<service>/<id>/` with backup.json, manifest.json and data/ (and verified.json when `verified`); returns the dir. */
export function writeFakeBackup(store: string, service: string, id: string, overrides: Partial<BackupMeta> = {}, verified = false): string {
  const dir = join(store, service, id);
  mkdirSync(join(dir, "data"), { recursive: true });
  writeFileSync(join(dir, "manifest.json"), "{}");
  writeFileSync(join(dir, "backup.json"), JSON.stringify(fakeMeta(id, { service, ...overrides })));
  if (verified) writeFileSync(join(dir, "verified.json"), "{}");
  return dir;
}
