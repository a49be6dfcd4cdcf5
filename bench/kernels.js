// Kernel benchmarks: GEMM (GFLOP/s) and the activation / fused cell kernels (ns per element).
import { run as gemm } from "./kernels-gemm.js";
import { run as gates } from "./kernels-gates.js";

export async function run(opts = {}) {
  return [...(await gemm(opts)), ...(await gates(opts))];
}
