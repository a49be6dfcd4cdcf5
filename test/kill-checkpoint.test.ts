// Atomic checkpoints under SIGKILL: `unfold train --checkpoint-every 1` is
// killed at random moments (mostly while it writes checkpoints) 20 times; after
// every kill the file loads, `unfold info` and `unfold sample` work, at most
// one temp file (a killed write's) is left and the next write removes it, and
// `--resume` continues from exactly the step the file holds.
// tools/kill-checkpoint.mjs runs the same check with 500 kills.
import * as fs from "node:fs";
import { describe, expect, it } from "vitest";
// @ts-expect-error: a plain ES module without types
import { killCheckpoints } from "../tools/kill-checkpoint.mjs";

describe("unfold train survives SIGKILL during checkpoints", () => {
  it("20 kills: the file always loads, info/sample work, no stray temp file, resume continues from the saved step", async () => {
    const r = await killCheckpoints({ kills: 20, seed: 7 });
    try {
      expect(r.kills).toBe(20);
      // Most kills must really have hit a run that was checkpointing.
      expect(r.killedInTraining).toBeGreaterThanOrEqual(10);
      expect(r.finalStep).toBeGreaterThan(2);
    } finally {
      fs.rmSync(r.dir, { recursive: true, force: true });
    }
  }, 300_000);
});
