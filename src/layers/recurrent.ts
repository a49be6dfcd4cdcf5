/**
 * Recurrent layers — SimpleRNN, LSTM, GRU — as the lecture draws them: the
 * recurrence h_t = F(h_{t-1}, x_t; θ) *unfolded* over T time steps, with
 * PyTorch's equations, gate orders and weight layouts.
 *
 * Legend: T = time steps, B = batch, I = input size of a layer, H = hidden
 * size, G = gates per cell (RNN 1, LSTM 4, GRU 3), D = directions (1 or 2),
 * L = layers. Inside the engine sequences are time-major: x [T, B, I].
 *
 * Where the speed comes from (DESIGN.md):
 *  1. the input projection x W_ih^T is taken out of the loop: one GEMM per
 *     block of steps (512 KiB of gates, so they are still in L2 when the
 *     steps read them), run just before the loop reaches the block;
 *  2. inside the loop only h_{t-1} W_hh^T ([B, H] x [H, G*H]) on W_hh packed
 *     once per call, then one fused cell kernel per step;
 *  3. backward stores every step's gate gradients dG [T, B, G*H], so dW_ih,
 *     dW_hh and dX are one GEMM each after the time loop (dX only where
 *     someone reads it: not for a model's features input).
 */
import type { Ptr } from "../runtime/abi.js";
import { Arena, type Tensor } from "../runtime/arena.js";
import * as threads from "../runtime/threads.js";
import { heap, kernels } from "../runtime/wasm.js";
import { Rng } from "../util/rng.js";
import { type InitScheme, orthogonalInit, uniformInit, xavierInit } from "./init.js";
import { dumpTensors, loadChecked, type StateDict } from "./params.js";
import { UnfoldError } from "../errors.js";
import * as v from "../validate.js";

/** The cell of a recurrent layer. */
export type CellKind = "rnn_tanh" | "rnn_relu" | "lstm" | "gru";

const GATES: Record<CellKind, number> = { rnn_tanh: 1, rnn_relu: 1, lstm: 4, gru: 3 };
/** Bytes of gates per block of the input projection in forward (see unitForward); 0: all steps at once. */
let PROJ_BLOCK_BYTES = 1 << 19;
/** Set the input projection's block size in bytes (benchmarks); returns the previous one. @internal */
export function setProjectionBlock(bytes: number): number {
  const was = PROJ_BLOCK_BYTES;
  PROJ_BLOCK_BYTES = bytes;
  return was;
}

/** Options shared by {@link SimpleRNN}, {@link LSTM} and {@link GRU}. */
export interface RecurrentOptions {
  /** Features of each input step. */
  inputSize: number;
  /** Size of the hidden state h (and cell state c). */
  hiddenSize: number;
  /** Stacked layers; layer k > 0 reads layer k-1's output. Default 1. */
  numLayers?: number;
  /** Run a second, reversed direction and concatenate: output [T, B, 2H]. Default false. */
  bidirectional?: boolean;
  /** Dropout probability on the input of every layer but the first, in training only. Default 0. */
  dropout?: number;
  /** Inputs and outputs are [B, T, F] instead of [T, B, F]. Default false. */
  batchFirst?: boolean;
  /** Seed for initialisation and dropout. Default 0. */
  seed?: number;
  /**
   * 'pytorch' (default): every parameter U(-1/sqrt(H), 1/sqrt(H)), as torch.nn.
   * 'xavier': weights Glorot-uniform, biases 0. 'orthogonal': W_hh gate blocks
   * orthogonal, W_ih Glorot-uniform, biases 0.
   */
  init?: InitScheme;
  /**
   * The gate activation of an LSTM (i, f, o) or GRU (r, z): 'sigmoid' (default,
   * PyTorch) or 'hard_sigmoid', Keras's and tfjs-layers' clip(0.2 x + 0.5, 0, 1)
   * (their default `recurrentActivation`). Not for SimpleRNN.
   */
  gateActivation?: GateActivation;
}

/** Gate activation of LSTM and GRU cells (see {@link RecurrentOptions.gateActivation}). */
export type GateActivation = "sigmoid" | "hard_sigmoid";

/** Options of one forward pass. */
export interface ForwardOptions {
  /** B. Default 1 (so x [T, 1, I]). */
  batchSize?: number;
  /** Initial hidden state [L*D, B, H]; zeros if omitted. */
  h0?: ArrayLike<number>;
  /** Initial cell state [L*D, B, H] (LSTM only); zeros if omitted. */
  c0?: ArrayLike<number>;
  /**
   * Return only the last step's output, [B, D*H] (PyTorch's `output[-1]`),
   * instead of the whole sequence; backward then takes dOutput [B, D*H].
   */
  lastStepOnly?: boolean;
  /** Apply dropout (if configured). Default false. */
  training?: boolean;
  /**
   * Real length of each sequence [B], for a right-padded batch (PyTorch's
   * `pack_padded_sequence(x, lengths, enforce_sorted=False)`): for sequence b
   * the forward direction runs steps 0..L_b-1, the reverse direction starts at
   * step L_b-1 from its initial state, outputs past L_b are zero, and hN / cN
   * are each sequence's own final states. The padding values are never read.
   * Default: every sequence has all T steps. With `lastStepOnly`, the output
   * is each sequence's step L_b-1 (PyTorch's `output[lengths-1, arange(B)]`).
   */
  lengths?: ArrayLike<number>;
  /**
   * Write the output into this array (its length must be the output's:
   * T*B*D*H, or B*D*H with `lastStepOnly`) and return it as `output`,
   * instead of a new array per call. For loops over big outputs: a fresh
   * multi-megabyte array costs its page faults on every call, which on some
   * VMs is milliseconds (2 MB: 6-7 ms on the project's VM, against 0.2 ms
   * when reused; `bench/RESULTS.md`). Its old contents are overwritten.
   */
  output?: Float32Array;
}

/** Result of {@link Recurrent.forward}. */
export interface ForwardResult {
  /** Every step's top-layer hidden state: [T, B, D*H] ([B, T, D*H] if batchFirst). */
  output: Float32Array;
  /** Final hidden state of every layer and direction: [L*D, B, H]. */
  hN: Float32Array;
  /** Final cell state (LSTM): [L*D, B, H]. */
  cN?: Float32Array;
}

/** Upstream gradients for {@link Recurrent.backward}; omitted ones are zeros. */
export interface BackwardInput {
  /** dL/d output [T, B, D*H] (or [B, T, D*H] with batchFirst); omitted: zeros. */
  dOutput?: ArrayLike<number>;
  /** dL/d hN [L*D, B, H]; omitted: zeros. */
  dhN?: ArrayLike<number>;
  /** dL/d cN [L*D, B, H] (LSTM); omitted: zeros. */
  dcN?: ArrayLike<number>;
  /** Record ‖∂L/∂h_t‖ of the last layer's forward direction for every t (see {@link Recurrent.gradNorms}). */
  recordGradNorms?: boolean;
}

/** Result of {@link Recurrent.backward}; parameter gradients are in {@link Recurrent.gradStateDict}. */
export interface BackwardResult {
  /** [T, B, I] ([B, T, I] if batchFirst). */
  dInput: Float32Array;
  /** [L*D, B, H] */
  dh0: Float32Array;
  /** [L*D, B, H] (LSTM) */
  dc0?: Float32Array;
}

/** One layer-direction: its weights and their gradients. */
interface Unit {
  l: number;
  d: number;
  inSize: number;
  wIh: Tensor; // [G*H, in]
  wHh: Tensor; // [G*H, H]
  bIh: Tensor; // [G*H]
  bHh: Tensor; // [G*H]
  gWIh: Tensor;
  gWHh: Tensor;
  gBIh: Tensor;
  gBHh: Tensor;
}

/** Activation buffers of one layer-direction for a (T, B) capacity. */
interface UnitCache {
  gates: Tensor; // [T, B, G*H]: LSTM activated gates; RNN pre-activations; GRU x W_ih^T
  hs: Tensor; // [T+1, B, H]: hidden states incl. the initial one (see hSlot)
  cs?: Tensor; // [T+1, B, H]: LSTM cell states
  tc?: Tensor; // [T, B, H]: LSTM tanh(c_t)
  gru?: Tensor; // [T, B, 4H]: GRU cache r, z, n, h W_hn^T + b_hn
  /** The last forward started from h = 0 (every entry +-0): its first step's h_{t-1} W_hh^T was skipped (zero). */
  zeroInit?: boolean;
}

/**
 * The shared machinery of the three recurrent layers. Use {@link SimpleRNN},
 * {@link LSTM} or {@link GRU}.
 */
export class Recurrent {
  /** The cell: "rnn_tanh", "rnn_relu", "lstm" or "gru". */
  readonly kind: CellKind;
  /** Input features I per step. */
  readonly inputSize: number;
  /** Hidden size H. */
  readonly hiddenSize: number;
  /** Stacked layers L. */
  readonly numLayers: number;
  /** True when each layer also runs backwards in time (D = 2). */
  readonly bidirectional: boolean;
  /** Dropout probability on the outputs of every layer but the last (with `training: true`). */
  readonly dropout: number;
  /** True when inputs and outputs are [B, T, F] instead of [T, B, F]. */
  readonly batchFirst: boolean;
  /** D: 1 or 2. */
  readonly numDirections: number;
  /** Gate activation (LSTM, GRU); 'sigmoid' for SimpleRNN. */
  readonly gateActivation: GateActivation;
  /** GRU: the reset gate scales h W_hn^T + b_hn (true, PyTorch) or h before W_hn (false, Keras reset_after = false). True for the other cells. */
  readonly resetAfter: boolean;
  /** The kernels' gate activation code: 0 sigmoid, 1 hard sigmoid. */
  private readonly gact: number;

