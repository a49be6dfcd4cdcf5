import { defineConfig } from "vitest/config";

export default defineConfig({
  // package.json's `imports` maps #platform to dist/; tests run src/ (Node's side).
  resolve: { alias: { "#platform": new URL("./src/runtime/platform-node.ts", import.meta.url).pathname } },
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Two cores: run test files in two worker processes.
    pool: "forks",
    maxWorkers: 2,
  },
});
