// The services.yaml loader: exact problem messages, ${VAR} substitution, defaults merging and path resolution.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { ConfigError, findService, loadMetricsConfig, loadServices, parseMetricsConfig, parseServices } from "../../src/config/load.ts";
import type { Service } from "../../src/config/schema.ts";

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), "fixtures");

/** The ConfigError a call throws; fails the test when it does not throw one. */
function configError(run: () => unknown): ConfigError {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error("expected a ConfigError, nothing was thrown");
}

function messageOf(text: string, env: Record<string, string | undefined> = {}): string {
  return configError(() => parseServices(text, "services.yaml", env)).message;
}

describe("value problems", () => {
  it("reports a bad duration at the value's line", () => {
    const text = `services:
  blog:
    source:
      user: backup
    restore:
      timeout: soon
`;
    expect(messageOf(text)).toBe('services.yaml:6 services.blog.restore.timeout: expected a duration like "30m", got "soon"');
  });

  it("reports a wrong type with the received value", () => {
    const text = `services:
  blog:
    source:
      user: backup
      port: "abc"
`;
    expect(messageOf(text)).toBe('services.yaml:5 services.blog.source.port: expected a number, got "abc"');
  });

  it("truncates long received values", () => {
    const text = `services:
  blog:
    source:
      user: backup
      port: "${"x".repeat(60)}"
`;
    expect(messageOf(text)).toBe(`services.yaml:5 services.blog.source.port: expected a number, got "${"x".repeat(38)}…`);
  });

  it("names a collection instead of dumping it", () => {
    const text = `services:
  blog:
    source: [a, b]
`;
    expect(messageOf(text)).toBe("services.yaml:3 services.blog.source: expected a map, got a list");
  });

  it("never shows a literal password value", () => {
    const text = `services:
  blog:
    source:
      user: backup
      password: 123456789
`;
    expect(messageOf(text)).toBe("services.yaml:5 services.blog.source.password: expected a string, got a hidden value");
  });

  it("lists known checks for an unknown check name, suggesting a near typo", () => {
    const text = `services:
  blog:
    source:
      user: backup
    verify:
      checks:
        - checksum
        - rowcount
        - speed
`;
    expect(messageOf(text)).toBe(
      [
        'services.yaml:8 services.blog.verify.checks[1]: unknown check "rowcount", did you mean "rowCount"? (known checks: tables, views, triggers, routines, events, database, checksum, definition, rowCount, integrity, indexes, autoIncrement, accounts, server)',
        'services.yaml:9 services.blog.verify.checks[2]: unknown check "speed" (known checks: tables, views, triggers, routines, events, database, checksum, definition, rowCount, integrity, indexes, autoIncrement, accounts, server)',
      ].join("\n"),
    );
  });

  it("lists the allowed values of an enum", () => {
    const text = `services:
  blog:
    source:
      user: backup
    restore:
      provider: docker
`;
    expect(messageOf(text)).toBe('services.yaml:6 services.blog.restore.provider: expected one of "local", "ssh", "command", got "docker"');
  });

  it("rejects a service name the store layout cannot use", () => {
    const text = `services:
  "my blog":
    source:
      user: backup
`;
    expect(messageOf(text)).toBe("services.yaml:2 services.my blog: invalid name: service names use letters, digits, - and _");
  });
});

