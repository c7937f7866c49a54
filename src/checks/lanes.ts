// Read lanes: one table's independent reads (its primary-key ranges) spread over every session that sees the same
// state and has nothing else to do: the snapshot transactions of one baseline, opened at one position (mydumper's
// technique), or the connections to a server nothing writes to.
import type { Queryable } from "../db/connection.ts";

interface Job {
  run: (session: Queryable) => Promise<void>;
}

/** Jobs submitted by one caller: queued at once, so helpers start on them while the caller's session is still busy. */
export interface Submitted<R> {
  /** Run what no helper has taken on `own` (the caller's session, now free), then wait for every job; results in order. */
  finish(own: Queryable): Promise<R[]>;
}

export class ReadLanes {
  private readonly queue: Job[] = [];
  private waiting: (() => void)[] = [];
  private closed = false;

  /** Queue `jobs`; helpers may take them from now on. A failed job fails finish() (after every job has settled). */
  submit<R>(jobs: readonly ((session: Queryable) => Promise<R>)[]): Submitted<R> {
    const results = new Array<R>(jobs.length);
    const mine: Job[] = [];
    const settled = jobs.map(
      (job, i) =>
        new Promise<void>((resolve, reject) => {
          mine.push({ run: (session) => job(session).then((r) => void (results[i] = r)).then(resolve, reject) });
        }),
    );
    // Each job settles exactly once (whoever runs it); the caller sees the first failure once all have settled.
    const all = Promise.allSettled(settled);
    this.queue.push(...mine);
    this.wake();
    return {
      finish: async (own) => {
        for (let job = this.take(mine); job; job = this.take(mine)) await job.run(own);
        for (const result of await all) if (result.status === "rejected") throw result.reason;
        return results;
      },
    };
  }

  /** Serve queued jobs on `session` until close(): a session whose own work is done, still reading the same state. */
  async help(session: Queryable): Promise<void> {
    for (;;) {
      const job = this.queue.shift();
      if (job) {
        await job.run(session);
        continue;
      }
      if (this.closed) return;
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
  }

  /** No more jobs will come: helpers return once the queue is empty. */
  close(): void {
    this.closed = true;
    this.wake();
  }

  /** The next of `mine` no helper has taken yet. */
  private take(mine: readonly Job[]): Job | undefined {
    const i = this.queue.findIndex((j) => mine.includes(j));
    return i < 0 ? undefined : this.queue.splice(i, 1)[0];
  }

  private wake(): void {
    const waiting = this.waiting;
    this.waiting = [];
    for (const resolve of waiting) resolve();
  }
}
