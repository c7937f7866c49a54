// Faults only MariaDB 11.8 can have, run after the shared MariaDB catalog (test/faults/catalog.ts) on 11.8: what 10.11
// has no syntax for.
import type { Fault } from "../faults/catalog.ts";

export const MARIADB118_FAULTS: Fault[] = [
  // SHOW CREATE ROUTINE (11.3+) is bit 39 of mysql.global_priv's `access`: named, not "privilege bit 39".
  {
    name: "global privilege new in 11.3 gained (SHOW CREATE ROUTINE)",
    restored: ["GRANT SHOW CREATE ROUTINE ON *.* TO 'shop_app'@'%'"],
    red: ["accounts"],
    message: /'shop_app'@'%': global privileges changed: gained SHOW CREATE ROUTINE$/m,
  },
];
