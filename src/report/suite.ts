// The generic restore suite: one `restore` test, then one test per table and check, generated from the manifest.
import * as allure from "allure-js-commons";
import { afterAll, describe, test, type TestContext } from "vitest";
import { readManifest, type Manifest } from "../store/manifest.ts";
import { listBackups, markVerified, newestBackup, readDigestKey, verifiedAt, type StoredBackup } from "../store/layout.ts";
import { check } from "../checks/index.ts";
import { checkOptions } from "../checks/options.ts";
import type { Finding } from "../checks/types.ts";
import { findService, loadFleet } from "../config/load.ts";
import type { Service } from "../config/schema.ts";
import { formatDuration } from "../base/duration.ts";
import { formatSize } from "../base/size.ts";
import { maskSecrets } from "../base/secrets.ts";
import { RejoinStage } from "../rejoin/stage.ts";
import { ArchiveStage, hasArchive, type ArchiveApplied, type ArchiveError } from "../restore/rollForward.ts";
import { describeStart, lagCsv, lagSvg } from "../rejoin/replica.ts";
import { DrillStage, drillTables, readDrillRecord, tooBigToDrill } from "../restore/drill.ts";
import { describeDelivered } from "../restore/into.ts";
import { restoreService, type Restored } from "../restore/pipeline.ts";
import { describeStoreProblems, StoreCheck } from "../store/storeCheck.ts";
import { allFindings, captureRestored, databaseFinding, leaveOutAccounts, planTests, serverFinding, tableFinding, type Verification } from "../verify/verify.ts";
import { SANDBOX_ROOT } from "../hosts/sandbox.ts";
import { namedBackup } from "../restore/locate.ts";
import { nextBackup, olderToVerify, unprovenOf } from "../restore/older.ts";
import { answerQueries, serviceQueries, type QueryVerdict, type ServiceQuery } from "../queries/stage.ts";
import { describeExpectation } from "../config/expectation.ts";
import { configPath, requestedBackup } from "./paths.ts";
import { RestoreWatch } from "./restoreWatch.ts";
import { configuredObjectives, judgeObjective, OBJECTIVE_MEANING, OBJECTIVE_NAMES, type ObjectiveKey } from "./objectives.ts";
import type { ArchiveRecord, RejoinRecord } from "./meta.ts";
import "./meta.ts";

/** A check that went red: its message is what Jenkins shows, so it must stand on its own. */
export class CheckFailure extends Error {
  override name = "CheckFailed";
}

/** A rejoin test that went red (its own Allure category: not a difference from the baseline). */
export class RejoinFailure extends CheckFailure {
  override name = "RejoinFailed";
}

/** The manifest the tests are generated from, read at collection time; its absence is reported by the restore test. */
function locate(service: Service): { backup: StoredBackup; manifest: Manifest } | { error: Error } {
  try {
    const requested = requestedBackup();
    const backup = requested ? namedBackup(listBackups(service.backup.store, service.name), service.name, requested) : newestBackup(service.backup.store, service.name);
    return { backup, manifest: readManifest(backup.manifestPath) };
  } catch (error) {
    return { error: error as Error };
  }
}

async function labels(service: string, database?: string, table?: string, check?: string): Promise<void> {
  // parentSuite/suite come from the describe blocks (service, database.table); these labels are for filtering.
  await allure.label("service", service);
  if (database) await allure.label("database", database);
  if (table) await allure.label("table", table);
  if (check) await allure.label("check", check);
}

async function report(finding: Finding): Promise<void> {
  if (finding.ok) return;
  if (finding.diff) await allure.attachment("diff", finding.diff, "text/x-diff");
  throw new CheckFailure(maskSecrets(finding.message));
}

interface TaskTree {
  type: string;
  name?: string;
  result?: { state?: string };
  meta?: { configuredSkip?: boolean; otherBackups?: boolean };
  tasks?: readonly TaskTree[];
}

/**
 * How many tests ran, when every one of them passed; undefined when any failed, was skipped or did not run. A skip
 * the configuration asks for (a table over verify.tableDrillMaxSize) is neither, and a test of the other retained
 * backups (meta.otherBackups) is not counted either way: it proves them, not this one.
 */
export function passedTests(suite: TaskTree): number | undefined {
  let passed = 0;
  for (const task of suite.tasks ?? []) {
    if (task.meta?.otherBackups) continue;
    if (task.type === "suite") {
      const inner = passedTests(task);
      if (inner === undefined) return undefined;
      passed += inner;
    } else if (task.result?.state === "pass") passed++;
    else if (!(task.result?.state === "skip" && task.meta?.configuredSkip)) return undefined;
  }
  return passed;
}

/** A services.yaml entry that cannot be used: its own problems, so the other services' projects run on. */
export class ConfigFailure extends Error {
  override name = "ConfigFailed";
}

