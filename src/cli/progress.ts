/**
 * The live training display. On a terminal: one progress line redrawn in
 * place (cli-progress), with samples and checkpoint notes printed above it.
 * Elsewhere (a pipe, a CI log): plain lines every few seconds.
 */
import cliProgress from "cli-progress";
import { compact, hms } from "./common.js";

/** What the progress line shows. */
export interface ProgressState {
  step: number;
  /** Final step, when known (steps / epochs runs). */
  total?: number;
  /** Done, in [0, 1]. */
  fraction: number;
  epoch: number;
  /** Recent training loss (smoothed). */
  loss: number;
  /** Last validation loss, if measured. */
  val?: number;
  /** Characters (targets) trained on per second of training alone (validation not counted). */
  cps: number;
  /** Seconds spent training and validating so far (shown apart). */
  trainSeconds?: number;
  valSeconds?: number;
  /** Seconds left. */
  eta: number;
}

export interface Progress<S = ProgressState> {
  update(s: S): void;
  /** Print text (ending with a newline) without breaking the progress line. */
  log(text: string): void;
  stop(): void;
}

function describe(s: ProgressState): string {
  const parts = [
    `step ${s.step}${s.total !== undefined && Number.isFinite(s.total) ? `/${s.total}` : ""}`,
    `epoch ${s.epoch.toFixed(2)}`,
    `loss ${Number.isFinite(s.loss) ? s.loss.toFixed(3) : "-"}`,
  ];
  if (s.val !== undefined) parts.push(`val ${s.val.toFixed(3)} (ppl ${Math.exp(s.val).toFixed(2)})`);
  parts.push(`${compact(s.cps)} chars/s`);
  if (s.trainSeconds !== undefined) parts.push(`train ${hms(s.trainSeconds)}${s.valSeconds ? ` + val ${hms(s.valSeconds)}` : ""}`);
  parts.push(`ETA ${hms(s.eta)}`);
  return parts.join(" | ");
}

function bar(f: number, width = 20): string {
  const n = Math.max(0, Math.min(width, Math.round(f * width)));
  return "█".repeat(n) + "░".repeat(width - n);
}

/**
 * A progress display for `stream` (stdout): live on a TTY, periodic plain
 * lines otherwise. `text` renders a state (default: the training line).
 */
export function createProgress<S extends { fraction: number } = ProgressState>(
  stream: NodeJS.WriteStream, plainEverySeconds = 5, text: (s: S) => string = describe as unknown as (s: S) => string,
): Progress<S> {
  if (stream.isTTY) {
    const multi = new cliProgress.MultiBar({
      stream,
      fps: 5,
      hideCursor: true,
      gracefulExit: false, // the trainer handles Ctrl-C itself (final checkpoint)
      linewrap: false,
      format: (_o, params, payload) => `${bar(params.progress)} ${(payload.text as string) ?? ""}`,
    });
    const b = multi.create(1, 0, { text: "starting…" });
    return {
      update: (s) => b.update(Math.min(1, s.fraction), { text: text(s) }),
      log: (text) => {
        multi.log(text.endsWith("\n") ? text : `${text}\n`);
        multi.update();
      },
      stop: () => multi.stop(),
    };
  }
  let last = -Infinity;
  return {
    update: (s) => {
      const now = performance.now();
      if (now - last >= plainEverySeconds * 1000) {
        last = now;
        stream.write(`${text(s)}\n`);
      }
    },
    log: (text) => void stream.write(text.endsWith("\n") ? text : `${text}\n`),
    stop: () => {},
  };
}
