// The nightly `archive` stage: after the table tests, the restored server is rolled forward from the baseline's
// position P through the service's binlog archive to its newest whole transaction, so that the promise "we can
// recover to a minute ago" is exercised every night: the archive is contiguous from the backup, it applies, and the
// recovery point is what actually applied (not the backup's age).
import { join, resolve } from "node:path";
import { binlogArchiveDir } from "../store/layout.ts";
import { listArchive } from "../store/archive.ts";
import type { Position } from "../binlog/position.ts";
import { backupTool } from "../backup/tool.ts";
import type { Service } from "../config/schema.ts";
import { CommandError, shellQuote } from "../base/command.ts";
import { readChecksums } from "../store/checksums.ts";
import { plainCopies, type PlainCopies } from "../store/plainCopies.ts";
import type { Restored } from "./pipeline.ts";
import { binlogSequence, comparePositions } from "../binlog/replay.ts";
import { advanceGtid, walkBinlog, type BinlogWalk } from "../binlog/events.ts";

export class ArchiveError extends Error {
  override name = "ArchiveError";
  /** What did apply before the failure (a disaster's restore would get this far). */
  applied?: ArchiveApplied;
}

/** One archived file of the roll-forward, and how much of it applies. */
export interface ArchiveFile {
  name: string;
  /** Where applying starts (P in the first file, else 4: after the magic number). */
  from: number;
  walk: BinlogWalk;
}

export interface ArchiveContinuity {
  /** The baseline's position P, where the roll-forward starts. */
  from: Position;
  files: ArchiveFile[];
  /** Every gap, cut-short file and damaged event, named; empty when contiguous. */
  problems: string[];
}

export interface ArchiveApplied {
  /** Where the restored server now stands in the source's binlog (a transaction boundary; GTID position on MariaDB). */
  appliedTo: Position;
  /** The newest applied transaction's commit time (ms since the epoch); the baseline's when nothing newer applied. */
  newestEventAt: number | null;
  files: number;
  bytes: number;
  durationMs: number;
  /** What was left unapplied and why: the file the copier is writing, past its last whole transaction. */
  note?: string;
}

/** Does the service have a binlog archive to roll forward through? */
export function hasArchive(service: Service): boolean {
  return listArchive(binlogArchiveDir(resolve(service.backup.store), service.name)).length > 0;
}

/**
 * Where a roll-forward stops short of the archive's newest event: another backup's position P (a transaction
 * boundary of the source's binlog), and what to call it in messages ("backup 20260102T030405Z").
 */
export interface ArchiveStop {
  at: Position;
  name: string;
}

const baseName = (file: string) => file.replace(/\.\d+$/, "");
const binlogName = (prefix: string, n: number) => `${prefix}.${String(n).padStart(6, "0")}`;

/**
 * Which archived files take P to the archive's newest transaction (or to `stop`), and what is wrong with them: a
 * missing file (named with the files on both sides), a closed file cut short (it must end with the rotate event that
 * closes a binlog), a file cut off mid-event that is not the newest, the first damaged event (CRC32) with its
 * file:position, and a stop the archive does not reach or that is not a transaction boundary in it.
 */