/** This service's entry, its secrets resolved (and only its own), or the one-line problems that stop it. */
function ownService(name: string): { service: Service } | { error: string } {
  try {
    const fleet = loadFleet(configPath(), process.env, [name]);
    const broken = fleet.broken.find((b) => b.name === name);
    if (broken) return { error: broken.error.message };
    return { service: findService(fleet.services, name) };
  } catch (error) {
    return { error: maskSecrets((error as Error).message) };
  }
}

/** Declare the suite for one service (call at the top level of a test file). */
export function defineRestoreSuite(serviceName: string): void {
  const own = ownService(serviceName);
  if ("error" in own) {
    defineConfigTest(serviceName, own.error);
    return;
  }
  const service = own.service;
  const located = locate(service);
  const queries = serviceQueries(service);
  const run = sharedRestore(service, queries);
  const { restoreOnce, verified } = run;

  const rejoin = service.rejoin ? new RejoinStage(service) : undefined;
  // Every service with a binlog archive rolls its restore forward through it, after the table tests, before rejoin.
  const archive = hasArchive(service) ? new ArchiveStage(service) : undefined;

  const { tableDrill, tableDrillMaxSize } = service.verify;
  const drill =
    tableDrill > 0 && !("error" in located)
      ? new DrillStage(service, drillTables(located.manifest, readDrillRecord(service), tableDrill, tableDrillMaxSize), tooBigToDrill(located.manifest, tableDrillMaxSize))
      : undefined;

  describe(service.name, () => {
    endRun(run, rejoin, drill);
    defineRestoreTest(service, located, run);
    if ("error" in located) return;
    defineStoreTest(service, run);
    defineCheckTests(service, located.manifest, verified);

    /** The archive stage's roll-forward, done or failed, before the stages after it (undefined without an archive). */
    const rolledForward = async (ctx: TestContext): Promise<void> => {
      if (archive) await archive.apply(await restoreOnce(ctx)).catch(() => undefined);
    };
    if (queries.length > 0) defineQueryTests(service, queries, verified);
    // The drill compares with the baseline too: before the archive stage rolls the restore forward.
    if (drill) defineDrillTests(service, drill, { restoreOnce, verified });
    if (archive) defineArchiveTests(service, archive, { restoreOnce, verified });
    if (rejoin && service.rejoin) defineRejoinTests(service, rejoin, { restoreOnce, verified, rolledForward });
    // The older backups before the objectives: unproven age is measured after they are proven.
    const { older } = service.verify;
    if (older > 0 && !requestedBackup()) defineOlderTests(service, located.backup, older, queries);
    defineObjectiveTests(service, located.backup, { restoreOnce, rejoin, rolledForward });
  });
}

/** A service whose entry cannot be read: its one test, `config`, says why. */
function defineConfigTest(serviceName: string, error: string): void {
  describe(serviceName, () => {
    test("config", { meta: { classname: serviceName, service: serviceName } }, async () => {
      await labels(serviceName);
      await allure.label("check", "config");
      throw new ConfigFailure(error);
    });
  });
}

/** The one restore of a service's run and its verification, started by whichever test asks first and shared by all. */
function sharedRestore(service: Service, queries: readonly ServiceQuery[]) {
  let restored: Promise<Restored> | undefined;
  let verification: Promise<Verified> | undefined;
  /** Progress and the step record of the one restore, kept by whichever test starts it (normally `restore`). */
  let watch: RestoreWatch | undefined;
  /** Every stored file of the restored chain, hashed beside the restore from its transfer on. */
  const storeCheck = new StoreCheck();

  const restoreOnce = (ctx: TestContext): Promise<Restored> =>
    (restored ??= restoreService(service, {
      backup: requestedBackup(),
      runStep: async (step, body) => allure.step(step, body),
      storeCheck,
      ...(watch = new RestoreWatch(service.name, ctx.task)).restoreOptions(),
    }));
  const verifyOnce = (ctx: TestContext): Promise<Verified> =>
    (verification ??= restoreOnce(ctx).then((r) =>
      allure.step("capture restored state", () =>
        (watch as RestoreWatch).phase("verify", async () => {
          const captured = await captureRestored(r.db, r.manifest, service.verify.checks, checkOptions(service), service.verify.concurrency, r.serverContext);
          // The team's queries at P too, before any later stage rolls the restore forward (they all wait for this).
          const answered = await answerQueries(r.db, queries, r.manifest, r.serverContext.digestKey, r.backup.id).catch((error: unknown) => error as Error);
          return { ...captured, queries: answered };
        }),
      ),
    ));
  /** The verification, or a skip when the restore failed (the restore test carries the reason). */
  const verified = async (ctx: TestContext): Promise<Verified> => {
    try {
      return await verifyOnce(ctx);
    } catch {
      ctx.skip("restore failed: see the restore test");
      throw new Error("unreachable");
    }
  };
  return { storeCheck, restoreOnce, verifyOnce, verified, restored: () => restored, watch: () => watch };
}

