// How services.yaml says a backup is stored (format, compress, encrypt), and the small pure pieces of stream storage:
// stored names, the position a stream backup's tool-info holds, the encoding as listings show it, the stream commands.
import path from "node:path";
import { describe, expect, it } from "vitest";
import { describeEncoding } from "../../src/store/layout.ts";
import { mariabackup, parseToolInfoPosition, xtrabackup } from "../../src/backup/tool.ts";
import { ConfigError, parseServices } from "../../src/config/load.ts";
import { encodingOf, isPlain, parseStoredName, PLAIN, storedName, type Encoding } from "../../src/store/encoding.ts";
import { fakeMeta } from "../support/storeFixtures.ts";

/** The message of the ConfigError parsing `text` throws; fails the test when it does not throw one. */
function messageOf(text: string): string {
  try {
    parseServices(text, "services.yaml", {});
  } catch (error) {
    if (error instanceof ConfigError) return error.message;
    throw error;
  }
  throw new Error("expected a ConfigError, nothing was thrown");
}

const DIRECTORY = "(a directory backup is stored as the tool wrote it)";

describe("services.yaml: how backups are stored", () => {
  it("refuses format stream for a tool that writes a directory, at the key's line", () => {
    const text = `services:
  shop:
    source: {user: backup}
    backup:
      tool: dump
      format: stream
`;
    expect(messageOf(text)).toBe("services.yaml:6 services.shop.backup.format: format stream needs tool mariabackup or xtrabackup (service shop uses dump, which writes a directory)");
    expect(messageOf(text.replace("tool: dump", "tool: clone"))).toContain("(service shop uses clone, which writes a directory)");
  });

  it("refuses compress and encrypt without format stream, each at its own line", () => {
    const text = `services:
  shop:
    source: {user: backup}
    backup:
      compress: zstd
      encrypt:
        keyFile: keys/age.txt
`;
    expect(messageOf(text)).toBe(
      [
        `services.yaml:5 services.shop.backup.compress: compress applies to stream backups: add format: stream to service shop's backup block ${DIRECTORY}`,
        `services.yaml:6 services.shop.backup.encrypt: encrypt applies to stream backups: add format: stream to service shop's backup block ${DIRECTORY}`,
      ].join("\n"),
    );
    // `compress: none` is the default said out loud, not a request for a stream.
    expect(parseServices(text.replace(/ {6}encrypt:\n.*\n/, "").replace("zstd", "none"), "services.yaml")[0]?.backup.compress).toBe("none");
    expect(messageOf(text.replace("    backup:\n", "    backup:\n      format: directory\n"))).toMatch(/^services\.yaml:6 services\.shop\.backup\.compress: compress applies to stream backups/);
  });

  it("finds the same problems through the defaults block, at the defaults' line, for each service", () => {
    const text = `defaults:
  backup:
    compress: zstd
services:
  shop: {source: {user: backup}}
  blog: {source: {user: backup}, backup: {format: stream}}
  news: {source: {user: backup}}
`;
    expect(messageOf(text)).toBe(
      [
        `services.yaml:3 defaults.backup.compress: compress applies to stream backups: add format: stream to service shop's backup block ${DIRECTORY}`,
        `services.yaml:3 defaults.backup.compress: compress applies to stream backups: add format: stream to service news's backup block ${DIRECTORY}`,
      ].join("\n"),
    );
    const stream = `defaults:
  backup:
    format: stream
services:
  shop: {source: {user: backup}}
  logs: {source: {user: backup}, backup: {tool: dump}}
`;
    expect(messageOf(stream)).toBe(
      "services.yaml:3 defaults.backup.format: format stream needs tool mariabackup or xtrabackup (service logs uses dump, which writes a directory)",
    );
  });

  it("reads a stream config, the key file next to services.yaml, into the encoding stored files are written with", () => {
    const text = `defaults:
  backup:
    format: stream
    compress: zstd
    compressLevel: 10
services:
  shop:
    source: {user: backup}
    backup:
      tool: xtrabackup
      encrypt: {keyFile: keys/age.txt}
  blog:
    source: {user: backup}
    backup:
      compressThreads: 2
`;
    const [shop, blog] = parseServices(text, "/etc/restoretest/services.yaml", {});
    expect(shop?.backup).toMatchObject({ tool: "xtrabackup", format: "stream", compress: "zstd", compressLevel: 10, compressThreads: 0, encrypt: { keyFile: "/etc/restoretest/keys/age.txt" } });
    expect(encodingOf(shop?.backup as NonNullable<typeof shop>["backup"])).toEqual({ compress: { level: 10, threads: 0 }, encrypt: { keyFile: "/etc/restoretest/keys/age.txt" } });
    expect(blog?.backup).toMatchObject({ tool: "mariabackup", format: "stream", compress: "zstd", compressThreads: 2 });
    expect(blog?.backup.encrypt).toBeUndefined();
    expect(encodingOf(blog?.backup as NonNullable<typeof blog>["backup"])).toEqual({ compress: { level: 10, threads: 2 }, encrypt: null });
    // A key in the home directory, as in ssh_config.
    const [home] = parseServices(text.replace("keys/age.txt", "~/age.txt"), "/etc/restoretest/services.yaml", {});
    expect(home?.backup.encrypt?.keyFile).toBe(path.join(process.env.HOME ?? "", "age.txt"));
  });

  it("stores plainly by default", () => {
    const [shop] = parseServices("services:\n  shop: {source: {user: backup}}\n", "services.yaml", {});
    expect(shop?.backup).toMatchObject({ format: "directory", compress: "none", compressLevel: 3, compressThreads: 0 });
    expect(encodingOf(shop?.backup as NonNullable<typeof shop>["backup"])).toEqual(PLAIN);
  });
});