export function checkContinuity(dir: string, from: Position, plainDir = dir, stop?: ArchiveStop): ArchiveContinuity {
  // Only the source's binlog base name: files of another (an earlier log_bin name) are not its sequence.
  const prefix = baseName(from.file);
  const names = listArchive(dir).filter((n) => baseName(n) === prefix);
  const start = binlogSequence(from.file);
  const behind = stop && stopBehind(from, stop);
  if (behind) return { from, files: [], problems: [behind] };
  const files = names.filter((n) => binlogSequence(n) >= start && (!stop || binlogSequence(n) <= binlogSequence(stop.at.file)));
  const problems: string[] = [];
  const first = files[0];
  if (!first || binlogSequence(first) !== start) {
    problems.push(
      `the archive does not hold ${from.file}, where the backup's data ends (${from.file}:${from.position}): ` +
        (names.length === 0 ? "it is empty" : `it holds ${names[0]} to ${names.at(-1)}`) +
        "; binlog copying must start at the oldest kept backup's position (restoretest binlogs)",
    );
    return { from, files: [], problems };
  }
  const out: ArchiveFile[] = [];
  for (const [i, name] of files.entries()) {
    const previous = files[i - 1];
    if (previous && binlogSequence(name) !== binlogSequence(previous) + 1) {
      problems.push(gapBetween(previous, name));
      break;
    }
    const fromPosition = i === 0 ? from.position : 4;
    const last = stop?.at.file === name ? stop : undefined;
    const walk = walkBinlog(join(plainDir, name), fromPosition, last ? { to: last.at.position } : {});
    out.push({ name, from: fromPosition, walk });
    const problem = fileProblem(name, walk, files[i + 1], last);
    if (problem) {
      problems.push(problem);
      break;
    }
  }
  const reached = out.at(-1)?.name;
  if (stop && problems.length === 0 && reached !== stop.at.file) problems.push(stopNotReached(stop, reached ?? from.file, names));
  return { from, files: out, problems };
}

/** A stop before the start, or in another binlog sequence: no roll-forward leads there. */
function stopBehind(from: Position, stop: ArchiveStop): string | undefined {
  const at = `${stop.at.file}:${stop.at.position}`;
  if (baseName(stop.at.file) !== baseName(from.file)) {
    return `${stop.name} is at ${at}, in another binlog sequence than ${from.file}:${from.position}: the source's binlogs were renamed or reset between the two backups, and no archive leads from one to the other`;
  }
  if (comparePositions(stop.at, from) < 0) return `${stop.name} is at ${at}, before ${from.file}:${from.position}: a roll-forward cannot go back to it`;
  return undefined;
}

function gapBetween(previous: string, next: string): string {
  const missing: string[] = [];
  for (let n = binlogSequence(previous) + 1; n < binlogSequence(next); n++) missing.push(binlogName(baseName(next), n));
  return `gap in the archive: ${missing.join(", ")} ${missing.length === 1 ? "is" : "are"} missing between ${previous} and ${next}`;
}

/** The archive's files end before the stop's file: a gap up to it (when later files exist), or an archive that stops short. */
function stopNotReached(stop: ArchiveStop, reached: string, names: readonly string[]): string {
  const after = names.find((n) => binlogSequence(n) > binlogSequence(stop.at.file));
  if (after) return gapBetween(reached, after);
  return `the archive ends with ${reached}, before ${stop.at.file}:${stop.at.position}, where ${stop.name} is: it does not reach it (is restoretest binlogs running?)`;
}

/** What is wrong with one walked file: damaged, cut off though a file follows, or (the stop's file) not reaching the stop. */
function fileProblem(name: string, walk: BinlogWalk, following: string | undefined, stop: ArchiveStop | undefined): string | undefined {
  if (walk.damaged) return `${name}:${walk.damaged.position}: damaged event (type ${walk.damaged.type}, its CRC32 checksum does not hold): nothing after it can be applied`;
  if (stop) {
    const at = `${stop.at.file}:${stop.at.position}`;
    if (!walk.stop) return `${name} ends at byte ${walk.completeBytes}, before ${at}, where ${stop.name} is: the archive does not reach it (its copy was cut short)`;
    if (walk.stop.position !== stop.at.position) {
      return `${at}, where ${stop.name} is, is not an event boundary in the archive (the event there ends at ${walk.stop.position}): this archive is not the binlog that backup was taken from`;
    }
    if (walk.stop.inTransaction) return `${at}, where ${stop.name} is, falls inside a transaction in the archive: this archive is not the binlog that backup was taken from`;
    return undefined;
  }
  if (following && walk.endsMidEvent) return `${name} is cut off in the middle of an event at byte ${walk.completeBytes}, though ${following} follows it: its copy was truncated`;
  if (following && !walk.closed) return `${name} ends at byte ${walk.completeBytes} without the rotate event that closes a binlog file, though ${following} follows it: it was cut short`;
  return undefined;
}