type SharedRestore = ReturnType<typeof sharedRestore>;

/** After the service's tests: the stages' servers gone, the chain marked verified when every test passed, the restore destroyed. */
function endRun(run: SharedRestore, rejoin: RejoinStage | undefined, drill: DrillStage | undefined): void {
  // vitest reads hook parameters as fixtures: the context must be an object pattern, and none is needed here.
  // eslint-disable-next-line no-empty-pattern
  afterAll(async ({}, suite) => {
    const r = await run.restored()?.catch(() => undefined);
    try {
      // Replication stopped and the source closed, and the drill server gone, before the restored server goes.
      await rejoin?.close();
      await drill?.close();
      // Retention never deletes the newest chain that verified green: only a run where every test of it passed marks
      // it (the tests of the other retained backups prove those, not this one).
      const passed = passedTests(suite);
      if (r && passed !== undefined) markVerified(r.backup.dir, { tests: passed, chain: r.chain.map((l) => l.id) });
    } finally {
      await r?.destroy();
    }
  });
}

/** `restore`: the restore and the verification, timed, with the backup, its steps and the RPO. */
function defineRestoreTest(service: Service, located: ReturnType<typeof locate>, run: SharedRestore): void {
  test("restore", { meta: { classname: service.name, service: service.name } }, async (ctx) => {
    await labels(service.name);
    await allure.label("check", "restore");
    if ("error" in located) throw new CheckFailure(maskSecrets(located.error.message));
    const started = performance.now();
    try {
      const r = await run.restoreOnce(ctx);
      const v = await run.verifyOnce(ctx);
      // Excluded from Allure's history id: the backup changes every night, the test stays the same.
      await allure.parameter("backup", r.backup.id, { excluded: true });
      const steps = r.steps.map((s) => `${s.step} ${formatDuration(s.durationMs)}`).join(", ");
      ctx.annotate(`${steps}, verify ${formatDuration(v.durationMs)}; total ${formatDuration(performance.now() - started)}`, "timings");
      ctx.annotate(r.backup.id, "backup");
      ctx.annotate(`${r.rpoSeconds} s: newest restorable point is the ${r.restorable.source} at ${r.restorable.at.toISOString()}`, "rpo");
    } finally {
      // For summary.json and the Allure environment, failed or not (src/report/summary.ts, allureEnvironment.ts).
      ctx.task.meta.restore = await run.watch()?.record(located.backup, located.manifest, await run.restored()?.catch(() => undefined));
    }
  });
}

/** `store › every stored file as written`: the store check's hashing of the restored chain. */
function defineStoreTest(service: Service, run: SharedRestore): void {
  describe("store", () => {
    test("every stored file as written", { meta: { classname: `${service.name}.store`, service: service.name }, timeout: service.restore.timeout }, async (ctx) => {
      await labels(service.name);
      await allure.label("check", "store");
      await allure.description(
        "Every stored file of the restored chain has the size and SHA-256 its checksums.json recorded when the backup was written, hashed beside the restore from its transfer on (a stream as the transfer reads it); a missing, cut or changed file, and a file the list does not name, is red by its path, also where the restore itself survived it.",
      );
      await run.restoreOnce(ctx).catch(() => undefined);
      const result = await run.storeCheck.result();
      if (!result) {
        ctx.skip("the restore failed before it read the store: see the restore test");
        return;
      }
      const notes = result.notes.length ? `; ${result.notes.join("; ")}` : "";
      ctx.annotate(`${result.files} stored file(s), ${formatSize(result.bytes)}, hashed beside the restore in ${formatDuration(result.durationMs)}${notes}`, "store");
      if (result.problems.length > 0) throw new CheckFailure(maskSecrets(describeStoreProblems(result)));
    });
  });
}

/**
 * One test per server, database and table check. What is tested follows from the manifest (every object the catalog
 * reported, with the checks coverage.ts gave it).
 */
function defineCheckTests(service: Service, manifest: Manifest, verified: (ctx: TestContext) => Promise<Verified>): void {
  const plan = planTests(manifest, service.verify.checks);
  const classname = (...parts: string[]) => ({ classname: [service.name, ...parts].join("."), service: service.name });
  for (const name of plan.server) {
    test(name, { meta: classname(name) }, async (ctx) => {
      await labels(service.name, undefined, undefined, name);
      await allure.description(check(name).description);
      await report(serverFinding(await verified(ctx), name));
    });
  }
  for (const database of plan.databases) {
    // vitest fails a describe without tests ("No test found in suite"): only where checks apply.
    if (database.checks.length) describe(database.name, () => {
      for (const name of database.checks) {
        test(name, { meta: classname(database.name) }, async (ctx) => {
          await labels(service.name, database.name, undefined, name);
          await allure.description(check(name).description);
          await report(databaseFinding(await verified(ctx), database.name, name));
        });
      }
    });
    for (const table of database.tables.filter((t) => t.checks.length)) {
      describe(`${database.name}.${table.name}`, () => {
        for (const name of table.checks) {
          test(name, { meta: classname(database.name, table.name) }, async (ctx) => {
            await labels(service.name, database.name, table.name, name);
            await allure.description(check(name).description);
            await report(tableFinding(await verified(ctx), { database: database.name, table: table.name }, name));
          });
        }
      });
    }
  }
}

