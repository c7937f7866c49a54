// A source that keeps being written to, for tests of consistency and of backup chains: a write load and a "real server" service.
import { parseServices } from "../../src/config/load.ts";
import type { Service } from "../../src/config/schema.ts";
import type { Db } from "../../src/db/connection.ts";
import type { SeededSource } from "../../src/hosts/sourceSandbox.ts";
import { serverServiceYaml } from "./services.ts";

/** A bounded write load: inserts (firing the MyISAM-writing trigger), updates, deletes and direct MyISAM writes. */
export class WriteLoad {
  private stopped = false;
  writes = 0;
  private done: Promise<void>;
  /** `pauseMs` between rounds leaves the cores to the backups and restores under test. */
  constructor(db: Db, maxMs = 120_000, pauseMs = 0) {
    const deadline = Date.now() + maxMs;
    this.done = (async () => {
      let i = 0;
      while (!this.stopped && Date.now() < deadline) {
        i++;
        await db.query("INSERT INTO shop.orders (customer_id, placed_at, note) VALUES (?, '2026-06-01 00:00:00', ?)", [1 + (i % 2000), `load ${i}`]);
        await db.query("UPDATE shop.customers SET balance = balance + 1 WHERE id = ?", [1 + ((i * 7) % 2000)]);
        if (i % 3 === 0) await db.query("DELETE FROM shop.orders WHERE note = ? LIMIT 1", [`load ${i - 2}`]);
        await db.query("REPLACE INTO shop.audit (id, what) VALUES (?, ?)", [500_000 + (i % 50), `direct ${i}`]);
        this.writes += 4;
        if (pauseMs > 0) await new Promise((r) => setTimeout(r, pauseMs));
      }
    })();
  }
  async stop(): Promise<number> {
    this.stopped = true;
    await this.done;
    return this.writes;
  }
}

/** A service whose source is a running sandbox reached like a real server; `backup` lines go under `backup:`. */
export function serverService(name: string, source: SeededSource, store: string, consistency: string, backup: string[] = []): Service {
  const yaml = serverServiceYaml(name, source.server, store, [`consistency: ${consistency}`, ...backup]);
  const [service] = parseServices(yaml, `${store}/services.yaml`, { SOURCE_PASSWORD: source.server.password });
  if (!service) throw new Error("no service");
  return service;
}
