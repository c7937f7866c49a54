// npm's postinstall: one change to Allure 3's report plugin, made in Allure's own idiom. At 40,000 tests the awesome
// plugin writes one test-env-group file per test one after another (an await per file), while it writes the test pages
// 64 at a time through its own writeConcurrently; on 2 cores that serial loop was 6-8 s of a 45-65 s report
// (docs/performance.md). This writes the groups the way it writes the pages. Idempotent; on any other Allure version
// whose loop differs it changes nothing and says so.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import process from "node:process";
import console from "node:console";

const ROOT = resolve(import.meta.dirname, "..");
export const GENERATORS = join(ROOT, "node_modules", "@allurereport", "plugin-awesome", "dist", "generators.js");

export const SERIAL = `    for (const group of groups) {
        const src = joinPosixPath("test-env-groups", \`\${group.id}.json\`);
        await writer.writeData(src, group);
    }`;
export const CONCURRENT = `    // restoretest (scripts/patch-allure.mjs): 64 at a time, as generateTestCases writes the test pages.
    await writeConcurrently(groups, (group) => writer.writeData(joinPosixPath("test-env-groups", \`\${group.id}.json\`), group));`;

/** The patched text of `text`, or undefined where it has no serial loop (already patched, or another shape). */
export function patched(text) {
  if (!text.includes(SERIAL) || !text.includes("const writeConcurrently = ")) return undefined;
  return text.replace(SERIAL, CONCURRENT);
}

export function patchAllure(file = GENERATORS) {
  if (!existsSync(file)) return "absent";
  const text = readFileSync(file, "utf8");
  if (text.includes(CONCURRENT)) return "already";
  const next = patched(text);
  if (next === undefined) return "unknown";
  writeFileSync(file, next);
  return "patched";
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const outcome = patchAllure();
  if (outcome === "patched") console.log("allure: the report plugin now writes its test-env-group files 64 at a time (scripts/patch-allure.mjs)");
  if (outcome === "unknown") console.log("allure: the report plugin's test-env-group loop has another shape in this version: left as it is (scripts/patch-allure.mjs)");
}
