// The seam between the restore pipeline and where a restore happens: a provider creates a Target, a Target is destroyed.
import type { CommandOptions, CommandResult } from "../base/command.ts";
import type { ServerFlavor } from "../server/flavor.ts";
import type { StartedServer, VerifierAccount } from "./sandbox.ts";

/** How a restored server starts: the service's settings and the account it is verified through. */
export interface RestoredServerOptions {
  /** The source's settings as startup options (from the baseline). */
  settings?: readonly string[];
  /** restore.optionsFile: the service's own option file on the restore host, instead of `settings`. */
  defaultsFile?: string;
  /** Made at start by --init-file; default a new one. */
  verifier?: VerifierAccount;
  /** Appended last (the fault catalog starts a server that differs from the source). */
  extraArgs?: readonly string[];
}

/** A throwaway place to restore into. Everything it holds is production data: destroy() removes all of it. */
export interface Target {
  /** Human-readable, for logs and reports (never holds credentials). */
  description: string;
  /** The target's own directory: everything of this restore lives below it and goes with destroy(). */
  workDir: string;
  /** Where a logical dump is copied before it is loaded. */
  stagingDir: string;
  /**
   * The target is this host (the local provider): a command run on it may read the store and the backup key, so a
   * stream backup is unpacked by a pipeline that reads the stored file itself, without passing through this process.
   */
  thisHost?: boolean;
  /** Where the restored server's data lives: a physical backup is copied here and prepared in place. */
  datadir: string;
  /** Run a program on the target. */
  exec(file: string, args: readonly string[], options?: CommandOptions): Promise<CommandResult>;
  /** Copy a local directory tree onto the target; returns bytes copied. */
  putDirectory(localPath: string, remotePath: string, options?: { onProgress?: (bytes: number) => void }): Promise<number>;
  /**
   * Start the restored server on `datadir` as the service starts: its grant tables loaded, the source's settings (or
   * the service's option file), and inert on top (no network, read-only, no replication, no events). `flavor`: the
   * server of the backup's own flavour (mysqld for an xtrabackup backup); default MariaDB's.
   */
  startServer(flavor?: ServerFlavor, options?: RestoredServerOptions): Promise<StartedServer>;
  /** Stop the server and remove every file of the restore. Idempotent; also runs on Ctrl-C. */
  destroy(): Promise<void>;
  /** User hooks run to make (and later remove) this target, with their output: for the report. Filled as they run. */
  hookRuns?: readonly HookRun[];
}

/** One run of a user hook (the `command` provider's create, configure or destroy). */
export interface HookRun {
  hook: "create" | "configure" | "destroy";
  /** As written in services.yaml, secrets masked. */
  command: string;
  exitCode: number | undefined;
  timedOut: boolean;
  durationMs: number;
  /** Secrets masked; long output keeps its end. */
  stdout: string;
  stderr: string;
}

export interface HostProvider {
  name: string;
  create(service: string): Promise<Target>;
}
