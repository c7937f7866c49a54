// The run's secrets and the one function that scrubs them from any text before it is printed or reported.

const secrets = new Set<string>();

/** Remember a value that must never appear in output (passwords, generated root passwords). */
export function registerSecret(value: string | undefined): void {
  // Very short values would mask innocent text everywhere; they are still secret but cannot be scrubbed safely.
  if (value && value.length >= 4) secrets.add(value);
}

/** Text with every registered secret replaced by `*****`. */
export function maskSecrets(text: string): string {
  let out = text;
  for (const secret of secrets) out = out.split(secret).join("*****");
  return out;
}
