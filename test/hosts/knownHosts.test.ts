// Host-key trust decisions as OpenSSH makes them: hashed names, ports, wildcards, negation, revocation, pinning.
import { describe, expect, it } from "vitest";
import {
  entryMatches,
  fingerprint,
  hostKeyAlgorithmsFor,
  judgeAgainstFingerprint,
  judgeAgainstKnownHosts,
  keyTypeOf,
  parseKnownHosts,
} from "../../src/hosts/knownHosts.ts";

// Two ed25519 public keys made with ssh-keygen, and their fingerprints as `ssh-keygen -lf` prints them.
const K1 = "AAAAC3NzaC1lZDI1NTE5AAAAIDIGqEGTF7DHaguYN98C5Lqlt4KJtMO1hEVxUEYPeLZP";
const K1_FINGERPRINT = "SHA256:dvGetC7cWA+XXW8OQDuScF9hEwwgg16fIvas2qGSL1w";
const K2 = "AAAAC3NzaC1lZDI1NTE5AAAAIMn4uS9gIilNw3HFVe8+RStN7XmEz+8lJIIkP+ef6kas";
const K2_FINGERPRINT = "SHA256:K3f0H2fubfNqvGd9TNnTfhYlw5IrebUzacIs0DuLgDw";
/** `ssh-keygen -H` of "[db1.internal]:2222 ssh-ed25519 K1". */
const HASHED = `|1|BilP3FL+ybj0ThijxiF5Sg64RvU=|1Qi3AKb8iTw1XxJDM4VIgGoAU14= ssh-ed25519 ${K1}`;

const key = (base64: string) => {
  const blob = Buffer.from(base64, "base64");
  return { type: keyTypeOf(blob), blob };
};

describe("known_hosts", () => {
  it("computes fingerprints and key types as ssh-keygen shows them", () => {
    expect(fingerprint(key(K1).blob)).toBe(K1_FINGERPRINT);
    expect(fingerprint(key(K2).blob)).toBe(K2_FINGERPRINT);
    expect(key(K1).type).toBe("ssh-ed25519");
  });

  it("matches hashed names, [host]:port forms, wildcards and negations", () => {
    const [hashed, plain, wild] = parseKnownHosts(
      `# comment\n${HASHED}\ndb1.internal,10.0.0.5 ssh-ed25519 ${K1}\n*.internal,!secret.internal ssh-ed25519 ${K2}\n\n`,
    );
    expect(hashed && entryMatches(hashed, "db1.internal", 2222)).toBe(true);
    expect(hashed && entryMatches(hashed, "db1.internal", 22)).toBe(false);
    expect(plain && entryMatches(plain, "10.0.0.5", 22)).toBe(true);
    // On another port OpenSSH looks up "[10.0.0.5]:2200", which the plain name does not cover.
    expect(plain && entryMatches(plain, "10.0.0.5", 2200)).toBe(false);
    expect(wild && entryMatches(wild, "db2.internal", 22)).toBe(true);
    expect(wild && entryMatches(wild, "secret.internal", 22)).toBe(false);
  });

  it("trusts a listed key, calls any other key for a listed host changed, and an unlisted host unknown", () => {
    const entries = parseKnownHosts(`${HASHED}\n`);
    expect(judgeAgainstKnownHosts(entries, "db1.internal", 2222, key(K1), "kh")).toEqual({ trusted: true });
    const changed = judgeAgainstKnownHosts(entries, "db1.internal", 2222, key(K2), "kh");
    expect(changed).toMatchObject({ trusted: false, reason: "changed" });
    expect(changed.trusted || changed.detail).toBe(
      `the host presented ssh-ed25519 key ${K2_FINGERPRINT}, but kh lists ssh-ed25519 ${K1_FINGERPRINT} (line 1) for [db1.internal]:2222: ` +
        "the host key has CHANGED (a reinstalled host, or someone intercepting the connection). Remove the old entry only once the new fingerprint is confirmed",
    );
    expect(judgeAgainstKnownHosts(entries, "db2.internal", 2222, key(K1), "kh")).toMatchObject({ trusted: false, reason: "unknown" });
  });

  it("never trusts a revoked key, and ignores certificate authorities it cannot check", () => {
    const entries = parseKnownHosts(`db1 ssh-ed25519 ${K1}\n@revoked * ssh-ed25519 ${K1}\n@cert-authority * ssh-ed25519 ${K2}\n`);
    expect(judgeAgainstKnownHosts(entries, "db1", 22, key(K1), "kh")).toMatchObject({ trusted: false, reason: "revoked" });
    expect(judgeAgainstKnownHosts(entries, "db9", 22, key(K2), "kh")).toMatchObject({ trusted: false, reason: "unknown" });
  });

  it("compares a pinned fingerprint, with or without base64 padding", () => {
    expect(judgeAgainstFingerprint(K1_FINGERPRINT, key(K1))).toEqual({ trusted: true });
    expect(judgeAgainstFingerprint(`${K1_FINGERPRINT}=`, key(K1))).toEqual({ trusted: true });
    expect(judgeAgainstFingerprint(K1_FINGERPRINT, key(K2))).toMatchObject({ trusted: false, reason: "mismatch" });
  });

  it("offers the host-key algorithms of the listed keys, RSA under its SHA-2 names too", () => {
    const entries = parseKnownHosts(`h ssh-rsa ${K1}\nh ssh-ed25519 ${K2}\n`);
    expect(hostKeyAlgorithmsFor(entries)).toEqual(["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa", "ssh-ed25519"]);
  });
});