/**
 * `older › <id> restores and matches its baseline`: after every test of the newest backup, `verify.older` retained
 * backups proven least recently, each restored on its own (its chain), compared with its own baseline (every check and
 * the team's queries), marked verified with the date when green, and destroyed before the next. Where the service has
 * a binlog archive, the same restore then goes on through it to the next retained backup (`archive › <id> + archive =
 * <next>`) before it is destroyed.
 */
function defineOlderTests(service: Service, newest: StoredBackup, count: number, queries: readonly ServiceQuery[]): void {
  const backups = listBackups(service.backup.store, service.name).complete.map((b) => ({ ...b, finishedAt: b.meta.finishedAt, verifiedAt: verifiedAt(b.dir) }));
  const archived = hasArchive(service);
  for (const backup of olderToVerify(backups, newest.id, count)) {
    let restored: Promise<Restored> | undefined;
    const restoreOlder = (watch: RestoreWatch): Promise<Restored> =>
      (restored ??= restoreService(service, { backup: backup.id, runStep: async (step, body) => allure.step(step, body), ...watch.restoreOptions() }));
    const next = archived ? nextBackup(backups, backup.id) : null;
    const meta = { classname: `${service.name}.older`, service: service.name, otherBackups: true };
    describe("older", () => {
      // The restore goes once its last test is done (or skipped).
      if (!next) afterAll(async () => (await restored?.catch(() => undefined))?.destroy());
      test(`${backup.id} restores and matches its baseline`, { meta, timeout: service.restore.timeout + service.verify.timeout }, async (ctx) => {
        await labels(service.name);
        await allure.label("check", "older");
        await allure.parameter("backup", backup.id, { excluded: true });
        const proven = backup.verifiedAt ? `last verified ${backup.verifiedAt}` : "never verified";
        await allure.description(`An older retained backup (${proven}), restored on its own and compared with its own baseline: every check and the team's queries.`);
        const watch = new RestoreWatch(service.name, ctx.task);
        const r = await restoreOlder(watch).catch((error: unknown) => {
          throw new CheckFailure(maskSecrets((error as Error).message));
        });
        const compared = await watch.phase(`verify ${backup.id}`, () => compareWithBaseline(service, r, { manifest: r.manifest, key: r.serverContext.digestKey, id: backup.id }, queries));
        const steps = r.steps.map((s) => `${s.step} ${formatDuration(s.durationMs)}`).join(", ");
        const notCompared = compared.newer.length > 0 ? `; not compared (newer than this backup): ${compared.newer.join(", ")}` : "";
        ctx.annotate(`${r.chain.map((l) => l.id).join(" + ")}: ${steps}, verify ${formatDuration(compared.durationMs)}${notCompared}`, "older");
        if (compared.red.length > 0) throw new CheckFailure(maskSecrets(`backup ${backup.id} differs from its baseline after a restore (${compared.red.length} of ${compared.total} tests):\n${compared.red.join("\n")}`));
        markVerified(backup.dir, { tests: compared.passed + 1, chain: r.chain.map((l) => l.id) });
      });
    });
    if (next) defineArchiveProof(service, { backup, next, queries }, { restoreOlder, restored: () => restored });
  }
}

/**
 * `archive › <older> + archive = <next>`: the older backup's restore (its `older` test's) rolled forward through the
 * binlog archive from its own position to the next retained backup's, stopping exactly there, and compared with that
 * backup's baseline: every check and the team's queries. Proves every point between the two backups can be reached.
 */
