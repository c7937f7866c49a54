// Run alone (tsx): a command's stdout over ssh streamed into a file, then this process's peak RSS (VmHWM) printed, so
// that a test measures the memory of exactly the process that carried the stream. Argument: JSON
// { endpoint: SshEndpoint, script: string, file: string }; prints JSON { bytes, peakBytes }.
import { readFileSync, statSync } from "node:fs";
import { SshConnection, type SshEndpoint } from "../../src/hosts/sshConnection.ts";

const { endpoint, script, file } = JSON.parse(process.argv[2] as string) as { endpoint: SshEndpoint; script: string; file: string };
const conn = await SshConnection.open(endpoint);
try {
  const result = await conn.run(script, `ssh ${script}`, { outputFile: file, timeoutMs: 600_000 });
  if (result.stdout !== "") throw new Error("stdout was kept in memory as well as written to the file");
} finally {
  await conn.close();
}
const kb = Number(/^VmHWM:\s+(\d+) kB/m.exec(readFileSync("/proc/self/status", "utf8"))?.[1]);
process.stdout.write(`${JSON.stringify({ bytes: statSync(file).size, peakBytes: kb * 1024 })}\n`);
