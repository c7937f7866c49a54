// A backup is restored by the server of its own flavour: mysqld (with MySQL's X protocol off) for an xtrabackup backup.
// MySQL 8 is not installable here; Debian's `mysqld` is MariaDB under MySQL's name, which proves the plumbing and the options.
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { mariabackup, xtrabackup } from "../../src/backup/tool.ts";
import { MARIADB_FLAVOR } from "../../src/backup/flavor.ts";
import { LocalProvider } from "../../src/hosts/local.ts";
import { installDatadir, ServerStartError } from "../../src/hosts/sandbox.ts";

async function commandLine(pid: number): Promise<string> {
  return String((await execa("ps", ["-o", "args=", "-p", String(pid)])).stdout);
}

describe("the restored server's flavour", () => {
  it("starts mysqld for a MySQL backup, inert as ever and with the X protocol off", async () => {
    const target = await new LocalProvider().create("flavour");
    try {
      await installDatadir(target.datadir);
      const server = await target.startServer(xtrabackup.flavor.server);
      const args = await commandLine(server.pid);
      expect(args).toMatch(/^mysqld --no-defaults /);
      expect(args).toContain("--loose-mysqlx=OFF");
      for (const inert of ["--skip-networking", "--read-only", "--skip-slave-start", "--event-scheduler=OFF", "--init-file="]) expect(args).toContain(inert);
      // The grant tables are loaded (no --skip-grant-tables): the server is read through its verifier account.
      expect(args).not.toContain("--skip-grant-tables");
      const db = await server.connect();
      expect(await db.query("SELECT 1 AS one")).toEqual([{ one: 1 }]);
      const [who] = await db.query<{ u: string }>("SELECT CURRENT_USER() AS u");
      expect(who?.u).toMatch(/^restoretest_verifier_[0-9a-f]{8}@localhost$/);
      await db.close();
    } finally {
      await target.destroy();
    }
  });

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
