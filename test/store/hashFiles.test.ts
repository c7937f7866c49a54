// hashFiles: stored files hashed on worker threads give the same size and SHA-256 as the main thread's hashFile, in
// the order asked, on one thread or more than there are files; a file that cannot be read is named, not thrown.
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { hashFiles } from "../../src/store/hashFiles.ts";
import { hashFile } from "../../src/store/stored.ts";

const dir = mkdtempSync(join(tmpdir(), "hash-files-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Sizes around the 4 MiB read buffer, an empty file, and one of several buffers.
const sizes = [0, 1, 4 << 20, (4 << 20) + 1, 9 << 20, 12345];
const files = sizes.map((size, i) => {
  const path = join(dir, `f${i}`);
  const data = randomBytes(size);
  writeFileSync(path, data);
  return { path, bytes: size, sha256: createHash("sha256").update(data).digest("hex") };
});

describe("hashFiles", () => {
  for (const threads of [1, 2, 16]) {
    it(`hashes ${files.length} files on ${threads} thread(s), in the order asked`, async () => {
      const got = await hashFiles(
        files.map((f) => f.path),
        threads,
      );
      expect(got).toEqual(files.map(({ bytes, sha256 }) => ({ bytes, sha256 })));
    });
  }

  it("agrees with hashFile", async () => {
    const [got] = await hashFiles([files[4]?.path as string], 2);
    expect(got).toEqual(await hashFile(files[4]?.path as string));
  });

  it("names a file it cannot read, and hashes the others", async () => {
    const missing = join(dir, "gone");
    const aDirectory = join(dir, "sub");
    mkdirSync(aDirectory);
    const got = await hashFiles([files[1]?.path as string, missing, aDirectory], 2);
    expect(got[0]).toEqual({ bytes: 1, sha256: files[1]?.sha256 });
    expect(got[1]).toEqual({ error: expect.stringContaining("ENOENT") });
    expect(got[2]).toEqual({ error: expect.stringContaining("EISDIR") });
  });

  it("returns nothing for no files, starting no thread", async () => {
    expect(await hashFiles([], 4)).toEqual([]);
  });
});
