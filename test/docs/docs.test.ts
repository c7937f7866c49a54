// The README and docs/ tell the truth: links and headings resolve, every check and page is listed, config examples load.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { CHECKS } from "../../src/checks/index.ts";
import { parseServices } from "../../src/config/load.ts";
import { CATALOGS, SCORES_BEGIN, SCORES_END } from "../faults/catalogs.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const DOCS = join(ROOT, "docs");
const PAGES = [join(ROOT, "README.md"), ...readdirSync(DOCS).filter((f) => f.endsWith(".md")).map((f) => join(DOCS, f))];
const read = (file: string) => readFileSync(file, "utf8");
// A distinctive value: the loader registers it as a secret, masked in everything this process prints.
const ENV = { SHOP_BACKUP_PASSWORD: "docs-example-password" };

/** Prose only: fenced blocks and inline code hold examples, not links. */
function prose(markdown: string): string {
  return markdown.replace(/^```[\s\S]*?^```/gm, "").replace(/`[^`\n]*`/g, "");
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  for (const [, text] of markdown.replace(/^```[\s\S]*?^```/gm, "").matchAll(/^#{1,6} +(.+?) *#*$/gm)) {
    const slug = text!.toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, "").replace(/\s/g, "-");
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    result.add(n === 0 ? slug : `${slug}-${n}`);
  }
  return result;
}

function links(markdown: string): string[] {
  return [...prose(markdown).matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!).filter((target) => !/^[a-z]+:/.test(target));
}

/** The yaml blocks of a page, list-item indentation removed. */
function yamlBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^( *)```yaml\n([\s\S]*?)^ *```/gm)].map(([, indent, body]) => body!.replace(new RegExp(`^ {0,${indent!.length}}`, "gm"), ""));
}

describe("README.md and docs/", () => {
  it("link only to files and headings that exist", () => {
    const broken: string[] = [];
    for (const page of PAGES) {
      for (const target of links(read(page))) {
        const [path, anchor] = target.split("#") as [string, string | undefined];
        const file = path === "" ? page : resolve(dirname(page), decodeURIComponent(path));
        const where = `${relative(ROOT, page)}: (${target})`;
        if (!existsSync(file)) broken.push(`${where}: no file ${relative(ROOT, file)}`);
        else if (anchor !== undefined && file.endsWith(".md") && !anchors(read(file)).has(anchor)) {
          broken.push(`${where}: no heading with anchor "${anchor}" in ${relative(ROOT, file)}`);
        }
      }
    }
    expect(broken).toEqual([]);
  });

  it("list every page of docs/ in the README", () => {
    const linked = new Set(links(read(join(ROOT, "README.md"))).map((target) => target.split("#")[0]));
    const unlisted = PAGES.slice(1).map((page) => relative(ROOT, page)).filter((page) => !linked.has(page));
    expect(unlisted).toEqual([]);
  });

  it("keep the README a front page: short, the two commands, and a picture of the report that is a real PNG", () => {
    const readme = read(join(ROOT, "README.md"));
    // 200 lines and the performance table the bench fills (issue 19 asked for its numbers on the front page).
    expect(readme.split("\n").length).toBeLessThan(220);
    expect(readme).toContain("npm run demo");
    expect(readme).toContain("npm test");
    const picture = readme.match(/!\[[^\]]*\]\(([^)]+\.png)\)/)?.[1];
    expect(picture, "the README shows a PNG").toBeDefined();
    const png = readFileSync(join(ROOT, picture!));
    expect(png.subarray(0, 8).toString("hex"), `${picture} is a PNG`).toBe("89504e470d0a1a0a");
    expect(statSync(join(ROOT, picture!)).size, `${picture} stays small enough for a README`).toBeLessThan(300 * 1024);
  });

  it("give every registered check a row in docs/checks.md", () => {
    const rows = read(join(DOCS, "checks.md"))
      .split("\n")
      .filter((line) => line.startsWith("| `"))
      .map((line) => line.split("|")[1]!);
    const documented = new Set(rows.flatMap((cell) => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!)));
    expect(Object.keys(CHECKS).filter((name) => !documented.has(name))).toEqual([]);
  });

  it("give npm run faults' scores, one line per catalog with its size today, no miss and no false alarm", () => {
    const text = read(join(DOCS, "checks.md"));
    const block = text.slice(text.indexOf(SCORES_BEGIN), text.indexOf(SCORES_END));
    expect(block, "docs/checks.md keeps npm run faults' scores between its markers (npm run faults -- --write-docs)").not.toBe("");
    const catalogs = new Map([...block.matchAll(/^catalog (\w+): faults detected (\d+)\/(\d+); false alarms (\d+) on \d+ clean restores/gm)].map((m) => [m[1]!, m.slice(2).map(Number)]));
    expect([...catalogs.keys()].sort(), "a line for every catalog").toEqual(Object.keys(CATALOGS).sort());
    for (const [name, [detected, size, falseAlarms]] of catalogs) {
      expect(size, `faults in catalog ${name} (rerun npm run faults -- --write-docs)`).toBe(CATALOGS[name]!.faults.length);
      expect([detected, falseAlarms], `catalog ${name}: every fault caught, no false alarm`).toEqual([size, 0]);
    }
    for (const m of block.matchAll(/^matrix (\S+): (\d+) schemas, .*; false reds (\d+); faults caught (\d+)\/(\d+)$/gm)) {
      expect([Number(m[3]), Number(m[4])], `matrix ${m[1]}: no false red, every fault caught`).toEqual([0, Number(m[5])]);
    }
  });
});

describe("services.yaml as documented", () => {
  it("the reference example in docs/config.md and the README's first real service load as written", () => {
    const file = join(ROOT, "services.yaml");
    const [reference] = yamlBlocks(read(join(DOCS, "config.md")));
    const services = parseServices(reference!, file, ENV);
    expect(services.map((s) => s.name)).toEqual(["blog", "shop"]);
    expect(services[1]!.backup.consistency).toBe("pausedReplica");
    expect(services[0]!.verify.concurrency).toBe(2);

    const [first] = yamlBlocks(read(join(ROOT, "README.md")));
    const [shop] = parseServices(first!, file, ENV);
    expect(shop).toMatchObject({ name: "shop", databases: ["shop"], backup: { store: "/srv/backups", consistency: "pausedReplica" } });
  });

  it("mistakes are reported as docs/config.md shows them (line numbers aside)", () => {
    const documented = read(join(DOCS, "config.md")).match(/^Mistakes are reported[\s\S]*?```\n([\s\S]*?)```/m)![1]!.trim().split("\n");
    const mistaken = [
      "services:",
      "  blog:",
      "    source: {sandbox: {seed: fixtures/blog}}",
      "    restore: {timeout: soon}",
      "    verify: {tiemout: 10m}",
      "  shop:",
      "    source: {user: restoretest, password: '${SHOP_BACKUP_PASSWORD}'}",
    ].join("\n");
    let message = "";
    try {
      parseServices(mistaken, join(ROOT, "services.yaml"), {});
    } catch (error) {
      message = (error as Error).message;
    }
    const withoutLines = (lines: string[]) => lines.map((line) => line.replace(/^\S*services\.yaml:\d+ /, "services.yaml:N "));
    expect(withoutLines(message.split("\n"))).toEqual(withoutLines(documented));
  });
});