describe("key problems", () => {
  it("points at an unknown key and suggests the near typo", () => {
    const text = `services:
  blog:
    source:
      user: backup
    restore:
      tiemout: 10m
`;
    expect(messageOf(text)).toBe(
      'services.yaml:6 services.blog.restore.tiemout: unknown key "tiemout", did you mean "timeout"? (known keys: command, optionsFile, provider, ssh, timeout, workDir)',
    );
  });

  it("lists the known keys when nothing is close", () => {
    const text = `colour: blue
services:
  blog:
    source:
      user: backup
`;
    expect(messageOf(text)).toBe('services.yaml:1 colour: unknown key "colour" (known keys: defaults, metrics, services)');
  });

  it("reports a missing required key at its parent's line", () => {
    const text = `services:
  shop:
    source:
      host: db.internal
      port: 3306
`;
    expect(messageOf(text)).toBe("services.yaml:3 services.shop.source.user: required key missing");
  });

  it("reports a missing source at the service's line", () => {
    const text = `services:
  shop:
    databases: [shop]
`;
    expect(messageOf(text)).toBe("services.yaml:2 services.shop.source: required key missing");
  });

  it("judges a source with a sandbox key as a sandbox source only", () => {
    const text = `services:
  demo:
    source:
      sandbox:
        seed: ${JSON.stringify(path.join(FIXTURES, "seed"))}
      user: root
`;
    expect(messageOf(text)).toBe(
      'services.yaml:6 services.demo.source.user: unknown key "user" (known keys: sandbox)',
    );
  });

  it("judges a source without a sandbox key as a server source only", () => {
    const text = `services:
  shop:
    source:
      user: backup
      sandbx: {}
`;
    expect(messageOf(text)).toBe(
      'services.yaml:5 services.shop.source.sandbx: unknown key "sandbx" (known keys: datadir, host, password, port, socket, user)',
    );
  });

  it("rejects a service defined twice", () => {
    const text = `services:
  blog:
    source:
      user: backup
  blog:
    source:
      user: other
`;
    const error = configError(() => parseServices(text, "services.yaml"));
    expect(error.message).toBe('services.yaml:5 services.blog: duplicate key "blog" (first defined on line 2)');
    expect(error.line).toBe(5);
  });
});

describe("file problems", () => {
  it("reports a YAML syntax error with its line", () => {
    const text = `services:
  blog:
    source:
      user: backup
     port: 3306
`;
    expect(messageOf(text)).toBe("services.yaml:5: invalid YAML at column 1: All mapping items must start at the same column");
  });

  it("reports an unclosed flow map at the line where YAML gives up", () => {
    const text = `services:
  blog:
    source: {user: backup
  shop:
    source: {user: backup}
`;
    expect(messageOf(text)).toBe(
      "services.yaml:4: invalid YAML at column 3: Flow map in block collection must be sufficiently indented and end with a }",
    );
  });

  it("reports an empty file", () => {
    expect(messageOf("")).toBe('services.yaml: file is empty, expected a "services:" map');
    expect(messageOf("# all commented out\n")).toBe('services.yaml: file is empty, expected a "services:" map');
  });

  it("reports a file without services", () => {
    expect(messageOf("services: {}\n")).toBe("services.yaml:1 services: no services defined");
    expect(messageOf("defaults: {}\n")).toBe("services.yaml:1 services: required key missing");
  });

  it("reports a document that is not a map", () => {
    expect(messageOf("- blog\n- shop\n")).toBe("services.yaml:1: expected a map, got a list");
  });

  it("collects every problem, ordered by line, with structured fields", () => {
    const text = `defaults:
  verify:
    concurrency: 0
services:
  shop:
    source:
      host: db
  blog:
    source:
      user: backup
      port: "abc"
    restore:
      timeout: soon
`;
    const error = configError(() => parseServices(text, "services.yaml"));
    expect(error.message).toBe(
      [
        "services.yaml:3 defaults.verify.concurrency: must be at least 1, got 0",
        "services.yaml:6 services.shop.source.user: required key missing",
        'services.yaml:11 services.blog.source.port: expected a number, got "abc"',
        'services.yaml:13 services.blog.restore.timeout: expected a duration like "30m", got "soon"',
      ].join("\n"),
    );
    expect(error).toMatchObject({ file: "services.yaml", line: 3, keyPath: "defaults.verify.concurrency" });
    expect(error.problems).toHaveLength(4);
    expect(error.problems[3]).toEqual({
      file: "services.yaml",
      line: 13,
      keyPath: "services.blog.restore.timeout",
      message: 'expected a duration like "30m", got "soon"',
    });
  });
});

