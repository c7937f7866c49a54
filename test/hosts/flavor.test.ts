// A backup is restored by the server of its own flavour: MySQL 9.7's mysqld (the toolchain scripts/install-mysql.sh
// makes from Debian's packages) for a MySQL backup, inert as a restored MariaDB server is; mariadbd for MariaDB's.
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { backupTool, mariabackup } from "../../src/backup/tool.ts";
import { MARIADB_FLAVOR } from "../../src/server/flavor.ts";
import { LocalProvider } from "../../src/hosts/local.ts";
import { installDatadir, ServerStartError } from "../../src/hosts/sandbox.ts";
import { mysqlToolchain } from "../support/mysql.ts";

async function commandLine(pid: number): Promise<string> {
  return String((await execa("ps", ["-o", "args=", "-p", String(pid)])).stdout);
}

describe("the restored server's flavour", () => {
  it("starts MySQL 9.7's mysqld for a MySQL backup, inert as ever and with the X protocol off", async () => {
    const target = await new LocalProvider().create("flavour");
    try {
      const mysql = backupTool("clone", mysqlToolchain()).flavor.server;
      await installDatadir(target.datadir, mysql);
      const server = await target.startServer(mysql);
      const args = await commandLine(server.pid);
      expect(args).toMatch(/\/usr\/sbin\/mysqld --no-defaults /);
      for (const inert of ["--skip-networking", "--read-only", "--skip-replica-start", "--event-scheduler=OFF", "--init-file=", "--mysqlx=OFF", "--skip-log-bin"]) {
        expect(args).toContain(inert);
      }
      // The grant tables are loaded (no --skip-grant-tables): the server is read through its verifier account.
      expect(args).not.toContain("--skip-grant-tables");
      const db = await server.connect();
      const [row] = await db.query<{ v: string; u: string; x: string | number }>("SELECT VERSION() AS v, CURRENT_USER() AS u, @@GLOBAL.read_only AS x");
      expect(row?.v).toMatch(/^9\.7\./);
      expect(row?.u).toMatch(/^restoretest_verifier_[0-9a-f]{8}@localhost$/);
      expect(Number(row?.x)).toBe(1);
      await db.close();
    } finally {
      await target.destroy();
    }
  }, 60_000);

  it("starts mariadbd for a MariaDB backup", async () => {
    const target = await new LocalProvider().create("flavour");
    try {
      await installDatadir(target.datadir);
      const server = await target.startServer(mariabackup.flavor.server);
      expect(await commandLine(server.pid)).toMatch(/^mariadbd --no-defaults /);
    } finally {
      await target.destroy();
    }
  });

  it("says which server is missing when the restore host lacks the backup's flavour", async () => {
    const target = await new LocalProvider().create("flavour");
    try {
      const error = await target.startServer({ ...MARIADB_FLAVOR.server, binary: "mysqld-of-another-flavour" }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(ServerStartError);
      expect((error as Error).message).toBe(
        "mysqld-of-another-flavour is not installed on this machine (not found on PATH): a backup is restored by the server of its own flavour",
      );
    } finally {
      await target.destroy();
    }
  });
});
