// The disposer list: every cleanup runs, and a failed one names the resource and its cause.
import { describe, expect, it } from "vitest";
import { disposeAll, pendingDisposers, registerDisposer } from "../../src/base/disposers.ts";

describe("disposeAll", () => {
  it("runs every disposer, newest first, and names each one that failed with its cause", async () => {
    const ran: string[] = [];
    registerDisposer("directory /tmp/a", () => {
      ran.push("a");
      throw new Error("EACCES: permission denied, rmdir '/tmp/a'");
    });
    registerDisposer("server pid 4242", () => {
      ran.push("b");
    });
    registerDisposer("server pid 4343", async () => {
      ran.push("c");
      throw new Error("kill ESRCH");
    });
    const error = (await disposeAll().catch((e: unknown) => e)) as AggregateError;
    expect(ran).toEqual(["c", "b", "a"]);
    expect(error).toBeInstanceOf(AggregateError);
    expect(error.errors).toHaveLength(2);
    expect(error.message).toBe("cleanup failed for 2 resource(s):\n  server pid 4343: kill ESRCH\n  directory /tmp/a: EACCES: permission denied, rmdir '/tmp/a'");
    expect(pendingDisposers()).toEqual([]);
  });

  it("resolves when every cleanup succeeded", async () => {
    let done = false;
    registerDisposer("x", () => {
      done = true;
    });
    await disposeAll();
    expect(done).toBe(true);
  });
});