describe("environment variables", () => {
  it("substitutes whole and embedded references", () => {
    const text = `services:
  shop:
    source:
      host: db-\${REGION}.internal
      user: \${SHOP_DB_USER}
      password: \${SHOP_DB_PASSWORD}
      port: \${SHOP_DB_PORT}
`;
    const env = { REGION: "eu1", SHOP_DB_USER: "backup", SHOP_DB_PASSWORD: "hunter2!", SHOP_DB_PORT: "3307" };
    const [shop] = parseServices(text, "services.yaml", env);
    expect(shop?.source).toEqual({ host: "db-eu1.internal", user: "backup", password: "hunter2!", port: 3307 });
  });

  it("keeps a password of digits as text", () => {
    const text = `services:
  shop:
    source:
      user: backup
      password: \${PW}
`;
    const [shop] = parseServices(text, "services.yaml", { PW: "0123" });
    expect(shop?.source).toMatchObject({ password: "0123" });
  });

  it("turns $${X} into a literal ${X}", () => {
    const text = `services:
  shop:
    source:
      user: backup
      password: "pa$\${NOT_A_VAR}"
`;
    const [shop] = parseServices(text, "services.yaml", { NOT_A_VAR: "substituted" });
    expect(shop?.source).toMatchObject({ password: "pa${NOT_A_VAR}" });
  });

  it("reports an unset variable at its line without revealing other secrets", () => {
    const text = `services:
  shop:
    source:
      user: \${SHOP_DB_USER}
      password: \${SHOP_DB_PASSWORD}
      port: \${SHOP_DB_PORT}
`;
    const message = messageOf(text, { SHOP_DB_USER: "very-secret-user", SHOP_DB_PORT: "3306" });
    expect(message).toBe("services.yaml:5 services.shop.source.password: environment variable SHOP_DB_PASSWORD is not set");
    expect(message).not.toContain("very-secret-user");
  });

  it("shows the reference, not the substituted value, when that value is invalid", () => {
    const text = `services:
  shop:
    source:
      user: backup
      port: \${SHOP_DB_PORT}
    restore:
      timeout: \${RESTORE_TIMEOUT}
`;
    const message = messageOf(text, { SHOP_DB_PORT: "s3cr3t-port", RESTORE_TIMEOUT: "s3cr3t-timeout" });
    expect(message).toBe(
      [
        'services.yaml:5 services.shop.source.port: expected a number, got "${SHOP_DB_PORT}"',
        'services.yaml:7 services.shop.restore.timeout: expected a duration like "30m", got "${RESTORE_TIMEOUT}"',
      ].join("\n"),
    );
    expect(message).not.toContain("s3cr3t");
  });

  it("rejects a malformed reference", () => {
    const text = `services:
  shop:
    source:
      user: \${SHOP-USER}
`;
    expect(messageOf(text)).toBe(
      'services.yaml:4 services.shop.source.user: invalid variable reference "${SHOP-USER}": names use letters, digits and _',
    );
  });
});

