/**
 * Float64 reference of PyTorch's recurrent layers — nn.RNN (tanh | relu),
 * nn.LSTM and nn.GRU — with a full backpropagation through time (BPTT).
 *
 * This is the oracle the fast WASM layers are tested against: plain loops,
 * no tricks, forward and backward of each cell side by side. It is checked
 * here by finite differences and against PyTorch 1.13 fixtures
 * (test/reference-layers.test.ts, test/fixtures/torch/).
 *
 * Legend (dimension letters used in every shape comment):
 *   T = time steps, B = batch, I = input size, H = hidden size,
 *   G = gates per cell (rnn 1, lstm 4, gru 3), D = directions (1 or 2),
 *   L = number of stacked layers, F = input size of one layer (I, or D*H above).
 *
 * Layouts follow PyTorch exactly (time-major, flat row-major):
 *   x       [T, B, I]             input sequence
 *   output  [T, B, D*H]           top layer's hidden state at every step;
 *                                 forward and reverse concatenated on the last axis
 *   h0, hN  [L*D, B, H]           initial / final hidden state, ordered
 *                                 layer0 fwd, layer0 rev, layer1 fwd, ...
 *   c0, cN  [L*D, B, H]           LSTM cell state, same order
 *   weight_ih_l{k}[_reverse]  [G*H, F]   gate rows: lstm i,f,g,o; gru r,z,n
 *   weight_hh_l{k}[_reverse]  [G*H, H]
 *   bias_ih_l{k}[_reverse]    [G*H]
 *   bias_hh_l{k}[_reverse]    [G*H]
 *
 * The cells (a = x_t W_ih^T + b_ih, a' = h_{t-1} W_hh^T + b_hh, both [B, G*H]):
 *   rnn:  h_t = act(a + a')                         act = tanh | relu
 *   lstm: i,f,o = σ(a + a'), g = tanh(a + a')       input, forget, output gate; candidate
 *         c_t = f ⊙ c_{t-1} + i ⊙ g,   h_t = o ⊙ tanh(c_t)
 *   gru:  r,z = σ(a + a')                           reset, update gate
 *         n = tanh(a_n + r ⊙ a'_n),    h_t = (1 - z) ⊙ n + z ⊙ h_{t-1}
 *         resetAfter false (Keras reset_after=False, ONNX linear_before_reset=0):
 *         n = tanh(a_n + (r ⊙ h_{t-1}) W_hn^T + b_hn)
 *   gateActivation 'hard_sigmoid' puts clip(0.2 v + 0.5, 0, 1) in place of σ
 *   (LSTM i, f, o; GRU r, z), as Keras and tfjs-layers.
 *
 * Unfolding the recurrence over T steps gives a deep feed-forward net that
 * shares its weights across steps; BPTT is ordinary backpropagation through
 * that unfolded net, walking the steps in reverse and carrying dL/dh (and
 * dL/dc) from step t back to step t-1. No dropout (the reference is dropout 0).
 */

export type CellKind = "rnn_tanh" | "rnn_relu" | "lstm" | "gru";

export interface RefConfig {
  kind: CellKind;
  inputSize: number; // I
  hiddenSize: number; // H
  numLayers: number; // L >= 1
  bidirectional: boolean; // D = 2 if true
  gateActivation?: "sigmoid" | "hard_sigmoid"; // default sigmoid
  resetAfter?: boolean; // gru: default true (PyTorch)
}

/** What one step of one direction keeps for backward. All [B, ...]. */
interface StepCache {
  hPrev: Float64Array; // [B, H]    hidden state entering the step
  h: Float64Array; // [B, H]        hidden state leaving the step
  gates: Float64Array; // [B, G*H]  gate activations (after σ / tanh / relu)
  cPrev?: Float64Array; // [B, H]   lstm: cell state entering
  tanhC?: Float64Array; // [B, H]   lstm: tanh(c_t)
  hhN?: Float64Array; // [B, H]     gru: a'_n = h_{t-1} W_hn^T + b_hn (the part the reset gate scales)
  u?: Float64Array; // [B, H]       gru resetAfter false: r ⊙ h_{t-1}, what W_hn multiplies
}

/** Everything refForward keeps for refBackward. Treat as opaque. */
export interface RefCache {
  cfg: RefConfig;
  T: number;
  B: number;
  params: Record<string, Float64Array>; // float64 copies of the weights used
  layerInputs: Float64Array[]; // [L] of [T, B, F_k]: what each layer read
  steps: StepCache[][][]; // [L][D][T] indexed by time t (not by processing order)
}

