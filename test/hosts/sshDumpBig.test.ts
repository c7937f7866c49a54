// `restore --table … --dump` of a table of more than 1 GiB from an ssh restore host (a real sshd on loopback) keeps the
// runner's memory flat (issue 30): mariadb-dump's output is streamed into the file, never held whole, and the runner,
// measured alone in its own process, peaks at most 512 MB while the file it wrote holds every row.
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runBackupJob } from "../../src/backup/job.ts";
import { runCommand } from "../../src/base/command.ts";
import { parseServices } from "../../src/config/load.ts";
import type { Service } from "../../src/config/schema.ts";
import type { Db } from "../../src/db/connection.ts";
import { applySeed, startSourceSandbox, type SeededSource } from "../../src/hosts/sourceSandbox.ts";
import { startBinlogCopy } from "../../src/backup/binlogs.ts";
import type { Position } from "../../src/binlog/position.ts";
import { binlogArchiveDir } from "../../src/store/layout.ts";
import { untilArchived } from "../support/archive.ts";
import { serverServiceYaml, SMALL_SEED, testStore } from "../support/services.ts";
import { startSshd, type TestSshd } from "../support/sshd.ts";

const ROOT = resolve(import.meta.dirname, "../..");
/** 1,100 rows of 1 MiB of text: a table and a dump of about 1.1 GiB. */
const ROWS = 1100;
const ROW_BYTES = 2 ** 20;
const PEAK_LIMIT = 512 * 1e6;

const store = testStore();
const remote = mkdtempSync(join(tmpdir(), "restoretest-dumpbig-"));
let source: SeededSource;
let db: Db;
let sshd: TestSshd;
let expected: string;
/** A point after the backup, in the binlog archive: what `restore --table … --to` restores to. */
let position: Position;

beforeAll(async () => {
  source = await startSourceSandbox("dumpbig");
  await applySeed(source, SMALL_SEED, "shop");
  db = await source.server.connect();
  // Every row distinct (an MD5 repeated to 1 MiB), written inside the server in one statement: about 1.1 GiB in seconds.
  await db.query("CREATE TABLE shop.docs (id INT PRIMARY KEY, body LONGTEXT NOT NULL) ENGINE=InnoDB");
  await db.query(`INSERT INTO shop.docs SELECT seq, REPEAT(MD5(seq), ${ROW_BYTES / 32}) FROM shop.seq_1_to_${ROWS}`);
  const [sum] = await db.query<{ Checksum: string }>("CHECKSUM TABLE shop.docs");
  expected = String(sum?.Checksum);
  sshd = await startSshd();
  const { service } = writeService();
  await runBackupJob(service);
  // The day after the backup, archived: a write to another table, the point restored to right after it.
  const copier = await startBinlogCopy(service, { restartDelayMs: 200 });
  try {
    await db.query("INSERT INTO shop.audit VALUES (3001, 'after the backup')");
    const [status] = await db.query<{ File: string; Position: number }>("SHOW MASTER STATUS");
    position = { file: String(status?.File), position: Number(status?.Position), gtid: "" };
    await untilArchived(db, binlogArchiveDir(store.path, service.name));
  } finally {
    await copier.stop();
  }
}, 600_000);

afterAll(async () => {
  await db?.close();
  await source?.destroy();
  await sshd?.stop();
  store.remove();
  rmSync(remote, { recursive: true, force: true });
});

function serviceYaml(): string {
  const base = serverServiceYaml("dumpbig", source.server, store.path, ["consistency: quiescent"]);
  const ssh = [
    "    restore:",
    "      provider: ssh",
    "      ssh:",
    `        host: ${sshd.host}`,
    `        port: ${sshd.port}`,
    `        user: ${sshd.user}`,
    `        identityFile: ${sshd.identityFile}`,
    `        knownHosts: ${sshd.knownHosts}`,
    `        workDir: ${remote}`,
  ];
  return `${base}${ssh.join("\n")}\n`;
}

/** The service's services.yaml, written where the runner reads it, and the service parsed from it. */
function writeService(): { file: string; service: Service } {
  const file = join(store.path, "services.yaml");
  const yaml = serviceYaml();
  writeFileSync(file, yaml);
  const [service] = parseServices(yaml, file, { SOURCE_PASSWORD: source.server.password });
  if (!service) throw new Error("no dumpbig service");
  return { file, service };
}

describe("restore --table --dump of a table over 1 GiB from an ssh restore host", () => {
  it("streams the dump into the file: every row there, the runner's peak RSS at most 512 MB", async () => {
    const { file } = writeService();
    const dump = join(store.path, "docs.sql");
    const { stdout } = await runCommand(
      "npx",
      ["tsx", join(ROOT, "test/support/tableDumpPeak.ts"), JSON.stringify({ yaml: file, password: source.server.password, tables: ["shop.docs"], position, dump })],
      { cwd: ROOT, timeoutMs: 900_000 },
    );
    const result = JSON.parse(stdout.trim().split("\n").at(-1) as string) as { rows: number; bytes: number; peakBytes: number; steps: { step: string; durationMs: number }[] };
    const mb = (n: number) => `${(n / 1e6).toFixed(0)} MB`;
    process.stdout.write(`dump ${mb(result.bytes)} of ${result.rows} rows; runner peak RSS ${mb(result.peakBytes)}; ${result.steps.map((s) => `${s.step} ${(s.durationMs / 1000).toFixed(1)} s`).join(", ")}\n`);
    expect(result.rows).toBe(ROWS);
    expect(result.bytes).toBeGreaterThan(2 ** 30);
    // Held whole, the dump alone would be 1.1 GiB of Buffers, and more than V8's string limit as one string.
    expect(result.peakBytes, `runner peak RSS ${mb(result.peakBytes)}`).toBeLessThanOrEqual(PEAK_LIMIT);
    expect(statSync(dump).mode & 0o777).toBe(0o600);
    expect(readdirSync(remote)).toEqual([]);
    // Loaded into a scratch database, the table equals the source's.
    await db.query("CREATE DATABASE docs_check");
    await runCommand("bash", ["-c", `set -o pipefail; sed 's/^USE \`shop\`;/USE \`docs_check\`;/' ${dump} | mariadb --defaults-file=${source.optionFile}`], { timeoutMs: 600_000 });
    const [sum] = await db.query<{ Checksum: string }>("CHECKSUM TABLE docs_check.docs");
    expect(String(sum?.Checksum)).toBe(expected);
  }, 900_000);
});