describe("defaults and paths", () => {
  const text = `defaults:
  backup:
    store: /var/backups/mysql
  restore:
    timeout: 45m
    workDir: scratch
  verify:
    checks: [checksum, rowCount]
    concurrency: 4
services:
  blog:
    source:
      user: backup
    restore:
      timeout: 2h
  shop:
    databases: [shop]
    source:
      host: replica.internal
      user: backup
    backup:
      store: ./stores/shop
    verify:
      checks: [integrity]
`;

  it("merges schema defaults, the defaults block and each service's block", () => {
    const services = parseServices(text, "/etc/restoretest/services.yaml");
    expect(services.map((service) => service.name)).toEqual(["blog", "shop"]);
    const [blog, shop] = services as [Service, Service];
    expect(blog).toEqual({
      name: "blog",
      source: { host: "127.0.0.1", port: 3306, user: "backup" },
      backup: { tool: "mariabackup", policy: "full", fullEvery: 7, keepChains: 2, consistency: "snapshot", store: "/var/backups/mysql", timeout: 3_600_000, format: "directory", compress: "none", compressLevel: 3, compressThreads: 0 },
      restore: { provider: "local", timeout: 7_200_000, workDir: "/etc/restoretest/scratch" },
      verify: { checks: ["checksum", "rowCount"], timeout: 600_000, concurrency: 4, chunkMinSize: 268_435_456, chunkRows: 100_000, extendedCheck: false, tableDrill: 0, tableDrillMaxSize: 10_737_418_240, older: 0, queries: [], queryTimeout: 30_000 },
      objectives: {},
    });
    expect(shop.databases).toEqual(["shop"]);
    expect(shop.restore.timeout).toBe(2_700_000);
    // A service's checks list replaces the default list rather than adding to it.
    expect(shop.verify).toEqual({ checks: ["integrity"], timeout: 600_000, concurrency: 4, chunkMinSize: 268_435_456, chunkRows: 100_000, extendedCheck: false, tableDrill: 0, tableDrillMaxSize: 10_737_418_240, older: 0, queries: [], queryTimeout: 30_000 });
  });

  it("uses schema defaults when there is no defaults block", () => {
    const [blog] = parseServices("services:\n  blog:\n    source:\n      user: backup\n", "services.yaml");
    expect(blog?.backup).toEqual({
      tool: "mariabackup",
      policy: "full",
      fullEvery: 7,
      keepChains: 2,
      consistency: "snapshot",
      store: path.resolve("backups"),
      timeout: 3_600_000,
      format: "directory",
      compress: "none",
      compressLevel: 3,
      compressThreads: 0,
    });
    expect(blog?.restore).toEqual({ provider: "local", timeout: 1_800_000 });
    expect(blog?.verify).toEqual({
      checks: ["tables", "views", "triggers", "routines", "events", "database", "checksum", "definition", "rowCount", "integrity", "indexes", "autoIncrement", "accounts", "server"],
      timeout: 600_000,
      concurrency: 2,
      chunkMinSize: 268_435_456, chunkRows: 100_000, extendedCheck: false, tableDrill: 0, tableDrillMaxSize: 10_737_418_240, older: 0, queries: [], queryTimeout: 30_000,
    });
  });

  it("resolves relative paths against the directory of services.yaml", () => {
    const file = path.join(FIXTURES, "services.yaml");
    const [shop, demo] = parseServices(
      `defaults:
  restore: {workDir: scratch}
services:
  shop:
    source: {user: backup}
    backup: {store: ./stores/shop}
  demo:
    source:
      sandbox:
        seed: seed
`,
      file,
    ) as [Service, Service];
    expect(shop.backup.store).toBe(path.join(FIXTURES, "stores", "shop"));
    expect(shop.restore.workDir).toBe(path.join(FIXTURES, "scratch"));
    expect(demo.source).toEqual({ sandbox: { seed: path.join(FIXTURES, "seed") } });
  });

  it("resolves relative paths given a relative file name against the working directory", () => {
    const [shop] = parseServices("services:\n  shop:\n    source: {user: backup}\n", "conf/services.yaml");
    expect(shop?.backup.store).toBe(path.resolve("conf", "backups"));
  });

  it("reports a sandbox seed directory that does not exist", () => {
    const file = path.join(FIXTURES, "services.yaml");
    const error = configError(() =>
      parseServices(
        `services:
  demo:
    source:
      sandbox:
        seed: ./no-such-seed
`,
        file,
      ),
    );
    expect(error.message).toBe(
      `${file}:5 services.demo.source.sandbox.seed: directory does not exist: ${path.join(FIXTURES, "no-such-seed")}`,
    );
  });
});