export interface RefForwardResult {
  output: Float64Array; // [T, B, D*H]
  hN: Float64Array; // [L*D, B, H]
  cN?: Float64Array; // [L*D, B, H] lstm only
  cache: RefCache;
}

export interface RefBackwardResult {
  grads: Record<string, Float64Array>; // same names and shapes as the parameters
  dInput: Float64Array; // [T, B, I]
  dh0: Float64Array; // [L*D, B, H]
  dc0?: Float64Array; // [L*D, B, H] lstm only
}

/** Gates per cell: rnn 1, lstm 4 (i, f, g, o), gru 3 (r, z, n). */
export function gateCount(kind: CellKind): number {
  return kind === "lstm" ? 4 : kind === "gru" ? 3 : 1;
}

/** Number of directions D. */
export function directionCount(cfg: RefConfig): number {
  return cfg.bidirectional ? 2 : 1;
}

/** PyTorch's parameter name suffix for layer k, direction d ("_l1_reverse"). */
function suffix(k: number, d: number): string {
  return `_l${k}${d === 1 ? "_reverse" : ""}`;
}

/** Input size F of layer k: I for the first, D*H above (the concatenated directions). */
function layerInputSize(cfg: RefConfig, k: number): number {
  return k === 0 ? cfg.inputSize : directionCount(cfg) * cfg.hiddenSize;
}

/** Shapes of every parameter, in PyTorch's state_dict order. */
export function refParamShapes(cfg: RefConfig): Record<string, number[]> {
  const G = gateCount(cfg.kind);
  const H = cfg.hiddenSize;
  const shapes: Record<string, number[]> = {};
  for (let k = 0; k < cfg.numLayers; k++) {
    for (let d = 0; d < directionCount(cfg); d++) {
      const s = suffix(k, d);
      shapes[`weight_ih${s}`] = [G * H, layerInputSize(cfg, k)];
      shapes[`weight_hh${s}`] = [G * H, H];
      shapes[`bias_ih${s}`] = [G * H];
      shapes[`bias_hh${s}`] = [G * H];
    }
  }
  return shapes;
}

// ---------------------------------------------------------------------------
// Small float64 helpers. x, y are [B, ...] slices; W is row-major [rows, cols].

function sigmoid(v: number): number {
  return 1 / (1 + Math.exp(-v));
}

function hardSigmoid(v: number): number {
  return Math.min(Math.max(0.2 * v + 0.5, 0), 1);
}

/** The gate activation of a config and its derivative from the output y. */
function gateFns(cfg: RefConfig): { act: (v: number) => number; grad: (y: number) => number } {
  if (cfg.gateActivation === "hard_sigmoid") return { act: hardSigmoid, grad: (y) => (y > 0 && y < 1 ? 0.2 : 0) };
  return { act: sigmoid, grad: (y) => y * (1 - y) };
}

/** The recurrent weights of one direction, for the reset-before GRU's second product. */
interface RecurrentWeights {
  Whh: Float64Array; // [3H, H]
  bhh: Float64Array; // [3H]
  dWhh: Float64Array; // [3H, H] gradient, added into
  dbhh: Float64Array; // [3H]
}

/** y[b, j] = bias[j] + Σ_k x[b, k] W[j, k]      x [B, F], W [N, F], y [B, N] */
function linearForward(y: Float64Array, x: Float64Array, W: Float64Array, bias: Float64Array, B: number, F: number, N: number): void {
  for (let b = 0; b < B; b++) {
    for (let j = 0; j < N; j++) {
      let s = bias[j];
      for (let k = 0; k < F; k++) s += x[b * F + k] * W[j * F + k];
      y[b * N + j] = s;
    }
  }
}

/** Backward of linearForward, adding into dx, dW, dbias:
 *  dW[j, k] += Σ_b dy[b, j] x[b, k];  dbias[j] += Σ_b dy[b, j];  dx[b, k] += Σ_j dy[b, j] W[j, k] */
function linearBackward(
  dx: Float64Array, dW: Float64Array, dbias: Float64Array,
  dy: Float64Array, x: Float64Array, W: Float64Array, B: number, F: number, N: number,
): void {
  for (let b = 0; b < B; b++) {
    for (let j = 0; j < N; j++) {
      const g = dy[b * N + j];
      if (g === 0) continue;
      dbias[j] += g;
      for (let k = 0; k < F; k++) {
        dW[j * F + k] += g * x[b * F + k];
        dx[b * F + k] += g * W[j * F + k];
      }
    }
  }
}

