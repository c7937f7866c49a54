// Files hashed on worker threads, so that N files are hashed on N cores: SHA-256 on the main thread is one core's
// work, whatever the number of reads in flight (the store check beside a restore, verify-store).
import { Worker } from "node:worker_threads";

/** One file's size and SHA-256, or why it could not be read. */
export type FileHash = { bytes: number; sha256: string } | { error: string };

// Plain JavaScript, evaluated as the worker's script (no build step between it and the worker): a read loop into one
// 4 MiB buffer, as hashFile in stored.ts.
const WORKER_SOURCE = `
const { parentPort } = require("node:worker_threads");
const { createHash } = require("node:crypto");
const { openSync, readSync, closeSync } = require("node:fs");
const buffer = Buffer.allocUnsafe(4 << 20);
parentPort.on("message", ({ id, path }) => {
  try {
    const hash = createHash("sha256");
    let bytes = 0;
    const fd = openSync(path, "r");
    try {
      for (;;) {
        const n = readSync(fd, buffer, 0, buffer.length, null);
        if (n === 0) break;
        hash.update(buffer.subarray(0, n));
        bytes += n;
      }
    } finally {
      closeSync(fd);
    }
    parentPort.postMessage({ id, bytes, sha256: hash.digest("hex") });
  } catch (error) {
    parentPort.postMessage({ id, error: String((error && error.message) || error) });
  }
});
`;

/** Hash `paths` on `threads` worker threads, biggest share of the work spread by taking the next file as one finishes. Results in `paths`' order. */
export async function hashFiles(paths: readonly string[], threads: number): Promise<FileHash[]> {
  const results = new Array<FileHash>(paths.length);
  if (paths.length === 0) return results;
  const workers = Array.from({ length: Math.max(1, Math.min(threads, paths.length)) }, () => new Worker(WORKER_SOURCE, { eval: true }));
  let next = 0;
  try {
    await Promise.all(
      workers.map(
        (worker) =>
          new Promise<void>((resolve, reject) => {
            const send = () => {
              if (next >= paths.length) return resolve();
              const id = next++;
              worker.postMessage({ id, path: paths[id] });
            };
            worker.on("message", (m: { id: number } & FileHash) => {
              const { id, ...hash } = m;
              results[id] = hash;
              send();
            });
            worker.once("error", reject);
            worker.once("exit", (code) => (next < paths.length || code !== 0 ? reject(new Error(`a hashing thread stopped (exit code ${code})`)) : resolve()));
            send();
          }),
      ),
    );
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
  return results;
}