describe("loadServices", () => {
  it("reads the file and resolves paths next to it", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "restoretest-config-"));
    try {
      fs.mkdirSync(path.join(dir, "seed"));
      const file = path.join(dir, "services.yaml");
      fs.writeFileSync(file, "services:\n  demo:\n    source:\n      sandbox:\n        seed: seed\n");
      const [demo] = loadServices(file, {});
      expect(demo).toMatchObject({ name: "demo", source: { sandbox: { seed: path.join(dir, "seed") } } });
      expect(demo?.backup.store).toBe(path.join(dir, "backups"));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("says when the file does not exist", () => {
    const error = configError(() => loadServices("no-such-dir/services.yaml", {}));
    expect(error.message).toBe(`no-such-dir/services.yaml: file does not exist (looked for ${path.resolve("no-such-dir/services.yaml")})`);
  });
});

describe("findService", () => {
  const services = parseServices(
    "services:\n  blog:\n    source: {user: backup}\n  shop:\n    source: {user: backup}\n",
    "services.yaml",
  );

  it("finds a service by name", () => {
    expect(findService(services, "shop").name).toBe("shop");
  });

  it("lists the known services for an unknown name", () => {
    expect(configError(() => findService(services, "blgo")).message).toBe(
      'unknown service "blgo", did you mean "blog"? (known services: blog, shop)',
    );
    expect(configError(() => findService(services, "wiki")).message).toBe('unknown service "wiki" (known services: blog, shop)');
  });
});