function toF64(a: ArrayLike<number>): Float64Array {
  return Float64Array.from(a as ArrayLike<number>);
}

/** Copy the parameters as float64, checking every name and size against refParamShapes. */
function checkedParams(cfg: RefConfig, params: Record<string, ArrayLike<number>>): Record<string, Float64Array> {
  const out: Record<string, Float64Array> = {};
  for (const [name, shape] of Object.entries(refParamShapes(cfg))) {
    const p = params[name];
    if (p === undefined) throw new Error(`reference ${cfg.kind}: missing parameter '${name}' (shape [${shape.join(", ")}])`);
    const n = shape.reduce((a, b) => a * b, 1);
    if (p.length !== n) throw new Error(`reference ${cfg.kind}: '${name}' has ${p.length} values, shape [${shape.join(", ")}] needs ${n}`);
    out[name] = toF64(p);
  }
  return out;
}

function checkState(name: string, s: ArrayLike<number> | undefined, n: number): Float64Array {
  if (s === undefined) return new Float64Array(n);
  if (s.length !== n) throw new Error(`reference: ${name} has ${s.length} values, expected ${n} ([L*D, B, H])`);
  return toF64(s);
}

// ---------------------------------------------------------------------------
// One cell step: forward and backward side by side.
// Forward reads a = x_t W_ih^T + b_ih and a' = h_{t-1} W_hh^T + b_hh (both [B, G*H]).
// Backward turns dL/dh_t (and dL/dc_t) into the gradients of a and a' (which
// differ only for the GRU's n gate) and the direct parts of dL/dh_{t-1}, dL/dc_{t-1}.

/** Forward of one step. Fills step.h, step.gates (and tanhC / hhN); returns c_t for lstm. */
function cellForward(cfg: RefConfig, step: StepCache, a: Float64Array, a2: Float64Array, B: number, H: number, w: RecurrentWeights): Float64Array | undefined {
  const kind = cfg.kind;
  const { act: sigmoid } = gateFns(cfg);
  const { hPrev, h, gates } = step;
  if (kind === "rnn_tanh" || kind === "rnn_relu") {
    for (let e = 0; e < B * H; e++) {
      const v = a[e] + a2[e];
      gates[e] = h[e] = kind === "rnn_tanh" ? Math.tanh(v) : Math.max(v, 0);
    }
    return undefined;
  }
  if (kind === "lstm") {
    const cPrev = step.cPrev!;
    const c = new Float64Array(B * H); // [B, H] cell state c_t
    const tanhC = (step.tanhC = new Float64Array(B * H));
    for (let b = 0; b < B; b++) {
      for (let j = 0; j < H; j++) {
        const row = b * 4 * H;
        const inputGate = sigmoid(a[row + j] + a2[row + j]);
        const forgetGate = sigmoid(a[row + H + j] + a2[row + H + j]);
        const candidate = Math.tanh(a[row + 2 * H + j] + a2[row + 2 * H + j]);
        const outputGate = sigmoid(a[row + 3 * H + j] + a2[row + 3 * H + j]);
        gates[row + j] = inputGate;
        gates[row + H + j] = forgetGate;
        gates[row + 2 * H + j] = candidate;
        gates[row + 3 * H + j] = outputGate;
        const e = b * H + j;
        c[e] = forgetGate * cPrev[e] + inputGate * candidate;
        tanhC[e] = Math.tanh(c[e]);
        h[e] = outputGate * tanhC[e];
      }
    }
    return c;
  }
  // gru
  const hhN = (step.hhN = new Float64Array(B * H));
  if (cfg.resetAfter === false) {
    // The reset gate scales h_{t-1} before W_hn: a'_n = (r ⊙ h_{t-1}) W_hn^T + b_hn.
    const u = (step.u = new Float64Array(B * H));
    for (let b = 0; b < B; b++) {
      for (let j = 0; j < H; j++) {
        const row = b * 3 * H;
        gates[row + j] = sigmoid(a[row + j] + a2[row + j]);
        gates[row + H + j] = sigmoid(a[row + H + j] + a2[row + H + j]);
        u[b * H + j] = gates[row + j] * hPrev[b * H + j];
      }
    }
    linearForward(hhN, u, w.Whh.subarray(2 * H * H), w.bhh.subarray(2 * H), B, H, H);
    for (let b = 0; b < B; b++) {
      for (let j = 0; j < H; j++) {
        const row = b * 3 * H;
        const e = b * H + j;
        const n = Math.tanh(a[row + 2 * H + j] + hhN[e]);
        gates[row + 2 * H + j] = n;
        const updateGate = gates[row + H + j];
        h[e] = (1 - updateGate) * n + updateGate * hPrev[e];
      }
    }
    return undefined;
  }
  for (let b = 0; b < B; b++) {
    for (let j = 0; j < H; j++) {
      const row = b * 3 * H;
      const resetGate = sigmoid(a[row + j] + a2[row + j]);
      const updateGate = sigmoid(a[row + H + j] + a2[row + H + j]);
      const e = b * H + j;
      hhN[e] = a2[row + 2 * H + j];
      const n = Math.tanh(a[row + 2 * H + j] + resetGate * hhN[e]);
      gates[row + j] = resetGate;
      gates[row + H + j] = updateGate;
      gates[row + 2 * H + j] = n;
      h[e] = (1 - updateGate) * n + updateGate * hPrev[e];
    }
  }
  return undefined;
}

