// A primary and a replica of it, both local sandboxes seeded alike: the backup-replica topology the tool is built for.
import type { Db } from "../../src/db/connection.ts";
import { startReplication } from "../../src/db/replication.ts";
import { applySeed, startSourceSandbox, type SeededSource } from "../../src/hosts/sourceSandbox.ts";
import { SMALL_SEED } from "./services.ts";

export interface ReplicaPair {
  primary: SeededSource;
  replica: SeededSource;
  primaryDb: Db;
  replicaDb: Db;
  /** Stop replication, close the connections, stop and remove both servers. */
  destroy(): Promise<void>;
}

/** Start both, seed both from the small seed, and replicate what comes after (user `repl`@127.0.0.1 with `replPassword`). */
export async function startReplicaPair(replPassword: string): Promise<ReplicaPair> {
  const primary = await startSourceSandbox("primary", undefined, 1);
  const replica = await startSourceSandbox("backup-replica", undefined, 2);
  // Both start from the same deterministic seed; replication carries what comes after.
  await applySeed(primary, SMALL_SEED, "shop");
  await applySeed(replica, SMALL_SEED, "shop");
  const primaryDb = await primary.server.connect();
  const replicaDb = await replica.server.connect();
  await primaryDb.query("CREATE USER repl@'127.0.0.1' IDENTIFIED BY ?", [replPassword]);
  await primaryDb.query("GRANT REPLICATION SLAVE ON *.* TO repl@'127.0.0.1'");
  const [status] = await primaryDb.query<{ File: string; Position: string }>("SHOW MASTER STATUS");
  await startReplication(
    replicaDb,
    { host: "127.0.0.1", port: primary.server.port!, user: "repl", password: replPassword },
    { file: status!.File, position: Number(status!.Position), gtid: "", useGtid: false },
    2,
  );
  return {
    primary,
    replica,
    primaryDb,
    replicaDb,
    async destroy() {
      await replicaDb.query("STOP SLAVE").catch(() => undefined);
      await primaryDb.close();
      await replicaDb.close();
      await replica.destroy();
      await primary.destroy();
    },
  };
}