describe("restore providers", () => {
  it("reads an ssh block with its defaults, resolving key files next to services.yaml and under ~", () => {
    const [shop] = parseServices(
      `services:
  shop:
    source: {user: backup}
    restore:
      provider: ssh
      ssh:
        host: restore1.internal
        user: restore
        identityFile: keys/id_ed25519
        knownHosts: ~/.ssh/known_hosts
`,
      "/etc/restoretest/services.yaml",
    );
    expect(shop?.restore).toEqual({
      provider: "ssh",
      timeout: 1_800_000,
      ssh: {
        host: "restore1.internal",
        port: 22,
        user: "restore",
        identityFile: "/etc/restoretest/keys/id_ed25519",
        knownHosts: path.join(os.homedir(), ".ssh/known_hosts"),
        workDir: "/tmp",
      },
    });
  });

  it("accepts a pinned fingerprint and an agent instead of a known_hosts file and a key file", () => {
    const [shop] = parseServices(
      `services:
  shop:
    source: {user: backup}
    restore:
      provider: ssh
      ssh: {host: 10.0.0.7, port: 2222, user: root, agent: true, hostKeyFingerprint: "SHA256:ksw1pQ3lPM8AqXmc7HTzaGvh1B1ITXmFIzSHiTo6INg", workDir: /srv/restores}
`,
      "services.yaml",
    );
    expect(shop?.restore.ssh).toEqual({
      host: "10.0.0.7",
      port: 2222,
      user: "root",
      agent: true,
      hostKeyFingerprint: "SHA256:ksw1pQ3lPM8AqXmc7HTzaGvh1B1ITXmFIzSHiTo6INg",
      workDir: "/srv/restores",
    });
  });

  it("reports provider ssh without an ssh block at the provider's line", () => {
    const text = `services:
  shop:
    source:
      user: backup
    restore:
      provider: ssh
`;
    expect(messageOf(text)).toBe(
      'services.yaml:6 services.shop.restore.ssh: required when provider is "ssh": add host, user, identityFile (or agent: true), and knownHosts or hostKeyFingerprint',
    );
  });

  it("takes the provider and its block from defaults, and reports a missing block for each service at the defaults' line", () => {
    const ok = parseServices(
      `defaults:
  restore:
    provider: ssh
    ssh: {host: restore1, user: restore, identityFile: /keys/id, knownHosts: /keys/known_hosts}
services:
  shop: {source: {user: backup}}
`,
      "services.yaml",
    );
    expect(ok[0]?.restore.ssh?.host).toBe("restore1");
    const text = `defaults:
  restore:
    provider: command
services:
  shop: {source: {user: backup}}
  blog: {source: {user: backup}}
`;
    expect(messageOf(text)).toBe(
      [
        'services.yaml:3 services.shop.restore.command: required when provider is "command": add create and destroy hooks',
        'services.yaml:3 services.blog.restore.command: required when provider is "command": add create and destroy hooks',
      ].join("\n"),
    );
  });

  it("requires a credential and exactly one way to check the host key, and says how to write each", () => {
    const text = `services:
  shop:
    source: {user: backup}
    restore:
      provider: ssh
      ssh:
        host: restore1
        port: "22"
        user: restore
        workDir: tmp
`;
    expect(messageOf(text)).toBe(
      [
        'services.yaml:6 services.shop.restore.ssh.identityFile: required key missing: set identityFile (a private key file), or agent: true',
        'services.yaml:6 services.shop.restore.ssh.knownHosts: required key missing: set knownHosts (a known_hosts file) or hostKeyFingerprint ("SHA256:…"); host keys are always checked',
        'services.yaml:8 services.shop.restore.ssh.port: expected a number, got "22"',
        "services.yaml:10 services.shop.restore.ssh.workDir: must be an absolute path on the host",
      ].join("\n"),
    );
    const both = `services:
  shop:
    source: {user: backup}
    restore:
      provider: ssh
      ssh:
        host: restore1
        user: restore
        identityFile: /keys/id
        knownHosts: /keys/known_hosts
        hostKeyFingerprint: "ksw1pQ3lPM8AqXmc7HTzaGvh1B1ITXmFIzSHiTo6INg"
`;
    expect(messageOf(both)).toBe(
      [
        'services.yaml:11 services.shop.restore.ssh.hostKeyFingerprint: expected a fingerprint like "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU" (SHA256: and 43 base64 characters), as `ssh-keygen -lf key.pub` prints it',
        "services.yaml:11 services.shop.restore.ssh.hostKeyFingerprint: set either knownHosts or hostKeyFingerprint, not both",
      ].join("\n"),
    );
  });

  it("points at an unknown key in the ssh block, listing the keys it has", () => {
    const text = `services:
  shop:
    source: {user: backup}
    restore:
      provider: ssh
      ssh: {host: restore1, user: restore, identityFile: /keys/id, knownHosts: /keys/known_hosts, prot: 2222}
`;
    expect(messageOf(text)).toBe(
      'services.yaml:6 services.shop.restore.ssh.prot: unknown key "prot", did you mean "port"? ' +
        "(known keys: agent, host, hostKeyFingerprint, identityFile, knownHosts, port, user, workDir)",
    );
  });

  it("reads a command block, running hooks next to services.yaml unless told otherwise, and names what is missing", () => {
    const [shop] = parseServices(
      `services:
  shop:
    source: {user: backup}
    restore:
      provider: command
      command:
        create: hooks/create-host.sh
        configure: ansible-playbook restore-host.yml
        destroy: hooks/destroy-host.sh
`,
      "/etc/restoretest/services.yaml",
    );
    expect(shop?.restore.command).toEqual({
      create: "hooks/create-host.sh",
      configure: "ansible-playbook restore-host.yml",
      destroy: "hooks/destroy-host.sh",
      timeout: 600_000,
      cwd: "/etc/restoretest",
    });
    const text = `services:
  shop:
    source: {user: backup}
    restore:
      provider: command
      command:
        create: hooks/create-host.sh
        timeout: forever
`;
    expect(messageOf(text)).toBe(
      [
        "services.yaml:6 services.shop.restore.command.destroy: required key missing",
        'services.yaml:8 services.shop.restore.command.timeout: expected a duration like "30m", got "forever"',
      ].join("\n"),
    );
  });

  it("loads the shipped example of the command provider", () => {
    const examples = path.join(FIXTURES, "../../../examples");
    const [blog] = loadServices(path.join(examples, "services.command.yaml"), {});
    expect(blog?.restore).toMatchObject({ provider: "command", command: { create: "hooks/create-host.sh", cwd: examples, timeout: 300_000 } });
  });
});

