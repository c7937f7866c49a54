// The `local` host provider: restores into a sandbox directory on this machine and runs mariadbd as a child process.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { runCommand } from "../base/command.ts";
import { createWorkDir, newVerifierAccount, startServer, type StartedServer } from "./sandbox.ts";
import type { HostProvider, Target } from "./types.ts";
import { directorySize } from "../store/layout.ts";

export class LocalProvider implements HostProvider {
  readonly name = "local";
  constructor(private readonly options: { workDir?: string; startTimeoutMs?: number } = {}) {}

  async create(service: string): Promise<Target> {
    const work = createWorkDir(`restore-${service}`, this.options.workDir);
    const stagingDir = join(work.path, "staging");
    const datadir = join(work.path, "datadir");
    mkdirSync(stagingDir, { mode: 0o700 });
    let server: StartedServer | undefined;
    const startTimeoutMs = this.options.startTimeoutMs;
    return {
      description: `local sandbox ${work.path}`,
      thisHost: true,
      workDir: work.path,
      stagingDir,
      datadir,
      exec: (file, args, options) => runCommand(file, args, options),
      async putDirectory(localPath, remotePath, options) {
        // The copy's size is the source's, walked while cp runs rather than after it: 10,000 files took 40-100 ms.
        const copying = runCommand("cp", ["-a", "--reflink=auto", `${localPath}/.`, remotePath]);
        let bytes: number;
        try {
          bytes = directorySize(localPath);
        } finally {
          await copying;
        }
        options?.onProgress?.(bytes);
        return bytes;
      },
      async startServer(flavor, options = {}) {
        server = await startServer({
          ...(flavor ? { flavor } : {}),
          extraArgs: [...(options.extraArgs ?? [])],
          dir: work.path,
          datadir,
          tcp: false,
          verifier: options.verifier ?? newVerifierAccount(),
          settings: options.settings,
          defaultsFile: options.defaultsFile,
          readOnly: true,
          startTimeoutMs,
        });
        return server;
      },
      async destroy() {
        await server?.stop();
        await work.remove();
      },
    };
  }
}