/**
 * Backward of one step.
 *   dh       [B, H]    dL/dh_t (from the output at t and from step t+1)
 *   dc       [B, H]    lstm: dL/dc_t from step t+1 (else unused)
 * Writes:
 *   da       [B, G*H]  dL/da   (input projection pre-activation)
 *   da2      [B, G*H]  dL/da'  (recurrent projection pre-activation)
 *   dhPrev   [B, H]    the part of dL/dh_{t-1} that does not go through W_hh (gru: z ⊙ dh)
 *   dcPrev   [B, H]    lstm: dL/dc_{t-1} = f ⊙ dL/dc_t
 */
function cellBackward(
  cfg: RefConfig, step: StepCache, dh: Float64Array, dc: Float64Array,
  da: Float64Array, da2: Float64Array, dhPrev: Float64Array, dcPrev: Float64Array, B: number, H: number, w: RecurrentWeights,
): void {
  const kind = cfg.kind;
  const { grad: dGate } = gateFns(cfg);
  const { hPrev, h, gates } = step;
  if (kind === "rnn_tanh" || kind === "rnn_relu") {
    for (let e = 0; e < B * H; e++) {
      const dAct = kind === "rnn_tanh" ? 1 - h[e] * h[e] : h[e] > 0 ? 1 : 0;
      da[e] = da2[e] = dh[e] * dAct;
      dhPrev[e] = 0;
    }
    return;
  }
  if (kind === "lstm") {
    const cPrev = step.cPrev!;
    const tanhC = step.tanhC!;
    for (let b = 0; b < B; b++) {
      for (let j = 0; j < H; j++) {
        const row = b * 4 * H;
        const e = b * H + j;
        const inputGate = gates[row + j];
        const forgetGate = gates[row + H + j];
        const candidate = gates[row + 2 * H + j];
        const outputGate = gates[row + 3 * H + j];
        // h = o ⊙ tanh(c): the cell state gets dh through the output gate, plus what step t+1 sent.
        const dcTotal = dc[e] + dh[e] * outputGate * (1 - tanhC[e] * tanhC[e]);
        const dInputGate = dcTotal * candidate;
        const dForgetGate = dcTotal * cPrev[e];
        const dCandidate = dcTotal * inputGate;
        const dOutputGate = dh[e] * tanhC[e];
        da[row + j] = dInputGate * dGate(inputGate);
        da[row + H + j] = dForgetGate * dGate(forgetGate);
        da[row + 2 * H + j] = dCandidate * (1 - candidate * candidate);
        da[row + 3 * H + j] = dOutputGate * dGate(outputGate);
        // The cell-state highway: c_{t-1} reaches c_t scaled only by the forget gate.
        dcPrev[e] = dcTotal * forgetGate;
        dhPrev[e] = 0;
      }
    }
    da2.set(da);
    return;
  }
  // gru
  if (cfg.resetAfter === false) {
    // n = tanh(a_n + u W_hn^T + b_hn), u = r ⊙ h_{t-1}: W_hn's gradient is dn_pre^T u,
    // and du = dn_pre W_hn reaches both r (dr = du ⊙ h_{t-1}) and h_{t-1} (du ⊙ r).
    const dnPre = new Float64Array(B * H);
    const du = new Float64Array(B * H);
    for (let b = 0; b < B; b++) {
      for (let j = 0; j < H; j++) {
        const row = b * 3 * H;
        const e = b * H + j;
        const updateGate = gates[row + H + j];
        const n = gates[row + 2 * H + j];
        dnPre[e] = dh[e] * (1 - updateGate) * (1 - n * n);
        da[row + H + j] = da2[row + H + j] = dh[e] * (hPrev[e] - n) * dGate(updateGate);
        da[row + 2 * H + j] = dnPre[e];
        da2[row + 2 * H + j] = 0; // W_hn's rows take their gradient from u, below
      }
    }
    linearBackward(du, w.dWhh.subarray(2 * H * H), w.dbhh.subarray(2 * H), dnPre, step.u!, w.Whh.subarray(2 * H * H), B, H, H);
    for (let b = 0; b < B; b++) {
      for (let j = 0; j < H; j++) {
        const row = b * 3 * H;
        const e = b * H + j;
        const resetGate = gates[row + j];
        da[row + j] = da2[row + j] = du[e] * hPrev[e] * dGate(resetGate);
        dhPrev[e] = dh[e] * gates[row + H + j] + du[e] * resetGate;
      }
    }
    return;
  }
  const hhN = step.hhN!;
  for (let b = 0; b < B; b++) {
    for (let j = 0; j < H; j++) {
      const row = b * 3 * H;
      const e = b * H + j;
      const resetGate = gates[row + j];
      const updateGate = gates[row + H + j];
      const n = gates[row + 2 * H + j];
      // h = (1 - z) ⊙ n + z ⊙ h_{t-1}
      const dn = dh[e] * (1 - updateGate);
      const dUpdateGate = dh[e] * (hPrev[e] - n);
      dhPrev[e] = dh[e] * updateGate;
      // n = tanh(a_n + r ⊙ a'_n)
      const dnPre = dn * (1 - n * n);
      const dResetGate = dnPre * hhN[e];
      da[row + j] = da2[row + j] = dResetGate * dGate(resetGate);
      da[row + H + j] = da2[row + H + j] = dUpdateGate * dGate(updateGate);
      da[row + 2 * H + j] = dnPre;
      da2[row + 2 * H + j] = dnPre * resetGate;
    }
  }
}