describe("rejoin", () => {
  it("needs a replication user for a real server, and a TCP address when the source is reached by socket", () => {
    const text = `services:
  shop:
    source:
      socket: /run/mysqld/mysqld.sock
      user: backup
    rejoin:
      catchUpTimeout: 5m
`;
    expect(messageOf(text)).toBe(
      [
        "services.yaml:6 services.shop.rejoin.user: required key missing: the replication user (REPLICATION SLAVE) the rebuilt replica connects as, and its password",
        "services.yaml:6 services.shop.rejoin.source: required key missing: the source is reached by socket, but a replica connects over TCP: set rejoin.source.host (and rejoin.source.port, default 3306), the source's address as the restore host reaches it",
      ].join("\n"),
    );
  });

  it("checks its values where they are written", () => {
    const text = `services:
  shop:
    source:
      user: backup
    rejoin:
      user: repl
      position: binlog
      serverId: 0
`;
    expect(messageOf(text)).toBe(
      [
        'services.yaml:7 services.shop.rejoin.position: expected one of "auto", "gtid", "file", got "binlog"',
        "services.yaml:8 services.shop.rejoin.serverId: must be at least 1, got 0",
      ].join("\n"),
    );
  });

  it("is on for a sandbox with an empty block, off with enabled: false, and its passwords are secrets", async () => {
    const text = `services:
  demo:
    source: {sandbox: {seed: ${path.join(FIXTURES, "seed")}}}
    rejoin: {}
  real:
    source: {host: db1, user: backup}
    rejoin: {user: repl, password: "\${REPL_PASSWORD}", monitor: {user: reader, password: "\${READER_PASSWORD}"}}
  off:
    source: {host: db1, user: backup}
    rejoin: {enabled: false}
`;
    const services = parseServices(text, path.join(FIXTURES, "services.yaml"), { REPL_PASSWORD: "repl-pass-7731", READER_PASSWORD: "reader-pass-0042" });
    const byName = Object.fromEntries(services.map((s) => [s.name, s]));
    expect(byName.demo?.rejoin).toMatchObject({ enabled: true, position: "auto", startTimeout: 60_000, catchUpTimeout: 600_000 });
    expect(byName.real?.rejoin).toMatchObject({ user: "repl", password: "repl-pass-7731" });
    expect(byName.off?.rejoin).toBeUndefined();
    const { maskSecrets } = await import("../../src/base/secrets.ts");
    expect(maskSecrets("repl-pass-7731 reader-pass-0042")).toBe("***** *****");
  });
});

