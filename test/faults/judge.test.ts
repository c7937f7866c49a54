// The catalog's judge cannot pass a fault by accident: each expectation is strict, and a bug is not a catch.
import { describe, expect, it } from "vitest";
import { RestoreStepError } from "../../src/restore/pipeline.ts";
import { isProgrammingError, missed, type Fault, type FaultResult } from "./catalog.ts";

const green: FaultResult = { red: new Map() };
const red = (entries: Record<string, string>): FaultResult => ({ red: new Map(Object.entries(entries)) });
const failed = (message: string): FaultResult => ({ restoreError: message, red: new Map() });

describe("missed", () => {
  const rows: Fault = { name: "row deleted", red: ["shop.audit:checksum", "shop.audit:rowCount"] };

  it("takes exactly the named tests, each message naming its object", () => {
    expect(missed(rows, red({ "shop.audit:checksum": "shop.audit differs", "shop.audit:rowCount": "shop.audit has 9 rows" }))).toBeUndefined();
    expect(missed(rows, red({ "shop.audit:checksum": "shop.audit differs" }))).toBe("expected red shop.audit:checksum, shop.audit:rowCount; red: shop.audit:checksum");
    expect(missed(rows, red({ "shop.audit:checksum": "x", "shop.audit:rowCount": "y", "shop:tables": "z" }))).toMatch(/^expected red .*; red: shop\.audit:checksum, shop\.audit:rowCount, shop:tables$/);
    expect(missed(rows, red({ "shop.audit:checksum": "data differs", "shop.audit:rowCount": "shop.audit has 9 rows" }))).toBe("the message of shop.audit:checksum does not name audit: data differs");
    expect(missed(rows, green)).toMatch(/red: none \(all green\)$/);
    expect(missed(rows, failed('restore of shop failed at step "start"'))).toMatch(/the restore failed: restore of shop failed at step "start"$/);
  });

  it("takes a message pattern where the fault has one", () => {
    const fault: Fault = { name: "user dropped", red: ["accounts"], message: /'shop_old'@'localhost' \(user\) is missing/ };
    expect(missed(fault, red({ accounts: "accounts: 'shop_old'@'localhost' (user) is missing from the restore" }))).toBeUndefined();
    expect(missed(fault, red({ accounts: "accounts: something else" }))).toMatch(/^no red message matches/);
  });

  it("takes a restore failure only when its message matches", () => {
    const fault: Fault = { name: "redo truncated", restoreFails: /failed at step "prepare"/ };
    expect(missed(fault, failed('restore of shop failed at step "prepare" after 1.0s'))).toBeUndefined();
    expect(missed(fault, failed('restore of shop failed at step "start" after 1.0s'))).toMatch(/^expected the restore to fail matching/);
    expect(missed(fault, red({ "shop.x:checksum": "shop.x" }))).toMatch(/^expected the restore to fail/);
  });

  it("takes damage whose effect depends on the page only when a test or the failure names the object", () => {
    const fault: Fault = { name: "page damaged", notGreen: true, about: "customers" };
    expect(missed(fault, green)).toBe("a damaged backup verified green");
    expect(missed(fault, red({ "shop.customers:checksum": "…" }))).toBeUndefined();
    expect(missed(fault, failed('restore of shop failed at step "start": shop/customers.ibd is corrupt'))).toBeUndefined();
    expect(missed(fault, red({ "shop.orders:checksum": "shop.orders differs" }))).toMatch(/^nothing names customers/);
  });
});

describe("isProgrammingError", () => {
  it("sees a TypeError thrown inside a restore step, however deep", () => {
    const bug = new RestoreStepError("shop", "start", 10, new Error("wrapped", { cause: new TypeError("Cannot read properties of undefined (reading 'port')") }));
    expect(isProgrammingError(bug)).toBe(true);
    expect(isProgrammingError(new RestoreStepError("shop", "prepare", 10, new Error("mariadb-backup --prepare exited 1")))).toBe(false);
    expect(isProgrammingError(new ReferenceError("x is not defined"))).toBe(true);
  });
});