// ---------------------------------------------------------------------------
// The unfolded network: layers × directions × time steps.

/**
 * Forward pass of a (possibly stacked, possibly bidirectional) RNN / LSTM / GRU.
 * @param x   [T, B, I] time-major input
 * @param B   batch size (T is x.length / (B*I))
 * @param h0  [L*D, B, H] initial hidden state (zeros if omitted)
 * @param c0  [L*D, B, H] initial cell state, lstm only (zeros if omitted)
 */
export function refForward(
  cfg: RefConfig, params: Record<string, ArrayLike<number>>, x: ArrayLike<number>, B: number,
  h0?: ArrayLike<number>, c0?: ArrayLike<number>,
): RefForwardResult {
  const { kind, inputSize: I, hiddenSize: H, numLayers: L } = cfg;
  const D = directionCount(cfg);
  const G = gateCount(kind);
  if (!(L >= 1) || !(H >= 1) || !(I >= 1) || !(B >= 1)) throw new Error(`reference: bad sizes L=${L} H=${H} I=${I} B=${B}`);
  if (x.length % (B * I) !== 0) throw new Error(`reference: x has ${x.length} values, not a multiple of B*I = ${B * I}`);
  const T = x.length / (B * I);
  const P = checkedParams(cfg, params);
  const h0s = checkState("h0", h0, L * D * B * H);
  const c0s = kind === "lstm" ? checkState("c0", c0, L * D * B * H) : undefined;
  const hN = new Float64Array(L * D * B * H);
  const cN = kind === "lstm" ? new Float64Array(L * D * B * H) : undefined;

  const layerInputs: Float64Array[] = [];
  const steps: StepCache[][][] = [];
  let input = toF64(x); // [T, B, F]
  for (let k = 0; k < L; k++) {
    const F = layerInputSize(cfg, k);
    layerInputs.push(input);
    const output = new Float64Array(T * B * D * H); // [T, B, D*H]
    steps.push([]);
    for (let d = 0; d < D; d++) {
      const s = suffix(k, d);
      const Wih = P[`weight_ih${s}`], Whh = P[`weight_hh${s}`];
      const bih = P[`bias_ih${s}`], bhh = P[`bias_hh${s}`];
      const state = (k * D + d) * B * H; // offset of this (layer, direction) in h0 / hN
      let h: Float64Array = h0s.slice(state, state + B * H); // [B, H] hidden state carried along the unfolding
      let c: Float64Array | undefined = c0s?.slice(state, state + B * H); // [B, H] cell state (lstm)
      const dirSteps: StepCache[] = new Array(T);
      const a = new Float64Array(B * G * H); // [B, G*H]
      const a2 = new Float64Array(B * G * H); // [B, G*H]
      // The reverse direction reads the sequence from the last step to the first.
      for (let n = 0; n < T; n++) {
        const t = d === 0 ? n : T - 1 - n;
        const xt = input.subarray(t * B * F, (t + 1) * B * F); // [B, F]
        const step: StepCache = { hPrev: h, h: new Float64Array(B * H), gates: new Float64Array(B * G * H), cPrev: c };
        linearForward(a, xt, Wih, bih, B, F, G * H);
        linearForward(a2, h, Whh, bhh, B, H, G * H);
        const cNext = cellForward(cfg, step, a, a2, B, H, { Whh, bhh, dWhh: Whh, dbhh: bhh });
        dirSteps[t] = step;
        h = step.h;
        c = cNext;
        for (let b = 0; b < B; b++) {
          for (let j = 0; j < H; j++) output[(t * B + b) * D * H + d * H + j] = h[b * H + j];
        }
      }
      hN.set(h, state);
      if (cN && c) cN.set(c, state);
      steps[k].push(dirSteps);
    }
    input = output;
  }
  return { output: input, hN, cN, cache: { cfg, T, B, params: P, layerInputs, steps } };
}