export class ArchiveStage {
  private continuity?: Promise<ArchiveContinuity>;
  private applied?: Promise<ArchiveApplied>;
  /** The files from P's on, plain (sealed ones decoded and checked): walked by `contiguous`, applied by `apply`. */
  private plain?: PlainCopies;

  /** `stop`: roll forward to another backup's position instead of the archive's newest event (`archive › <older> + archive = <next>`). */
  constructor(
    private readonly service: Service,
    private readonly log: (line: string) => void = () => undefined,
    private readonly stop?: ArchiveStop,
  ) {}

  private get dir(): string {
    return binlogArchiveDir(resolve(this.service.backup.store), this.service.name);
  }

  /** `archive › contiguous from the backup`: throws naming every problem. */
  contiguous(restored: Restored): Promise<ArchiveContinuity> {
    return (this.continuity ??= Promise.resolve().then(async () => {
      const from = restored.manifest.position;
      if (!from) throw new ArchiveError("this backup records no binlog position (binary logging was off on its source): nothing can be rolled forward from it");
      const last = this.stop ? binlogSequence(this.stop.at.file) : Infinity;
      const names = listArchive(this.dir).filter((n) => baseName(n) === baseName(from.file) && binlogSequence(n) >= binlogSequence(from.file) && binlogSequence(n) <= last);
      // A sealed file that is damaged, or a key that does not open it, is named here, before anything is applied.
      this.plain = await plainCopies(this.dir, names, { checksums: readChecksums(this.dir), keyFile: this.service.backup.encrypt?.keyFile });
      return checkContinuity(this.dir, from, this.plain.dir, this.stop);
    }));
  }

  /**
   * `archive › applies to its newest event`: roll the restored server forward, file by file, to the newest whole
   * transaction the archive holds, or to the stop (up to a damaged event or a gap, when there is one: as far as a
   * disaster could get). Throws naming the first event that failed (file:position, the server's error), after applying
   * what came before it.
   */
  apply(restored: Restored): Promise<ArchiveApplied> {
    return (this.applied ??= this.doApply(restored).finally(() => this.plain?.remove()));
  }

  private async doApply(restored: Restored): Promise<ArchiveApplied> {
    const continuity = await this.contiguous(restored);
    const started = performance.now();
    const { appliedTo, newestEventAt, files, bytes } = await this.applyFiles(restored, continuity);
    const newest = continuity.files.at(-1);
    const note =
      !this.stop && newest && newest.walk.endsMidEvent && continuity.problems.length === 0
        ? `${newest.name} is still being written (it ends inside an event at byte ${newest.walk.completeBytes}): applied up to its last whole transaction`
        : undefined;
    const result: ArchiveApplied = { appliedTo, newestEventAt, files, bytes, durationMs: performance.now() - started, ...(note ? { note } : {}) };
    // Later stages (rejoin) go on from here: the restored server now holds what the archive held.
    restored.rolledForward = appliedTo;
    if (newestEventAt !== null && !this.stop) {
      restored.restorable = { at: new Date(newestEventAt), source: "binlog archive, replayed" };
      restored.rpoSeconds = Math.max(0, Math.round((Date.now() - newestEventAt) / 1000));
    }
    if (continuity.problems.length > 0) {
      const target = this.stop ? `to ${this.stop.at.file}:${this.stop.at.position}, where ${this.stop.name} is` : "to the archive's newest event";
      const error = new ArchiveError(`applied up to ${appliedTo.file}:${appliedTo.position}, not ${target}:\n${continuity.problems.map((p) => `  ${p}`).join("\n")}`);
      error.applied = result;
      throw error;
    }
    return result;
  }

