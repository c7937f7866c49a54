// Rebuilding a replica from a restore: where it starts, whether the source still has what it needs, and what a
// replication error means, in words a DBA acts on. Pure functions here; the stage (stage.ts) runs them.
import { randomInt } from "node:crypto";
import type { Manifest } from "../store/manifest.ts";
import type { Position } from "../binlog/position.ts";
import type { RejoinSettings } from "../config/schema.ts";
import { formatDuration } from "../base/duration.ts";
import type { ReplicaStatus, ReplicationStart } from "../db/replication.ts";
import { binlogSequence, comparePositions } from "../binlog/replay.ts";

/** The classic reasons a rebuilt replica does not join, each with its own message. */
export type RejoinFailure =
  | "no-position"
  | "purged-binlogs"
  | "position-unknown"
  | "gtid-rejected"
  | "access-denied"
  | "duplicate-server-id"
  | "unreachable"
  | "diverged"
  | "not-started"
  | "not-caught-up"
  | "inconsistent"
  | "unsupported";

export class RejoinError extends Error {
  override name = "RejoinError";
  constructor(
    readonly failure: RejoinFailure,
    message: string,
  ) {
    super(message);
  }
}

export interface StartPoint extends ReplicationStart {
  /** What the position is, for messages: the baseline's position, or where the backup replica's SQL thread stood. */
  origin: string;
}

export const describePosition = (p: { file: string; position: number }): string => `${p.file}:${p.position}`;

/**
 * Where the rebuilt replica starts. From the service's own source: the baseline's position P, which the restore
 * replayed to. From another source (`rejoin.source`) of a backup taken on a paused replica: where that replica's SQL
 * thread stood in the primary's binlog (what xtrabackup_slave_info would say, read at the pause itself). After the
 * archive stage rolled the restore forward (`rolledForward`): where that ended, so the catch-up also proves the
 * archive joins the live source without a gap.
 */
export function startPoint(manifest: Manifest, settings: RejoinSettings, rolledForward?: Position): StartPoint {
  const fromPrimary = settings.source !== undefined && manifest.replication !== undefined;
  if (rolledForward && fromPrimary) {
    throw new RejoinError(
      "unsupported",
      "the restore was rolled forward through the service's binlog archive, whose position in rejoin.source's binlog is not known: rejoin the service's own source, or keep no binlog archive for this service",
    );
  }
  const point = rolledForward && !fromPrimary
    ? { ...rolledForward, origin: "where the roll-forward through the binlog archive ended" }
    : fromPrimary
    ? { file: manifest.replication!.masterLogFile, position: manifest.replication!.execMasterLogPos, gtid: manifest.replication!.gtidSlavePos, origin: "where the backup replica's SQL thread stood in the primary's binlog" }
    : manifest.position && { ...manifest.position, origin: "the baseline's position, which the restore replayed to" };
  if (!point) {
    throw new RejoinError(
      "no-position",
      "this backup records no binlog position (binary logging was off on its source), so no replica can be started from it: enable log_bin on the source",
    );
  }
  if (settings.position === "gtid" && point.gtid === "") {
    throw new RejoinError("no-position", `rejoin.position is gtid but this backup records no GTID position (only ${describePosition(point)}): use position: file`);
  }
  const useGtid = settings.position === "gtid" || (settings.position === "auto" && point.gtid !== "");
  return { ...point, useGtid };
}

export function describeStart(start: StartPoint): string {
  return start.useGtid ? `GTID ${start.gtid} (${describePosition(start)})` : describePosition(start);
}

