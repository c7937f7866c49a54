import { existsSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterEach, describe, expect, it } from "vitest";
import { createWorkDir, installDatadir, newVerifierAccount, startServer, ServerStartError, verifierInitSql } from "../../src/hosts/sandbox.ts";
import { pendingDisposers } from "../../src/base/disposers.ts";
import { sandboxServers } from "../support/services.ts";

function ourDirs(prefix: string): string[] {
  return readdirSync(tmpdir()).filter((d) => d.startsWith(`restoretest-${prefix}`));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("the verifier account's init file", () => {
  it("holds our own account, whose words need no escaping under any sql_mode, and refuses any other", () => {
    for (let i = 0; i < 50; i++) expect(verifierInitSql(newVerifierAccount())).toMatch(/^CREATE USER '[\w-]+'@'localhost' IDENTIFIED BY '[\w-]+';/);
    for (const password of ["a'b", "a\\b", "a b"]) {
      expect(() => verifierInitSql({ user: "restoretest_verifier_1", host: "localhost", password })).toThrow("a verifier account's name and password are letters, digits, _ and - only");
    }
  });
});

describe("local sandbox", () => {
  afterEach(async () => {
    expect(pendingDisposers()).toEqual([]);
    expect(await sandboxServers()).toEqual([]);
  });

  it("starts mariadbd on a free loopback port and a socket, then stops it by pid and removes its files", async () => {
    const work = createWorkDir("lifecycle-ok");
    const datadir = join(work.path, "datadir");
    await installDatadir(datadir);
    const server = await startServer({ dir: work.path, datadir, tcp: true });
    expect(server.port).toBeGreaterThan(0);
    expect(alive(server.pid)).toBe(true);
    const db = await server.connect();
    const [row] = await db.query<{ cs: string; v: string }>("SELECT @@character_set_server AS cs, @@event_scheduler AS v");
    expect(row).toEqual({ cs: "utf8mb4", v: "OFF" });
    const [bind] = await db.query<{ a: string }>("SELECT @@bind_address AS a");
    expect(bind?.a).toBe("127.0.0.1");
    await db.close();
    // The root password is random: an empty password is refused.
    const noPassword = await execa("mariadb", ["--no-defaults", `--socket=${server.socket}`, "-uroot", "-e", "SELECT 1"], { reject: false });
    expect(noPassword.exitCode).not.toBe(0);
    await server.stop();
    await work.remove();
    expect(alive(server.pid)).toBe(false);
    expect(existsSync(work.path)).toBe(false);
  });

  it("fails a start with a bad option with the server's error log tail, and leaves nothing behind", async () => {
    const work = createWorkDir("lifecycle-bad");
    const datadir = join(work.path, "datadir");
    await installDatadir(datadir);
    const error = await startServer({ dir: work.path, datadir, tcp: false, extraArgs: ["--no-such-option-here=1"] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ServerStartError);
    expect((error as Error).message).toMatch(/exited with code \d+ during start-up/);
    expect((error as Error).message).toMatch(/server error log \(last lines\):[\s\S]*no-such-option-here/);
    await work.remove();
    expect(existsSync(work.path)).toBe(false);
  });

  it("a reaper kills the server and removes its directory when the owning process is killed with SIGKILL", async () => {
    const before = ourDirs("orphan");
    const script = `
      import { createWorkDir, installDatadir, startServer } from "${join(import.meta.dirname, "../../src/hosts/sandbox.ts")}";
      const work = createWorkDir("orphan");
      await installDatadir(work.path + "/datadir");
      const s = await startServer({ dir: work.path, datadir: work.path + "/datadir", tcp: false });
      console.log(JSON.stringify({ pid: s.pid, dir: work.path }));
      setInterval(() => {}, 1000);
    `;
    const child = execa("node", ["--import", "tsx", "--input-type=module", "-e", script], { reject: false, cwd: join(import.meta.dirname, "../..") });
    const line = await new Promise<string>((resolve) => child.stdout?.on("data", (d: Buffer) => resolve(d.toString())));
    const { pid, dir } = JSON.parse(line) as { pid: number; dir: string };
    expect(alive(pid)).toBe(true);
    // Kill the owner without giving it a chance to clean up.
    child.kill("SIGKILL");
    await child;
    const deadline = Date.now() + 15_000;
    while ((alive(pid) || existsSync(dir)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    expect(alive(pid)).toBe(false);
    expect(existsSync(dir)).toBe(false);
    expect(ourDirs("orphan")).toEqual(before);
  });
});