/** Internal: backward through the whole unfolded net; `onStep` sees dL/dh_t, dL/dc_t at each step. */
function backwardImpl(
  cache: RefCache, dOutput: ArrayLike<number>, dhN?: ArrayLike<number>, dcN?: ArrayLike<number>,
  onStep?: (k: number, d: number, t: number, dh: Float64Array, dc: Float64Array) => void,
): RefBackwardResult {
  const { cfg, T, B, params: P, layerInputs, steps } = cache;
  const { kind, hiddenSize: H, numLayers: L } = cfg;
  const D = directionCount(cfg);
  const G = gateCount(kind);
  if (dOutput.length !== T * B * D * H) throw new Error(`reference: dOutput has ${dOutput.length} values, expected ${T * B * D * H} ([T, B, D*H])`);
  const dhNs = checkState("dhN", dhN, L * D * B * H);
  const dcNs = kind === "lstm" ? checkState("dcN", dcN, L * D * B * H) : new Float64Array(L * D * B * H);

  const grads: Record<string, Float64Array> = {};
  for (const [name, shape] of Object.entries(refParamShapes(cfg))) grads[name] = new Float64Array(shape.reduce((a, b) => a * b, 1));
  const dh0 = new Float64Array(L * D * B * H);
  const dc0 = kind === "lstm" ? new Float64Array(L * D * B * H) : undefined;

  let dLayerOutput = toF64(dOutput); // [T, B, D*H] gradient arriving at the current layer's output
  for (let k = L - 1; k >= 0; k--) {
    const F = layerInputSize(cfg, k);
    const input = layerInputs[k]; // [T, B, F]
    const dInput = new Float64Array(T * B * F); // [T, B, F]
    for (let d = 0; d < D; d++) {
      const s = suffix(k, d);
      const Wih = P[`weight_ih${s}`], Whh = P[`weight_hh${s}`];
      const dWih = grads[`weight_ih${s}`], dWhh = grads[`weight_hh${s}`];
      const dbih = grads[`bias_ih${s}`], dbhh = grads[`bias_hh${s}`];
      const state = (k * D + d) * B * H;
      let dhNext: Float64Array = dhNs.slice(state, state + B * H); // [B, H] dL/dh carried back from the later step
      let dcNext: Float64Array = dcNs.slice(state, state + B * H); // [B, H] dL/dc carried back (lstm)
      const dh = new Float64Array(B * H);
      const da = new Float64Array(B * G * H);
      const da2 = new Float64Array(B * G * H);
      // Walk the steps in the reverse of the order forward took them.
      for (let n = T - 1; n >= 0; n--) {
        const t = d === 0 ? n : T - 1 - n;
        const step = steps[k][d][t];
        for (let b = 0; b < B; b++) {
          for (let j = 0; j < H; j++) dh[b * H + j] = dhNext[b * H + j] + dLayerOutput[(t * B + b) * D * H + d * H + j];
        }
        onStep?.(k, d, t, dh, dcNext);
        const dhPrev = new Float64Array(B * H);
        const dcPrev = new Float64Array(B * H);
        cellBackward(cfg, step, dh, dcNext, da, da2, dhPrev, dcPrev, B, H, { Whh, bhh: P[`bias_hh${s}`], dWhh, dbhh });
        const xt = input.subarray(t * B * F, (t + 1) * B * F);
        const dxt = dInput.subarray(t * B * F, (t + 1) * B * F);
        linearBackward(dxt, dWih, dbih, da, xt, Wih, B, F, G * H);
        linearBackward(dhPrev, dWhh, dbhh, da2, step.hPrev, Whh, B, H, G * H);
        dhNext = dhPrev;
        dcNext = dcPrev;
      }
      dh0.set(dhNext, state);
      dc0?.set(dcNext, state);
    }
    dLayerOutput = dInput;
  }
  return { grads, dInput: dLayerOutput, dh0, dc0 };
}