function defineArchiveProof(
  service: Service,
  pair: { backup: StoredBackup; next: StoredBackup; queries: readonly ServiceQuery[] },
  run: { restoreOlder: (watch: RestoreWatch) => Promise<Restored>; restored: () => Promise<Restored> | undefined },
): void {
  const { backup, next } = pair;
  describe("archive", () => {
    afterAll(async () => (await run.restored()?.catch(() => undefined))?.destroy());
    const meta = { classname: `${service.name}.archive`, service: service.name, otherBackups: true };
    test(`${backup.id} + archive = ${next.id}`, { meta, timeout: service.restore.timeout + service.verify.timeout }, async (ctx) => {
      await labels(service.name);
      await allure.label("check", "archive");
      await allure.parameter("backup", backup.id, { excluded: true });
      await allure.description(
        `Backup ${backup.id}, restored, rolled forward through the binlog archive from its position to backup ${next.id}'s and compared with that backup's baseline: every check and the team's queries. A gap, a damaged event or an event that fails is named by file and position, a difference by object and check.`,
      );
      const watch = new RestoreWatch(service.name, ctx.task);
      const r = await run.restoreOlder(watch).catch(() => undefined);
      if (!r) return ctx.skip(`backup ${backup.id} did not restore: see older › ${backup.id} restores and matches its baseline`);
      let manifest: Manifest;
      try {
        manifest = readManifest(next.manifestPath);
      } catch (error) {
        throw new CheckFailure(maskSecrets(`backup ${next.id}'s manifest cannot be read: ${(error as Error).message}`));
      }
      if (!manifest.position) throw new CheckFailure(`backup ${next.id} records no binlog position (binary logging was off on its source): no roll-forward can be compared with it`);
      const stage = new ArchiveStage(service, undefined, { at: manifest.position, name: `backup ${next.id}` });
      const applied = await watch.phase(`archive: ${backup.id} to ${next.id}`, () => stage.apply(r)).catch((error: unknown) => {
        throw new CheckFailure(maskSecrets(`backup ${backup.id} + archive does not reach backup ${next.id}: ${(error as Error).message}`));
      });
      // A sandbox source's root password is set anew at each start, outside the binlog: no archive carries it.
      const leaveOut = "sandbox" in service.source ? [SANDBOX_ROOT] : [];
      const compared = await watch.phase(`verify at ${next.id}`, () => compareWithBaseline(service, r, { manifest, key: readDigestKey(next.dir), id: next.id, leaveOut }, pair.queries));
      const to = `${applied.appliedTo.file}:${applied.appliedTo.position}`;
      ctx.annotate(`${applied.files} file(s), ${applied.bytes} bytes applied in ${formatDuration(applied.durationMs)} to ${to}; ${compared.passed} of ${compared.total} tests equal backup ${next.id}'s baseline`, "archive");
      if (compared.red.length > 0) {
        throw new CheckFailure(maskSecrets(`backup ${backup.id} + archive to ${to} differs from backup ${next.id}'s baseline (${compared.red.length} of ${compared.total} tests):\n${compared.red.join("\n")}`));
      }
    });
  });
}

/** A restored server compared with one backup's baseline: every check and the team's queries, the red ones as lines. */
async function compareWithBaseline(
  service: Service,
  r: Restored,
  baseline: { manifest: Manifest; key: Buffer | undefined; id: string; leaveOut?: readonly { user: string; host: string }[] },
  queries: readonly ServiceQuery[],
): Promise<{ red: string[]; passed: number; total: number; newer: string[]; durationMs: number }> {
  const leaveOut = baseline.leaveOut ?? [];
  const context = { ...r.serverContext, digestKey: baseline.key, ignoreAccounts: [...(r.serverContext.ignoreAccounts ?? []), ...leaveOut] };
  const v = await captureRestored(r.db, leaveOutAccounts(baseline.manifest, leaveOut), service.verify.checks, checkOptions(service), service.verify.concurrency, context);
  const answered = await answerQueries(r.db, queries, baseline.manifest, baseline.key, baseline.id).catch((error: unknown) => error as Error);
  const findings = allFindings(v);
  const red = findings.filter((f) => !f.finding.ok).map((f) => `  ${f.key}: ${(f.finding as { message: string }).message}`);
  // A query added or changed since the backup was taken has nothing there to be compared with: not the backup's fault.
  const newer = answered instanceof Error ? [] : [...answered].filter(([, verdict]) => verdict.newerThanBackup).map(([name]) => name);
  if (answered instanceof Error) red.push(`  queries: ${answered.message}`);
  else for (const [name, verdict] of answered) if (!verdict.finding.ok && !verdict.newerThanBackup) red.push(`  queries › ${name}: ${verdict.finding.message}`);
  const total = findings.length + (answered instanceof Error ? 1 : answered.size - newer.length);
  return { red, passed: total - red.length, total, newer, durationMs: v.durationMs };
}

/** The verification and the team's queries' verdicts (or why they could not be asked at all). */
type Verified = Verification & { queries: Map<string, QueryVerdict> | Error };

/**
 * `queries › <name>`: the team's own tests, each query asked read-only on the restored server as its verifier, at the
 * backup's position, and judged against its expectation. No message or attachment holds a value of the answer.
 */