  /** Each file up to its last whole transaction (before the stop), in order; where the restored server then stands. */
  private async applyFiles(restored: Restored, continuity: ArchiveContinuity): Promise<{ appliedTo: Position; newestEventAt: number | null; files: number; bytes: number }> {
    const tool = backupTool(restored.backup.meta.tool, this.service.backup.toolchain, restored.manifest.server.flavor);
    const client = restored.server.clientOptionFile;
    if (!client) throw new ArchiveError(`the restored server on ${restored.target.description} has no client option file`);
    // Each file applies up to its last whole transaction; one with none after where it starts has nothing to apply.
    const plan = continuity.files.flatMap((f) => {
      const last = f.walk.lastTransaction;
      return last && last.position > f.from ? [{ ...f, last }] : [];
    });
    let appliedTo: Position = continuity.from;
    let newestEventAt: number | null = null;
    let bytes = 0;
    if (plan.length > 0) {
      // Just the files to apply, plain, in one copy to the target.
      const local = await plainCopies(this.plain?.dir ?? this.dir, plan.map((f) => f.name));
      const remote = `${restored.target.workDir}/archive`;
      try {
        await restored.target.putDirectory(local.dir, remote);
      } finally {
        await local.remove();
      }
      let gtid = continuity.from.gtid;
      for (const [i, f] of plan.entries()) {
        const stop = f.last.position;
        const path = `${remote}/${f.name}`;
        const binlog = `${shellQuote(tool.flavor.binlog)} --start-position=${f.from} --stop-position=${stop} ${shellQuote(path)}`;
        // The target's copy ends where applying stops: mariadb-binlog reads the event at --stop-position to judge it,
        // and one cut off there (the copier's newest file, a truncated copy) failed the whole file ("Event truncated",
        // 2 runs in 9 of the truncated-file test).
        const apply = `truncate -s ${stop} ${shellQuote(path)} && ${binlog} | ${shellQuote(tool.flavor.client)} --defaults-file=${shellQuote(client)} --binary-mode`;
        this.log(`${this.service.name}: rolling forward through ${f.name} (${i + 1}/${plan.length}, ${stop - f.from} bytes)`);
        try {
          await restored.target.exec("bash", ["-c", `set -o pipefail; ${apply}`], { timeoutMs: this.service.restore.timeout });
        } catch (error) {
          throw await this.failedEvent(restored, error, f.name, binlog);
        }
        if (f.last.gtid) gtid = advanceGtid(gtid, [f.last.gtid]);
        appliedTo = { file: f.name, position: stop, gtid };
        newestEventAt = f.last.time * 1000;
        bytes += stop - f.from;
      }
    }
    // MySQL keeps the GTIDs it applied in gtid_executed: its position is what the server now holds.
    if (restored.manifest.server.flavor === "mysql" && appliedTo.gtid) {
      const [row] = await restored.db.query<{ gtid: string }>("SELECT @@GLOBAL.gtid_executed AS gtid");
      appliedTo = { ...appliedTo, gtid: String(row?.gtid ?? "").replace(/\s+/g, "") };
    }
    return { appliedTo, newestEventAt, files: plan.length, bytes };
  }

  /** The first event that failed: its file:position (the client's error line mapped to mysqlbinlog's `# at` mark) and the server's error. */
  private async failedEvent(restored: Restored, error: unknown, file: string, binlog: string): Promise<ArchiveError> {
    const stderr = error instanceof CommandError ? error.stderrTail : (error as Error).message;
    const line = /ERROR \d+ \([\w\d]+\) at line (\d+)/.exec(stderr)?.[1];
    let position = "";
    if (line) {
      const found = await restored.target
        .exec("bash", ["-c", `${binlog} | head -n ${Number(line)} | grep -o '^# at [0-9]*' | tail -n 1`], { timeoutMs: 300_000 })
        .catch(() => undefined);
      position = /# at (\d+)/.exec(found?.stdout ?? "")?.[1] ?? "";
    }
    const error_ = stderr.split("\n").find((l) => /^ERROR/.test(l.trim()))?.trim() ?? stderr.trim().split("\n").at(-1) ?? "";
    return new ArchiveError(
      `the archive does not apply: the event at ${file}${position ? `:${position}` : ""} failed on the restored server: ${error_}\n` +
        "the events before it applied; the source's binlog and this archive differ there (a copy of another server's binlog, or one written past a failover?)",
    );
  }
}