/**
 * Backpropagation through time. Given the upstream gradients of the outputs
 * of refForward, returns fresh gradients of every parameter (PyTorch names),
 * of the input and of the initial states.
 * @param dOutput [T, B, D*H] dL/doutput
 * @param dhN     [L*D, B, H] dL/dhN (zeros if omitted)
 * @param dcN     [L*D, B, H] dL/dcN, lstm only (zeros if omitted)
 */
export function refBackward(
  cfg: RefConfig, params: Record<string, ArrayLike<number>>, cache: RefCache,
  dOutput: ArrayLike<number>, dhN?: ArrayLike<number>, dcN?: ArrayLike<number>,
): RefBackwardResult {
  if (cache.cfg !== cfg && JSON.stringify(cache.cfg) !== JSON.stringify(cfg)) throw new Error("reference: cache was made with another config");
  // The cache holds float64 copies of the weights forward used; `params` must be those same weights.
  for (const [name, p] of Object.entries(cache.params)) {
    const q = params[name];
    let same = q !== undefined && q.length === p.length;
    for (let i = 0; same && i < p.length; i++) same = q[i] === p[i];
    if (!same) throw new Error(`reference: parameter '${name}' differs from the one forward used`);
  }
  return backwardImpl(cache, dOutput, dhN, dcN);
}

/**
 * The vanishing-gradient picture: run a single-layer, unidirectional model on
 * x, put the loss on the last hidden state only (dL/dh_T = dhT, ones if
 * omitted), and return ||dL/dh_t|| (Euclidean norm over [B, H]) for every step
 * t = 0..T-1, where h_t is the hidden state after reading x_t. The last entry
 * is ||dhT||; earlier ones show how much the loss still "feels" step t.
 * (For the LSTM, dL/dh_t is the gradient reaching h_t through h_{t+1} and c_{t+1};
 * the cell state has its own path, which is why it forgets more slowly.)
 */
export function refGradNormsPerStep(
  cfg: RefConfig, params: Record<string, ArrayLike<number>>, x: ArrayLike<number>, B: number,
  dhT?: ArrayLike<number>, h0?: ArrayLike<number>, c0?: ArrayLike<number>,
): number[] {
  if (cfg.numLayers !== 1 || cfg.bidirectional) throw new Error("refGradNormsPerStep: needs a single-layer unidirectional model");
  const { output, cache } = refForward(cfg, params, x, B, h0, c0);
  const H = cfg.hiddenSize;
  const T = cache.T;
  const dOutput = new Float64Array(output.length); // no loss on the intermediate outputs
  const dhLast = dhT === undefined ? new Float64Array(B * H).fill(1) : checkState("dhT", dhT, B * H);
  const norms = new Array<number>(T).fill(0);
  backwardImpl(cache, dOutput, dhLast, undefined, (_k, _d, t, dh) => {
    let s = 0;
    for (let e = 0; e < dh.length; e++) s += dh[e] * dh[e];
    norms[t] = Math.sqrt(s);
  });
  return norms;
}