  private readonly params: Arena;
  private readonly grads: Arena;
  private readonly units: Unit[] = [];
  private readonly paramByName = new Map<string, Tensor>();
  private readonly gradByName = new Map<string, Tensor>();
  private readonly rng: Rng;

  // Activation arena, planned for a (T, B) capacity and re-planned when a call exceeds it.
  private acts: Arena | null = null;
  private capT = 0;
  private capB = 0;
  private caches: UnitCache[] = [];
  private a!: Record<string, Tensor>;
  /** Shape of the last forward, which backward differentiates. */
  private last: { T: number; B: number; training: boolean; lengths: Int32Array | null } | null = null;
  private norms: Float64Array | null = null;
  /** The last public forward returned only the last step. */
  private lastStepOnly = false;
  /** State of the dropout mask generator (4 x u32 in WASM memory), made on first use. */
  private dropoutState: Arena | null = null;
  /** Batch size of the state held for the next 'keep' forward; null = zeros (fits any). */
  private stateB: number | null = null;

  constructor(kind: CellKind, opts: RecurrentOptions, resetAfter = true) {
    checkRecurrentOptions(opts);
    if (opts.gateActivation === "hard_sigmoid" && kind !== "lstm" && kind !== "gru") {
      throw new UnfoldError("E_OPTION", "gateActivation is for LSTM and GRU gates; SimpleRNN has none", { name: "gateActivation", expected: "undefined or 'sigmoid'", received: opts.gateActivation });
    }
    const dropout = opts.dropout ?? 0;
    this.kind = kind;
    this.gateActivation = opts.gateActivation ?? "sigmoid";
    this.gact = this.gateActivation === "hard_sigmoid" ? 1 : 0;
    this.resetAfter = resetAfter;
    this.inputSize = opts.inputSize;
    this.hiddenSize = opts.hiddenSize;
    this.numLayers = opts.numLayers ?? 1;
    this.bidirectional = opts.bidirectional ?? false;
    this.numDirections = this.bidirectional ? 2 : 1;
    this.dropout = dropout;
    this.batchFirst = opts.batchFirst ?? false;
    this.rng = new Rng(opts.seed ?? 0);

    // Parameters and gradients: two arenas with the same plan, so an optimizer
    // can run one flat loop over [params.ptr, params.ptr + bytes).
    const G = GATES[kind];
    const H = this.hiddenSize;
    this.params = new Arena();
    this.grads = new Arena();
    for (let l = 0; l < this.numLayers; l++) {
      const inSize = l === 0 ? this.inputSize : this.numDirections * H;
      for (let d = 0; d < this.numDirections; d++) {
        const sfx = `_l${l}${d === 1 ? "_reverse" : ""}`;
        const mk = (base: string, shape: number[]) => {
          const name = base + sfx;
          const p = this.params.tensor(name, shape);
          const g = this.grads.tensor(name, shape);
          this.paramByName.set(name, p);
          this.gradByName.set(name, g);
          return [p, g];
        };
        const [wIh, gWIh] = mk("weight_ih", [G * H, inSize]);
        const [wHh, gWHh] = mk("weight_hh", [G * H, H]);
        const [bIh, gBIh] = mk("bias_ih", [G * H]);
        const [bHh, gBHh] = mk("bias_hh", [G * H]);
        this.units.push({ l, d, inSize, wIh, wHh, bIh, bHh, gWIh, gWHh, gBIh, gBHh });
      }
    }
    this.params.commit();
    this.grads.commit();
    this.initWeights(opts.init ?? "pytorch");
  }

  /** G: gates per cell. */
  get gates(): number {
    return GATES[this.kind];
  }

  /** Number of parameters. */
  get parameterCount(): number {
    let n = 0;
    for (const t of this.paramByName.values()) n += t.size;
    return n;
  }

  /** Parameter tensors by PyTorch name (live views into WASM memory). */
  parameters(): ReadonlyMap<string, Tensor> {
    return this.paramByName;
  }

  /** Gradient tensors by PyTorch name, same layout as {@link parameters}. */
  gradients(): ReadonlyMap<string, Tensor> {
    return this.gradByName;
  }

  /** The parameter and gradient arenas (one block each, same layout). @internal */
  arenas(): { params: Arena; grads: Arena } {
    return { params: this.params, grads: this.grads };
  }

  private initWeights(scheme: InitScheme): void {
    const H = this.hiddenSize;
    const G = this.gates;
    const rng = this.rng;
    for (const u of this.units) {
      // PyTorch order within a layer-direction: w_ih, w_hh, b_ih, b_hh.
      const wIh = u.wIh.f32();
      const wHh = u.wHh.f32();
      const bIh = u.bIh.f32();
      const bHh = u.bHh.f32();
      if (scheme === "pytorch") {
        const k = 1 / Math.sqrt(H);
        for (const t of [wIh, wHh, bIh, bHh]) uniformInit(t, rng, k);
      } else {
        xavierInit(wIh, rng, G * H, u.inSize);
        if (scheme === "xavier") xavierInit(wHh, rng, G * H, H);
        else for (let g = 0; g < G; g++) orthogonalInit(wHh, rng, H, H, g * H * H);
        bIh.fill(0);
        bHh.fill(0);
      }
    }
  }

  /**
   * Load weights by PyTorch name (`weight_ih_l0`, `bias_hh_l1_reverse`, ...),
   * flat row-major or nested arrays. Every tensor is checked first (missing,
   * extra, shape, finite); on any error nothing is changed.
   */
  loadStateDict(sd: StateDict): void {
    loadChecked(this.paramByName, sd);
  }

  /** Copies of the weights under PyTorch's names. */
  stateDict(): Record<string, Float32Array> {
    return dumpTensors(this.paramByName);
  }

  /** Copies of the gradients of the last {@link backward}, under the weights' names. */
  gradStateDict(): Record<string, Float32Array> {
    return dumpTensors(this.gradByName);
  }

  /** Set every gradient to zero. */
  zeroGrad(): void {
    const g = this.grads;
    kernels().fill_f32(g.ptr, g.bytes / 4, 0);
  }

  /**
   * ‖∂L/∂h_t‖ for t = 0..T-1 of the top layer's forward direction, recorded by
   * the last `backward({ recordGradNorms: true })`. With the loss on the last
   * step only, this is how the gradient vanishes (or not) going back in time.
   */
  gradNorms(): Float64Array {
    if (!this.norms) throw new UnfoldError("E_STATE", "call backward({ recordGradNorms: true }) first");
    return this.norms.slice();
  }

  /**
   * Engine-level, for inspection (src/model/inspect.ts): where the last
   * forward keeps layer-direction `ui` (= l*D + d)'s per-step activations,
   * with that forward's T and B. Byte offsets, valid until the next call:
   * hs [T+1, B, H] (forward: slot t+1 = h_t; reverse: slot t = h_t),
   * cs like hs (LSTM), gates [T, B, G*H] (LSTM: activated i, f, g, o),
   * gru [T, B, 4H] (GRU: r, z, n, h W_hn^T + b_hn).
   * @internal
   */
  lastActivations(ui: number): { T: number; B: number; hs: Ptr; cs: Ptr | null; gates: Ptr; gru: Ptr | null } | null {
    if (!this.last || !(ui >= 0 && ui < this.caches.length)) return null;
    const c = this.caches[ui];
    return { T: this.last.T, B: this.last.B, hs: c.hs.ptr, cs: c.cs ? c.cs.ptr : null, gates: c.gates.ptr, gru: c.gru ? c.gru.ptr : null };
  }

  // ---- activation memory -------------------------------------------------------

  /** Make sure the activation arena holds a (T, B) call; re-plan (never overflow) if not. */
  private ensureCapacity(T: number, B: number): void {
    if (this.acts && T <= this.capT && B <= this.capB) return;
    const capT = Math.max(T, this.capT);
    const capB = Math.max(B, this.capB);
    // A carried state survives a re-plan for a longer sequence (same batch size).
    const kept = this.acts && capB === this.capB ? { h0: this.a.h0.toArray(), c0: this.a.c0.toArray() } : null;
    this.acts?.dispose();
    const a = new Arena(64); // cache-line aligned: threads write a step's gates and states by columns
    const H = this.hiddenSize;
    const G = this.gates;
    const D = this.numDirections;
    const L = this.numLayers;
    const I = this.inputSize;
    const TB = capT * capB;
    const maxIn = Math.max(I, D * H);
    this.caches = this.units.map((u) => {
      const s = `l${u.l}d${u.d}.`;
      const c: UnitCache = {
        gates: a.tensor(s + "gates", [capT, capB, G * H]),
        hs: a.tensor(s + "hs", [capT + 1, capB, H]),
      };
      if (this.kind === "lstm") {
        c.cs = a.tensor(s + "cs", [capT + 1, capB, H]);
        c.tc = a.tensor(s + "tc", [capT, capB, H]);
      }
      if (this.kind === "gru") c.gru = a.tensor(s + "gru", [capT, capB, 4 * H]);
      return c;
    });
    const t: Record<string, Tensor> = {
      x: a.tensor("x", [capT, capB, I]), // the input, time-major
      out: a.tensor("out", [capT, capB, D * H]), // the top layer's output (bidirectional or batch-first)
      h0: a.tensor("h0", [L * D, capB, H]),
      c0: a.tensor("c0", [L * D, capB, H]),
      hN: a.tensor("hN", [L * D, capB, H]),
      cN: a.tensor("cN", [L * D, capB, H]),
      dh0: a.tensor("dh0", [L * D, capB, H]),
      dc0: a.tensor("dc0", [L * D, capB, H]),
      gh: a.tensor("gh", [capB, G * H]), // GRU: h_{t-1} W_hh^T of one step
      dc: a.tensor("dc", [capB, H]), // LSTM: running dL/dc
      dhp: a.tensor("dhp", [capB, H]), // GRU: dL/dh_{t-1} of one step
      dhAcc: a.tensor("dhAcc", [capB, H]), // reverse direction with lengths: dL/dh0 of the sequences that ended early
      dcAcc: a.tensor("dcAcc", [capB, H]), // ... and dL/dc0 (LSTM)
      dG: a.tensor("dG", [capT, capB, G * H]), // gate gradients of one layer-direction
      dGh: a.tensor("dGh", [capT, capB, G * H]), // GRU: recurrent-projection gradients
      dHs: a.tensor("dHs", [capT, capB, H]), // dL/dh_t of one layer-direction
      dA: a.tensor("dA", [capT, capB, maxIn]), // ping-pong layer input/output gradients
      dB: a.tensor("dB", [capT, capB, maxIn]),
      packed: a.tensor("packed", [Math.ceil((G * H) / 8) * 8 * Math.max(H, 1) + Math.ceil(H / 8) * 8 * G * H]),
      scratch: a.tensor("scratch", [Math.ceil(Math.max(maxIn, H, G * H) / 8) * 8 * Math.max(TB, G * H, maxIn)]),
    };
    for (let l = 1; l < L; l++) {
      t[`mask${l}`] = a.tensor(`mask${l}`, [capT, capB, D * H]); // dropout mask, 0 or 1/(1-p)
      t[`xin${l}`] = a.tensor(`xin${l}`, [capT, capB, D * H]); // the dropped-out input of layer l
      t[`y${l - 1}`] = a.tensor(`y${l - 1}`, [capT, capB, D * H]); // layer l-1's output
    }
    a.commit();
    this.acts = a;
    this.a = t;
    this.capT = capT;
    this.capB = capB;
    if (kept) {
      t.h0.set(kept.h0);
      t.c0.set(kept.c0);
    }
  }

