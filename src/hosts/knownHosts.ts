// Host-key trust decisions: known_hosts parsing and matching, pinned fingerprints, and the words for a refusal.
import { createHash, createHmac } from "node:crypto";

/** A host's public key as it travels in the SSH protocol (the blob known_hosts stores in base64). */
export interface PresentedKey {
  type: string;
  blob: Buffer;
}

export interface KnownHostEntry {
  line: number;
  marker: "revoked" | "cert-authority" | undefined;
  /** Comma-separated patterns, or one hashed name (`|1|salt|hash`). */
  hosts: string;
  type: string;
  blob: Buffer;
}

export type HostKeyVerdict = { trusted: true } | { trusted: false; reason: "unknown" | "changed" | "revoked" | "mismatch"; detail: string };

/** `SHA256:<unpadded base64>`, as `ssh-keygen -l` and OpenSSH's own messages print it. */
export function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;
}

/** The key type named inside a wire-format key blob (its first length-prefixed string). */
export function keyTypeOf(blob: Buffer): string {
  if (blob.length < 4) return "unknown";
  const length = blob.readUInt32BE(0);
  return blob.subarray(4, 4 + length).toString("latin1");
}

/** How OpenSSH names a host in known_hosts: the bare name on port 22, `[name]:port` elsewhere. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

export function parseKnownHosts(text: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  for (const [index, raw] of text.split("\n").entries()) {
    const fields = raw.trim().split(/\s+/);
    if (fields[0] === undefined || fields[0] === "" || fields[0].startsWith("#")) continue;
    let marker: KnownHostEntry["marker"];
    if (fields[0].startsWith("@")) {
      const name = fields.shift()?.slice(1);
      if (name !== "revoked" && name !== "cert-authority") continue;
      marker = name;
    }
    const [hosts, type, base64] = fields;
    if (!hosts || !type || !base64) continue;
    const blob = Buffer.from(base64, "base64");
    if (blob.length === 0) continue;
    entries.push({ line: index + 1, marker, hosts, type, blob });
  }
  return entries;
}

/** Does an entry's host field name `host` on `port`? Supports hashed names, `*`/`?` wildcards and `!` negation. */
export function entryMatches(entry: KnownHostEntry, host: string, port: number): boolean {
  const name = knownHostsName(host, port);
  if (entry.hosts.startsWith("|1|")) {
    const [, , salt, hash] = entry.hosts.split("|");
    if (!salt || !hash) return false;
    return createHmac("sha1", Buffer.from(salt, "base64")).update(name).digest("base64") === hash;
  }
  let matched = false;
  for (const pattern of entry.hosts.split(",")) {
    const negated = pattern.startsWith("!");
    if (!wildcard(negated ? pattern.slice(1) : pattern).test(name)) continue;
    if (negated) return false;
    matched = true;
  }
  return matched;
}

function wildcard(pattern: string): RegExp {
  const body = pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".");
  return new RegExp(`^${body}$`, "i");
}

/** Plain key entries (no CA or revocation marker) that name this host: the keys it may present. */
export function knownKeysFor(entries: KnownHostEntry[], host: string, port: number): KnownHostEntry[] {
  return entries.filter((e) => e.marker === undefined && entryMatches(e, host, port));
}

/** OpenSSH's rule: a key listed for the host is trusted; a revoked key never is; any other key for a listed host has changed. */
export function judgeAgainstKnownHosts(entries: KnownHostEntry[], host: string, port: number, key: PresentedKey, file: string): HostKeyVerdict {
  const presented = `${key.type} key ${fingerprint(key.blob)}`;
  if (entries.some((e) => e.marker === "revoked" && e.blob.equals(key.blob))) {
    return { trusted: false, reason: "revoked", detail: `the host presented ${presented}, which ${file} marks as @revoked` };
  }
  const known = knownKeysFor(entries, host, port);
  if (known.some((e) => e.blob.equals(key.blob))) return { trusted: true };
  const name = knownHostsName(host, port);
  if (known.length === 0) {
    return {
      trusted: false,
      reason: "unknown",
      detail:
        `the host presented ${presented}, and ${file} has no entry for ${name}. ` +
        `If this is the right host, check that fingerprint out of band and add the key (e.g. ssh-keyscan -p ${port} ${host} >> ${file})`,
    };
  }
  const listed = known.map((e) => `${e.type} ${fingerprint(e.blob)} (line ${e.line})`).join(", ");
  return {
    trusted: false,
    reason: "changed",
    detail:
      `the host presented ${presented}, but ${file} lists ${listed} for ${name}: the host key has CHANGED ` +
      `(a reinstalled host, or someone intercepting the connection). Remove the old entry only once the new fingerprint is confirmed`,
  };
}

export function judgeAgainstFingerprint(pinned: string, key: PresentedKey): HostKeyVerdict {
  const presented = fingerprint(key.blob);
  if (presented === pinned.replace(/=+$/, "")) return { trusted: true };
  return {
    trusted: false,
    reason: "mismatch",
    detail: `the host presented ${key.type} key ${presented}, but hostKeyFingerprint pins ${pinned}`,
  };
}

/** The host-key algorithms to offer so the server shows a key of a type we know for it (as OpenSSH orders them). */
export function hostKeyAlgorithmsFor(known: KnownHostEntry[]): string[] {
  const algorithms = new Set<string>();
  for (const e of known) {
    if (e.type === "ssh-rsa") for (const a of ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"]) algorithms.add(a);
    else algorithms.add(e.type);
  }
  return [...algorithms];
}
