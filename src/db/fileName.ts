// How MariaDB and MySQL write an identifier as a file name (their `filename` character set, the same code on both since
// MySQL 5.1), and back: MySQL 8+ has the character set but no longer lets SQL name it, so names are decoded here.
//
// The encoding: [A-Za-z0-9_] as they are; a letter of the ranges below as `@` and two characters of [0-9@A-Za-z] (`é`
// is `@0p`); any other character as `@` and its UTF-16 code in four lower-case hex digits (`-` is `@002d`, `日` is
// `@65e5`). No two-character code is two hex digits, so a decoder tries the two-character code first, as the servers do.

/**
 * The two-character codes, by range: each range's first code point, then two characters per code point of the range
 * (`..`: none, the code point is written in hex). Read from MariaDB 10.11 (every code point of the Basic Multilingual
 * Plane through `CONVERT(… USING filename)`: 1,510 two-character codes, all in these ranges; test/db/fileName.test.ts
 * checks every one against the server again, and MySQL 9.7's file names against them).
 */
const CODES: readonly (readonly [number, string])[] = [
  [0x00c0,
    "0G0H0I0J0K0L0M0N0O0P0Q0R0S0T0U0V0W0X0Y0Z1G1H1I..1K1L1M1N1O1P1Q1j0g0h0i0j0k0l0m0n0o0p0q0r0s0t0u0v0w0x0y0z1g1h1i.." +
    "1k1l1m1n1o1p1q1r1S1s1T1t1U1u1V1v1W1w1X1x1Y1y1Z1z2G2g2H2h2I2i2J2j2K2k2L2l2M2m2N2n2O2o2P2p2Q2q2R2r2S2s2T2t2U2u2V2v" +
    "..2w2X2x2Y2y2Z2z3g3H3h3I3i3J3j3K3k3L3l3M3m3N3n3O3o3p3Q3q3R3r3S3s3T3t3U3u3V3v3W3w3X3x3Y3y3Z3z4G4g4H4h4I4i4J4j4K4k" +
    "4L4l4M4m4N4n4O4o4P4p4Q4q4R4r4S4s1R4T4t4U4u4V4v4wgaQfHahaIaiaRfJajaTfUfKakalaZbWfYfMamaJgMgnaSgRgOaoapaqaYgHhraKh" +
    "SasaTataUauaVhVavaYhwaxaYayaJiZazaLiMiGbgbHbhbTiIbibjbkbNbnbmb..........Ob..obPb..pbQb..qbRbrbSbsbTbtbUbubVbvbWb" +
    "wbXbxbYbybzbGcgcHchcIcicJcjcKckcLclcMcmcNcncOcocpcQc..qcRcrcNa..ScscTctcUcucVcvcWcwcXcxcYcycZczcGdgdHdhdIdidJdjd" +
    "KdkdLdldMdmdNdndOdodPdpdQdqdRdrdRasdTdtdUdudVdvdWdwdXdxdYdydZdzdGegeHeheiejekelemeneOePepePaQereseVi............" +
    "................nfofpfqfrfsftfufvfwfxfyfzfgghgigjgkglgmgngogpgqgrgsgtgugvgwgxgygzgghhhihjhkhlhmhnhohphqhrhshthuh" +
    "vhwhxhyhzhgihiiijikiliminioipiqirisitiuiviwixiyizigjhjijjjkjljmjnjojpjqjrjsjtjujvjwjxjyjzjgkhkik................" +
    "................................................................................................................" +
    "................................................................................................................" +
    "................................................................................................................" +
    "............................................................................6G..6H6I6J..7S..7T7U5y6L7W6N6O6P6Q6R" +
    "7X6T8W6V6W6X6Y6Z8I7H..8Y7K7L8H7N7O7P7Q7R6g6h6i6j6k6l6m6n6o6p6q6r6s6t6u6v6w6x6y6z7g7h7i7j7k7l7m7n7o7p7q7r7s7t7u.." +
    "7w7x7Y7Z8G8h8i8j..8k8L8l8M8m8N8n8O8o8P8p8Q8q8R8r8S8s8T8t8U8u8V8v8w8x8y8z..9g9h..9i....9j9k9L9M9NS1T1U1V1W1X1Y1Z1" +
    "G2H2I2J2K2L2M2N2G0H0I0J0K0L0M0N0O0P0Q0R0S0T0U0V0W0X0Y0Z0G1H1I1J1K1L1M1N1O1P1Q1R1g0h0i0j0k0l0m0n0o0p0q0r0s0t0u0v0" +
    "w0x0y0z0g1h1i1j1k1l1m1n1o1p1q1r1s1t1u1v1w1x1y1z1g2h2i2j2k2l2m2n2O2o2P2p2Q2q2R2r2S2s2T2t2U2u2V2v2W2w2X2x2Y2y2Z2z2" +
    "G3g3H3h3I3i3J3j3K3k3................M3m3N3n3O3o3P3p3Q3q3R3r3S3s3T3t3U3u3V3v3W3w3X3x3Y3y3Z3z3G4g4H4h4I4i4J4j4K4k4" +
    "L4l4M4m4N4n4O4o4P4p4Q4q4R4r4S4s4T4U4u4V4v4W4w4X4x4Y4y4Z4z4G5g5..I5i5J5j5K5k5L5l5M5m5N5n5O5o5P5p5Q5q5R5r5S5s5T5t5" +
    "U5u5V5v5W5w5X5x5Y5y5Z5z5G6g6H6h6I6i6............P6p6Q6q6R6r6S6s6T6t6U6u6V6v6W6w6................................" +
    "..................................H7I7J7K7L7M7N7O7P7Q7R7S7T7U7V7W7X7Y7Z7G8H8I8J8K8L8M8N8O8P8Q8R8S8T8U8V8W8X8...." +
    "..................h7i7j7k7l7m7n7o7p7q7r7s7t7u7v7w7x7y7z7g8h8i8j8k8l8m8n8o8p8q8r8s8t8u8v8w8x8...................." +
    "................................................................................................................" +
    "................................................................................................................"
  ],
  [0x1e00,
    "GlglHlhlIlilJljlKlklLlllMlmlNlnlOlolPlplQlqlRlrlSlslTltlUlulVlvlWlwlXlxlYlylZlzlGmgmHmhmImimJmjmKmkmLmlmMmmmNmnm" +
    "OmomPmpmQmqmRmrmSmsmTmtmUmumVmvmWmwmXmxmYmymZmzmGngnHnhnIninJnjnKnknLnlnMnmnNnnnGponPnpnQnqnRnrnSnsnTntnUnunVnvn" +
    "WnwnXnxnYnynZnznGogoHohoIoioJojoKokoLoloMomoNonoOoooPopoQoqoRoroSosoTotoUouovowoxoyozogp........LplpMpmpNpnpOpop" +
    "PpppQpqpRprpSpspTptpUpupVpvpWpwpXpxpYpypZpzpGqgqHqhqIqiqJqjqKqkqLqlqMqmqNqnqOqoqPqpqQqqqRqrqSqsqTqtqUquqVqvqWqwq" +
    "XqxqYqyqZqzqGrgrHrhrIrirJrjrKrkrLrlrMrmrNrnrOrorPrpr............gshsisjskslsmsnsGsHsIsJsKsLsMsNsospsqsrsssts...." +
    "OsPsQsRsSsTs....yszsgthtitjtktltYsZsGtHtItJtKtLtmtntotptqtrtstttMtNtOtPtQtRtStTtutvtwtxtytzt....UtVtWtXtYtZt...." +
    "kulumunuoupuquru..Lu..Nu..Pu..RuwuxuyuzugvhvivjvWuXuYuZuGvHvIvJvkvlvmvnvovpvqvrvsvtvuvvvwvxv....gwhwiwjwkwlwmwnw" +
    "GwHwIwJwKwLwMwNwowpwqwrwswtwuwvwOwPwQwRwSwTwUwVwwwxwywzwgxhxixjxWwXwYwZwGxHxIxJxkxlxmxnxox..qxrxKxLxKvLvNx......" +
    "....sxtxux..wxxxMvNvOvPvTx......yxzxgyhy....kylyYxZxQvRv........nyoypyqyrysytyuyNyOyUvVvSy..........xyyy....hziz" +
    "SvTvWvXvYy......"
  ],
  [0x2160,
    "G9H9I9J9K9L9M9N9O9P9Q9R9S9T9U9V9g9h9i9j9k9l9m9n9o9p9q9r9s9t9u9v9"
  ],
  [0x24b0,
    "............@A@B@C@D@E@F@G@H@I@J@K@L@M@N@O@P@Q@R@S@T@U@V@W@X@Y@Z@a@b@c@d@e@f@g@h@i@j@k@l@m@n@o@p@q@r@s@t@u@v@w@x" +
    "@y@z............"
  ],
  [0xff20,
    "..A@B@C@D@E@F@G@H@I@J@K@L@M@N@O@P@Q@R@S@T@U@V@W@X@Y@Z@............a@b@c@d@e@f@g@h@i@j@k@l@m@n@o@p@q@r@s@t@u@v@w@" +
    "x@y@z@.........."
  ],
];

