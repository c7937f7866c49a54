// Which runs mark their backup verified (retention keeps the newest chain so marked): every test passed, or was skipped
// because the configuration says so; any failure, other skip or test that did not run leaves it unmarked.
import { describe, expect, it } from "vitest";
import { passedTests } from "../../src/report/suite.ts";

type Task = Parameters<typeof passedTests>[0];
const test = (state: string | undefined, configuredSkip?: boolean): Task => ({ type: "test", ...(state ? { result: { state } } : {}), ...(configuredSkip ? { meta: { configuredSkip } } : {}) });
const suite = (...tasks: Task[]): Task => ({ type: "suite", tasks });

describe("passedTests", () => {
  it("counts the passed tests of a run where all passed, through nested suites", () => {
    expect(passedTests(suite(test("pass"), suite(test("pass"), test("pass"))))).toBe(3);
  });

  it("keeps a run green through a skip the configuration asks for (a table too big to drill), without counting it", () => {
    expect(passedTests(suite(test("pass"), suite(test("skip", true), test("pass"))))).toBe(2);
  });

  it("is undefined for a failure, another skip, or a test that did not run", () => {
    expect(passedTests(suite(test("pass"), suite(test("fail"))))).toBeUndefined();
    expect(passedTests(suite(test("pass"), test("skip")))).toBeUndefined();
    expect(passedTests(suite(test("pass"), test(undefined)))).toBeUndefined();
    // The marker only excuses a skip: a configured test that failed still fails the run.
    expect(passedTests(suite(test("fail", true)))).toBeUndefined();
  });

  it("leaves out the tests of the other retained backups (older, their archive proof, unproven age): red or green, they do not decide the newest's mark", () => {
    const other = (state: string): Task => ({ type: "test", result: { state }, meta: { otherBackups: true } });
    const olderSuite = (...tasks: Task[]): Task => ({ type: "suite", meta: { otherBackups: true }, tasks });
    expect(passedTests(suite(test("pass"), suite(other("fail"), other("skip")), other("fail")))).toBe(1);
    expect(passedTests(suite(test("pass"), olderSuite(test("fail"))))).toBe(1);
    // The newest's own tests still decide it.
    expect(passedTests(suite(test("fail"), other("pass")))).toBeUndefined();
  });
});
