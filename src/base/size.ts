// Sizes as people write them in services.yaml ("256MB", "1GiB", "500k").

const UNITS: Record<string, number> = { "": 1, b: 1, k: 1024, kb: 1024, kib: 1024, m: 1024 ** 2, mb: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3, gib: 1024 ** 3, t: 1024 ** 4, tb: 1024 ** 4, tib: 1024 ** 4 };

/** Bytes for a size like "256MB" (binary units); undefined when the text is not one. */
export function parseSize(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  if (!m) return undefined;
  const unit = UNITS[(m[2] ?? "").toLowerCase()];
  return unit === undefined ? undefined : Math.round(Number(m[1]) * unit);
}

/** `value` in the largest of `units` (each `step` times the one before) of which it is at least one. */
export function scaled(value: number, step: number, units: readonly string[]): { value: number; unit: string; index: number } {
  let index = 0;
  while (value >= step && index < units.length - 1) {
    value /= step;
    index++;
  }
  return { value, unit: units[index] as string, index };
}

/** A size as services.yaml writes it, in binary units: `10GiB`, `12.9GiB`, `512KiB`, `300B`; parseSize reads it back. */
export function formatSize(bytes: number): string {
  const { value, unit } = scaled(bytes, 1024, ["B", "KiB", "MiB", "GiB", "TiB"]);
  return `${Number(value.toFixed(1))}${unit}`;
}
