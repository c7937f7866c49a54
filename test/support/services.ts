// Services and stores for the tool's own tests, built through the real services.yaml loader (its defaults included).
import { mkdtempSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { readManifest } from "../../src/store/manifest.ts";
import { parseServices } from "../../src/config/load.ts";
import type { Service } from "../../src/config/schema.ts";

export const SMALL_SEED = resolve(import.meta.dirname, "seed-small");
export const BLOG_SEED = resolve(import.meta.dirname, "../../fixtures/blog");

export interface TestStore {
  path: string;
  remove(): void;
}

/**
 * A store directory, made on first use: a describe block whose tests a `-t` filter skips never runs its afterAll, and
 * must not leave a directory behind either.
 */
export function testStore(): TestStore {
  let path: string | undefined;
  return {
    get path() {
      return (path ??= mkdtempSync(join(tmpdir(), "restoretest-store-")));
    },
    remove: () => {
      if (path) rmSync(path, { recursive: true, force: true });
    },
  };
}

export const SMALL_CHANGES = resolve(import.meta.dirname, "changes-small");

/**
 * The YAML of a one-service file for the small seed; `extra` is indented YAML added under the service (after the
 * `backup:` block's `store:`, so lines indented by 6 continue that block). `changes`: the sandbox's writes between jobs.
 */
export function testServiceYaml(store: string, extra = "", name = "shop", options: { changes?: boolean } = {}): string {
  return [
    "services:",
    `  ${name}:`,
    "    source:",
    "      sandbox:",
    `        seed: ${SMALL_SEED}`,
    ...(options.changes ? [`        changes: ${SMALL_CHANGES}`] : []),
    "    databases: [shop]",
    "    backup:",
    `      store: ${store}`,
    extra,
    "",
  ].join("\n");
}

export function testService(store: string, extra = ""): Service {
  const [service] = parseServices(testServiceYaml(store, extra), join(store, "services.yaml"));
  if (!service) throw new Error("no service parsed");
  return service;
}

/**
 * This run's mariadbd and mysqld processes: those whose command line names a path under this run's temp root (npm test
 * gives every run its own TMPDIR, scripts/test.sh), never a server of another run, checkout or the machine's own.
 */
export async function sandboxServers(): Promise<string[]> {
  const root = `${realpathSync(tmpdir()).replace(/\/$/, "")}/`;
  const { execa } = await import("execa");
  // mysqld too: a MySQL-flavoured restore starts the server under that name. The MySQL 9.7 and MariaDB 11.8 toolchains
  // run it through their tree's own loader (scripts/install-mysql.sh, install-mariadb.sh), so its process name is the
  // loader's: found by its program's path.
  const r = await execa("pgrep", ["-a", "-x", "mariadbd|mysqld"], { reject: false });
  const loaded = await execa("pgrep", ["-a", "-f", "ld-linux-x86-64\\.so\\.2 .*/usr/sbin/(mysqld|mariadbd) "], { reject: false });
  return [...String(r.stdout).split("\n"), ...String(loaded.stdout).split("\n")]
    // A zombie (`[mariadbd] <defunct>`) has exited and holds nothing: it waits only for init to reap it.
    .filter((l) => l.trim() && l.includes(root) && !/<defunct>$/.test(l));
}

/**
 * The YAML of a one-service file whose source is an already running sandbox, reached like a real server
 * (socket, root, the password from ${SOURCE_PASSWORD}, its datadir); `backupLines` go under `backup:`.
 */
export function serverServiceYaml(name: string, server: { socket: string; datadir: string }, store: string, backupLines: string[] = [], database = "shop"): string {
  return [
    "services:",
    `  ${name}:`,
    "    source:",
    `      socket: ${server.socket}`,
    "      user: root",
    "      password: ${SOURCE_PASSWORD}",
    `      datadir: ${server.datadir}`,
    `    databases: [${database}]`,
    "    backup:",
    `      store: ${store}`,
    ...backupLines.map((l) => `      ${l}`),
    "",
  ].join("\n");
}

/** The biggest tables of `database` in a backup's baseline (all of them when several tie), and their size. */
export function biggestTables(backupDir: string, database: string): { names: string[]; sizeBytes: number } {
  const tables = readManifest(join(backupDir, "manifest.json")).databases.find((d) => d.name === database)?.tables ?? [];
  const sizeBytes = Math.max(...tables.map((t) => t.sizeBytes));
  return { names: tables.filter((t) => t.sizeBytes === sizeBytes).map((t) => t.name).sort(), sizeBytes };
}
