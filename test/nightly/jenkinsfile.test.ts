// The Jenkinsfile runs the commands test/nightly/nightly.test.ts proves (it cannot run Jenkins itself): they must not drift apart.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";

const jenkinsfile = readFileSync(resolve(import.meta.dirname, "../../Jenkinsfile"), "utf8");

describe("Jenkinsfile", () => {
  it("installs, shards the service projects into blobs, merges them and reports", () => {
    expect(jenkinsfile).toMatch(/cron\('[^']+'\)/);
    expect(jenkinsfile).toContain("sh 'bash scripts/install-system-deps.sh && bash scripts/install-node-deps.sh'");
    expect(jenkinsfile).toContain("RESTORETEST_BLOB=reports/blob/blob-${index}.json");
    expect(jenkinsfile).toContain("npx vitest run --project '!restoretest' --shard=${index}/${count}");
    expect(jenkinsfile).toMatch(/parallel shards/);
    expect(jenkinsfile).toMatch(/stash name: "blob-\$\{index\}"[\s\S]*unstash "blob-\$\{i\}"/);
    expect(jenkinsfile).toContain("npx vitest run --merge-reports=reports/blob");
    expect(jenkinsfile).toContain("sh 'npm run report'");
    expect(jenkinsfile).toContain("junit testResults: 'reports/junit.xml'");
    expect(jenkinsfile).toMatch(/archiveArtifacts artifacts: '[^']*reports\/summary\.json[^']*reports\/allure-history\.jsonl/);
    expect(jenkinsfile).toMatch(/publishHTML\(/);
  });

  it("never sets --reporter on a shard: that would drop the Allure runtime from the blobs", () => {
    expect(jenkinsfile).not.toMatch(/--reporter/);
  });
});
