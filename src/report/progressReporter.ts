// Restore progress on the terminal: a live line when a person watches, periodic plain lines in CI, so a long restore is never silent.
import type { Reporter, TestCase, Vitest } from "vitest/node";
import type { TestArtifact } from "vitest";
import type { ProgressArtifact } from "./meta.ts";
import { formatDuration } from "../base/duration.ts";
import { progressLine, progressSettings, transferred, type ProgressSettings } from "./progress.ts";

type Write = typeof process.stderr.write;

/**
 * The one live line at the bottom of the terminal. Every other write to stdout/stderr first clears it and, once a
 * full line is out, redraws it, so vitest's own output scrolls above it.
 */
class LiveLine {
  private text = "";
  private shown = false;
  private atLineStart = true;
  private readonly restores: (() => void)[] = [];
  private readonly writeErr: (text: string) => void;

  constructor() {
    const original = process.stderr.write.bind(process.stderr);
    this.writeErr = (text) => void original(text);
    for (const stream of [process.stdout, process.stderr]) {
      const write = stream.write;
      const bound = write.bind(stream) as (...args: unknown[]) => boolean;
      stream.write = ((...args: unknown[]) => {
        this.clear();
        const result = bound(...args);
        const chunk = args[0];
        this.atLineStart = String(typeof chunk === "string" ? chunk : Buffer.from(chunk as Uint8Array).toString()).endsWith("\n");
        this.draw();
        return result;
      }) as Write;
      this.restores.push(() => (stream.write = write));
    }
  }

  set(text: string): void {
    this.clear();
    this.text = text;
    this.draw();
  }

  close(): void {
    this.set("");
    this.restores.splice(0).forEach((restore) => restore());
  }

  private draw(): void {
    if (!this.text || this.shown || !this.atLineStart) return;
    const width = Math.max(20, (process.stderr.columns ?? 100) - 1);
    this.writeErr(this.text.length > width ? `${this.text.slice(0, width - 1)}…` : this.text);
    this.shown = true;
  }

  private clear(): void {
    if (!this.shown) return;
    this.writeErr("\r\x1b[K");
    this.shown = false;
  }
}

interface Running {
  event: ProgressArtifact;
  receivedAt: number;
}

/** vitest reporter; the suite sends it progress as `restoretest:progress` artifacts (src/report/restoreWatch.ts). */
export default class ProgressReporter implements Reporter {
  private readonly settings: ProgressSettings;
  private readonly write: (line: string) => void;
  private readonly running = new Map<string, Running>();
  private live?: LiveLine;
  private ticker?: NodeJS.Timeout;
  private replaying = false;

  constructor(options: Partial<ProgressSettings> & { write?: (line: string) => void } = {}) {
    this.settings = { ...progressSettings(), ...options };
    this.write = options.write ?? ((line) => process.stderr.write(`${line}\n`));
  }

  onInit(vitest: Vitest): void {
    // Merging blobs replays old artifacts: nothing is running, so there is nothing to show.
    this.replaying = Boolean(vitest.config.mergeReports);
    if (this.replaying) return;
    for (const project of vitest.projects) project.provide("progressIntervalMs", this.settings.intervalMs);
  }

  onTestRunStart(): void {
    if (this.replaying || !this.settings.interactive) return;
    this.live = new LiveLine();
    this.ticker = setInterval(() => this.render(), 1_000);
    this.ticker.unref();
  }

  onTestCaseArtifactRecord(_test: TestCase, artifact: TestArtifact): void {
    if (this.replaying || artifact.type !== "restoretest:progress") return;
    const event = artifact as ProgressArtifact;
    const key = event.service;
    if (event.phase === "done" || event.phase === "failed") this.running.delete(key);
    else this.running.set(key, { event, receivedAt: performance.now() });
    if (!this.live) {
      this.write(progressLine(event));
      return;
    }
    // In a terminal only step ends scroll by (above the updated live line); the rest is the live line.
    this.render();
    if (event.phase === "done" || event.phase === "failed") this.write(progressLine(event));
  }

  onTestRunEnd(): void {
    clearInterval(this.ticker);
    this.live?.close();
    this.live = undefined;
    this.running.clear();
  }

  private render(): void {
    if (!this.live) return;
    const now = performance.now();
    const parts = [...this.running.values()].map(({ event, receivedAt }) => {
      const elapsedMs = event.elapsedMs + (now - receivedAt);
      return `${event.service} › ${event.step} ${formatDuration(elapsedMs)}${transferred(event.bytes, event.elapsedMs, event.storedBytes)}`;
    });
    this.live.set(parts.length ? `⏳ ${parts.join(" │ ")}` : "");
  }
}
