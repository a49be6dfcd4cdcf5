import { defineConfig } from "vitest/config";

export default defineConfig({
  // Tests run src/ in Node: the Node side of loading is the default there (the package's `node` condition does this for dist/).
  resolve: { alias: [{ find: /^\.\/platform-web\.js$/, replacement: new URL("./src/runtime/platform-node.ts", import.meta.url).pathname }] },
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Two cores: run test files in two worker processes.
    pool: "forks",
    maxWorkers: 2,
  },
});