  /** Byte offset of hidden state slot s (0..T) of a unit. */
  private hAt(c: UnitCache, s: number, B: number): Ptr {
    return c.hs.ptr + s * B * this.hiddenSize * 4;
  }

  /** Where layer l's output [T, B, D*H] lives. */
  private layerOut(l: number, B: number): Ptr {
    if (l === this.numLayers - 1) {
      // Unidirectional, time-major: the hidden states h_1..h_T are the output.
      if (this.numDirections === 1 && !this.batchFirst) return this.hAt(this.caches[l], 1, B);
      return this.a.out.ptr;
    }
    if (this.numDirections === 1) return this.hAt(this.caches[l * this.numDirections], 1, B);
    return this.a[`y${l}`].ptr;
  }

  /** Where layer l's input [T, B, in] lives (after dropout). */
  private layerIn(l: number, B: number, training: boolean): Ptr {
    if (l === 0) return this.a.x.ptr;
    return training && this.dropout > 0 ? this.a[`xin${l}`].ptr : this.layerOut(l - 1, B);
  }

  // ---- forward -------------------------------------------------------------------

  /**
   * Run the unfolded recurrence over the whole sequence.
   * @param x [T, B, I] time-major (or [B, T, I] if batchFirst), flat.
   */
  forward(x: ArrayLike<number>, opts: ForwardOptions = {}): ForwardResult {
    v.checkArrayLike("forward: x", x);
    v.checkObject("forward: options", opts);
    const B = opts.batchSize ?? 1;
    checkInt("batchSize", B, 1);
    v.checkBool("forward: options.lastStepOnly", opts.lastStepOnly);
    v.checkBool("forward: options.training", opts.training);
    if (opts.output !== undefined && !(opts.output instanceof Float32Array)) {
      throw new UnfoldError("E_OPTION", `forward: options.output must be a Float32Array to write the output into, got ${Object.prototype.toString.call(opts.output)}`, { name: "output", expected: "a Float32Array" });
    }
    const I = this.inputSize;
    if (x.length === 0 || x.length % (B * I) !== 0) {
      throw new UnfoldError("E_SHAPE", 
        `unfold-rnn: input has ${x.length} values, which is not T * batchSize * inputSize for batchSize ${B} and inputSize ${I} ` +
          `(expected shape ${this.batchFirst ? "[B, T, I]" : "[T, B, I]"}, flat)`,
        { name: "x", expected: `a multiple of ${B * I} values`, received: x.length },
      );
    }
    // Float arrays are checked for NaN / Infinity in WASM after the copy below (SIMD, ~15x faster than a JS loop).
    if (!isFloatArray(x)) v.checkFinite("forward: x", x);
    if (opts.c0 !== undefined && this.kind !== "lstm") throw new UnfoldError("E_OPTION", `c0 is only for LSTM; ${this.kind} has no cell state`, { name: "c0" });
    const nState = this.numLayers * this.numDirections * B * this.hiddenSize;
    for (const [name, st] of [["h0", opts.h0], ["c0", opts.c0]] as const) {
      if (st === undefined) continue;
      v.checkArrayLike(`forward: ${name}`, st);
      if (st.length !== nState) {
        throw new UnfoldError("E_SHAPE", `${name} should have shape [numLayers*D, B, H] = [${this.numLayers * this.numDirections}, ${B}, ${this.hiddenSize}] (${nState} values), got ${st.length}`, { name, expected: `${nState} values`, received: st.length });
      }
      v.checkFinite(name, st);
    }
    const T = x.length / (B * I);
    const lens = checkLengths(opts.lengths, T, B, "forward: options.lengths");
    if (opts.output !== undefined) {
      // Checked before anything runs, so a wrong size leaves the last forward's state for its backward.
      const DH = this.numDirections * this.hiddenSize;
      const nOut = (opts.lastStepOnly ? 1 : T) * B * DH;
      if (opts.output.length !== nOut) {
        throw new UnfoldError("E_SHAPE", `forward: options.output has ${opts.output.length} values; this output has ${nOut} (${opts.lastStepOnly ? `[B, D*H] = [${B}, ${DH}]` : `${this.batchFirst ? "[B, T, D*H]" : "[T, B, D*H]"} with T = ${T}, B = ${B}, D*H = ${DH}`})`, { name: "output", expected: `${nOut} values`, received: opts.output.length });
      }
    }
    this.ensureCapacity(T, B);
    const k = kernels();
    const a = this.a;
    const hp = heap();
    // The input, time-major, staged in dA (free until backward) and checked
    // there, so that a bad input leaves the last forward's x for its backward.
    const tmp = a.dA.ptr;
    hp.f32(tmp, x.length).set(x);
    const bad = k.count_nonfinite(tmp, x.length);
    if (bad > 0) {
      v.checkFinite("forward: x", x); // names the first bad index
      throw new UnfoldError("E_NAN", `input contains ${bad} NaN or infinite value(s) (beyond the float32 range); clean the data first`, { name: "x" });
    }
    if (this.batchFirst) k.swap01_f32(a.x.ptr, tmp, B, T, I);
    else k.copy2d_f32(a.x.ptr, x.length, tmp, x.length, 1, x.length);
    this.setState(opts.h0, a.h0, "h0", B);
    if (this.kind === "lstm") this.setState(opts.c0, a.c0, "c0", B);
    else if (opts.c0) throw new UnfoldError("E_OPTION", `c0 is only for LSTM; ${this.kind} has no cell state`, { name: "c0" });

    const training = !!opts.training;
    this.run(T, B, training, lens);

    const D = this.numDirections;
    const H = this.hiddenSize;
    const out = this.layerOut(this.numLayers - 1, B);
    let output: Float32Array;
    this.lastStepOnly = !!opts.lastStepOnly;
    const dst = opts.output;
    // The output leaves WASM memory as a copy: into opts.output, or a new array.
    const take = (view: Float32Array): Float32Array => (dst ? (dst.set(view), dst) : view.slice());
    if (this.lastStepOnly && lens) {
      // Each sequence's own last real step, row (L_b - 1)*B + b.
      const all = hp.f32(out, T * B * D * H);
      output = dst ?? new Float32Array(B * D * H);
      for (let b = 0; b < B; b++) output.set(all.subarray(((lens[b] - 1) * B + b) * D * H, ((lens[b] - 1) * B + b + 1) * D * H), b * D * H);
    } else if (this.lastStepOnly) output = take(hp.f32(out + (T - 1) * B * D * H * 4, B * D * H));
    else if (this.batchFirst) {
      k.swap01_f32(a.dA.ptr, out, T, B, D * H);
      output = take(hp.f32(a.dA.ptr, T * B * D * H));
    } else output = take(hp.f32(out, T * B * D * H));
    const { hN, cN } = this.finalStatePtr();
    const n = this.units.length * B * H;
    const res: ForwardResult = { output, hN: hp.f32(hN, n).slice() };
    if (cN !== null) res.cN = hp.f32(cN, n).slice();
    return res;
  }

  private setState(v: ArrayLike<number> | undefined, t: Tensor, name: string, B: number): void {
    const n = this.numLayers * this.numDirections * B * this.hiddenSize;
    const view = heap().f32(t.ptr, n);
    if (v === undefined) {
      view.fill(0);
      return;
    }
    if (v.length !== n) {
      throw new UnfoldError(
        "E_SHAPE",
        `${name} should have shape [numLayers*D, B, H] = [${this.numLayers * this.numDirections}, ${B}, ${this.hiddenSize}] (${n} values), got ${v.length}`,
      );
    }
    view.set(v);
    if (kernels().count_nonfinite(t.ptr, n) > 0) throw new UnfoldError("E_NAN", `${name} contains NaN or infinite values`, { name });
  }

  // ---- engine-level API (time-major, WASM pointers), used by models -------------