function defineQueryTests(service: Service, queries: readonly ServiceQuery[], verified: (ctx: TestContext) => Promise<Verified>): void {
  describe("queries", () => {
    for (const query of queries) {
      test(query.name, { meta: { classname: `${service.name}.queries`, service: service.name } }, async (ctx) => {
        await labels(service.name, undefined, undefined, "queries");
        await allure.description(`Expected: ${describeExpectation(query.expect)}. Asked read-only on the restored server, within ${formatDuration(query.timeoutMs)}:\n\n    ${query.sql.replace(/\n/g, "\n    ")}`);
        const v = await verified(ctx);
        if (v.queries instanceof Error) throw new CheckFailure(maskSecrets(`the queries could not be asked: ${v.queries.message}`));
        const verdict = v.queries.get(query.name);
        if (!verdict) throw new CheckFailure(`query ${JSON.stringify(query.name)} was not asked`);
        if (verdict.finding.ok) ctx.annotate(`${verdict.finding.summary}${verdict.durationMs === null ? "" : `, in ${formatDuration(verdict.durationMs)}`}`, "query");
        await report(verdict.finding);
      });
    }
  });
}

/**
 * `drill › db.t restores on its own`: after verification, each of tonight's drill tables goes the way a table restore
 * delivers it into a second, empty server, and equals the baseline there (checksum and row count).
 */
function defineDrillTests(
  service: Service,
  drill: DrillStage,
  run: { restoreOnce: (ctx: TestContext) => Promise<Restored>; verified: (ctx: TestContext) => Promise<Verification> },
): void {
  if (drill.tables.length === 0 && drill.tooBig.length === 0) return;
  describe("drill", () => {
    for (const big of drill.tooBig) {
      const name = `${big.database}.${big.table}`;
      test(`${name} restores on its own`, { meta: { classname: `${service.name}.drill`, service: service.name, configuredSkip: true } }, async (ctx) => {
        await labels(service.name, big.database, big.table, "drill");
        ctx.skip(`not drilled: ${formatSize(big.sizeBytes)} in the baseline, over verify.tableDrillMaxSize (${formatSize(service.verify.tableDrillMaxSize)}); raise it to drill this table`);
      });
    }
    for (const table of drill.tables) {
      const name = `${table.database}.${table.table}`;
      test(`${name} restores on its own`, { meta: { classname: `${service.name}.drill`, service: service.name }, timeout: service.restore.timeout }, async (ctx) => {
        await labels(service.name, table.database, table.table, "drill");
        await allure.description(
          "The table goes the way `restoretest restore --table … --into` delivers one (exported tablespace and IMPORT TABLESPACE, partition by partition, or a dump) into a second, empty server, and its checksum and row count there equal the baseline's.",
        );
        await run.verified(ctx);
        const restored = await run.restoreOnce(ctx);
        const result = await new RestoreWatch(service.name, ctx.task).phase(`drill: ${name}`, () => drill.result(restored, table)).catch((error: unknown) => {
          throw new CheckFailure(maskSecrets(`drill of ${name} failed: ${(error as Error).message}`));
        });
        ctx.annotate(`${describeDelivered(result.delivered, "the drill server")}; compared with the baseline in ${formatDuration(result.compareMs)}`, "drill");
        const red = result.findings.filter((f) => !f.finding.ok);
        if (red.length > 0) throw new CheckFailure(`drilled on its own, ${name} differs from the baseline:\n${red.map((f) => `  ${f.check}: ${(f.finding as { message: string }).message}`).join("\n")}`);
      });
    }
  });
}

/** `objectives › RTO | RPO | backup age | catch-up`: last, once every measurement is in; red when breached. */
function defineObjectiveTests(
  service: Service,
  backup: StoredBackup,
  run: { restoreOnce: (ctx: TestContext) => Promise<Restored>; rejoin: RejoinStage | undefined; rolledForward: (ctx: TestContext) => Promise<void> },
): void {
  const objectives = configuredObjectives(service.objectives).filter(([key]) => key !== "catchUp" || run.rejoin);
  if (objectives.length === 0) return;
  /** What was measured for one objective, or why nothing was. */
  const measure = async (key: ObjectiveKey, ctx: TestContext): Promise<number | { why: string }> => {
    if (key === "backupAge") return Math.max(0, Date.now() - Date.parse(backup.meta.finishedAt));
    if (key === "unprovenAge") {
      // After tonight's older backups (their tests run first); the newest counts as proven once its own tests are green.
      const retained = listBackups(service.backup.store, service.name).complete.map((b) => ({ id: b.id, finishedAt: b.meta.finishedAt, verifiedAt: b.id === backup.id ? undefined : verifiedAt(b.dir) }));
      const unproven = unprovenOf(retained.filter((b) => b.id !== backup.id), new Date());
      return unproven ? unproven.longestMs : 0;
    }
    if (key === "baselineHold") return backup.meta.replicaHold?.heldMs ?? { why: `backup ${backup.id} did not record its hold on the source (taken before restoretest recorded it)` };
    if (key === "catchUp") {
      const caught = await run.rejoin?.catchUp().catch(() => undefined);
      return caught ? caught.durationMs : { why: "the replica did not catch up (see the rejoin tests)" };
    }
    const restored = await run.restoreOnce(ctx).catch(() => undefined);
    if (!restored) return { why: "the restore failed (see the restore test)" };
    // The RPO the archive stage proved, where it applied anything (it updates the restore's newest restorable point).
    if (key === "rpo") await run.rolledForward(ctx);
    return key === "rto" ? restored.steps.reduce((total, s) => total + s.durationMs, 0) : restored.rpoSeconds * 1000;
  };
  describe("objectives", () => {
    for (const [key, limitMs] of objectives) {
      // A breached unproven age is the other retained backups' (the newest is left out of it): the newest is still marked verified.
      const meta = { classname: `${service.name}.objectives`, service: service.name, ...(key === "unprovenAge" ? { otherBackups: true } : {}) };
      test(OBJECTIVE_NAMES[key], { meta }, async (ctx) => {
        await labels(service.name);
        await allure.label("check", "objectives");
        await allure.description(`${OBJECTIVE_MEANING[key]}, against services.yaml objectives.${key}.`);
        const measured = await measure(key, ctx);
        const result = typeof measured === "number" ? judgeObjective(key, limitMs, measured) : judgeObjective(key, limitMs, null, measured.why);
        ctx.task.meta.objective = result;
        ctx.annotate(result.message, "objective");
        if (result.breached) throw new CheckFailure(result.message);
      });
    }
  });
}

