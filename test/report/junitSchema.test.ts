// Our JUnit XML against our schema of what Jenkins reads (test/support/junit-jenkins.xsd), checked by xmllint.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { renderJUnit, type JUnitSuite } from "../../src/report/junitReporter.ts";
import { parseJUnit, validateJUnit } from "../support/junit.ts";

const dir = mkdtempSync(join(tmpdir(), "restoretest-junit-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, xml: string): string {
  const path = join(dir, name);
  writeFileSync(path, xml);
  return path;
}

/** Every shape the reporter writes: passed, failed (multi-line, markup, control characters), skipped, properties, hook failure. */
const SUITES: JUnitSuite[] = [
  {
    name: "shop",
    timestamp: "2026-11-25T03:00:00",
    cases: [
      {
        classname: "shop",
        name: "restore",
        timeSeconds: 1234.5678,
        state: "failed",
        failure: {
          message: 'restore of shop failed at step "prepare" after 3.1s',
          type: "RestoreStepError",
          body: 'restore of shop failed at step "prepare" after 3.1s\ncommand: mariadb-backup --prepare\nexit code: 1\nstderr (last lines):\n  <&> ]]> \u0007bell',
        },
        properties: [
          { name: "timings", value: "locate 3ms, transfer 1.2s; total 3.1s" },
          { name: "backup", value: "2026-11-25T03-00-00Z" },
        ],
      },
      { classname: "shop.shop.orders", name: "checksum", timeSeconds: 0, state: "skipped", skippedMessage: "restore failed: see the restore test", properties: [] },
      { classname: "shop.shop.customers", name: "rowCount", timeSeconds: 0.002, state: "passed", properties: [] },
      { classname: "shop", name: "(suite hooks)", timeSeconds: 0, state: "failed", failure: { message: "afterAll", type: "Error", body: "afterAll" }, properties: [] },
    ],
  },
  { name: "empty", timestamp: "2026-11-25T03:00:00", cases: [] },
];

describe("JUnit XML for Jenkins", () => {
  it("validates against the Jenkins JUnit schema in every shape the reporter writes", async () => {
    const result = await validateJUnit(write("all.xml", renderJUnit(SUITES)));
    expect(result.errors).toMatch(/validates/);
    expect(result.valid).toBe(true);
  });

  it("would be caught by the schema check if properties went back inside <testcase>", async () => {
    const xml = renderJUnit(SUITES).replace(/<system-out>[^<]*<\/system-out>/, '<properties><property name="a" value="b"/></properties>');
    expect((await validateJUnit(write("bad.xml", xml))).valid).toBe(false);
  });

  it("keeps durations, verdicts and the restore properties readable (what test/support/junit.ts and Jenkins read)", () => {
    const xml = renderJUnit(SUITES);
    expect(xml).toMatch(/<testsuite name="shop" [^>]*tests="4" failures="2" errors="0" skipped="1" time="1234\.570">/);
    const [restore, skipped, passed] = parseJUnit(xml);
    expect(restore).toMatchObject({ classname: "shop", name: "restore", timeSeconds: 1234.568, skipped: false });
    expect(restore?.properties).toEqual({ timings: "locate 3ms, transfer 1.2s; total 3.1s", backup: "2026-11-25T03-00-00Z" });
    expect(restore?.failureBody).toContain("exit code: 1\nstderr (last lines):\n  <&> ]]> bell");
    expect(skipped).toMatchObject({ skipped: true, failure: undefined });
    expect(passed).toMatchObject({ timeSeconds: 0.002, skipped: false, failure: undefined });
  });
});