/** Code point → its two characters after `@`. */
const ENCODE = new Map<number, string>();
/** Two characters after `@` → code point. */
const DECODE = new Map<string, number>();
for (const [first, codes] of CODES) {
  for (let i = 0; i * 2 < codes.length; i++) {
    const code = codes.slice(i * 2, i * 2 + 2);
    if (code === "..") continue;
    ENCODE.set(first + i, code);
    DECODE.set(code, first + i);
  }
}

const SAFE = /^[A-Za-z0-9_]$/;
const HEX4 = /^[0-9a-f]{4}$/;

/** `name` as the server names its files (`order-items` → `order@002ditems`, `café` → `caf@0p`). */
export function encodeFileName(name: string): string {
  let out = "";
  for (const ch of name) {
    const code = ch.codePointAt(0) as number;
    if (SAFE.test(ch)) out += ch;
    // Identifiers are in the Basic Multilingual Plane on both servers: a character beyond it has no file name.
    else if (code > 0xffff) throw new Error(`${JSON.stringify(name)}: ${ch} (U+${code.toString(16).toUpperCase()}) has no file name: identifiers stop at U+FFFF`);
    else out += `@${ENCODE.get(code) ?? code.toString(16).padStart(4, "0")}`;
  }
  return out;
}

/**
 * The identifier a file name of the server stands for (`order@002ditems` → `order-items`), or undefined when it is not
 * one the server writes (a stray `@`, a character outside [A-Za-z0-9_@]): such a file is not a table's.
 */
export function decodeFileName(file: string): string | undefined {
  let out = "";
  for (let i = 0; i < file.length; ) {
    const ch = file[i] as string;
    if (SAFE.test(ch)) {
      out += ch;
      i += 1;
      continue;
    }
    if (ch !== "@") return undefined;
    const two = DECODE.get(file.slice(i + 1, i + 3));
    if (two !== undefined) {
      out += String.fromCharCode(two);
      i += 3;
      continue;
    }
    const hex = file.slice(i + 1, i + 5);
    if (!HEX4.test(hex)) return undefined;
    out += String.fromCharCode(Number.parseInt(hex, 16));
    i += 5;
  }
  return out;
}
