// The servers' file-name encoding of identifiers, decoded without asking a server (MySQL has no `filename` character
// set in SQL): the names MariaDB and MySQL 9.7 wrote, and every code point of the Basic Multilingual Plane as MariaDB's
// own `filename` character set encodes and decodes it.
import { describe, expect, it } from "vitest";
import { Db } from "../../src/db/connection.ts";
import { decodeFileName, encodeFileName } from "../../src/db/fileName.ts";

// As MariaDB 10.11 and MySQL 9.7 named the files of these tables (test/mysql/schemas.test.ts reads MySQL's datadir).
const WRITTEN: [name: string, file: string][] = [
  ["order-items", "order@002ditems"],
  ["with space", "with@0020space"],
  ["v1.2", "v1@002e2"],
  ["café", "caf@0p"],
  ["日本", "@65e5@672c"],
  ["#tag", "@0023tag"],
  ["Upper_Case9", "Upper_Case9"],
  ["ÀÉÎõü", "@0G@0P@0U@1h@1o"],
  ["Ωμέγα", "@7P@6w@6h@6n@6l"],
  ["a@b", "a@0040b"],
];

describe("the servers' file names of identifiers", () => {
  it("decodes and encodes the names the servers wrote", () => {
    for (const [name, file] of WRITTEN) {
      expect(decodeFileName(file), file).toBe(name);
      expect(encodeFileName(name), name).toBe(file);
    }
  });

  it("refuses what the servers never write: a stray @, a character outside [A-Za-z0-9_@], a code point past U+FFFF", () => {
    expect(decodeFileName("order@")).toBeUndefined();
    expect(decodeFileName("order@00")).toBeUndefined();
    expect(decodeFileName("order@zzzz")).toBeUndefined();
    expect(decodeFileName("order-items")).toBeUndefined();
    expect(() => encodeFileName("🍣")).toThrow(/\(U\+1F363\) has no file name/);
  });

  it("agrees with MariaDB's own filename character set on every code point of the Basic Multilingual Plane", async () => {
    // The machine's MariaDB: one query encodes every code point (not the surrogates, which are no character).
    const db = await Db.connect({ host: "127.0.0.1", port: 3306, user: "root" });
    try {
      const rows = await db.query<{ c: number; f: string }>(
        "SELECT seq AS c, CAST(CONVERT(CONVERT(UNHEX(LPAD(HEX(seq), 4, '0')) USING ucs2) USING filename) AS BINARY) AS f FROM test.seq_1_to_65535 WHERE seq NOT BETWEEN 0xD800 AND 0xDFFF",
      );
      expect(rows).toHaveLength(65535 - 2048);
      const wrong: string[] = [];
      for (const { c, f } of rows) {
        const file = Buffer.from(f as unknown as Uint8Array).toString("latin1");
        const ch = String.fromCharCode(Number(c));
        if (encodeFileName(ch) !== file || decodeFileName(file) !== ch) wrong.push(`U+${Number(c).toString(16)}: server ${file}, here ${encodeFileName(ch)} / ${decodeFileName(file)}`);
      }
      expect(wrong.slice(0, 10)).toEqual([]);
      // And the server decodes a whole name as this module does.
      const names = WRITTEN.map(([name]) => name);
      const [row] = await db.query<Record<string, string>>(
        `SELECT ${names.map((_, i) => `CONVERT(CAST(CAST(? AS BINARY) AS CHAR CHARACTER SET filename) USING utf8mb4) AS n${i}`).join(", ")}`,
        names.map(encodeFileName),
      );
      expect(names.map((_, i) => row?.[`n${i}`])).toEqual(names);
    } finally {
      await db.close();
    }
  });
});
