// accounts: users, roles and every grant, read from the server's own grant tables; password hashes only as keyed digests.
import { z } from "zod";
import { dialectOf } from "../server/flavor.ts";
import { globalPrivileges, isHashField, readAccounts, readAccountStatements, type Accounts } from "../db/accounts.ts";
import type { Finding, ServerCheck } from "./types.ts";

const Schema = z.record(z.string(), z.strictObject({ kind: z.enum(["user", "role"]), rows: z.record(z.string(), z.record(z.string(), z.string())) }));

/** A change of how the account logs in (its plugin, its password's digest) is named as such rather than as a column. */
function describeField(row: string, field: string, before: string | undefined, after: string | undefined): string {
  const name = field.slice(field.lastIndexOf(".") + 1);
  if (/^plugin$/i.test(name)) return `authentication changed: plugin ${before ?? "none"} → ${after ?? "none"}`;
  if (isHashField(name)) {
    if (!before || !after) return `authentication changed: password ${before ? "removed" : "set"}`;
    return "authentication changed: the password differs";
  }
  if (field === "Priv.access" && before !== undefined && after !== undefined) {
    const was = new Set(globalPrivileges(before));
    const is = new Set(globalPrivileges(after));
    const lost = [...was].filter((p) => !is.has(p));
    const gained = [...is].filter((p) => !was.has(p));
    return `global privileges changed: ${[lost.length ? `lost ${lost.join(", ")}` : "", gained.length ? `gained ${gained.join(", ")}` : ""].filter(Boolean).join("; ")}`;
  }
  return `${row} ${field}: ${before ?? "(absent)"} → ${after ?? "(absent)"}`;
}

/** Every difference of one account, one line each. */
function accountDifferences(name: string, want: Accounts[string], have: Accounts[string]): string[] {
  const lines: string[] = [];
  if (want.kind !== have.kind) lines.push(`${name}: was a ${want.kind}, is a ${have.kind}`);
  for (const row of new Set([...Object.keys(want.rows), ...Object.keys(have.rows)])) {
    const before = want.rows[row];
    const after = have.rows[row];
    if (!after) {
      lines.push(`${name}: grant row ${row} missing from the restore`);
      continue;
    }
    if (!before) {
      lines.push(`${name}: grant row ${row} not in the baseline`);
      continue;
    }
    for (const field of new Set([...Object.keys(before), ...Object.keys(after)])) {
      if (before[field] !== after[field]) lines.push(`${name}: ${describeField(row, field, before[field], after[field])}`);
    }
  }
  return lines;
}

export const accounts: ServerCheck<Accounts> = {
  name: "accounts",
  scope: "server",
  description:
    "users, roles, role grants and default roles, global/database/table/column/routine/proxy privileges, authentication plugin, password (keyed digest), locking, expiry and limits equal the baseline's",
  schema: Schema,
  async capture(db, context) {
    if (!context.digestKey) throw new Error("this backup has no digest key (digest.key, written by backups since accounts are checked): passwords cannot be compared; take a new backup");
    const accountsFlavor = (await dialectOf(db)).accounts;
    // A dump's restore creates the accounts anew from statements: compared as the server renders them. A physical
    // restore holds the grant tables themselves: compared row by row, column by column.
    if (context.logical) return readAccountStatements(db, accountsFlavor, context.digestKey, context.ignoreAccounts);
    return readAccounts(db, accountsFlavor, context.digestKey, context.ignoreAccounts);
  },
  compare(expected, actual): Finding {
    const missing = Object.keys(expected).filter((n) => !actual[n]);
    const extra = Object.keys(actual).filter((n) => !expected[n]);
    const changed = Object.keys(expected)
      .filter((n) => actual[n])
      .flatMap((n) => accountDifferences(n, expected[n] as Accounts[string], actual[n] as Accounts[string]));
    if (missing.length + extra.length + changed.length === 0) {
      const roles = Object.values(expected).filter((a) => a.kind === "role").length;
      return { ok: true, summary: `${Object.keys(expected).length - roles} users and ${roles} roles with their grants as in the baseline` };
    }
    const lines = [
      ...missing.map((n) => `${n} (${expected[n]?.kind}) is missing from the restore`),
      ...extra.map((n) => `${n} (${actual[n]?.kind}) is not in the baseline`),
      ...changed,
    ];
    return { ok: false, message: `accounts differ from the baseline:\n${lines.map((l) => `  ${l}`).join("\n")}` };
  },
};
