// Values that break option files and shell lines when they are not quoted and escaped: for every place a secret or a
// path travels.

/** A directory name with what breaks option files and shell lines: blank, `#`, quotes, `\`, `;`, `$`, backtick, non-ASCII. */
export const HOSTILE_NAME = `h #'"\\;$\`ü`;

const PRINTABLE = Array.from({ length: 0x7f - 0x20 }, (_, i) => String.fromCharCode(0x20 + i));

/**
 * Every printable ASCII character in one password; each one that is not a letter or digit at the start, in the middle
 * and at the end of one (blanks and quotes at the ends, a trailing `\`, a leading `#`); and what else a password
 * manager or a person types.
 */
export const HOSTILE_PASSWORDS: readonly string[] = [
  ...PRINTABLE.filter((c) => !/[A-Za-z0-9]/.test(c)).map((c) => `${c}a${c}b${c}`),
  PRINTABLE.join(""),
  "pässwörd€😀",
  "voilà", // UTF-8 ends in 0xA0, a blank in latin1
  "line1\nline2",
  "tab\there\rcr\bbs",
  "\\n\\s\\t\\\\\\'\\\"", // the escapes' own spelling, literally
  '"quoted"',
  "'single'",
  "trailing\\",
  " # ; = [client] ",
];
