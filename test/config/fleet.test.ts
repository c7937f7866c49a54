// services.yaml read service by service: one service's bad key or unset secret is its own problem; the file's are all's.
import { describe, expect, it } from "vitest";
import { ConfigError, parseFleet } from "../../src/config/load.ts";

const FILE = [
  "defaults:", //                                      1
  "  restore: {timeout: 20m}", //                      2
  "services:", //                                      3
  "  shop:", //                                        4
  "    source:", //                                    5
  "      host: db1", //                                6
  "      user: restoretest", //                        7
  "      password: ${SHOP_PASSWORD}", //               8
  "  blog:", //                                        9
  "    source:", //                                    10
  "      host: db2", //                                11
  "      port: ${BLOG_PORT}", //                       12
  "      user: restoretest", //                        13
  "      password: ${BLOG_PASSWORD}", //               14
  "  wiki:", //                                        15
  "    source: {host: db3, user: restoretest}", //     16
  "    verify: {timout: 5m}", //                       17
  "",
].join("\n");

describe("parseFleet", () => {
  it("resolves only the selected services' secrets: the others' unset ones are nobody's problem", () => {
    const fleet = parseFleet(FILE, "services.yaml", { SHOP_PASSWORD: "s3cret" }, ["shop"]);
    expect(fleet.names).toEqual(["shop", "blog", "wiki"]);
    expect(fleet.services.map((s) => s.name)).toEqual(["shop"]);
    // blog's port cannot be a number without its variable: named as unresolved, not broken.
    expect(fleet.unresolved).toEqual(["blog"]);
    const shop = fleet.services[0];
    expect(shop && "password" in shop.source ? shop.source.password : undefined).toBe("s3cret");
    expect(shop?.restore.timeout).toBe(20 * 60_000);
  });

  it("gives each broken service its own one-line problems, with file, line and key", () => {
    const fleet = parseFleet(FILE, "services.yaml", { BLOG_PORT: "3306" }, ["shop", "blog"]);
    expect(fleet.broken.map((b) => [b.name, b.error.message])).toEqual([
      ["shop", "services.yaml:8 services.shop.source.password: environment variable SHOP_PASSWORD is not set"],
      ["blog", "services.yaml:14 services.blog.source.password: environment variable BLOG_PASSWORD is not set"],
      ["wiki", 'services.yaml:17 services.wiki.verify.timout: unknown key "timout", did you mean "timeout"? (known keys: checks, chunkMinSize, chunkRows, concurrency, extendedCheck, older, queries, queryTimeout, tableDrill, tableDrillMaxSize, timeout)'],
    ]);
    expect(fleet.services).toEqual([]);
  });

  it("a service's bad key is its own problem whatever the scope; no secret needed for the fleet's listing", () => {
    const fleet = parseFleet(FILE, "services.yaml", {}, []);
    expect(fleet.broken.map((b) => b.name)).toEqual(["wiki"]);
    // shop's unset password is a string either way: it is built (the listing needs no secret); blog's port is not.
    expect(fleet.services.map((s) => s.name)).toEqual(["shop"]);
    expect(fleet.unresolved).toEqual(["blog"]);
  });

  it("throws for problems of the file itself, which concern every service", () => {
    const bad = FILE.replace("  restore: {timeout: 20m}", "  restore: {timeout: soon}");
    expect(() => parseFleet(bad, "services.yaml", {}, [])).toThrow(ConfigError);
    expect(() => parseFleet(bad, "services.yaml", {}, [])).toThrow(/^services\.yaml:2 defaults\.restore\.timeout: expected a duration like "30m", got "soon"\n/);
    expect(() => parseFleet("services: [", "services.yaml", {}, [])).toThrow(/^services\.yaml:1: invalid YAML at column \d+: /);
  });
});
