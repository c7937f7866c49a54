// Client option files (`[client]`): every value quoted and escaped as the clients' option parser reads it back, so a
// password or a path may hold any character.

/** What the parser turns back into a character inside a value (my_default's escapes); the rest is taken as it is. */
const ESCAPES: Record<string, string> = { "\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b" };

/**
 * A line is read into a 4096-byte buffer (fgets): a longer one would be cut and its rest read as a line of its own.
 * Kept under it with room for the option's name.
 */
const MAX_VALUE_BYTES = 4000;

/**
 * A value for an option file's `name=value` line, as MariaDB's and MySQL's mysys (my_default: search_default_file_with_ext
 * and remove_end_comment, alike in both) read it: the line ends at a `#` outside quotes, blanks around the value are
 * dropped, one pair of matching quotes around it is removed, and `\\` `\"` `\'` `\n` `\t` `\r` `\b` `\s` are escapes.
 * So the value goes in double quotes with `\` and `"` escaped (a `#`, `'`, `;` or blank inside is then literal), and a
 * line break as `\n`. Proven by logging in with passwords of every printable character on both clients
 * (test/server/optionFile.test.ts).
 */
export function optionValue(value: string): string {
  if (value.includes("\0")) throw new Error("an option file value cannot hold a NUL character");
  if (Buffer.byteLength(value) > MAX_VALUE_BYTES) throw new Error(`an option file value is limited to ${MAX_VALUE_BYTES} bytes (the clients read a line into 4096)`);
  return `"${value.replace(/[\\"\n\r\t\b]/g, (c) => ESCAPES[c] ?? c)}"`;
}

export interface ClientOptions {
  user: string;
  password?: string;
  socket?: string;
  host?: string;
  port?: number;
}

/** A client option file's text (mode 0600 where written): passwords never go on a command line. */
export function clientOptions(options: ClientOptions): string {
  const lines = ["[client]", `user=${optionValue(options.user)}`];
  if (options.password) lines.push(`password=${optionValue(options.password)}`);
  if (options.socket) lines.push(`socket=${optionValue(options.socket)}`);
  if (options.host) lines.push(`host=${optionValue(options.host)}`);
  if (options.port) lines.push(`port=${options.port}`);
  return `${lines.join("\n")}\n`;
}
