// Random mutations of valid services.yaml and manifest files: always a message naming where and what, never a crash.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { MANIFEST_VERSION, parseManifest } from "../../src/store/manifest.ts";
import { ConfigError, parseServices } from "../../src/config/load.ts";

/** mulberry32: deterministic, so a failing mutation can be replayed from its seed. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const NOISE = [":", "-", " ", "\n", "  ", "{", "}", "[", "]", '"', "'", "#", "${", "&a", "*a", "!!int", "\t", "0", "-1", "1e9", "null", "~", "@", "`", "\u0000", "é", "🍣"];

function mutate(text: string, random: () => number): string {
  let out = text;
  const edits = 1 + Math.floor(random() * 4);
  for (let i = 0; i < edits; i++) {
    const at = Math.floor(random() * (out.length + 1));
    const kind = random();
    if (kind < 0.4) out = out.slice(0, at) + out.slice(at + 1 + Math.floor(random() * 8));
    else if (kind < 0.8) out = out.slice(0, at) + (NOISE[Math.floor(random() * NOISE.length)] as string) + out.slice(at);
    else {
      const lines = out.split("\n");
      const a = Math.floor(random() * lines.length);
      const b = Math.floor(random() * lines.length);
      [lines[a], lines[b]] = [lines[b] as string, lines[a] as string];
      out = lines.join("\n");
    }
  }
  return out;
}

const SERVICES = `defaults:
  backup:
    store: backups
    timeout: 1h
  verify:
    checks: [checksum, rowCount]
    chunkMinSize: 64MB
services:
  blog:
    source:
      sandbox:
        seed: fixtures/blog
    databases: [blog]
  shop:
    source:
      host: 10.0.0.5
      port: 3306
      user: restoretest
      password: \${SHOP_PASSWORD}
    backup:
      consistency: pausedReplica
    restore:
      timeout: 45m
`;

describe("fuzzing the parsers", () => {
  it("services.yaml: 600 mutations give a ConfigError naming the file, or a valid parse", () => {
    const file = join(process.cwd(), "services.yaml");
    const random = prng(20261125);
    let errors = 0;
    for (let i = 0; i < 600; i++) {
      const text = mutate(SERVICES, random);
      try {
        parseServices(text, file, { SHOP_PASSWORD: "fuzz-secret-value" });
      } catch (error) {
        errors++;
        expect(error, `mutation ${i}:\n${text}`).toBeInstanceOf(ConfigError);
        const message = (error as Error).message;
        expect(message, `mutation ${i}`).toMatch(/services\.yaml(:\d+)?[ :]/);
        expect(message).not.toContain("fuzz-secret-value");
        expect(message).not.toMatch(/\n\s+at /);
      }
    }
    expect(errors).toBeGreaterThan(300);
  });

  it("manifest.json: 600 mutations give an error naming the file, or a valid parse", () => {
    const manifest = {
      version: MANIFEST_VERSION,
      service: "shop",
      capturedAt: "2026-11-25T03:00:00.000Z",
      durationMs: 120,
      server: { version: "10.11.19-MariaDB", flavor: "mariadb" },
      position: { file: "mysql-bin.000001", position: 4242, gtid: "0-1-9" },
      consistency: "snapshot",
      checks: ["checksum", "rowCount"],
      databases: [{ name: "shop", checks: {}, tables: [{ name: "t", type: "BASE TABLE", engine: "InnoDB", sizeBytes: 16384, checks: { rowCount: { rows: 3 } } }] }],
    };
    const text = JSON.stringify(manifest, null, 2);
    expect(parseManifest(text, "m.json").service).toBe("shop");
    const random = prng(7);
    for (let i = 0; i < 600; i++) {
      const mutated = mutate(text, random);
      try {
        parseManifest(mutated, "/store/shop/x/manifest.json");
      } catch (error) {
        expect(error).toBeInstanceOf(Error);
        expect((error as Error).message, `mutation ${i}`).toMatch(/^\/store\/shop\/x\/manifest\.json: /);
      }
    }
  });

  it("refuses a manifest from a newer restoretest by name", () => {
    const text = readFileSync(join(import.meta.dirname, "fixtures", "newer-manifest.json"), "utf8");
    expect(() => parseManifest(text, "manifest.json")).toThrow(
      `manifest.json: manifest version ${MANIFEST_VERSION + 1} is newer than this restoretest understands (${MANIFEST_VERSION}); upgrade restoretest`,
    );
  });
});
