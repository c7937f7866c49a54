// The generic restore suite: one `restore` test, then one test per table and check, generated from the manifest.
import * as allure from "allure-js-commons";
import { afterAll, describe, test, type TestContext } from "vitest";
import { readManifest, type Manifest } from "../baseline/manifest.ts";
import { markVerified, newestBackup, type StoredBackup } from "../backup/store.ts";
import { check } from "../checks/index.ts";
import { checkOptions } from "../backup/job.ts";
import type { Finding } from "../checks/types.ts";
import { findService, loadServices } from "../config/load.ts";
import type { Service } from "../config/schema.ts";
import { formatDuration } from "../config/duration.ts";
import { maskSecrets } from "../lifecycle/secrets.ts";
import { restoreService, type Restored } from "../restore/pipeline.ts";
import { captureRestored, databaseFinding, tableFinding, type Verification } from "../verify/verify.ts";
import { configPath } from "./paths.ts";
import { RestoreWatch } from "./restoreWatch.ts";
import "./meta.ts";

/** A check that went red: its message is what Jenkins shows, so it must stand on its own. */
export class CheckFailure extends Error {
  override name = "CheckFailed";
}

/** The manifest the tests are generated from, read at collection time; its absence is reported by the restore test. */
function locate(service: Service): { backup: StoredBackup; manifest: Manifest } | { error: Error } {
  try {
    const backup = newestBackup(service.backup.store, service.name);
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
  result?: { state?: string };
  tasks?: readonly TaskTree[];
}

/** How many tests ran, when every one of them passed; undefined when any failed, was skipped or did not run. */
function passedTests(suite: TaskTree): number | undefined {
  let passed = 0;
  for (const task of suite.tasks ?? []) {
    if (task.type === "suite") {
      const inner = passedTests(task);
      if (inner === undefined) return undefined;
      passed += inner;
    } else if (task.result?.state === "pass") passed++;
    else return undefined;
  }
  return passed;
}

/** Declare the suite for one service (call at the top level of a test file). */
export function defineRestoreSuite(serviceName: string): void {
  const service = findService(loadServices(configPath()), serviceName);
  const located = locate(service);
  let restored: Promise<Restored> | undefined;
  let verification: Promise<Verification> | undefined;
  /** Progress and the step record of the one restore, kept by whichever test starts it (normally `restore`). */
  let watch: RestoreWatch | undefined;

  const restoreOnce = (ctx: TestContext): Promise<Restored> =>
    (restored ??= restoreService(service, {
      runStep: async (step, body) => allure.step(step, body),
      ...(watch = new RestoreWatch(service.name, ctx.task)).restoreOptions(),
    }));
  const verifyOnce = (ctx: TestContext): Promise<Verification> =>
    (verification ??= restoreOnce(ctx).then((r) =>
      allure.step("capture restored state", () =>
        (watch as RestoreWatch).phase("verify", () => captureRestored(r.db, r.manifest, service.verify.checks, checkOptions(service), service.verify.concurrency)),
      ),
    ));
  /** The verification, or a skip when the restore failed (the restore test carries the reason). */
  const verified = async (ctx: TestContext): Promise<Verification> => {
    try {
      return await verifyOnce(ctx);
    } catch {
      ctx.skip("restore failed: see the restore test");
      throw new Error("unreachable");
    }
  };

  describe(service.name, () => {
    // vitest reads hook parameters as fixtures: the context must be an object pattern, and none is needed here.
    // eslint-disable-next-line no-empty-pattern
    afterAll(async ({}, suite) => {
      const r = await restored?.catch(() => undefined);
      try {
        // Retention never deletes the newest chain that verified green: only a run where every test passed marks it.
        const passed = passedTests(suite);
        if (r && passed !== undefined) markVerified(r.backup.dir, { tests: passed, chain: r.chain.map((l) => l.id) });
      } finally {
        await r?.destroy();
      }
    });

    test("restore", { meta: { classname: service.name, service: service.name } }, async (ctx) => {
      await labels(service.name);
      await allure.label("check", "restore");
      if ("error" in located) throw new CheckFailure(maskSecrets(located.error.message));
      const started = performance.now();
      try {
        const r = await restoreOnce(ctx);
        const v = await verifyOnce(ctx);
        // Excluded from Allure's history id: the backup changes every night, the test stays the same.
        await allure.parameter("backup", r.backup.id, { excluded: true });
        const steps = r.steps.map((s) => `${s.step} ${formatDuration(s.durationMs)}`).join(", ");
        ctx.annotate(`${steps}, verify ${formatDuration(v.durationMs)}; total ${formatDuration(performance.now() - started)}`, "timings");
        ctx.annotate(r.backup.id, "backup");
        ctx.annotate(`${r.rpoSeconds} s: newest restorable point is the ${r.restorable.source} at ${r.restorable.at.toISOString()}`, "rpo");
      } finally {
        // For summary.json and the Allure environment, failed or not (src/vitest/summary.ts, allureEnvironment.ts).
        ctx.task.meta.restore = await watch?.record(located.backup, located.manifest, await restored?.catch(() => undefined));
      }
    });

    if ("error" in located) return;
    const checks = service.verify.checks.map(check);
    for (const database of located.manifest.databases) {
      // vitest fails a describe without tests ("No test found in suite"): only when database-wide checks are configured.
      if (checks.some((c) => c.scope === "database")) describe(database.name, () => {
        for (const c of checks.filter((c) => c.scope === "database")) {
          test(c.name, { meta: { classname: `${service.name}.${database.name}`, service: service.name } }, async (ctx) => {
            await labels(service.name, database.name, undefined, c.name);
            await allure.description(c.description);
            await report(databaseFinding(await verified(ctx), database.name, c.name));
          });
        }
      });
      for (const table of database.tables.filter((t) => t.type === "BASE TABLE")) {
        describe(`${database.name}.${table.name}`, () => {
          for (const c of checks.filter((c) => c.scope === "table")) {
            const meta = { classname: `${service.name}.${database.name}.${table.name}`, service: service.name };
            test(c.name, { meta }, async (ctx) => {
              await labels(service.name, database.name, table.name, c.name);
              await allure.description(c.description);
              await report(tableFinding(await verified(ctx), { database: database.name, table: table.name }, c.name));
            });
          }
        });
      }
    }
  });
}
