// A run with a known source password, good and failing: the password appears in no output, report or stored file.
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applySeed, startSourceSandbox, type SeededSource } from "../../src/hosts/sourceSandbox.ts";
import { SMALL_SEED, sandboxServers, serverServiceYaml, testStore } from "../support/services.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const store = testStore();
let source: SeededSource;
let secret = "";
/** The source's password hashes (root's, and the seed's application accounts'). */
let hashes: string[] = [];
const outputs: string[] = [];

function config(name: string): string {
  const path = join(store.path, `${name}.yaml`);
  writeFileSync(path, serverServiceYaml("shop", source.server, join(store.path, "store")));
  return path;
}

async function run(file: string, args: string[], env: Record<string, string>): Promise<{ exitCode: number; all: string }> {
  const r = await execa(file, args, { cwd: ROOT, reject: false, all: true, env: { CI: "true", ...env } });
  outputs.push(String(r.all));
  return { exitCode: r.exitCode ?? -1, all: String(r.all) };
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .map((f) => join(dir, f))
    .filter((f) => statSync(f).isFile());
}

beforeAll(async () => {
  source = await startSourceSandbox("secrets");
  await applySeed(source, SMALL_SEED, "shop");
  secret = source.server.password ?? "";
  const db = await source.server.connect();
  try {
    const rows = await db.query<{ h: string | null }>("SELECT JSON_VALUE(Priv, '$.authentication_string') AS h FROM mysql.global_priv");
    hashes = rows.map((r) => r.h ?? "").filter((h) => h.length > 0);
  } finally {
    await db.close();
  }
}, 120_000);

afterAll(async () => {
  await source?.destroy();
  store.remove();
  expect(await sandboxServers()).toEqual([]);
});

describe("secrets", () => {
  it("never appear in terminal output, JUnit, Allure results or the store, on success and on failure", async () => {
    expect(secret.length).toBeGreaterThan(10);
    const cfg = config("good");
    const reports = join(store.path, "reports");
    const env = { SOURCE_PASSWORD: secret, RESTORETEST_CONFIG: cfg, RESTORETEST_REPORTS: reports };
    const backup = await run("bin/restoretest", ["backup", "shop", "--config", cfg], env);
    expect(backup.exitCode, backup.all).toBe(0);
    expect(backup.all).toMatch(/^OK backup shop /m);
    const verify = await run("npx", ["vitest", "run", "--project", "shop"], env);
    expect(verify.exitCode, verify.all).toBe(0);

    // Failing paths print commands and server errors: a wrong password, and a restore that fails.
    const wrong = `${secret}-wrong`;
    const denied = await run("bin/restoretest", ["backup", "shop", "--config", cfg], { ...env, SOURCE_PASSWORD: wrong });
    expect(denied.exitCode).toBe(1);
    expect(denied.all).toMatch(/cannot connect to root@socket .*: Access denied for user 'root'@'localhost'/);
    expect(denied.all).not.toContain(wrong);
    const storeDir = join(store.path, "store", "shop");
    const [backupId] = readdirSync(storeDir);
    writeFileSync(join(storeDir, backupId as string, "data", "ib_logfile0"), "broken");
    const failed = await run("npx", ["vitest", "run", "--project", "shop"], env);
    expect(failed.exitCode).toBe(1);
    expect(readFileSync(join(reports, "junit.xml"), "utf8")).toMatch(/failed at step/);

    for (const text of outputs) expect(text).not.toContain(secret);
    const written = [...filesUnder(reports), ...filesUnder(join(store.path, "store"))];
    expect(written.length).toBeGreaterThan(10);
    for (const file of written) expect(readFileSync(file).includes(secret), file).toBe(false);

    // Password hashes: compared as keyed digests, never written out. The backup's own data files are the server's
    // grant tables, hashes and all, and are the one place they belong.
    expect(hashes.length).toBeGreaterThanOrEqual(3);
    const ours = written.filter((f) => !/[/\\]data[/\\]/.test(f.slice(join(store.path, "store").length)) || f.startsWith(reports));
    expect(ours.some((f) => f.endsWith("manifest.json"))).toBe(true);
    for (const hash of hashes) {
      const bare = hash.replace(/^\*/, "");
      for (const text of outputs) expect(text.includes(bare), "a password hash in the output").toBe(false);
      for (const file of ours) expect(readFileSync(file).includes(bare), `a password hash in ${file}`).toBe(false);
    }
  });
});
