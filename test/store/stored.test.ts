// Stored files for real: a stream through zstd and age into the store (SHA-256 taken as it is written), read back
// through age and zstd (SHA-256 checked as it is read), and every way that can go wrong named, never showing the key.
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterAll, describe, expect, it } from "vitest";
import { CommandError } from "../../src/base/command.ts";
import { isPartialName } from "../../src/base/partialFile.ts";
import { encodeScript, requireKeyFile } from "../../src/store/encoding.ts";
import { hashFile, openStored, StoredFileError, writeStored, type OpenedStored } from "../../src/store/stored.ts";
import { rejection } from "../support/rejection.ts";

const dir = mkdtempSync(join(tmpdir(), "restoretest-stored-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** An age identity made by age-keygen; returns its path and its secret line. */
function ageKey(name: string): { path: string; secret: string } {
  const path = join(dir, name);
  const made = spawnSync("age-keygen", ["-o", path], { encoding: "utf8" });
  if (made.status !== 0) throw new Error(`age-keygen failed: ${made.stderr}`);
  const secret = /^AGE-SECRET-KEY-1[0-9A-Z]+$/m.exec(readFileSync(path, "utf8"))?.[0];
  if (!secret) throw new Error(`age-keygen wrote no identity to ${path}`);
  return { path, secret };
}

const key = ageKey("key.txt");
const otherKey = ageKey("other-key.txt");
/** Every message an error of these tests carried: none may hold a key (checked last). */
const messages: string[] = [];
const seen = <E extends Error>(error: E): E => {
  messages.push(error.message);
  return error;
};

const MARKER = "restoretest-known-plaintext-7f3a";
/** About 1.6 MB that compresses somewhat (hex of random bytes), with a plaintext marker on every line. */
const plain = Buffer.from(
  Array.from({ length: 16_000 }, (_, i) => `${String(i).padStart(6, "0")} ${MARKER} ${randomBytes(32).toString("hex")}\n`).join(""),
);
const encoding = { compress: { level: 3, threads: 0 }, encrypt: { keyFile: key.path } };

/** The opened file's stream through `zstd -q -d -c`, as a restore decompresses it; never throws. */
async function decompressed(opened: OpenedStored): Promise<{ out: Buffer; code: number | null }> {
  const zstd = spawn("zstd", ["-q", "-d", "-c"], { stdio: ["pipe", "pipe", "ignore"] });
  const chunks: Buffer[] = [];
  zstd.stdout.on("data", (chunk: Buffer) => chunks.push(chunk));
  zstd.stdin.on("error", () => undefined);
  opened.stream.on("error", () => undefined);
  opened.stream.pipe(zstd.stdin);
  const code = await new Promise<number | null>((resolve) => zstd.once("close", resolve));
  // A consumer that failed stops the reading, as a restore does.
  if (code !== 0) opened.destroy();
  return { out: Buffer.concat(chunks), code };
}

/** A fresh `name` stored from `plain`, compressed and encrypted. */
async function stored(name: string): Promise<{ path: string; written: Awaited<ReturnType<typeof writeStored>> }> {
  const path = join(dir, name);
  const written = await writeStored({ input: Readable.from([plain]), encode: encodeScript(encoding), path });
  return { path, written };
}

describe("writing a stored file", () => {
  it("stores a stream compressed and encrypted, hashed as written, and reads it back to the same bytes", async () => {
    const { path, written } = await stored("x.zst.age");
    expect(readdirSync(dir).filter((n) => n.startsWith("x."))).toEqual(["x.zst.age"]);
    expect(await hashFile(path)).toEqual({ bytes: written.bytes, sha256: written.sha256 });
    expect(written.rawBytes).toBe(plain.length);
    // zstd did its work (hex compresses to about half) before age, which only adds a header and per-chunk tags.
    expect(written.bytes).toBeLessThan(plain.length * 0.75);
    const bytes = readFileSync(path);
    expect(bytes.subarray(0, 21).toString()).toBe("age-encryption.org/v1");
    expect(bytes.includes(MARKER)).toBe(false);

    const opened = openStored(path, written, { keyFile: key.path });
    expect(opened.compressed).toBe(true);
    const { out, code } = await decompressed(opened);
    await opened.check();
    expect(code).toBe(0);
    expect(opened.bytesRead()).toBe(written.bytes);
    expect(out.equals(plain)).toBe(true);
  });

  it("reports a producer that fails by its command and stderr, and leaves neither the file nor its .partial", async () => {
    const path = join(dir, "failed.zst.age");
    const script = `head -c 100000 /dev/zero; echo "mbstream: cannot read ibdata1: disk on fire" >&2; exit 3`;
    const error = seen(await rejection(writeStored({ producer: { file: "bash", args: ["-c", script] }, encode: encodeScript(encoding), path })));
    expect(error).toBeInstanceOf(CommandError);
    expect(error).toMatchObject({ exitCode: 3, command: expect.stringContaining("exit 3") });
    expect(error.message).toMatch(/^command exited with code 3: bash -c .*exit 3/);
    expect(error.message).toContain("disk on fire");
    expect(existsSync(path)).toBe(false);
    expect(readdirSync(dir).filter((n) => n.startsWith("failed.zst.age") && isPartialName(n))).toEqual([]);
  });
});

describe("reading a stored file back", () => {
  it("names a stored file with one byte flipped in the middle: its SHA-256 does not match", async () => {
    const { path, written } = await stored("flipped.zst.age");
    const bytes = readFileSync(path);
    const middle = Math.floor(bytes.length / 2);
    bytes[middle] = (bytes[middle] as number) ^ 0x01;
    writeFileSync(path, bytes);
    const opened = openStored(path, written, { keyFile: key.path });
    const { code } = await decompressed(opened);
    expect(code).not.toBe(0);
    const error = seen(await rejection(opened.check()));
    expect(error).toBeInstanceOf(StoredFileError);
    expect(error.message).toContain(`stored file ${path} does not match its SHA-256`);
    expect((error as StoredFileError).path).toBe(path);
  });

  it("names a stored file cut short: its size differs from what was written", async () => {
    const { path, written } = await stored("truncated.zst.age");
    truncateSync(path, Math.floor(written.bytes / 2));
    const opened = openStored(path, written, { keyFile: key.path });
    await decompressed(opened);
    const error = seen(await rejection(opened.check()));
    expect(error).toBeInstanceOf(StoredFileError);
    expect(error.message).toContain(`stored file ${path} is ${Math.floor(written.bytes / 2)} bytes, but ${written.bytes} were written`);
  });

  it("names the key file that does not decrypt a sound stored file", async () => {
    const { path, written } = await stored("other.zst.age");
    const opened = openStored(path, written, { keyFile: otherKey.path });
    const { out } = await decompressed(opened);
    expect(out.length).toBe(0);
    const error = seen(await rejection(opened.check()));
    expect(error).toBeInstanceOf(StoredFileError);
    expect(error.message).toBe(
      `the key in ${otherKey.path} does not decrypt ${path}: it was encrypted to another key (backup.encrypt.keyFile must be the identity the backup was taken with)`,
    );
  });

  it("checks a compressed-only stored file the same way, without age", async () => {
    const path = join(dir, "y.zst");
    const written = await writeStored({ input: Readable.from([plain]), encode: encodeScript({ compress: { level: 1, threads: 1 }, encrypt: null }), path });
    expect(await hashFile(path)).toEqual({ bytes: written.bytes, sha256: written.sha256 });
    const sound = openStored(path, written);
    const { out } = await decompressed(sound);
    await sound.check();
    expect(out.equals(plain)).toBe(true);
    const bytes = readFileSync(path);
    bytes[bytes.length >> 1] = (bytes[bytes.length >> 1] as number) ^ 0x80;
    writeFileSync(path, bytes);
    const damaged = openStored(path, written);
    await decompressed(damaged);
    const error = seen(await rejection(damaged.check()));
    expect(error).toBeInstanceOf(StoredFileError);
    expect(error.message).toContain(`stored file ${path} does not match its SHA-256`);
  });

  it("lets a consumer that fails on a sound stored file report its own failure", async () => {
    const { path, written } = await stored("sound.zst.age");
    const opened = openStored(path, written, { keyFile: key.path });
    // The unpacker gives up early (a full disk on the target): the restore stops reading, then asks check() what to name.
    const consumer = spawn("bash", ["-c", "head -c 1000 >/dev/null; exit 1"], { stdio: ["pipe", "ignore", "ignore"] });
    consumer.stdin.on("error", () => undefined);
    opened.stream.on("error", () => undefined);
    opened.stream.pipe(consumer.stdin);
    expect(await new Promise((resolve) => consumer.once("close", resolve))).toBe(1);
    opened.destroy();
    // The file is sound and the key is right: nothing of the store's to name, the consumer's error stands.
    await opened.check();
  });
});

describe("the key file", () => {
  it("says in one line how to make a missing key file", () => {
    const missing = join(dir, "missing-key.txt");
    const error = seen(captured(() => requireKeyFile(missing, "new backups")));
    expect(error.message.split("\n")).toHaveLength(1);
    expect(error.message).toContain(`backup.encrypt.keyFile ${missing} does not exist`);
    expect(error.message).toContain(`age-keygen -o ${missing}`);
    // Reading a stored file needs it too, before anything is read.
    const opening = seen(captured(() => openStored(join(dir, "x.zst.age"), { bytes: 1, sha256: "0".repeat(64) }, { keyFile: missing })));
    expect(opening.message).toContain(`${missing} does not exist (needed for ${join(dir, "x.zst.age")})`);
    expect(seen(captured(() => requireKeyFile(undefined, "a.zst.age"))).message).toMatch(/^a\.zst\.age is encrypted \(age\), but the service has no backup\.encrypt\.keyFile/);
  });

  it("refuses a key file without an AGE-SECRET-KEY line, without showing what it holds", () => {
    const publicOnly = join(dir, "public-only.txt");
    const recipient = /^# public key: (age1\w+)$/m.exec(readFileSync(key.path, "utf8"))?.[1] ?? "";
    expect(recipient).toMatch(/^age1/);
    writeFileSync(publicOnly, `${recipient}\nnot-a-key-but-private-words\n`);
    const error = seen(captured(() => requireKeyFile(publicOnly, "new backups")));
    expect(error.message).toBe(`backup.encrypt.keyFile ${publicOnly} holds no age identity (a line AGE-SECRET-KEY-1…): make one with age-keygen -o ${publicOnly}`);
    expect(error.message).not.toContain("not-a-key-but-private-words");
    expect(seen(captured(() => encodeScript({ compress: null, encrypt: { keyFile: publicOnly } })))).toBeInstanceOf(Error);
  });

  it("never shows a key's content in any message", () => {
    expect(messages.length).toBeGreaterThanOrEqual(8);
    for (const message of messages) {
      expect(message).not.toContain(key.secret);
      expect(message).not.toContain(otherKey.secret);
      expect(message).not.toMatch(/AGE-SECRET-KEY-1[0-9A-Z]/);
    }
  });
});

function captured(run: () => unknown): Error {
  try {
    run();
  } catch (error) {
    if (error instanceof Error) return error;
    throw error;
  }
  throw new Error("expected an error, nothing was thrown");
}
