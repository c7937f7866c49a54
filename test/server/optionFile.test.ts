// Client option files on the real clients: a password and a socket path of any character log in, with mariadb 10.11 and
// MySQL 9.7's mysql, because every value is written as their option parser reads it back.
import { mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { flavor, type Flavor } from "../../src/server/flavor.ts";
import { clientOptions, optionValue } from "../../src/server/optionFile.ts";
import { createWorkDir, installDatadir, startServer, type StartedServer, type WorkDir } from "../../src/hosts/sandbox.ts";
import { mysqlToolchain } from "../support/mysql.ts";
import { HOSTILE_NAME, HOSTILE_PASSWORDS } from "../support/hostile.ts";
import { sandboxServers } from "../support/services.ts";

function expectRoundTrip(value: string, escaped: string): void {
  expect(escaped.startsWith('"') && escaped.endsWith('"'), escaped).toBe(true);
  expect(escaped.slice(1, -1)).not.toMatch(/(^|[^\\])(\\\\)*"/);
  expect(escaped).not.toMatch(/[\n\r]/);
  // The parser's reading (my_default.c), written out: quotes off, escapes in.
  const read = escaped.slice(1, -1).replace(/\\(.)/g, (_, c: string) => ({ n: "\n", t: "\t", r: "\r", b: "\b", s: " " })[c] ?? (`"'\\`.includes(c) ? c : `\\${c}`));
  expect(read).toBe(value);
}

describe("optionValue", () => {
  it("quotes every value and escapes \\, \" and line breaks, so the parser reads back exactly the value", () => {
    expect(optionValue("plain")).toBe('"plain"');
    expect(optionValue(`a#b\\c"d'e f;g`)).toBe(`"a#b\\\\c\\"d'e f;g"`);
    expect(optionValue("x\ny")).toBe('"x\\ny"');
    for (const password of HOSTILE_PASSWORDS) expectRoundTrip(password, optionValue(password));
  });

  it("refuses what no option file can hold: a NUL character, a line past the clients' buffer", () => {
    expect(() => optionValue("a\0b")).toThrow(/NUL/);
    expect(() => optionValue("x".repeat(5000))).toThrow(/limited to 4000 bytes/);
  });

  it("writes user, password, socket and host through it", () => {
    expect(clientOptions({ user: "u#", password: "p#", socket: "/s #/m.sock", host: "h", port: 3307 })).toBe(
      '[client]\nuser="u#"\npassword="p#"\nsocket="/s #/m.sock"\nhost="h"\nport=3307\n',
    );
  });
});

interface Server {
  client: string;
  server: StartedServer;
  work: WorkDir;
}

/** A sandbox server of `f`'s flavour whose socket is under a directory named HOSTILE_NAME. */
async function start(f: Flavor, name: string): Promise<Server> {
  const base = join(tmpdir(), HOSTILE_NAME);
  mkdirSync(base, { recursive: true });
  const work = createWorkDir(`optfile-${name}`, base);
  const datadir = join(work.path, "datadir");
  await installDatadir(datadir, f.server);
  const server = await startServer({ dir: work.path, datadir, tcp: false, flavor: f.server });
  return { client: f.client, server, work };
}

/** Each password as a user of its own on `s`; the user each option file logs in as, or the client's error. */
async function logins(s: Server, passwords: readonly string[], write: (user: string, password: string) => string): Promise<string[]> {
  const db = await s.server.connect();
  try {
    for (const [i, password] of passwords.entries()) await db.query("CREATE USER ?@'localhost' IDENTIFIED BY ?", [`u${i}`, password]);
  } finally {
    await db.close();
  }
  const dir = join(s.work.path, "cnf");
  mkdirSync(dir, { recursive: true });
  const results: string[] = [];
  // Eight clients at a time: ~100 logins a server in a few seconds.
  for (let i = 0; i < passwords.length; i += 8) {
    const batch = passwords.slice(i, i + 8).map(async (password, j) => {
      const file = join(dir, `${i + j}.cnf`);
      writeFileSync(file, write(`u${i + j}`, password), { mode: 0o600 });
      const r = await execa(s.client, [`--defaults-file=${file}`, "-N", "-B", "-e", "SELECT CURRENT_USER()"], { reject: false });
      return r.exitCode === 0 ? String(r.stdout).trim() : String(r.stderr).trim();
    });
    results.push(...(await Promise.all(batch)));
  }
  return results;
}

const SERVERS: { name: string; flavor: () => Flavor }[] = [
  { name: "mariadb", flavor: () => flavor("mariadb") },
  { name: "mysql", flavor: () => flavor("mysql", mysqlToolchain()) },
];

describe.each(SERVERS)("option files on the real $name client", ({ name, flavor: f }) => {
  let s: Server | undefined;
  beforeAll(async () => {
    s = await start(f(), name);
  }, 180_000);
  afterAll(async () => {
    await s?.server.stop();
    await s?.work.remove();
    expect(await sandboxServers()).toEqual([]);
  });

  it(`logs in with each of ${HOSTILE_PASSWORDS.length} passwords of every printable and non-ASCII character, over a socket path with #, quotes, \\ and blanks`, async () => {
    const server = s as Server;
    expect(server.server.socket).toContain(HOSTILE_NAME);
    const got = await logins(server, HOSTILE_PASSWORDS, (user, password) => clientOptions({ user, password, socket: server.server.socket }));
    expect(got).toEqual(HOSTILE_PASSWORDS.map((_, i) => `u${i}@localhost`));
  }, 120_000);

  it("and the raw `password=value` lines written before are refused for the same passwords (the false red this fixes)", async () => {
    const server = s as Server;
    const cases = ["a#b", "a\\b", `"a"b"`, " a b ", "with'quote"];
    const db = await server.server.connect();
    try {
      // Fresh users, so these logins do not hang on the ones made above.
      for (const [i, password] of cases.entries()) await db.query("CREATE USER ?@'localhost' IDENTIFIED BY ?", [`raw${i}`, password]);
    } finally {
      await db.close();
    }
    const file = join(server.work.path, "raw.cnf");
    for (const [i, password] of cases.entries()) {
      // The old form; the socket in quotes so that only the password line is the old one.
      writeFileSync(file, `[client]\nuser=raw${i}\npassword=${password}\nsocket=${optionValue(server.server.socket)}\n`, { mode: 0o600 });
      const r = await execa(server.client, [`--defaults-file=${file}`, "-N", "-B", "-e", "SELECT CURRENT_USER()"], { reject: false });
      // `with'quote`: an unbalanced quote is read as it stands, and logs in; the other four are denied.
      if (password === "with'quote") expect(r.exitCode, String(r.stderr)).toBe(0);
      else expect(String(r.stderr), JSON.stringify(password)).toMatch(/Access denied for user 'raw\d'@'localhost' \(using password: YES\)/);
    }
  }, 60_000);
});
