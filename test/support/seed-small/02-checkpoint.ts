// Let InnoDB write every dirty page and checkpoint, as on a long-running server: the backup then holds the data in
// its tablespace files rather than only in the redo log (so damage to a data page is not healed by prepare, nor by
// the redo recovery at a restored MySQL server's first start). The MySQL seed uses this file too.
import type { Connection } from "mysql2/promise";

/** Dirty pages, and how far the newest LSN is past the last checkpoint (MariaDB's status; MySQL's log_status). */
async function progress(conn: Connection): Promise<{ dirty: number; age: number }> {
  const [[dirty]] = (await conn.query("SHOW GLOBAL STATUS LIKE 'Innodb_buffer_pool_pages_dirty'")) as unknown as [{ Value: string }[]];
  const [[age]] = (await conn.query("SHOW GLOBAL STATUS LIKE 'Innodb_checkpoint_age'")) as unknown as [({ Value: string } | undefined)[]];
  if (age) return { dirty: Number(dirty?.Value), age: Number(age.Value) };
  const [[status]] = (await conn.query(
    "SELECT STORAGE_ENGINES->'$.InnoDB.LSN' - STORAGE_ENGINES->'$.InnoDB.LSN_checkpoint' AS age FROM performance_schema.log_status",
  )) as unknown as [{ age: number }[]];
  return { dirty: Number(dirty?.Value), age: Number(status?.age ?? NaN) };
}

export default async function seed(conn: Connection): Promise<void> {
  const [[before]] = (await conn.query("SELECT @@GLOBAL.innodb_max_dirty_pages_pct AS pct, @@GLOBAL.innodb_max_dirty_pages_pct_lwm AS lwm")) as unknown as [
    { pct: number; lwm: number }[],
  ];
  await conn.query("SET GLOBAL innodb_max_dirty_pages_pct_lwm = 0, GLOBAL innodb_max_dirty_pages_pct = 0");
  try {
    const deadline = Date.now() + 90_000;
    while (Date.now() < deadline) {
      const { dirty, age } = await progress(conn);
      // An age of a few bytes is the checkpoint record itself.
      if (dirty === 0 && age < 4096) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error("InnoDB did not checkpoint within 90 s");
  } finally {
    await conn.query("SET GLOBAL innodb_max_dirty_pages_pct = ?, GLOBAL innodb_max_dirty_pages_pct_lwm = ?", [before?.pct, before?.lwm]);
  }
}
