// Files being written in the store, named by their writer: `<file>.partial~<host>~<boot id>~<pid ns>~<pid>~<start tick>`,
// renamed to `<file>` when complete. A writer killed mid-write leaves a name that says whose it was, so the sweep
// removes it once that process is gone (a file has no room for an owner record inside it, as a run directory has).
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { basename } from "node:path";
import { currentOwner, type Owner } from "./owner.ts";

const MARK = ".partial~";

/** The name `path` is written under until it is complete, naming this process as its writer. */
export function partialPath(path: string): string {
  const o = currentOwner();
  // The pid namespace as its inode number (`pid:[4026531836]`): brackets and colons stay out of file names.
  const ns = /\[(\d+)\]/.exec(o.pidNamespace)?.[1] ?? "0";
  return `${path}${MARK}${[o.host.replace(/[~/]/g, "_"), o.bootId, ns, o.pid, o.startTicks].join("~")}`;
}

/** A partial file's name read back: the file it was to become, and its writer as an owner record; undefined for other names. */
export function parsePartialName(name: string, createdAt = ""): { final: string; owner: Owner } | undefined {
  const at = name.lastIndexOf(MARK);
  if (at <= 0) return undefined;
  const fields = name.slice(at + MARK.length).split("~");
  if (fields.length !== 5) return undefined;
  const [host, bootId, ns, pid, ticks] = fields as [string, string, string, string, string];
  if (!/^\d+$/.test(ns) || !/^[1-9]\d*$/.test(pid) || !/^\d+$/.test(ticks)) return undefined;
  return {
    final: name.slice(0, at),
    owner: { version: 1, host, bootId, pidNamespace: ns === "0" ? "" : `pid:[${ns}]`, pid: Number(pid), startTicks: Number(ticks), createdAt },
  };
}

/** Is `name` a file still being written (by anyone)? Readers of the store skip such names. */
export function isPartialName(name: string): boolean {
  return parsePartialName(basename(name)) !== undefined;
}

/**
 * Replace (or create) `path` atomically: written in full under its partial name, flushed, then renamed over it, so a
 * reader sees the old file or the new one, never half of one; a writer killed before the rename leaves only its
 * partial file, which the sweep removes.
 */
export function writeFileAtomic(path: string, data: string | Buffer, options: { mode?: number } = {}): void {
  const temp = partialPath(path);
  try {
    const fd = openSync(temp, "w", options.mode ?? 0o600);
    try {
      writeSync(fd, typeof data === "string" ? Buffer.from(data) : data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, path);
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
}