  /**
   * Forward on an input already in WASM memory. Engine-level: x [T, B, I] is
   * time-major regardless of batchFirst, and is not checked for NaN.
   * @param opts.state 'zeros' (default) starts from h0 = c0 = 0; 'keep' starts from
   *   the state set by {@link carryState} or {@link setInitialStatePtr}.
   * @param lengths [B] real length of each sequence (see {@link ForwardOptions.lengths});
   *   {@link backwardPtr} and {@link finalStatePtr} then use them too.
   * @returns byte offset of the output [T, B, D*H], valid until the next call.
   * @internal
   */
  forwardPtr(x: Ptr, T: number, B: number, opts: { training?: boolean; state?: "zeros" | "keep"; lengths?: ArrayLike<number> } = {}): Ptr {
    checkInt("T", T, 1);
    checkInt("batchSize", B, 1);
    const lens = checkLengths(opts.lengths, T, B, "lengths");
    if (opts.state === "keep" && this.stateB !== null && this.stateB !== B) {
      throw new UnfoldError("E_STATE", `cannot keep the hidden state across a change of batch size (${this.stateB} -> ${B}); call resetState() first`);
    }
    this.ensureCapacity(T, B);
    const k = kernels();
    const a = this.a;
    k.copy2d_f32(a.x.ptr, this.inputSize, x, this.inputSize, T * B, this.inputSize);
    if (opts.state !== "keep") this.resetState();
    this.run(T, B, !!opts.training, lens);
    return this.runOutput(B);
  }

  /** The top layer's output [T, B, D*H], time-major (whatever batchFirst says), of the last forward. */
  private runOutput(B: number): Ptr {
    return this.numDirections === 1 ? this.hAt(this.caches[this.units.length - 1], 1, B) : this.layerOut(this.numLayers - 1, B);
  }

  /** Zero the initial state used by the next `forwardPtr(..., { state: 'keep' })`. */
  resetState(): void {
    this.stateB = null;
    if (!this.acts) return;
    const k = kernels();
    k.fill_f32(this.a.h0.ptr, this.a.h0.size, 0);
    k.fill_f32(this.a.c0.ptr, this.a.c0.size, 0);
  }

  /**
   * Carry the state reached after `step` steps of the last forward (default:
   * all T, the final state) into the initial state of the next forward — the
   * hidden (and cell) state passed from one truncated-BPTT chunk to the next,
   * detached: no gradient flows back across it. Unidirectional layers only.
   */
  carryState(step?: number): void {
    if (!this.last) throw new UnfoldError("E_STATE", "carryState() needs a forward() first");
    if (this.numDirections !== 1) throw new UnfoldError("E_UNSUPPORTED", "a bidirectional layer cannot carry its state forward in time");
    const { T, B } = this.last;
    const j = step ?? T;
    checkInt("step", j, 0);
    if (j > T) throw new UnfoldError("E_OPTION", `carryState(${j}) is past the last forward's ${T} steps`, { name: "step", expected: `an integer in [0, ${T}]`, received: j });
    const k = kernels();
    const H = this.hiddenSize;
    const BH4 = B * H * 4;
    this.stateB = B;
    this.caches.forEach((c, ui) => {
      k.copy2d_f32(this.a.h0.ptr + ui * BH4, H, this.hAt(c, j, B), H, B, H);
      if (c.cs) k.copy2d_f32(this.a.c0.ptr + ui * BH4, H, c.cs.ptr + j * BH4, H, B, H);
    });
  }

  /** A copy of the state held for the next 'keep' forward (null if it is zeros), for saving. @internal */
  carriedState(): { B: number; h: Float32Array; c: Float32Array } | null {
    if (this.stateB === null || !this.acts) return null;
    const n = this.units.length * this.stateB * this.hiddenSize;
    return { B: this.stateB, h: heap().f32(this.a.h0.ptr, n).slice(), c: heap().f32(this.a.c0.ptr, n).slice() };
  }

  /** Restore a state from {@link carriedState}. @internal */
  restoreCarriedState(st: { B: number; h: Float32Array; c: Float32Array }): void {
    v.checkObject("restoreCarriedState: state", st);
    checkInt("state.B", st.B, 1);
    v.checkArrayLike("state.h", st.h);
    v.checkArrayLike("state.c", st.c);
    const n = this.units.length * st.B * this.hiddenSize;
    if (st.h.length !== n || st.c.length !== n) throw new UnfoldError("E_SHAPE", `carried state has ${st.h.length} values, expected ${n}`, { name: "state.h", expected: `${n} values`, received: st.h.length });
    v.checkFinite("state.h", st.h);
    v.checkFinite("state.c", st.c);
    this.ensureCapacity(Math.max(this.capT, 1), st.B);
    heap().f32(this.a.h0.ptr, n).set(st.h);
    heap().f32(this.a.c0.ptr, n).set(st.c);
    this.stateB = st.B;
  }

  /** State of the dropout random streams (saved with a model so resumed training is exact). @internal */
  get rngState(): number[] {
    const g = this.dropoutState ? Array.from(this.dropoutState.get("s").i32()) : [];
    return [...this.rng.getState(), ...g];
  }
  /** Restore the dropout random streams from {@link rngState}. @internal */
  set rngState(s: number[]) {
    if (!Array.isArray(s) || (s.length !== 5 && s.length !== 9) || s.some((x) => typeof x !== "number" && x !== null)) {
      throw new UnfoldError("E_OPTION", "rngState must be an array of 5 or 9 numbers, as rngState returned", { name: "rngState", expected: "5 or 9 numbers", received: s });
    }
    this.rng.setState(s.slice(0, 5).map((x) => x ?? NaN));
    if (s.length === 9) {
      if (!this.dropoutState) {
        this.dropoutState = new Arena();
        this.dropoutState.tensor("s", [4], "i32");
        this.dropoutState.commit();
      }
      this.dropoutState.get("s").i32().set(s.slice(5));
    }
  }

  /**
   * Reorder the batch entries of the carried state: entry b of the next
   * forward's initial state becomes entry `order[b]` of the current one
   * (beam search keeps the states of the surviving beams).
   */
  permuteState(order: ArrayLike<number>): void {
    v.checkArrayLike("permuteState: order", order);
    for (let b = 0; b < order.length; b++) checkInt(`order[${b}]`, order[b], 0, order.length - 1);
    if (!this.acts) return;
    const B = order.length;
    const H = this.hiddenSize;
    for (const t of [this.a.h0, this.a.c0]) {
      const v = t.f32();
      const old = v.slice(0, this.units.length * B * H);
      for (let u = 0; u < this.units.length; u++) {
        for (let b = 0; b < B; b++) v.set(old.subarray((u * B + order[b]) * H, (u * B + order[b] + 1) * H), (u * B + b) * H);
      }
    }
  }

  /**
   * Set the initial state from WASM memory: h0 (and c0) [L*D, B, H], e.g. an
   * encoder's final state. Use with `forwardPtr(..., { state: 'keep' })`.
   */
  setInitialStatePtr(h0: Ptr, c0: Ptr | null, B: number): void {
    this.ensureCapacity(Math.max(this.capT, 1), B);
    this.stateB = B;
    const k = kernels();
    const n = this.units.length * B * this.hiddenSize;
    k.copy2d_f32(this.a.h0.ptr, n, h0, n, 1, n);
    if (this.kind === "lstm") {
      if (c0) k.copy2d_f32(this.a.c0.ptr, n, c0, n, 1, n);
      else k.fill_f32(this.a.c0.ptr, n, 0);
    }
  }

  /**
   * Byte offsets of the last forward's final states hN, cN [L*D, B, H]
   * (copied into scratch): the forward direction's state after each
   * sequence's last real step (slot L_b), the reverse direction's after step 0.
   * The lengths are those the forward ran with; a unidirectional layer run
   * without them may be given `lengths` [B] here (right-padded sequences:
   * the forward direction never reads what comes after a sequence's end).
   * @internal
   */
  finalStatePtr(lengths?: ArrayLike<number>): { hN: Ptr; cN: Ptr | null } {
    if (!this.last) throw new UnfoldError("E_STATE", "finalStatePtr() needs a forward() first");
    const { T, B } = this.last;
    const lens = this.lengthsOfLast(lengths);
    const k = kernels();
    const H = this.hiddenSize;
    const BH4 = B * H * 4;
    this.units.forEach((u, ui) => {
      const c = this.caches[ui];
      if (lens && u.d === 0) {
        for (let b = 0; b < B; b++) {
          const at = lens[b] * BH4 + b * H * 4;
          k.copy2d_f32(this.a.hN.ptr + ui * BH4 + b * H * 4, H, c.hs.ptr + at, H, 1, H);
          if (c.cs) k.copy2d_f32(this.a.cN.ptr + ui * BH4 + b * H * 4, H, c.cs.ptr + at, H, 1, H);
        }
        return;
      }
      const slot = u.d === 0 ? T : 0;
      k.copy2d_f32(this.a.hN.ptr + ui * BH4, H, this.hAt(c, slot, B), H, B, H);
      if (c.cs) k.copy2d_f32(this.a.cN.ptr + ui * BH4, H, c.cs.ptr + slot * BH4, H, B, H);
    });
    return { hN: this.a.hN.ptr, cN: this.kind === "lstm" ? this.a.cN.ptr : null };
  }

  /**
   * The lengths backward and the final states use: those of the last forward,
   * or (unidirectional layers run without them) the ones given here.
   */
  private lengthsOfLast(given: ArrayLike<number> | undefined): Int32Array | null {
    const { T, B, lengths } = this.last!;
    if (given === undefined) return lengths;
    const g = checkLengths(given, T, B, "lengths");
    if (lengths) {
      if (g === null || g.some((L, b) => L !== lengths[b])) {
        throw new UnfoldError("E_OPTION", "lengths differ from the ones the last forward ran with", { name: "lengths", expected: Array.from(lengths).join(","), received: given });
      }
      return lengths;
    }
    if (g !== null && this.numDirections === 2) {
      throw new UnfoldError("E_STATE", "a bidirectional layer needs the lengths in forwardPtr(..., { lengths }): its reverse direction starts at each sequence's last step", { name: "lengths" });
    }
    return g;
  }

