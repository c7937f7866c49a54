// The one place cleanup is registered: afterAll, process exit and SIGINT/SIGTERM all drain the same list.

type Disposer = { name: string; dispose: () => Promise<void> | void };

const disposers: Disposer[] = [];
let handlersInstalled = false;
let draining: Promise<void> | undefined;

/** Register cleanup to run whatever happens; returns a function that runs it now (once) and unregisters it. */
export function registerDisposer(name: string, dispose: () => Promise<void> | void): () => Promise<void> {
  installSignalHandlers();
  const entry: Disposer = { name, dispose };
  disposers.push(entry);
  let done: Promise<void> | undefined;
  return () => {
    done ??= (async () => {
      const i = disposers.indexOf(entry);
      if (i >= 0) disposers.splice(i, 1);
      await entry.dispose();
    })();
    return done;
  };
}

/** Run every registered disposer, newest first; errors are collected, never stop the others. */
export function disposeAll(): Promise<void> {
  draining ??= (async () => {
    const errors: unknown[] = [];
    while (disposers.length > 0) {
      const entry = disposers.pop() as Disposer;
      try {
        await entry.dispose();
      } catch (error) {
        errors.push(error);
      }
    }
    draining = undefined;
    if (errors.length > 0) throw new AggregateError(errors, `cleanup failed for ${errors.length} resource(s)`);
  })();
  return draining;
}

export function pendingDisposers(): string[] {
  return disposers.map((d) => d.name);
}

function installSignalHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.once(signal, () => {
      if (disposers.length > 0) process.stderr.write(`restoretest: ${signal} received, destroying ${disposers.length} restore resource(s)\n`);
      disposeAll()
        .catch((error: unknown) => process.stderr.write(`restoretest: cleanup error: ${String(error)}\n`))
        .finally(() => process.exit(signal === "SIGINT" ? 130 : 143));
    });
  }
}