describe("stored names", () => {
  const zstd = { level: 3, threads: 0 };
  const age = { keyFile: "/k/age.txt" };
  const cases: [Encoding, string][] = [
    [PLAIN, "data.mbstream"],
    [{ compress: zstd, encrypt: null }, "data.mbstream.zst"],
    [{ compress: null, encrypt: age }, "data.mbstream.age"],
    [{ compress: zstd, encrypt: age }, "data.mbstream.zst.age"],
  ];

  it.each(cases)("names %j and reads the name back", (encoding, stored) => {
    expect(storedName("data.mbstream", encoding)).toBe(stored);
    expect(parseStoredName(stored)).toEqual({ name: "data.mbstream", compressed: encoding.compress !== null, encrypted: encoding.encrypt !== null });
    expect(isPlain(encoding)).toBe(stored === "data.mbstream");
  });

  it("reads a sealed binlog's plain name, and leaves a path's directories alone", () => {
    expect(parseStoredName("mysql-bin.000002.zst.age")).toEqual({ name: "mysql-bin.000002", compressed: true, encrypted: true });
    expect(parseStoredName("/s/shop/b1/binlogs/mysql-bin.000002.zst")).toEqual({ name: "/s/shop/b1/binlogs/mysql-bin.000002", compressed: true, encrypted: false });
    // Only `.zst` then `.age`, in that order, as they are written: `.age.zst` is not a name restoretest writes.
    expect(parseStoredName("x.age.zst")).toEqual({ name: "x.age", compressed: true, encrypted: false });
  });
});

describe("a stream backup's tool information", () => {
  it("reads mariadb-backup's position line", () => {
    const info = "tool_name = mariabackup\nbinlog_pos = filename 'mysql-bin.000001', position '1160', GTID of the last change '0-1-5'\ninnodb_from_lsn = 0\n";
    expect(parseToolInfoPosition(info)).toEqual({ file: "mysql-bin.000001", position: 1160, gtid: "0-1-5" });
  });

  it("reads xtrabackup 8's, whose GTID set of several servers spans lines", () => {
    const info = [
      "uuid = 0d1a2b3c-0000-11ef-8000-0242ac120002",
      "binlog_pos = filename 'binlog.000003', position '157', GTID of the last change '3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5,",
      "4f22ab58-71ca-11e1-9e33-c80aa9429562:1-12'",
      "innodb_from_lsn = 0",
    ].join("\n");
    expect(parseToolInfoPosition(info)).toEqual({
      file: "binlog.000003",
      position: 157,
      gtid: "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5,4f22ab58-71ca-11e1-9e33-c80aa9429562:1-12",
    });
  });

  it("reads a position without GTIDs, and nothing from a file without one", () => {
    expect(parseToolInfoPosition("binlog_pos = filename 'binlog.000007', position '4'\n")).toEqual({ file: "binlog.000007", position: 4, gtid: "" });
    expect(parseToolInfoPosition("tool_name = xtrabackup\nbinlog_pos = \n")).toBeNull();
    expect(parseToolInfoPosition("")).toBeNull();
  });
});

describe("how a backup is stored, as listings show it", () => {
  it("says directory, or stream with its compression ratio and encryption", () => {
    expect(describeEncoding(fakeMeta("b1"))).toBe("directory");
    expect(describeEncoding(fakeMeta("b1", { format: "stream", compression: "zstd", encrypted: true, bytes: 104_000, storedBytes: 10_000 }))).toBe("stream, zstd 10.4×, age");
    expect(describeEncoding(fakeMeta("b1", { format: "stream", bytes: 104_000, storedBytes: 104_000 }))).toBe("stream");
    expect(describeEncoding(fakeMeta("b1", { format: "stream", encrypted: true }))).toBe("stream, age");
    // Without a stored size (an older backup.json) the ratio is left out rather than guessed.
    expect(describeEncoding(fakeMeta("b1", { format: "stream", compression: "zstd", bytes: 104_000 }))).toBe("stream, zstd");
  });
});

describe("stream commands", () => {
  const options = { optionFile: "/w/client.cnf", infoDir: "/s/b2/tool-info", scratchDir: "/w/scratch", datadir: "/var/lib/mysql" };

  it("streams a mariadb-backup full and incremental, its information kept beside the stream", () => {
    const full = mariabackup.streamCommand?.(options);
    expect(full).toEqual({
      file: "mariadb-backup",
      args: ["--defaults-extra-file=/w/client.cnf", "--backup", "--stream=mbstream", "--target-dir=/w/scratch", "--extra-lsndir=/s/b2/tool-info", "--datadir=/var/lib/mysql"],
    });
    const incremental = mariabackup.streamCommand?.({ ...options, incrementalLsn: 47_113 });
    expect(incremental?.args).toContain("--incremental-lsn=47113");
    expect(incremental?.args.filter((a) => a.startsWith("--incremental"))).toEqual(["--incremental-lsn=47113"]);
    // The credentials are in the option file, never on the command line.
    for (const arg of [...(full?.args ?? []), ...(incremental?.args ?? [])]) expect(arg).not.toMatch(/password|^-p/i);
    expect(mariabackup.streamFormat).toBe("mbstream");
  });

  it("unpacks with mbstream (xbstream for xtrabackup) into a directory", () => {
    expect(mariabackup.extractCommand?.("/r/incoming")).toEqual({ file: "mbstream", args: ["-x", "-C", "/r/incoming"] });
    expect(xtrabackup.extractCommand?.("/r/incoming")).toEqual({ file: "xbstream", args: ["-x", "-C", "/r/incoming"] });
    expect(xtrabackup.streamCommand?.(options).args).toContain("--stream=xbstream");
    expect(xtrabackup.streamFormat).toBe("xbstream");
  });
});
