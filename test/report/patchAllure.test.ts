// scripts/patch-allure.mjs: Allure's report plugin writes its test-env-group files 64 at a time, and still every one.
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
// @ts-expect-error: a plain .mjs script, no types
import { CONCURRENT, GENERATORS, SERIAL, patched } from "../../scripts/patch-allure.mjs";

describe("the Allure report plugin patch", () => {
  it("is in the installed plugin (npm's postinstall, install-node-deps.sh)", () => {
    const text = readFileSync(GENERATORS, "utf8");
    expect(text).toContain(CONCURRENT);
    expect(text).not.toContain(SERIAL);
  });

  it("changes nothing twice, nor a plugin whose loop has another shape", () => {
    const original = `const writeConcurrently = async () => {};\nexport const generateTestEnvGroups = async (writer, groups) => {\n${SERIAL}\n};\n`;
    const once = patched(original) as string;
    expect(once).toContain(CONCURRENT);
    expect(patched(once)).toBeUndefined();
    expect(patched("export const generateTestEnvGroups = async () => {};\n")).toBeUndefined();
  });

  it("still writes every group, each to its own file", async () => {
    const { generateTestEnvGroups } = (await import(pathToFileURL(GENERATORS).href)) as {
      generateTestEnvGroups: (writer: { writeData: (src: string, data: unknown) => Promise<void> }, groups: { id: string }[]) => Promise<void>;
    };
    const groups = Array.from({ length: 1000 }, (_, i) => ({ id: `g${i}`, testResultsByEnv: { default: `tr${i}` } }));
    const written = new Map<string, unknown>();
    let inFlight = 0;
    let most = 0;
    await generateTestEnvGroups(
      {
        writeData: async (src, data) => {
          most = Math.max(most, ++inFlight);
          await new Promise((r) => setTimeout(r, 1));
          written.set(src, data);
          inFlight--;
        },
      },
      groups,
    );
    expect(written.size).toBe(1000);
    expect(written.get("test-env-groups/g999.json")).toEqual(groups[999]);
    expect(most).toBe(64);
  });
});
