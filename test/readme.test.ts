// The README's ten-line example is examples/readme-charlm.mjs, verbatim, and it runs.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

const root = new URL("../", import.meta.url);

describe("README example", () => {
  it("is the same code as examples/readme-charlm.mjs", () => {
    const readme = readFileSync(new URL("README.md", root), "utf8");
    const block = readme.split("## Ten lines")[1].split("```js\n")[1].split("```")[0];
    const file = readFileSync(new URL("examples/readme-charlm.mjs", root), "utf8");
    const code = file.split("\n").filter((l) => !l.startsWith("// The README")).join("\n");
    expect(code.trim()).toBe(block.trim());
    expect(block.trim().split("\n").length).toBeLessThanOrEqual(11);
  });

  it("runs and writes text from its training data", () => {
    const out = execFileSync(process.execPath, ["examples/readme-charlm.mjs"], { cwd: root, encoding: "utf8", timeout: 60_000 });
    // The corpus repeats "hello world, hello rnn, hello lstm. "; after "hello " a trained model continues it.
    expect(out).toMatch(/^(world|rnn|lstm)[,.] hello/);
  });
});