  /**
   * BPTT from gradients in WASM memory (time-major). dY [T, B, D*H] or null
   * for zeros (entries past a sequence's length are ignored); dhN/dcN
   * [L*D, B, H] or null. Writes the parameter gradients. `lengths`: as in
   * {@link finalStatePtr}. `inputGrad` false: the caller has no use for dX
   * (the model's input is features, not an embedding or another layer), so
   * the first layer skips its dX GEMM (dX = dG W_ih, T*B x I x G*H: 10% of
   * W2's backward flops), as autograd skips inputs that need no gradient.
   * `stateGrad` false: the caller has no use for dh0 (a model trained from
   * zero states): the LSTM's last step skips dh0 = dG_0 W_hh, and dh0 then
   * holds no gradient (dc0 still does).
   * @returns byte offsets of dX [T, B, I] (0 when `inputGrad` is false), dh0 and dc0 [L*D, B, H].
   * @internal
   */
  backwardPtr(dY: Ptr | null, dhN: Ptr | null = null, dcN: Ptr | null = null, recordGradNorms = false, lengths?: ArrayLike<number>, inputGrad = true, stateGrad = true): { dX: Ptr; dh0: Ptr; dc0: Ptr | null } {
    if (!this.last) throw new UnfoldError("E_STATE", "backward() needs a forward() first");
    const lens = this.lengthsOfLast(lengths);
    const { T, B } = this.last;
    const n = T * B * this.numDirections * this.hiddenSize;
    const k = kernels();
    if (dY === null) k.fill_f32(this.a.dA.ptr, n, 0);
    else k.copy2d_f32(this.a.dA.ptr, n, dY, n, 1, n);
    const dX = this.bptt(dhN, dcN, recordGradNorms, lens, inputGrad, stateGrad);
    return { dX: inputGrad ? dX : 0, dh0: this.a.dh0.ptr, dc0: this.kind === "lstm" ? this.a.dc0.ptr : null };
  }

  /**
   * Forward on the input already in `x` (time-major) and states in h0/c0.
   * With lengths [B], the padding steps (t >= L_b) of the input are zeroed
   * first, so whatever they held changes nothing, and every layer's outputs
   * there are zeroed after it ran, so the next layer reads zeros too.
   */
  private run(T: number, B: number, training: boolean, lens: Int32Array | null): void {
    const k = kernels();
    const H = this.hiddenSize;
    const D = this.numDirections;
    if (lens) zeroPadding(this.a.x.ptr, this.inputSize, T, B, lens);
    for (let l = 0; l < this.numLayers; l++) {
      if (l > 0 && training && this.dropout > 0) this.dropoutForward(l, T, B);
      const X = this.layerIn(l, B, training);
      for (let d = 0; d < D; d++) this.unitForward(l * D + d, X, T, B, lens);
      // Interleave the directions (or make batch-first room) into the layer output.
      const out = this.layerOut(l, B);
      const last = l === this.numLayers - 1;
      if (D === 2 || (last && this.batchFirst)) {
        for (let d = 0; d < D; d++) {
          const c = this.caches[l * D + d];
          k.copy2d_f32(out + d * H * 4, D * H, this.hAt(c, d === 0 ? 1 : 0, B), H, T * B, H);
        }
        // (The forward direction's padding is zero already; the reverse direction's slot L_b holds h0.)
        if (D === 2 && lens) zeroPadding(out, D * H, T, B, lens);
      }
    }
    this.last = { T, B, training, lengths: lens };
  }

  private dropoutForward(l: number, T: number, B: number): void {
    const k = kernels();
    const n = T * B * this.numDirections * this.hiddenSize;
    const mask = this.a[`mask${l}`];
    // The mask comes from a generator inside WASM, seeded once from this layer's Rng.
    if (!this.dropoutState) {
      this.dropoutState = new Arena();
      this.dropoutState.tensor("s", [4], "i32");
      this.dropoutState.commit();
      const st = this.dropoutState.get("s").i32();
      for (let i = 0; i < 4; i++) st[i] = this.rng.nextU32() | 0;
      if ((st[0] | st[1] | st[2] | st[3]) === 0) st[0] = 1;
    }
    k.dropout_mask(mask.ptr, n, this.dropout, 1 / (1 - this.dropout), this.dropoutState.ptr);
    k.mul_f32(this.a[`xin${l}`].ptr, this.layerOut(l - 1, B), mask.ptr, n);
  }

  /**
   * The batch-1 LSTM path (assembly/small.ts: the recurrent products as
   * GEMVs, each whole time loop one call): B = 1, the forward direction, no
   * padding, H a multiple of 4, and a step too small to be split across
   * threads (one recurrent product, 2·4H·H flops: with workers a bigger step
   * is split across them by the per-step loop instead). Bit-identical to the
   * per-step loop, on any number of threads.
   */
  private b1Path(B: number, rev: boolean, lens: Int32Array | null): boolean {
    const H = this.hiddenSize;
    return B === 1 && this.kind === "lstm" && !rev && lens === null && H % 4 === 0 && !threads.splitsAt(2 * 4 * H * H);
  }

  /**
   * The first step from h_{t-1} = 0: the gates are the input projection alone,
   * so the step is the cell (the GRU's h W_hh^T is zeros). Returns false for
   * the reset-before GRU, whose step kernel does its own GEMMs.
   */
  private zeroStepFwd(B: number, Gt: Ptr, hPrev: Ptr, hCur: Ptr, prev: number, cur: number, t: number, c: UnitCache, u: Unit): boolean {
    const k = kernels();
    const H = this.hiddenSize;
    const BH4 = B * H * 4;
    if (this.kind === "lstm") k.lstm_step_fwd(Gt, u.bIh.ptr, u.bHh.ptr, c.cs!.ptr + prev * BH4, c.cs!.ptr + cur * BH4, hCur, c.tc!.ptr + t * BH4, B, H, this.gact);
    else if (this.kind === "gru") {
      if (!this.resetAfter) return false;
      k.fill_f32(this.a.gh.ptr, B * 3 * H, 0);
      k.gru_step_fwd(Gt, this.a.gh.ptr, u.bIh.ptr, u.bHh.ptr, hPrev, hCur, c.gru!.ptr + t * 4 * BH4, B, H, this.gact);
    } else k.rnn_step_fwd(Gt, u.bIh.ptr, u.bHh.ptr, hCur, B, H, this.kind === "rnn_relu" ? 1 : 0);
    return true;
  }

