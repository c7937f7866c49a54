// docker-compose.yml and its example service: what can be checked on a machine without a Docker engine.
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { ConfigError, loadServices } from "../../src/config/load.ts";

const ROOT = resolve(import.meta.dirname, "../..");

describe("docker-compose.yml", () => {
  it("is a valid compose file (docker-compose config -q)", async () => {
    const run = await execa("docker-compose", ["-f", "docker-compose.yml", "config", "-q"], { cwd: ROOT, reject: false, all: true });
    expect(run.exitCode, String(run.all)).toBe(0);
  });

  it("wires the example service to the stack's replica, store and restore target", () => {
    const compose = readFileSync(join(ROOT, "docker-compose.yml"), "utf8");
    for (const name of ["source:", "replica:", "backup-runner:", "restore-target:"]) expect(compose).toContain(`\n  ${name}`);
    const file = join(ROOT, "examples/services.mysql8.yaml");
    try {
      const [service] = loadServices(file, { MYSQL8_BACKUP_PASSWORD: "example" });
      expect(service?.source).toMatchObject({ host: "replica", user: "backup", datadir: "/var/lib/mysql" });
      expect(service?.restore.ssh).toMatchObject({ host: "restore-target", port: 22, workDir: "/var/tmp/restores" });
    } catch (error) {
      // A build without the XtraBackup adapter refuses the backup tool; that is the only key allowed to be refused.
      if (!(error instanceof ConfigError)) throw error;
      expect(error.problems.map((p) => p.keyPath)).toEqual(["services.shop-mysql8.backup.tool"]);
    }
  });
});
