// restoretest's command line: the backup job for cron/Jenkins, and listings for people.
import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { runBackupJob } from "./backup/job.ts";
import { listBackups } from "./backup/store.ts";
import { findService, loadServices } from "./config/load.ts";
import { disposeAll } from "./lifecycle/disposers.ts";
import { maskSecrets } from "./lifecycle/secrets.ts";
import { configPath } from "./vitest/paths.ts";

const USAGE = `usage: restoretest <command> [service] [--config services.yaml]

commands:
  backup <service>   capture the baseline and take a full backup into the service's store
  list               list services and their stored backups
  verify <service>   restore the newest backup and verify it (runs: vitest run --project <service>)
`;

function parseArgs(argv: string[]): { command?: string; service?: string; config: string } {
  const rest: string[] = [];
  let config = configPath();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === "--config") config = resolve(argv[++i] ?? "");
    else if (arg.startsWith("--config=")) config = resolve(arg.slice("--config=".length));
    else rest.push(arg);
  }
  return { command: rest[0], service: rest[1], config };
}

const log = (line: string) => process.stdout.write(`${line}\n`);

async function main(argv: string[]): Promise<number> {
  const { command, service: name, config } = parseArgs(argv);
  if (!command || command === "help" || command === "--help") {
    process.stdout.write(USAGE);
    return command ? 0 : 2;
  }
  const services = loadServices(config);
  switch (command) {
    case "backup": {
      if (!name) throw new Error("backup needs a service name");
      const service = findService(services, name);
      const started = Date.now();
      const result = await runBackupJob(service, log);
      const tables = result.manifest.databases.reduce((n, d) => n + d.tables.length, 0);
      log(
        `OK backup ${service.name} ${result.meta.id}: ${tables} tables, ${(result.meta.bytes / 1e6).toFixed(1)} MB, ` +
          `position ${result.meta.position ? `${result.meta.position.file}:${result.meta.position.position}` : "none"}, ${((Date.now() - started) / 1000).toFixed(1)} s`,
      );
      return 0;
    }
    case "list": {
      for (const s of services) {
        const { complete, incomplete } = listBackups(resolve(s.backup.store), s.name);
        log(`${s.name}: ${complete.length} complete backup(s)${incomplete.length ? `, ${incomplete.length} incomplete` : ""}`);
        for (const b of complete) log(`  ${b.id}  ${(b.meta.bytes / 1e6).toFixed(1)} MB  ${b.meta.tool}`);
        for (const b of incomplete) log(`  ${b.id}  INCOMPLETE: ${b.reason}`);
      }
      return 0;
    }
    case "verify": {
      if (!name) throw new Error("verify needs a service name");
      findService(services, name);
      const run = spawnSync("npx", ["vitest", "run", "--project", name], {
        stdio: "inherit",
        env: { ...process.env, RESTORETEST_CONFIG: config },
      });
      return run.status ?? 1;
    }
    default:
      process.stderr.write(`unknown command "${command}"\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2))
  .then(async (code) => {
    await disposeAll();
    process.exitCode = code;
  })
  .catch(async (error: unknown) => {
    await disposeAll().catch(() => undefined);
    process.stderr.write(`restoretest: ${maskSecrets(error instanceof Error ? error.message : String(error))}\n`);
    process.exitCode = 1;
  });