  /**
   * One layer-direction over all T steps. X: [T, B, in]. With lengths, the
   * reverse direction of sequence b starts at its own last step L_b - 1 from
   * its initial state (copied into slot L_b of row b just before that step,
   * where backward also finds it as h_prev); the steps it ran before, over the
   * (zero) padding, are overwritten or zeroed. The forward direction's states
   * past L_b are zeroed: they are its output there.
   */
  private unitForward(ui: number, X: Ptr, T: number, B: number, lens: Int32Array | null): void {
    const k = kernels();
    const u = this.units[ui];
    const c = this.caches[ui];
    const H = this.hiddenSize;
    const GH = this.gates * H;
    const BH4 = B * H * 4;
    const rev = u.d === 1;
    const packed = this.a.packed.ptr;
    const b1 = this.b1Path(B, rev, lens);
    // 1. Input projection, gates [T*B, GH] = X W_ih^T: in blocks of `blk` steps just before the
    // loop reaches them, so that a block's gates (<= PROJ_BLOCK_BYTES, 512 KiB: measured best of
    // 256 KiB to 2 MiB) are still in L2 when its steps read them (the whole [T, B, GH] is 8 MB at
    // W1; written at once, every step read its slice back from L3 or memory). The same bits as
    // one GEMM: each row's dot products are unchanged. The batch-1 loop takes all steps at once.
    const I = u.inSize;
    // On threads, 8 or more rows may run as "rows over time" (threads.forwardRows, not the reset-before GRU):
    // each thread takes chunks of rows through every step, projection included, and the threads
    // meet once instead of once per step. It needs W_ih^T packed in the scratch, as blocks do.
    const rows = !b1 && this.resetAfter && !(rev && lens) && B >= 8 && threads.threadCount() > 1;
    const blk = b1 || PROJ_BLOCK_BYTES <= 0 ? T : Math.max(1, Math.floor(PROJ_BLOCK_BYTES / (B * GH * 4)));
    // For blocks, W_ih^T is packed once into the scratch (nothing in the loop uses it): gemm_nt
    // is that packing and then this packed GEMM.
    if (blk < T || rows) threads.packB(true, u.wIh.ptr, I, I, GH, this.a.scratch.ptr);
    const inProj = (t0: number, n: number) =>
      threads.gemmPacked(n * B, GH, I, X + t0 * B * I * 4, I, 1, this.a.scratch.ptr, c.gates.ptr + t0 * B * GH * 4, GH, 0);
    if (blk >= T && !rows) threads.gemmNT(T * B, GH, I, X, I, u.wIh.ptr, I, c.gates.ptr, GH, 0, this.a.scratch.ptr);
    // 2. W_hh^T packed once for the whole loop (reset-before GRU: its r, z rows and its n rows apart).
    if (b1) k.b1_pack_t(u.wHh.ptr, H, GH, H, packed);
    else if (this.resetAfter) threads.packB(true, u.wHh.ptr, H, H, GH, packed);
    else {
      k.gemm_pack_b_nt(u.wHh.ptr, H, H, 2 * H, packed);
      k.gemm_pack_b_nt(u.wHh.ptr + 2 * H * H * 4, H, H, H, packed + rbPanel(2 * H, H));
    }
    // Initial state into slot 0 (forward) or slot T (reverse): hs[s] holds
    // h_{s-1} going forward, h_s going backward, so that the previous states
    // of all steps, H_prev, are one contiguous [T, B, H] block.
    const s0 = rev ? T : 0;
    k.copy2d_f32(this.hAt(c, s0, B), H, this.a.h0.ptr + ui * BH4, H, B, H);
    if (c.cs) k.copy2d_f32(c.cs.ptr + s0 * BH4, H, this.a.c0.ptr + ui * BH4, H, B, H);
    // From h = 0 (the default), the first step's h_{t-1} W_hh^T is zero: that step is the cell
    // alone (1/T of the recurrent GEMM). Its squares sum to 0 exactly when every entry is +-0.
    c.zeroInit = k.sum_squares(this.a.h0.ptr + ui * BH4, B * H) === 0;
    // 3. The unfolded recurrence: at batch 1 (LSTM) the whole loop is one call; on threads, as rows
    // over time, one job (the projection with it); else step by step.
    if (b1) {
      k.lstm_fwd_b1(T, H, c.hs.ptr, c.cs!.ptr, c.gates.ptr, c.tc!.ptr, packed, u.bIh.ptr, u.bHh.ptr, this.gact);
      return;
    }
    const kind = this.kind === "lstm" ? 0 : this.kind === "gru" ? 1 : 2;
    const [a0, a1] = kind === 0 ? [c.cs!.ptr, c.tc!.ptr] : kind === 1 ? [this.a.gh.ptr, c.gru!.ptr] : [0, 0];
    const act = kind === 2 ? (this.kind === "rnn_relu" ? 1 : 0) : this.gact;
    const done = rows && threads.forwardRows(kind, T, B, I, H, X, this.a.scratch.ptr, packed, c.gates.ptr, u.bIh.ptr, u.bHh.ptr, c.hs.ptr, a0, a1, act, rev, c.zeroInit);
    if (rows && !done && blk >= T) inProj(0, T); // not split now: the projection in one, W_ih^T already packed
    for (let s = 0; s < T && !done; s++) {
      if (blk < T && s % blk === 0) {
        const n = Math.min(blk, T - s);
        inProj(rev ? T - s - n : s, n);
      }
      const t = rev ? T - 1 - s : s;
      const prev = rev ? t + 1 : t; // slot of h_{t-1} (in processing order)
      const cur = rev ? t : t + 1; // slot of h_t
      const hPrev = this.hAt(c, prev, B);
      const hCur = this.hAt(c, cur, B);
      const Gt = c.gates.ptr + t * B * GH * 4;
      if (rev && lens) {
        for (let b = 0; b < B; b++) {
          if (lens[b] - 1 !== t || lens[b] === T) continue;
          k.copy2d_f32(hPrev + b * H * 4, H, this.a.h0.ptr + ui * BH4 + b * H * 4, H, 1, H);
          if (c.cs) k.copy2d_f32(c.cs.ptr + prev * BH4 + b * H * 4, H, this.a.c0.ptr + ui * BH4 + b * H * 4, H, 1, H);
        }
      }
      if (s === 0 && c.zeroInit && this.zeroStepFwd(B, Gt, hPrev, hCur, prev, cur, t, c, u)) continue;
      switch (this.kind) {
        // Each is gemm_packed_f32x4_4x8 (h_{t-1} W_hh^T) then the fused cell kernel.
        case "lstm":
          threads.lstmStepFwd(B, H, hPrev, packed, Gt, u.bIh.ptr, u.bHh.ptr, c.cs!.ptr + prev * BH4, c.cs!.ptr + cur * BH4, hCur, c.tc!.ptr + t * BH4, this.gact);
          break;
        case "gru":
          if (this.resetAfter) threads.gruStepFwd(B, H, hPrev, packed, Gt, this.a.gh.ptr, u.bIh.ptr, u.bHh.ptr, hCur, c.gru!.ptr + t * 4 * BH4, this.gact);
          else k.gru_rb_step_fwd(hPrev, packed, packed + rbPanel(2 * H, H), Gt, this.a.gh.ptr, u.bIh.ptr, u.bHh.ptr, hCur, c.gru!.ptr + t * 4 * BH4, B, H, this.gact);
          break;
        default:
          threads.rnnStepFwd(B, H, hPrev, packed, Gt, u.bIh.ptr, u.bHh.ptr, hCur, this.kind === "rnn_relu" ? 1 : 0);
      }
    }
    if (lens) {
      // Forward: h_t for t >= L_b (slots L_b+1..T). Reverse: the states of the padding
      // steps (slots L_b+1..T-1; slot L_b holds h0 and slot T the initial state).
      const end = rev ? T - 1 : T;
      for (let b = 0; b < B; b++) for (let sl = lens[b] + 1; sl <= end; sl++) k.fill_f32(c.hs.ptr + (sl * B + b) * H * 4, H, 0);
    }
  }

  // ---- backward (BPTT) ----------------------------------------------------------------

  /**
   * Backpropagation through time over the sequence of the last {@link forward}.
   * Parameter gradients are written (not accumulated) and read with
   * {@link gradStateDict}.
   */
  backward(grad: BackwardInput = {}): BackwardResult {
    if (!this.last) throw new UnfoldError("E_STATE", "backward() needs a forward() first");
    v.checkObject("backward: gradients", grad, "an object { dOutput?, dhN?, dcN? }");
    v.checkBool("backward: recordGradNorms", grad.recordGradNorms);
    if (grad.dcN !== undefined && this.kind !== "lstm") throw new UnfoldError("E_OPTION", "dcN is only for LSTM", { name: "dcN" });
    for (const name of ["dOutput", "dhN", "dcN"] as const) {
      const g = grad[name];
      if (g === undefined) continue;
      v.checkArrayLike(`backward: ${name}`, g);
      // A float dOutput of the right size is checked in WASM once copied (below); the rest here.
      const rightSize = g.length === this.numDirections * this.hiddenSize * this.last.B * (this.lastStepOnly ? 1 : this.last.T);
      if (name !== "dOutput" || !isFloatArray(g) || !rightSize) v.checkFinite(name, g);
    }
    const { T, B, lengths: lens } = this.last;
    const k = kernels();
    const hp = heap();
    const a = this.a;
    const H = this.hiddenSize;
    const D = this.numDirections;
    const nOut = T * B * D * H;
    const nState = this.numLayers * D * B * H;
    // dY of the top layer, time-major, in dA.
    const dY = a.dA.ptr;
    if (grad.dOutput !== undefined && this.lastStepOnly) {
      // dOutput [B, D*H] of the last step (each sequence's own, with lengths); every other step gets zero.
      if (grad.dOutput.length !== B * D * H) throw new UnfoldError("E_SHAPE", `dOutput should have ${B * D * H} values (shape [B, ${D * H}]: the forward returned the last step only), got ${grad.dOutput.length}`);
      k.fill_f32(dY, nOut, 0);
      if (lens) {
        const all = hp.f32(dY, nOut);
        for (let b = 0; b < B; b++) for (let j = 0; j < D * H; j++) all[((lens[b] - 1) * B + b) * D * H + j] = grad.dOutput[b * D * H + j];
      } else hp.f32(dY + (T - 1) * B * D * H * 4, B * D * H).set(grad.dOutput);
    } else if (grad.dOutput !== undefined) {
      if (grad.dOutput.length !== nOut) {
        throw new UnfoldError("E_SHAPE", `dOutput should have ${nOut} values (shape [${this.batchFirst ? "B, T" : "T, B"}, ${D * H}]), got ${grad.dOutput.length}`);
      }
      if (this.batchFirst) {
        hp.f32(a.dB.ptr, nOut).set(grad.dOutput);
        k.swap01_f32(dY, a.dB.ptr, B, T, D * H);
      } else hp.f32(dY, nOut).set(grad.dOutput);
    } else k.fill_f32(dY, nOut, 0);
    if (grad.dOutput !== undefined && isFloatArray(grad.dOutput) && k.count_nonfinite(dY, nOut) > 0) {
      v.checkFinite("dOutput", grad.dOutput); // names the first bad index
      throw new UnfoldError("E_NAN", "dOutput has values beyond the float32 range; scale the loss down", { name: "dOutput" });
    }
    const dhN = this.checkGradState(grad.dhN, "dhN", nState);
    const dcN = this.checkGradState(grad.dcN, "dcN", nState);
    // dhN, dcN go in hN, cN (free after forward).
    if (dhN) a.hN.f32().set(dhN);
    if (dcN) a.cN.f32().set(dcN);
    const dXp = this.bptt(dhN ? a.hN.ptr : null, dcN ? a.cN.ptr : null, !!grad.recordGradNorms, lens);
    const I = this.inputSize;
    let dInput: Float32Array;
    if (this.batchFirst) {
      const other = dXp === a.dA.ptr ? a.dB.ptr : a.dA.ptr;
      k.swap01_f32(other, dXp, T, B, I);
      dInput = hp.f32(other, T * B * I).slice();
    } else dInput = hp.f32(dXp, T * B * I).slice();
    const res: BackwardResult = { dInput, dh0: hp.f32(a.dh0.ptr, nState).slice() };
    if (this.kind === "lstm") res.dc0 = hp.f32(a.dc0.ptr, nState).slice();
    return res;
  }

