// Let InnoDB write every dirty page and checkpoint, as on a long-running server: the backup then holds the data in
// its tablespace files rather than only in the redo log (so damage to a data page is not healed by prepare).
import type { Connection } from "mysql2/promise";

export default async function seed(conn: Connection): Promise<void> {
  const [[before]] = (await conn.query("SELECT @@GLOBAL.innodb_max_dirty_pages_pct AS pct, @@GLOBAL.innodb_max_dirty_pages_pct_lwm AS lwm")) as unknown as [
    { pct: number; lwm: number }[],
  ];
  await conn.query("SET GLOBAL innodb_max_dirty_pages_pct_lwm = 0, GLOBAL innodb_max_dirty_pages_pct = 0");
  try {
    const deadline = Date.now() + 90_000;
    while (Date.now() < deadline) {
      const [rows] = (await conn.query(
        "SHOW GLOBAL STATUS WHERE Variable_name IN ('Innodb_buffer_pool_pages_dirty', 'Innodb_checkpoint_age')",
      )) as unknown as [{ Variable_name: string; Value: string }[]];
      const value = (name: string) => Number(rows.find((r) => r.Variable_name === name)?.Value ?? NaN);
      // An age of a few bytes is the checkpoint record itself.
      if (value("Innodb_buffer_pool_pages_dirty") === 0 && value("Innodb_checkpoint_age") < 4096) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error("InnoDB did not checkpoint within 90 s");
  } finally {
    await conn.query("SET GLOBAL innodb_max_dirty_pages_pct = ?, GLOBAL innodb_max_dirty_pages_pct_lwm = ?", [before?.pct, before?.lwm]);
  }
}
