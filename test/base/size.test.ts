// Sizes in services.yaml: read in binary units, and written back the same way in messages.
import { describe, expect, it } from "vitest";
import { formatSize, parseSize } from "../../src/base/size.ts";

describe("sizes", () => {
  it("reads what people write, in binary units", () => {
    expect(parseSize("256MB")).toBe(256 * 1024 ** 2);
    expect(parseSize("1GiB")).toBe(1024 ** 3);
    expect(parseSize("500k")).toBe(500 * 1024);
    expect(parseSize("1.5 g")).toBe(1.5 * 1024 ** 3);
    expect(parseSize("300")).toBe(300);
    expect(parseSize("ten gigs")).toBeUndefined();
    expect(parseSize("10PB")).toBeUndefined();
  });

  it("writes a size so that parseSize reads it back (to the one decimal shown)", () => {
    expect(formatSize(10 * 1024 ** 3)).toBe("10GiB");
    expect(formatSize(12.94 * 1024 ** 3)).toBe("12.9GiB");
    expect(formatSize(512 * 1024)).toBe("512KiB");
    expect(formatSize(300)).toBe("300B");
    expect(formatSize(3 * 1024 ** 5)).toBe("3072TiB");
    for (const text of ["10GiB", "512KiB", "300B", "1.5MiB"]) expect(formatSize(parseSize(text) as number)).toBe(text);
  });
});
