import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runBackupJob } from "../../src/backup/job.ts";
import { sandboxServers, testService, testStore } from "../support/services.ts";
import { readManifest } from "../../src/store/manifest.ts";
import { FAULTS, KIND_SAMPLES, missed, runFault } from "./catalog.ts";

const store = testStore();
const service = testService(store.path);
let backupDir = "";

beforeAll(async () => {
  backupDir = (await runBackupJob(service)).dir;
}, 120_000);

afterAll(async () => {
  store.remove();
  expect(await sandboxServers()).toEqual([]);
});

// Three restores at a time (the tool project's maxConcurrency): each fault restores a server of its own.
describe.concurrent("fault catalog", () => {
  it("has a removed and a damaged data file fault for every kind of table the seed's catalog reports", ({ expect }) => {
    const manifest = readManifest(join(backupDir, "manifest.json"));
    const kinds = new Set(
      manifest.databases
        .filter((d) => !d.system)
        .flatMap((d) => d.tables.map((t) => (t.type === "VIEW" ? "VIEW" : `${t.type} ${t.engine}${/PARTITION BY/.test(JSON.stringify(t.checks.definition ?? "")) ? " partitioned" : ""}`))),
    );
    expect([...kinds].sort()).toEqual(KIND_SAMPLES.map((k) => k.kind).sort());
  });

  it("a clean restore is all green", async ({ expect }) => {
    const result = await runFault(service, backupDir, undefined);
    expect(result.restoreError).toBeUndefined();
    expect(Object.fromEntries(result.red)).toEqual({});
  });

  for (const fault of FAULTS) {
    it(`catches: ${fault.name}`, async ({ expect }) => {
      expect(missed(fault, await runFault(service, backupDir, fault))).toBeUndefined();
    });
  }
});
