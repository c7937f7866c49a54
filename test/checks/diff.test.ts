import { describe, expect, it } from "vitest";
import { unifiedDiff } from "../../src/checks/diff.ts";
import { definition, splitAutoIncrement, withoutPlacement } from "../../src/checks/definition.ts";

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

describe("definition", () => {
  const t = { database: "shop", table: "t" };
  const create = (options: string, column = "  `v` varchar(20) DEFAULT NULL,") =>
    ({ createTable: ["CREATE TABLE `t` (", "  `id` int(11) NOT NULL,", column, "  PRIMARY KEY (`id`)", `) ${options}`].join("\n"), autoIncrement: null });
  const compare = (a: ReturnType<typeof create>, b: ReturnType<typeof create>) => definition.compare(a, b, t as never);

  it("names a difference in the table options, the definition's last line, in its message", () => {
    const finding = compare(create("ENGINE=InnoDB DEFAULT CHARSET=latin1"), create("ENGINE=MyISAM DEFAULT CHARSET=latin1"));
    expect(finding).toMatchObject({ ok: false, message: "definition of shop.t differs from the baseline:\n-) ENGINE=InnoDB DEFAULT CHARSET=latin1\n+) ENGINE=MyISAM DEFAULT CHARSET=latin1" });
  });

  it("does not compare where the files live: the restore keeps a DATA DIRECTORY table's files in its own datadir", () => {
    const source = create("ENGINE=InnoDB DEFAULT CHARSET=latin1 DATA DIRECTORY='/srv/fast/'");
    expect(compare(source, create("ENGINE=InnoDB DEFAULT CHARSET=latin1"))).toEqual({
      ok: true,
      summary: "definition unchanged (DATA/INDEX DIRECTORY not compared: a restore keeps the files in its own datadir)",
    });
    // A partition's, and a quote inside the path, too.
    expect(withoutPlacement(" (PARTITION `p0` VALUES LESS THAN (10) DATA DIRECTORY = '/srv/it''s/' INDEX DIRECTORY = '/srv/i/' ENGINE = MyISAM)")).toBe(
      " (PARTITION `p0` VALUES LESS THAN (10) ENGINE = MyISAM)",
    );
    // Anything else in the same definition still differs, and only that is named.
    const finding = compare(source, create("ENGINE=InnoDB DEFAULT CHARSET=latin1", "  `v` varchar(10) DEFAULT NULL,"));
    expect(finding).toMatchObject({ ok: false, message: "definition of shop.t differs from the baseline:\n-  `v` varchar(20) DEFAULT NULL,\n+  `v` varchar(10) DEFAULT NULL," });
  });
});