/** Why a source's binlogs cannot serve `start`, or undefined when they can. `logs` is SHOW BINARY LOGS, oldest first. */
export function binlogProblem(
  start: StartPoint,
  logs: readonly { name: string; size: number }[],
  context: { source: string; backupAgeMs: number; retention: { expireLogsDays: number; expireSeconds: number | null } },
): RejoinError | undefined {
  const file = logs.find((l) => l.name === start.file);
  const oldest = logs[0];
  if (!file) {
    const olderThanAll = oldest && binlogSequence(start.file) < binlogSequence(oldest.name);
    if (!olderThanAll) {
      return new RejoinError(
        "position-unknown",
        `the source ${context.source} has no binary log ${start.file}, and it is not an older one than its oldest (${oldest?.name ?? "none"}): ` +
          "its binlogs were reset (RESET MASTER) or it is not the server this backup was taken from",
      );
    }
    const { expireLogsDays, expireSeconds } = context.retention;
    const retentionMs = expireSeconds ? expireSeconds * 1000 : expireLogsDays * 86_400_000;
    const retention = retentionMs > 0 ? `${formatDuration(retentionMs)} (expire_logs_days=${expireLogsDays}${expireSeconds !== null ? `, binlog_expire_logs_seconds=${expireSeconds}` : ""})` : "unlimited";
    const why =
      retentionMs > 0 && retentionMs <= context.backupAgeMs
        ? `its binlog retention, ${retention}, is too short for this backup's age: keep binlogs longer than the time between backups plus a restore, or rebuild from a newer backup`
        : `its binlog retention is ${retention}, so they were purged by hand (PURGE BINARY LOGS) or under an earlier setting: keep binlogs at least as long as the oldest backup you would rebuild from`;
    return new RejoinError(
      "purged-binlogs",
      `the source ${context.source} has purged binlog ${start.file}, which this backup needs: replication must start at ${describePosition(start)} ` +
        `(backup age ${formatDuration(context.backupAgeMs)}), but the source's oldest binary log is ${oldest?.name}. ${why[0]?.toUpperCase()}${why.slice(1)}`,
    );
  }
  if (start.position > file.size) {
    return new RejoinError(
      "position-unknown",
      `the source ${context.source} has ${start.file} with ${file.size} bytes, but this backup's position is ${describePosition(start)}, past its end: ` +
        "the source is not the server this backup was taken from, or its binlogs were rewritten",
    );
  }
  return undefined;
}

/**
 * The server_id for the replica: `wanted` when nobody uses it (the source, or a replica registered with it), else a
 * random free one. A clash with a configured id is an error: two replicas with one id throw each other off the source.
 */
export function chooseServerId(ids: { own: number; replicas: readonly { id: number; host: string; port: number }[] }, wanted: number | undefined, source: string): number {
  const taken = new Set([ids.own, ...ids.replicas.map((r) => r.id)]);
  if (wanted !== undefined) {
    if (wanted === ids.own) {
      throw new RejoinError("duplicate-server-id", `duplicate server-id ${wanted}: the source ${source} has server_id ${wanted}; set rejoin.serverId to an id no server of this replication topology uses`);
    }
    const replica = ids.replicas.find((r) => r.id === wanted);
    if (replica) {
      throw new RejoinError(
        "duplicate-server-id",
        `duplicate server-id ${wanted}: the replica ${replica.host}:${replica.port} of ${source} already uses it; set rejoin.serverId to an unused id`,
      );
    }
    return wanted;
  }
  for (;;) {
    const id = randomInt(1_000_000, 2_000_000_000);
    if (!taken.has(id)) return id;
  }
}

/** A replication error in SHOW SLAVE STATUS, named; undefined while there is none. */
export function statusProblem(status: ReplicaStatus, context: { source: string; user: string; start: StartPoint }): RejoinError | undefined {
  const { ioErrno, ioError, sqlErrno, sqlError } = status;
  if (ioErrno !== 0) {
    const detail = `(error ${ioErrno}: ${ioError.trim()})`;
    if (ioErrno === 1045 || /Access denied/i.test(ioError)) {
      return new RejoinError(
        "access-denied",
        `access denied for the replication user '${context.user}' on the source ${context.source} ${detail}: check rejoin.user and rejoin.password, ` +
          "and that the user exists for this host with REPLICATION SLAVE",
      );
    }
    if (ioErrno === 1593 || /server ids|server_id/i.test(ioError)) {
      return new RejoinError("duplicate-server-id", `duplicate server-id: the source ${context.source} refused the replica ${detail}; set rejoin.serverId to an unused id`);
    }
    if (ioErrno === 1236 && context.start.useGtid && /GTID/i.test(ioError)) {
      return new RejoinError(
        "gtid-rejected",
        `the source ${context.source} rejected the GTID position ${context.start.gtid} ${detail}: its binlogs no longer hold that position, or never did ` +
          "(binlogs purged, another GTID domain, or a source that was rebuilt); rebuild from a newer backup",
      );
    }
    if (ioErrno === 1236) {
      return new RejoinError(
        "purged-binlogs",
        `the source ${context.source} cannot send its binlog from ${describePosition(context.start)} ${detail}: the binlog this backup needs has been purged; ` +
          "keep binlogs longer than the time between backups plus a restore",
      );
    }
    if ([2002, 2003, 2005, 2006, 2013].includes(ioErrno)) {
      return new RejoinError("unreachable", `cannot reach the source ${context.source} ${detail}: check rejoin.source, and that the restore host may connect to it`);
    }
    return new RejoinError("not-started", `the replication I/O thread failed ${detail}`);
  }
  if (sqlErrno !== 0) {
    return new RejoinError(
      "diverged",
      `replication stopped applying the source's changes (error ${sqlErrno}: ${sqlError.trim()}): the restored data does not match the source at ` +
        `${describePosition(context.start)}, so this backup cannot seed a replica`,
    );
  }
  return undefined;
}

