import { describe, expect, it } from "vitest";
import { unifiedDiff } from "../../src/checks/diff.ts";
import { splitAutoIncrement } from "../../src/checks/definition.ts";

describe("unifiedDiff", () => {
  it("is empty for equal texts", () => {
    expect(unifiedDiff("a\nb", "a\nb", "x", "y")).toBe("");
  });

  it("shows a changed line with context in diff -u form", () => {
    const before = ["CREATE TABLE t (", "  id int,", "  name varchar(10),", "  PRIMARY KEY (id)", ")"].join("\n");
    const after = before.replace("varchar(10)", "varchar(20)");
    expect(unifiedDiff(before, after, "baseline", "restored")).toBe(
      ["--- baseline", "+++ restored", "@@ -1,5 +1,5 @@", "CREATE TABLE t (", "   id int,", "-  name varchar(10),", "+  name varchar(20),", "   PRIMARY KEY (id)", " )"]
        .join("\n")
        .replace("CREATE", " CREATE"),
    );
  });
});

describe("splitAutoIncrement", () => {
  it("keeps the counter beside the definition, not in it", () => {
    expect(splitAutoIncrement(") ENGINE=InnoDB AUTO_INCREMENT=42 DEFAULT CHARSET=utf8mb4")).toEqual({
      createTable: ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
      autoIncrement: 42,
    });
  });
});