describe("metrics", () => {
  const SERVICES = "services:\n  blog:\n    source: {user: backup}\n  shop:\n    source: {user: backup, password: \"${SHOP_PASSWORD}\"}\n";
  /** Both readers of the block report its problems alike: the whole-file loader and the metrics reporter's. */
  const bothMessages = (text: string, env: Record<string, string | undefined> = {}) => [
    configError(() => parseServices(text, "services.yaml", { SHOP_PASSWORD: "x", ...env })).message,
    configError(() => parseMetricsConfig(text, "services.yaml", env)).message,
  ];

  it("reads the Pushgateway URL and the job, by default restoretest, with the names of the services", () => {
    const text = `metrics:\n  pushgateway: http://127.0.0.1:9091\n${SERVICES}`;
    expect(parseMetricsConfig(text, "services.yaml", {})).toEqual({
      metrics: { pushgateway: "http://127.0.0.1:9091", job: "restoretest" },
      services: ["blog", "shop"],
    });
    expect(parseServices(text, "services.yaml", { SHOP_PASSWORD: "x" }).map((s) => s.name)).toEqual(["blog", "shop"]);
    const withJob = `metrics: {pushgateway: "https://gw.example/prefix/", job: nightly}\n${SERVICES}`;
    expect(parseMetricsConfig(withJob, "services.yaml", {}).metrics).toEqual({ pushgateway: "https://gw.example/prefix/", job: "nightly" });
    expect(parseMetricsConfig(SERVICES, "services.yaml", {})).toEqual({ metrics: undefined, services: ["blog", "shop"] });
  });

  it("says what a bad URL should look like, at its line, from both readers", () => {
    for (const url of ["ftp://gw:9091", "gateway:9091", "http://gw:9091/?x=1"]) {
      expect(bothMessages(`${SERVICES}metrics:\n  pushgateway: "${url}"\n`)).toEqual(
        Array(2).fill(`services.yaml:7 metrics.pushgateway: expected an http:// or https:// URL like "http://pushgateway:9091", without ?query or #fragment, got "${url}"`),
      );
    }
    expect(bothMessages(`metrics:\n  pushgateway: 9091\n${SERVICES}`)).toEqual(Array(2).fill("services.yaml:2 metrics.pushgateway: expected a string, got 9091"));
    expect(bothMessages(`metrics:\n  job: ""\n${SERVICES}`)).toEqual(Array(2).fill("services.yaml:2 metrics.job: must not be empty"));
  });

  it("does not repeat a malformed URL that may hold a password", () => {
    const [message] = bothMessages(`metrics:\n  pushgateway: "htp://restoretest:hunter22@gw:9091"\n${SERVICES}`);
    expect(message).toBe(
      'services.yaml:2 metrics.pushgateway: expected an http:// or https:// URL like "http://pushgateway:9091", without ?query or #fragment (the value is not shown: it may hold a password)',
    );
  });

  it("points at an unknown key, suggesting the near one, at the block and at the top level", () => {
    expect(bothMessages(`metrics:\n  pushgateway: http://gw:9091\n  jbo: nightly\n${SERVICES}`)).toEqual(
      Array(2).fill('services.yaml:3 metrics.jbo: unknown key "jbo", did you mean "job"? (known keys: job, pushgateway)'),
    );
    expect(configError(() => parseServices(`metric:\n  pushgateway: http://gw:9091\n${SERVICES}`, "services.yaml", { SHOP_PASSWORD: "x" })).message).toBe(
      'services.yaml:1 metric: unknown key "metric", did you mean "metrics"? (known keys: defaults, metrics, services)',
    );
  });

  it("substitutes variables in the URL, makes its password a secret, and names a variable that is not set", async () => {
    const text = `metrics:\n  pushgateway: "https://restoretest:\${GW_PASSWORD}@gw.example:9443"\n${SERVICES}`;
    const config = parseMetricsConfig(text, "services.yaml", { GW_PASSWORD: "gw-pass-8812" });
    expect(config.metrics?.pushgateway).toBe("https://restoretest:gw-pass-8812@gw.example:9443");
    const { maskSecrets } = await import("../../src/base/secrets.ts");
    expect(maskSecrets("push as gw-pass-8812")).toBe("push as *****");
    expect(bothMessages(text)).toEqual(Array(2).fill("services.yaml:2 metrics.pushgateway: environment variable GW_PASSWORD is not set"));
  });

  it("is not held up by a service's problem, which is that service's project's to report", () => {
    // shop's password variable is unset: the whole-file loader says so, the metrics reader still has what it needs.
    const text = `metrics:\n  pushgateway: http://gw:9091\n${SERVICES}`;
    expect(configError(() => parseServices(text, "services.yaml", {})).message).toBe("services.yaml:7 services.shop.source.password: environment variable SHOP_PASSWORD is not set");
    expect(parseMetricsConfig(text, "services.yaml", {}).metrics?.pushgateway).toBe("http://gw:9091");
  });

  it("reads the file next to where it is, and says when it does not exist", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "metrics-config-"));
    try {
      const file = path.join(dir, "services.yaml");
      fs.writeFileSync(file, `metrics: {pushgateway: "http://gw:9091"}\n${SERVICES}`);
      expect(loadMetricsConfig(file, {}).metrics?.pushgateway).toBe("http://gw:9091");
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    expect(configError(() => loadMetricsConfig("no-such-dir/services.yaml", {})).message).toMatch(/^no-such-dir\/services.yaml: file does not exist/);
  });
});
