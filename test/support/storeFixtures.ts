// Backups written straight into a test store (backup.json + manifest.json, no data): for store, chain and retention logic.
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
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

/**
 * A test's edit of a stored backup's manifest.json recorded as a backup job would have written it: in checksums.json, and
 * that list's SHA-256 in backup.json (else the nightly's store test names the edited file, as it must).
 */
export function recordEditedManifest(copy: string): void {
  const sha256 = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");
  const listPath = join(copy, "checksums.json");
  const list = JSON.parse(readFileSync(listPath, "utf8")) as { files: { path: string; bytes: number; sha256: string }[] };
  const manifest = join(copy, "manifest.json");
  list.files = list.files.map((f) => (f.path === "manifest.json" ? { ...f, bytes: statSync(manifest).size, sha256: sha256(manifest) } : f));
  writeFileSync(listPath, `${JSON.stringify(list, null, 2)}\n`);
  const metaPath = join(copy, "backup.json");
  writeFileSync(metaPath, JSON.stringify({ ...(JSON.parse(readFileSync(metaPath, "utf8")) as object), checksums: sha256(listPath) }));
}