/**
 * `archive › contiguous from the backup | applies to its newest event | recovery point`: the restore rolled forward
 * from P through the binlog archive (after every table test: it changes the data they compared).
 */
function defineArchiveTests(
  service: Service,
  stage: ArchiveStage,
  run: { restoreOnce: (ctx: TestContext) => Promise<Restored>; verified: (ctx: TestContext) => Promise<Verification> },
): void {
  const meta = { classname: `${service.name}.archive`, service: service.name };
  const record: ArchiveRecord = { appliedTo: null, newestEventAt: null, rpoMs: null, files: 0, bytes: 0, applyMs: null, failure: null };
  const fill = (applied: ArchiveApplied | undefined) => {
    if (!applied) return;
    record.appliedTo = `${applied.appliedTo.file}:${applied.appliedTo.position}`;
    record.newestEventAt = applied.newestEventAt === null ? null : new Date(applied.newestEventAt).toISOString();
    record.files = applied.files;
    record.bytes = applied.bytes;
    record.applyMs = Math.round(applied.durationMs);
  };
  const restoredAndVerified = async (ctx: TestContext): Promise<Restored> => {
    await labels(service.name);
    await allure.label("check", "archive");
    // The table tests compared the restore at P first: verification is done before anything is rolled forward.
    await run.verified(ctx);
    return run.restoreOnce(ctx);
  };
  describe("archive", () => {
    test("contiguous from the backup", { meta, timeout: service.restore.timeout }, async (ctx) => {
      const restored = await restoredAndVerified(ctx);
      await allure.description("The binlog archive holds every file from the backup's position P on, without a gap, each closed file whole, every event's checksum intact.");
      const continuity = await stage.contiguous(restored).catch((error: unknown) => {
        throw new CheckFailure(maskSecrets((error as Error).message));
      });
      ctx.task.meta.archive = { ...record };
      if (continuity.problems.length > 0) throw new CheckFailure(continuity.problems.join("\n"));
      const last = continuity.files.at(-1);
      ctx.annotate(`${continuity.files.length} file(s) from ${continuity.from.file}:${continuity.from.position} to ${last?.name}`, "archive");
    });

    test("applies to its newest event", { meta, timeout: service.restore.timeout }, async (ctx) => {
      const restored = await restoredAndVerified(ctx);
      await allure.description("The restored server is rolled forward from P through the archive to its newest whole transaction; the first event that fails is named.");
      try {
        const applied = await new RestoreWatch(service.name, ctx.task).phase("archive: roll forward", () => stage.apply(restored));
        fill(applied);
        ctx.annotate(
          `${applied.files} file(s), ${applied.bytes} bytes applied in ${formatDuration(applied.durationMs)} to ${record.appliedTo}${applied.note ? `; ${applied.note}` : ""}`,
          "roll-forward",
        );
      } catch (error) {
        fill((error as ArchiveError).applied);
        record.failure = maskSecrets((error as Error).message).split("\n")[0] ?? "error";
        throw new CheckFailure(maskSecrets((error as Error).message));
      } finally {
        ctx.task.meta.archive = { ...record };
      }
    });

    test("recovery point", { meta, timeout: service.restore.timeout }, async (ctx) => {
      const restored = await restoredAndVerified(ctx);
      await allure.description("The age of the newest transaction that actually applied: the data a restore from this backup and archive would lose, against objectives.rpo.");
      await stage.apply(restored).catch(() => undefined);
      const at = restored.restorable.source === "binlog archive, replayed" ? restored.restorable.at.getTime() : null;
      record.rpoMs = at === null ? null : Math.max(0, Date.now() - at);
      ctx.task.meta.archive = { ...record };
      if (at === null || record.rpoMs === null) throw new CheckFailure("nothing was applied from the archive: the recovery point is the backup's (see archive › applies to its newest event)");
      const limit = service.objectives.rpo;
      const message = `recovery point ${formatDuration(record.rpoMs)} ago (${new Date(at).toISOString()}, binlog archive, replayed)${limit !== undefined ? `; objective ${formatDuration(limit)}` : ""}`;
      ctx.annotate(message, "rpo");
      if (limit !== undefined && record.rpoMs > limit) throw new CheckFailure(`${message}: breached`);
    });
  });
}