/** Bytes of the source's binlog between `from` and `to` (0 when `from` is at or past `to`); undefined when a file is unknown. */
export function bytesBetween(logs: readonly { name: string; size: number }[], from: { file: string; position: number }, to: { file: string; position: number }): number | undefined {
  if (comparePositions(from, to) >= 0) return 0;
  const i = logs.findIndex((l) => l.name === from.file);
  const j = logs.findIndex((l) => l.name === to.file);
  if (i < 0 || j < 0) return undefined;
  if (i === j) return to.position - from.position;
  let bytes = (logs[i]?.size ?? 0) - from.position;
  for (let k = i + 1; k < j; k++) bytes += logs[k]?.size ?? 0;
  // A binlog file starts with a 4-byte magic number and the format description event: position 4 is its first byte.
  return bytes + to.position;
}

/** One point of the lag curve. */
export interface LagSample {
  /** Since catch-up began. */
  atMs: number;
  secondsBehind: number | null;
  bytesBehind: number | undefined;
}

/** The lag curve as CSV, for the report. */
export function lagCsv(samples: readonly LagSample[]): string {
  return ["elapsed_ms,seconds_behind_master,bytes_behind", ...samples.map((s) => `${Math.round(s.atMs)},${s.secondsBehind ?? ""},${s.bytesBehind ?? ""}`)].join("\n") + "\n";
}

/** The lag curve as a small SVG line chart of bytes behind over time (Allure shows SVG attachments inline). */
export function lagSvg(samples: readonly LagSample[], title: string): string {
  const w = 640;
  const h = 240;
  const pad = 48;
  const points = samples.filter((s) => s.bytesBehind !== undefined);
  const maxT = Math.max(1, ...points.map((s) => s.atMs));
  const maxB = Math.max(1, ...points.map((s) => s.bytesBehind ?? 0));
  const x = (t: number) => (pad + (t / maxT) * (w - 2 * pad)).toFixed(1);
  const y = (b: number) => (h - pad - (b / maxB) * (h - 2 * pad)).toFixed(1);
  const line = points.map((s) => `${x(s.atMs)},${y(s.bytesBehind ?? 0)}`).join(" ");
  const escape = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;");
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="sans-serif" font-size="11">`,
    `<text x="${pad}" y="20" font-size="13">${escape(title)}</text>`,
    `<line x1="${pad}" y1="${h - pad}" x2="${w - pad}" y2="${h - pad}" stroke="#888"/>`,
    `<line x1="${pad}" y1="${pad}" x2="${pad}" y2="${h - pad}" stroke="#888"/>`,
    `<text x="${pad - 4}" y="${pad}" text-anchor="end">${maxB}</text>`,
    `<text x="${pad - 4}" y="${h - pad}" text-anchor="end">0</text>`,
    `<text x="${w - pad}" y="${h - pad + 16}" text-anchor="end">${formatDuration(maxT)}</text>`,
    `<text x="${pad}" y="${h - 8}">bytes of the source's binlog not yet executed, over time</text>`,
    `<polyline fill="none" stroke="#2a7ae2" stroke-width="2" points="${line}"/>`,
    "</svg>",
    "",
  ].join("\n");
}
