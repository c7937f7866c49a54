// Shell lines built from config (paths, names, programs) go through one quoting function, which a real shell reads back
// as the very word it was given.
import { readdirSync, readFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { shellQuote } from "../../src/base/command.ts";
import { HOSTILE_NAME, HOSTILE_PASSWORDS } from "../support/hostile.ts";

const SRC = resolve(import.meta.dirname, "../../src");

describe("shellQuote", () => {
  it("is read back by sh and bash as the one word it was given, whatever it holds", async () => {
    const words = [HOSTILE_NAME, ...HOSTILE_PASSWORDS, "plain", "/a/b-c_d.e", "", "-n", "$(touch /nonexistent)", "a\u00a0b"];
    for (const shell of ["sh", "bash"]) {
      const script = words.map((w) => `printf '%s\\0' ${shellQuote(w)}`).join("; ");
      const r = await execa(shell, ["-c", script], { stripFinalNewline: false });
      expect(String(r.stdout).split("\0").slice(0, -1), shell).toEqual(words);
    }
  });

  it("is the only one: no other file under src/ quotes shell words itself", () => {
    const files = readdirSync(SRC, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".ts"));
    const own = files.filter((f) => {
      const text = readFileSync(join(SRC, f), "utf8");
      // The single-quote idiom ('\'') or a function of its own for shell words.
      return text.includes(`'\\\\''`) || /function \w*(shell|sh)Quote\w*\(/i.test(text);
    });
    expect(own.map((f) => relative(SRC, join(SRC, f)))).toEqual(["base/command.ts"]);
  });
});