  /**
   * BPTT through all layers; dA holds dL/d(output). Returns where dL/dx [T, B, I] is.
   * With lengths, dL/d(output) at the padding steps is dropped first; no
   * gradient then reaches a padding step of any layer, so dL/dx is zero there.
   */
  private bptt(dhN: Ptr | null, dcN: Ptr | null, recordGradNorms: boolean, lengths: Int32Array | null, inputGrad = true, stateGrad = true): Ptr {
    const { T, B, training } = this.last!;
    const k = kernels();
    const a = this.a;
    const H = this.hiddenSize;
    const D = this.numDirections;
    const L = this.numLayers;
    const BH4 = B * H * 4;
    this.norms = recordGradNorms ? new Float64Array(T) : null;
    let dY = a.dA.ptr;
    if (lengths) zeroPadding(dY, D * H, T, B, lengths);
    let dX = a.dB.ptr;
    for (let l = L - 1; l >= 0; l--) {
      const X = this.layerIn(l, B, training);
      for (let d = 0; d < D; d++) {
        const ui = l * D + d;
        this.unitBackward(ui, X, dY, l > 0 || inputGrad ? dX : null, dhN === null ? null : dhN + ui * BH4, dcN === null ? null : dcN + ui * BH4, T, B, recordGradNorms && l === L - 1 && d === 0, lengths, stateGrad);
      }
      if (l > 0 && training && this.dropout > 0) {
        k.mul_f32(dX, dX, a[`mask${l}`].ptr, T * B * D * H);
      }
      [dY, dX] = [dX, dY];
    }
    return dY;
  }

  private checkGradState(v: ArrayLike<number> | undefined, name: string, n: number): Float32Array | undefined {
    if (v === undefined) return undefined;
    if (v.length !== n) throw new UnfoldError("E_SHAPE", `${name} should have shape [numLayers*D, B, H] (${n} values), got ${v.length}`, { name, expected: `${n} values`, received: v.length });
    return Float32Array.from(v);
  }

  /**
   * BPTT through one layer-direction. dY: [T, B, D*H] gradient of the layer's
   * output (this unit reads its H columns); dX: [T, B, in] gradient of the
   * layer's input (the forward direction writes it, the reverse one adds),
   * or null: not wanted (see {@link backwardPtr}'s `inputGrad`).
   */
  private unitBackward(
    ui: number, X: Ptr, dY: Ptr, dX: Ptr | null,
    dhN: Ptr | null, dcN: Ptr | null,
    T: number, B: number, record: boolean, lengths: Int32Array | null, stateGrad = true,
  ): void {
    const k = kernels();
    const u = this.units[ui];
    const c = this.caches[ui];
    const a = this.a;
    const H = this.hiddenSize;
    const D = this.numDirections;
    const GH = this.gates * H;
    const BH = B * H;
    const BH4 = BH * 4;
    const rev = u.d === 1;
    const packed = a.packed.ptr;
    // dHs[t] = dL/dh_t: the output gradient, then the recurrent one added. With one direction that is dY
    // itself (this layer's own buffer, which bptt reuses for the next layer's dX): no copy.
    const dHs = D === 1 ? dY : a.dHs.ptr;
    const dG = a.dG.ptr;
    const dGh = this.kind === "gru" ? a.dGh.ptr : dG;
    const dh0 = a.dh0.ptr + ui * BH4;

    if (D !== 1) k.copy2d_f32(dHs, H, dY + u.d * H * 4, D * H, T * B, H);
    const tLast = rev ? 0 : T - 1; // the time step processed last in forward
    // dL/dhN enters at the last step processed: the forward direction's at each
    // sequence's own last step with lengths, the reverse direction's at step 0.
    const own = lengths !== null && !rev;
    if (dhN !== null && own) {
      for (let b = 0; b < B; b++) k.axpy_f32(dHs + (lengths[b] - 1) * BH4 + b * H * 4, dhN + b * H * 4, H, 1);
    } else if (dhN !== null) k.axpy_f32(dHs + tLast * BH4, dhN, BH, 1);
    if (this.kind === "lstm") {
      if (dcN !== null && !own) k.copy2d_f32(a.dc.ptr, BH, dcN, BH, 1, BH);
      else k.fill_f32(a.dc.ptr, BH, 0);
    }
    // Reverse direction with lengths: sequence b's first step is L_b - 1; the
    // gradient reaching its initial state there is set aside (dhAcc, dcAcc)
    // so that the padding steps after it carry none.
    const early = rev && lengths !== null ? Array.from(lengths).some((L) => L < T) : false;
    // At batch 1 (LSTM) the whole loop is one call, on W_hh in place.
    const b1 = !record && this.b1Path(B, rev, lengths);
    // W_hh [GH, H] packed as the right operand of dG_t W_hh (reset-before GRU: rows r, z and rows n apart).
    if (b1) k.lstm_bwd_b1(T, H, c.gates.ptr, c.cs!.ptr, c.tc!.ptr, dHs, a.dc.ptr, dG, u.wHh.ptr, stateGrad ? dh0 : 0, this.gact);
    else if (this.resetAfter) threads.packB(false, u.wHh.ptr, H, GH, H, packed);
    else {
      k.gemm_pack_b_nn(u.wHh.ptr, H, 2 * H, H, packed);
      k.gemm_pack_b_nn(u.wHh.ptr + 2 * H * H * 4, H, H, H, packed + rbPanel(H, 2 * H));
    }

    // LSTM: the cell of the first step walked, then one job per step, split by
    // hidden units: dL/dh_{t-1} = dG_t W_hh, each chunk of units followed by
    // the next step's cell on the same units (threads.lstmStepBwdUnits). The
    // reverse direction with early-ending sequences moves rows of dL/dh_{t-1}
    // between the two, so it takes the loop after this one.
    // On threads, 8 or more rows may walk back as "rows over time" (threads.backwardRows), as the
    // forward: one job, the threads meeting once. Not with rows moved between steps (early) or
    // dL/dcN entering at each sequence's own last step; the step norms are read afterwards (each
    // dHs[t] is complete once its step t+1 is done, and not written after).
    const kindNo = this.kind === "lstm" ? 0 : this.kind === "gru" ? 1 : 2;
    const rowsP: Ptr[] =
      kindNo === 0
        ? [c.gates.ptr, c.cs!.ptr, c.tc!.ptr, dHs, a.dc.ptr, dG, packed, dh0]
        : kindNo === 1
          ? [c.gru!.ptr, c.hs.ptr, dHs, dG, dGh, a.dhp.ptr, packed, dh0]
          : [c.hs.ptr, dHs, dG, packed, 0, 0, 0, dh0];
    const rowsAct = kindNo === 2 ? (this.kind === "rnn_relu" ? 1 : 0) : this.gact;
    const byRows =
      !b1 && this.resetAfter && !early && !(dcN !== null && own) && B >= 8 && threads.threadCount() > 1 &&
      threads.backwardRows(kindNo, T, B, H, rowsP, rowsAct, rev, stateGrad);
    if (byRows && record) for (let t = 0; t < T; t++) this.norms![t] = Math.sqrt(k.sum_squares(dHs + t * BH4, BH));
    const byUnits = !b1 && !byRows && this.kind === "lstm" && !early;
    const stepAt = (s: number) => (rev ? s : T - 1 - s); // walk back in time (forward time for the reverse direction)
    const cellAt = (t: number): threads.LstmCellBwd => ({
      G: c.gates.ptr + t * B * GH * 4,
      cPrev: c.cs!.ptr + (rev ? t + 1 : t) * BH4,
      tc: c.tc!.ptr + t * BH4,
      dc: a.dc.ptr,
      dG: dG + t * B * GH * 4,
    });
    const dcAt = (t: number) => {
      // dL/dcN of the sequences whose last real step is t, before that step's cell.
      if (dcN !== null && own) for (let b = 0; b < B; b++) if (lengths[b] - 1 === t) k.axpy_f32(a.dc.ptr + b * H * 4, dcN + b * H * 4, H, 1);
    };
    if (byUnits) {
      const t0 = stepAt(0);
      if (record) this.norms![t0] = Math.sqrt(k.sum_squares(dHs + t0 * BH4, BH));
      dcAt(t0);
      const c0 = cellAt(t0);
      k.lstm_step_bwd(c0.G, c0.cPrev, c0.tc, dHs + t0 * BH4, c0.dc, c0.dG, B, H, this.gact);
      // The last job is dh0 = dG_0 W_hh alone: left out where nobody reads dh0.
      for (let s = 0; s < (stateGrad ? T : T - 1); s++) {
        const t = stepAt(s);
        const last = s === T - 1;
        const tn = last ? -1 : stepAt(s + 1); // the step walked next: dPrev is its dL/dh
        if (!last) dcAt(tn);
        const dPrev = last ? dh0 : dHs + tn * BH4;
        threads.lstmStepBwdUnits(B, H, dG + t * B * GH * 4, packed, dPrev, last ? 0 : 1, last ? null : cellAt(tn), this.gact);
        if (record && !last) this.norms![tn] = Math.sqrt(k.sum_squares(dPrev, BH));
      }
    }
    for (let s = 0; !b1 && !byUnits && !byRows && s < T; s++) {
      const t = stepAt(s);
      const prev = rev ? t + 1 : t;
      const cur = rev ? t : t + 1;
      const dh = dHs + t * BH4;
      // dL/dh_{t-1} goes into the previous step's slot (which already holds its output gradient), or into dh0.
      const first = s === T - 1;
      const dPrev = first ? dh0 : dHs + (rev ? t + 1 : t - 1) * BH4;
      if (record) this.norms![t] = Math.sqrt(k.sum_squares(dh, BH));
      dcAt(t);
      const dGt = dG + t * B * GH * 4;
      switch (this.kind) {
        // Each is the fused cell kernel then gemm_packed_f32x4_4x8 (dG_t W_hh).
        case "lstm":
          threads.lstmStepBwd(B, H, c.gates.ptr + t * B * GH * 4, c.cs!.ptr + prev * BH4, c.tc!.ptr + t * BH4, dh, a.dc.ptr, dGt, packed, dPrev, first ? 0 : 1, this.gact);
          break;
        case "gru": {
          const dGht = dGh + t * B * GH * 4;
          if (this.resetAfter) threads.gruStepBwd(B, H, c.gru!.ptr + t * 4 * BH4, this.hAt(c, prev, B), dh, dGt, dGht, a.dhp.ptr, packed, this.gact);
          else k.gru_rb_step_bwd(c.gru!.ptr + t * 4 * BH4, this.hAt(c, prev, B), dh, dGt, dGht, a.dhp.ptr, packed, packed + rbPanel(H, 2 * H), B, H, this.gact);
          if (first) k.copy2d_f32(dPrev, H, a.dhp.ptr, H, B, H);
          else k.axpy_f32(dPrev, a.dhp.ptr, BH, 1);
          break;
        }
        default:
          threads.rnnStepBwd(B, H, this.hAt(c, cur, B), dh, dGt, packed, dPrev, first ? 0 : 1, this.kind === "rnn_relu" ? 1 : 0);
      }
      if (early && !first) {
        for (let b = 0; b < B; b++) {
          if (lengths![b] - 1 !== t) continue;
          const row = b * H * 4;
          k.copy2d_f32(a.dhAcc.ptr + row, H, dPrev + row, H, 1, H);
          k.fill_f32(dPrev + row, H, 0);
          if (this.kind === "lstm") {
            k.copy2d_f32(a.dcAcc.ptr + row, H, a.dc.ptr + row, H, 1, H);
            k.fill_f32(a.dc.ptr + row, H, 0);
          }
        }
      }
    }
    if (this.kind === "lstm") k.copy2d_f32(a.dc0.ptr + ui * BH4, H, a.dc.ptr, H, B, H);
    if (early) {
      // (The last step, t = T-1, wrote these rows of dh0 and dc0 from zero gradients.)
      for (let b = 0; b < B; b++) {
        if (lengths![b] === T) continue;
        const row = b * H * 4;
        k.copy2d_f32(dh0 + row, H, a.dhAcc.ptr + row, H, 1, H);
        if (this.kind === "lstm") k.copy2d_f32(a.dc0.ptr + ui * BH4 + row, H, a.dcAcc.ptr + row, H, 1, H);
      }
    }

    // Weight gradients: one GEMM each over all T*B rows.
    const TB = T * B;
    const scratch = a.scratch.ptr;
    const sf = a.scratch.size; // floats: the tn row split needs a slice per thread
    const hPrevAll = this.hAt(c, rev ? 1 : 0, B); // [T, B, H]: h_{t-1} of every step
    threads.gemmTN(GH, u.inSize, TB, dG, GH, X, u.inSize, u.gWIh.ptr, u.inSize, 0, scratch, sf); // dW_ih = dG^T X
    if (this.resetAfter) {
      // dW_hh = dGh^T H_prev. From h = 0 the first step walked adds zeros: its B rows are left out (the
      // first ones going forward, the last ones going backward), the same sums in the same order.
      const skip = c.zeroInit ? B : 0;
      const r0 = rev ? 0 : skip;
      threads.gemmTN(GH, H, TB - skip, dGh + r0 * GH * 4, GH, hPrevAll + r0 * H * 4, H, u.gWHh.ptr, H, 0, scratch, sf);
    }
    else {
      // Reset-before GRU: dW_hh's r, z rows = dGh_rz^T H_prev, its n rows = dGh_n^T U (U = r * h_prev, the cache's 4th block).
      threads.gemmTN(2 * H, H, TB, dGh, GH, hPrevAll, H, u.gWHh.ptr, H, 0, scratch, sf);
      threads.gemmTN(H, H, TB, dGh + 2 * H * 4, GH, c.gru!.ptr + 3 * H * 4, 4 * H, u.gWHh.ptr + 2 * H * H * 4, H, 0, scratch, sf);
    }
    threads.sumRows(u.gBIh.ptr, dG, TB, GH, 0);
    // LSTM: both biases add to the same pre-activations (dGh is dG), so their gradients are equal.
    if (dGh === dG) k.copy2d_f32(u.gBHh.ptr, GH, u.gBIh.ptr, GH, 1, GH);
    else threads.sumRows(u.gBHh.ptr, dGh, TB, GH, 0);
    // dX (+)= dG W_ih: the reverse direction adds to the forward direction's.
    if (dX !== null) threads.gemmNN(TB, u.inSize, GH, dG, GH, u.wIh.ptr, u.inSize, dX, u.inSize, u.d === 0 ? 0 : 1, scratch);
  }

