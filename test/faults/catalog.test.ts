import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runBackupJob } from "../../src/backup/job.ts";
import { sandboxServers, testService, testStore } from "../support/services.ts";
import { readManifest } from "../../src/store/manifest.ts";
import { FAULTS, KIND_SAMPLES, namesObject, runFault } from "./catalog.ts";

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
      const result = await runFault(service, backupDir, fault);
      if (fault.restoreFails) {
        expect(result.restoreError).toMatch(fault.restoreFails);
      } else if (fault.notGreen) {
        expect(result.restoreError !== undefined || result.red.size > 0, "a damaged backup verified green").toBe(true);
        if (fault.about) expect(namesObject(result, fault.about), `no test names ${fault.about}: ${result.restoreError ?? [...result.red.keys()].join(", ")}`).toBe(true);
      } else {
        expect(result.restoreError).toBeUndefined();
        expect([...result.red.keys()].sort()).toEqual([...(fault.red ?? [])].sort());
        // Every message names the table or database it is about.
        for (const [key, message] of result.red) expect(message).toContain(key.split(":")[0]?.split(".").at(-1));
        if (fault.message) expect([...result.red.values()].join("\n")).toMatch(fault.message);
      }
    });
  }
});
