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
    const causes: string[] = [];
    while (disposers.length > 0) {
      const entry = disposers.pop() as Disposer;
      try {
        await entry.dispose();
      } catch (error) {
        errors.push(error);
        causes.push(`  ${entry.name}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    draining = undefined;
    // Each resource and its cause in the message: an AggregateError prints only its own message where it is logged.
    if (errors.length > 0) throw new AggregateError(errors, `cleanup failed for ${errors.length} resource(s):\n${causes.join("\n")}`);
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
        .catch((error: unknown) => process.stderr.write(`restoretest: ${error instanceof Error ? error.message : String(error)}\n`))
        .finally(() => process.exit(signal === "SIGINT" ? 130 : 143));
    });
  }
}
