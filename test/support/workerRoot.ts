// Each vitest worker of the tool's own tests has its own temp root below the run's (scripts/test.sh gives the run one):
// a test's sandboxes, stores and restores, and the servers whose command line names them, are found through it
// (sandboxServers, the leftover checks), so test files run side by side without seeing each other's live directories.
import { mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const slot = process.env.VITEST_POOL_ID ?? "1";
const base = process.env.RESTORETEST_TEST_ROOT;
// Only under a run root of its own: run without npm test, a worker keeps the temp dir it was given.
if (base && !tmpdir().startsWith(join(base, "w"))) {
  const root = join(base, `w${slot}`);
  mkdirSync(root, { recursive: true, mode: 0o700 });
  process.env.TMPDIR = root;
  // Each flavour's empty datadir made once per run and copied (src/hosts/sandbox.ts installDatadir): 0.3 s a copy
  // against 2.2 s for mariadb-install-db and 3.2 s for mysqld --initialize, for every sandbox the tests start.
  process.env.RESTORETEST_DATADIR_TEMPLATES ??= join(base, "datadir-templates");
}
