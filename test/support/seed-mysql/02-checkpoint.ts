// Let InnoDB write every dirty page and checkpoint, as on a long-running server: the clone then holds the data in its
// tablespace files rather than only in the redo log. Without it, recovery at the restored server's first start rebuilds
// freshly written pages from redo, and damage to a data page of the backup is healed instead of tested.
import type { Connection } from "mysql2/promise";

export default async function seed(conn: Connection): Promise<void> {
  const [[before]] = (await conn.query("SELECT @@GLOBAL.innodb_max_dirty_pages_pct AS pct, @@GLOBAL.innodb_max_dirty_pages_pct_lwm AS lwm")) as unknown as [
    { pct: number; lwm: number }[],
  ];
  await conn.query("SET GLOBAL innodb_max_dirty_pages_pct_lwm = 0, GLOBAL innodb_max_dirty_pages_pct = 0");
  try {
    const deadline = Date.now() + 90_000;
    while (Date.now() < deadline) {
      const [[dirty]] = (await conn.query("SHOW GLOBAL STATUS LIKE 'Innodb_buffer_pool_pages_dirty'")) as unknown as [{ Value: string }[]];
      // MySQL reports its checkpoint beside the current LSN in log_status (BACKUP_ADMIN, which root has).
      const [[status]] = (await conn.query(
        "SELECT STORAGE_ENGINES->'$.InnoDB.LSN' AS lsn, STORAGE_ENGINES->'$.InnoDB.LSN_checkpoint' AS checkpoint FROM performance_schema.log_status",
      )) as unknown as [{ lsn: number; checkpoint: number }[]];
      if (Number(dirty?.Value) === 0 && status && Number(status.lsn) - Number(status.checkpoint) < 4096) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error("InnoDB did not checkpoint within 90 s");
  } finally {
    await conn.query("SET GLOBAL innodb_max_dirty_pages_pct = ?, GLOBAL innodb_max_dirty_pages_pct_lwm = ?", [before?.pct, before?.lwm]);
  }
}
