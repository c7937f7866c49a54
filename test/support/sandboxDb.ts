// A sandbox server of a test file's own, with database `s` made by `statements`: started in beforeAll, stopped and
// removed in afterAll (and proven gone).
import { join } from "node:path";
import { afterAll, beforeAll, expect } from "vitest";
import type { Db } from "../../src/db/connection.ts";
import { createWorkDir, installDatadir, startServer, type StartedServer, type WorkDir } from "../../src/hosts/sandbox.ts";
import { sandboxServers } from "./services.ts";

export interface SandboxDb {
  readonly db: Db;
  readonly server: StartedServer;
}

export function useSandboxDb(prefix: string, statements: readonly string[]): SandboxDb {
  let work: WorkDir | undefined;
  let server: StartedServer | undefined;
  let db: Db | undefined;
  beforeAll(async () => {
    work = createWorkDir(prefix);
    const datadir = join(work.path, "datadir");
    await installDatadir(datadir);
    server = await startServer({ dir: work.path, datadir, tcp: false });
    db = await server.connect({ poolSize: 2 });
    await db.query("CREATE DATABASE s");
    for (const sql of statements) await db.query(sql);
  }, 120_000);
  afterAll(async () => {
    await db?.close();
    await server?.stop();
    await work?.remove();
    // This file's own server is gone (other files' servers may run at the same time).
    expect(server ? (await sandboxServers()).filter((l) => l.startsWith(`${server?.pid} `)) : []).toEqual([]);
  });
  return {
    get db() {
      if (!db) throw new Error("the sandbox server is not started (use it inside tests)");
      return db;
    },
    get server() {
      if (!server) throw new Error("the sandbox server is not started (use it inside tests)");
      return server;
    },
  };
}