  /** Free the WASM memory now instead of at garbage collection. */
  dispose(): void {
    this.acts?.dispose();
    this.acts = null;
    this.dropoutState?.dispose();
    this.params.dispose();
    this.grads.dispose();
  }
}

function checkInt(name: string, x: unknown, min: number, max = Infinity): void {
  v.checkInt(name, x, min, max);
}

/**
 * Per-sequence lengths [B] of a right-padded batch of T steps: B integers in
 * [1, T]. Returns them as an Int32Array, or null when there are none or every
 * sequence has all T steps (the plain, unpadded run).
 */
export function checkLengths(lengths: unknown, T: number, B: number, name = "lengths"): Int32Array | null {
  if (lengths === undefined || lengths === null) return null;
  v.checkArrayLike(name, lengths);
  v.checkLength(name, lengths, B, "[B]");
  let full = true;
  for (let b = 0; b < B; b++) {
    checkInt(`${name}[${b}]`, lengths[b], 1, T);
    if (lengths[b] !== T) full = false;
  }
  return full ? null : Int32Array.from(lengths);
}

/** Zero the padding rows (t, b), t >= lens[b], of a time-major [T, B, width] tensor. */
function zeroPadding(ptr: Ptr, width: number, T: number, B: number, lens: Int32Array): void {
  const k = kernels(); // (fill_f32 per row: ~3x faster than a typed-array fill per row)
  for (let b = 0; b < B; b++) for (let t = lens[b]; t < T; t++) k.fill_f32(ptr + (t * B + b) * width * 4, width, 0);
}

/** Every option of a recurrent layer, checked before anything is built. */
function checkRecurrentOptions(opts: RecurrentOptions): void {
  v.checkObject("recurrent layer options", opts, "an object { inputSize, hiddenSize, ... }");
  checkInt("inputSize", opts.inputSize, 1);
  checkInt("hiddenSize", opts.hiddenSize, 1);
  checkInt("numLayers", opts.numLayers ?? 1, 1);
  v.checkNumber("dropout", opts.dropout, { min: 0, max: 1, maxOpen: true, optional: true });
  v.checkBool("bidirectional", opts.bidirectional);
  v.checkBool("batchFirst", opts.batchFirst);
  v.checkNumber("seed", opts.seed, { optional: true });
  v.checkOneOf("init", opts.init, ["pytorch", "xavier", "orthogonal"] as const, true);
  v.checkOneOf("gateActivation", opts.gateActivation, ["sigmoid", "hard_sigmoid"] as const, true);
}

/**
 * Elman RNN: h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)
 * (or relu), as torch.nn.RNN.
 */
export class SimpleRNN extends Recurrent {
  constructor(opts: RecurrentOptions & { nonlinearity?: "tanh" | "relu" }) {
    v.checkObject("SimpleRNN options", opts);
    const nl = opts.nonlinearity ?? "tanh";
    v.checkOneOf("nonlinearity", nl, ["tanh", "relu"] as const);
    super(nl === "relu" ? "rnn_relu" : "rnn_tanh", opts);
  }
}

/**
 * Long Short-Term Memory, as torch.nn.LSTM. Gates i, f, g, o:
 * i, f, o = σ(·), g = tanh(·), c_t = f ⊙ c_{t-1} + i ⊙ g (the cell state),
 * h_t = o ⊙ tanh(c_t). The forget gate f decides how much of c_{t-1} to keep.
 */
export class LSTM extends Recurrent {
  constructor(opts: RecurrentOptions & { forgetBias?: number }) {
    v.checkNumber("forgetBias", opts?.forgetBias, { optional: true });
    super("lstm", opts);
    if (opts.forgetBias !== undefined) this.setForgetBias(opts.forgetBias);
  }

  /**
   * Set the forget gate's bias (bias_ih's f slice; bias_hh's f slice to 0),
   * the classic remedy that lets the cell state remember by default.
   */
  setForgetBias(value: number): void {
    v.checkNumber("forgetBias", value);
    const H = this.hiddenSize;
    for (const [name, t] of this.parameters()) {
      if (name.startsWith("bias_ih")) t.f32().fill(value, H, 2 * H);
      if (name.startsWith("bias_hh")) t.f32().fill(0, H, 2 * H);
    }
  }
}

/**
 * Gated Recurrent Unit, as torch.nn.GRU. Gates r, z, n:
 * r, z = σ(·), n = tanh(x W_in^T + b_in + r ⊙ (h W_hn^T + b_hn)),
 * h_t = (1 - z) ⊙ n + z ⊙ h_{t-1}.
 * With `resetAfter: false` (Keras's `reset_after=False`, tfjs-layers' GRU,
 * ONNX `linear_before_reset = 0`) the reset gate scales h before W_hn:
 * n = tanh(x W_in^T + b_in + (r ⊙ h) W_hn^T + b_hn). Same parameters and names.
 */
export class GRU extends Recurrent {
  constructor(opts: RecurrentOptions & { resetAfter?: boolean }) {
    v.checkBool("resetAfter", opts?.resetAfter);
    super("gru", opts, opts.resetAfter ?? true);
  }
}

/** Float32Array or Float64Array: holds numbers only, so its NaN / Infinity check can run in WASM after the copy. */
function isFloatArray(x: ArrayLike<number>): x is Float32Array | Float64Array {
  return x instanceof Float32Array || x instanceof Float64Array;
}

/** Bytes of an [N]-column right operand packed for gemm_packed_f32x4_4x8 over K rows: ceil(N/8) panels of [K][8]. */
function rbPanel(N: number, K: number): number {
  return Math.ceil(N / 8) * 8 * K * 4;
}