/** `rejoin › …`: the restored server joins replication, catches up, and matches the source (after every table test). */
function defineRejoinTests(
  service: Service,
  stage: RejoinStage,
  run: { restoreOnce: (ctx: TestContext) => Promise<Restored>; verified: (ctx: TestContext) => Promise<Verification>; rolledForward: (ctx: TestContext) => Promise<void> },
): void {
  const settings = service.rejoin!;
  const meta = { classname: `${service.name}.rejoin`, service: service.name };
  const record: RejoinRecord = { startMs: null, catchUpMs: null, backlogBytes: null, consistentAt: null, tablesCompared: null, failure: null };
  /**
   * Run one rejoin aspect: its failure is the test's, named and masked; `fill` adds its result to the record, which goes
   * to summary.json either way.
   */
  const aspect = async <T>(ctx: TestContext, step: string, body: () => Promise<T>, fill: (result: T) => void): Promise<T> => {
    await labels(service.name);
    await allure.label("check", "rejoin");
    try {
      const result = await new RestoreWatch(service.name, ctx.task).phase(step, body);
      fill(result);
      return result;
    } catch (error) {
      record.failure ??= (error as { failure?: string }).failure ?? "error";
      throw new RejoinFailure(maskSecrets((error as Error).message));
    } finally {
      ctx.task.meta.rejoin = { ...record };
    }
  };
  /** Skip, pointing at the earlier rejoin test that failed. */
  const after = async <T>(ctx: TestContext, earlier: Promise<T>, what: string): Promise<T> => {
    try {
      return await earlier;
    } catch {
      ctx.skip(`${what}: see the rejoin test before this one`);
      throw new Error("unreachable");
    }
  };

  describe("rejoin", () => {
    test("replication starts", { meta, timeout: settings.startTimeout + 300_000 }, async (ctx) => {
      // Verification first: once the replica applies the source's changes, it no longer holds the backup's data. Then
      // the roll-forward through the binlog archive, where replication then starts.
      await run.verified(ctx);
      await run.rolledForward(ctx);
      const restored = await run.restoreOnce(ctx);
      await allure.description("The restored server is pointed at the source from the backup's position and both replication threads run.");
      const started = await aspect(ctx, "rejoin: start", () => stage.start(restored), (r) => (record.startMs = Math.round(r.durationMs)));
      ctx.annotate(`from ${started.source} at ${describeStart(started.start)} (${started.start.origin}), server-id ${started.serverId}`, "replication");
    });

    test("catches up", { meta, timeout: settings.catchUpTimeout + 120_000 }, async (ctx) => {
      await after(ctx, run.restoreOnce(ctx).then((r) => stage.start(r)), "replication did not start");
      await allure.description("The replica executes everything the source had written when catch-up began, within rejoin.catchUpTimeout.");
      const caught = await aspect(ctx, "rejoin: catch-up", () => stage.catchUp(), (r) => {
        record.catchUpMs = Math.round(r.durationMs);
        record.backlogBytes = r.backlogBytes ?? null;
      });
      const backlog = caught.backlogBytes === undefined ? "" : `, ${caught.backlogBytes} bytes of binlog`;
      const summary = `caught up in ${formatDuration(caught.durationMs)} to ${caught.target.file}:${caught.target.position}${backlog}`;
      ctx.annotate(summary, "catch-up");
      await allure.attachment("lag.csv", lagCsv(caught.samples), "text/csv");
      await allure.attachment("lag.svg", lagSvg(caught.samples, `${service.name}: ${summary}`), "image/svg+xml");
    });

    test("consistent after catch-up", { meta, timeout: settings.catchUpTimeout + service.verify.timeout }, async (ctx) => {
      await after(ctx, stage.catchUp(), "the replica did not catch up");
      await allure.description("Replica and source stopped at one binlog position (the source's consistent snapshot): every table's checksum and row count are equal.");
      const consistent = await aspect(ctx, "rejoin: compare", () => stage.consistent(), (r) => {
        record.consistentAt = `${r.at.file}:${r.at.position}`;
        record.tablesCompared = r.tables;
      });
      ctx.annotate(`${consistent.tables} tables equal at ${record.consistentAt}`, "consistency");
    });
  });
}
