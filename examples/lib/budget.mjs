// The examples' one command-line flag: `--budget ci|full` (default full),
// parsed by node:util's parseArgs. A bad flag prints one line and exits 2.
import { parseArgs } from "node:util";

/** The budget named on the command line: "ci" (a small CI run) or "full". */
export function parseBudget(args = process.argv.slice(2)) {
  let budget;
  try {
    ({ values: { budget } } = parseArgs({ args, options: { budget: { type: "string", default: "full" } } }));
  } catch (err) {
    console.error(`${err.message}; usage: node ${process.argv[1]} [--budget ci|full]`);
    process.exit(2);
  }
  if (budget !== "ci" && budget !== "full") {
    console.error(`--budget must be ci or full, got ${budget}`);
    process.exit(2);
  }
  return budget;
}
