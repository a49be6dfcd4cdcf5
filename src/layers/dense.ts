/**
 * Dense (torch.nn.Linear) and Embedding (torch.nn.Embedding), applied to every
 * row of a [N, F] batch — for a sequence, N = T*B: every time step at once.
 *
 * Legend: N = rows (T*B), I = in features, O = out features, V = vocabulary, E = embedding size.
 */
import type { Ptr } from "../runtime/abi.js";
import { Arena, type Tensor } from "../runtime/arena.js";
import * as threads from "../runtime/threads.js";
import { heap, kernels } from "../runtime/wasm.js";
import { Rng } from "../util/rng.js";
import { uniformInit } from "./init.js";
import { dumpTensors, loadChecked, type StateDict } from "./params.js";
import { UnfoldError } from "../errors.js";
import * as v from "../validate.js";

/** Options of {@link Dense}. */
export interface DenseOptions {
  /** Input features I per row. */
  inFeatures: number;
  /** Output features O per row. */
  outFeatures: number;
  /** Add a bias. Default true. */
  bias?: boolean;
  /** Seed of the U(-1/sqrt(I), 1/sqrt(I)) initialisation (torch's default bound). Default 0. */
  seed?: number;
}

/** y = x W^T + b, W [O, I], b [O]: the output layer of every time step. */
export class Dense {
  /** Input features I. */
  readonly inFeatures: number;
  /** Output features O. */
  readonly outFeatures: number;
  private readonly params = new Arena();
  private readonly grads = new Arena();
  private readonly pByName = new Map<string, Tensor>();
  private readonly gByName = new Map<string, Tensor>();
  private acts: Arena | null = null;
  private cap = 0;
  private t!: { x: Tensor; y: Tensor; dx: Tensor; scratch: Tensor };
  private lastN = 0;

  constructor(opts: DenseOptions) {
    v.checkObject("Dense options", opts, "an object { inFeatures, outFeatures }");
    checkPos("inFeatures", opts.inFeatures);
    checkPos("outFeatures", opts.outFeatures);
    v.checkBool("bias", opts.bias);
    v.checkNumber("seed", opts.seed, { optional: true });
    this.inFeatures = opts.inFeatures;
    this.outFeatures = opts.outFeatures;
    const I = opts.inFeatures;
    const O = opts.outFeatures;
    const shapes: [string, number[]][] = [["weight", [O, I]]];
    if (opts.bias ?? true) shapes.push(["bias", [O]]);
    for (const [name, shape] of shapes) {
      this.pByName.set(name, this.params.tensor(name, shape));
      this.gByName.set(name, this.grads.tensor(name, shape));
    }
    this.params.commit();
    this.grads.commit();
    const rng = new Rng(opts.seed ?? 0);
    for (const p of this.pByName.values()) uniformInit(p.f32(), rng, 1 / Math.sqrt(I));
  }

  /** Parameter tensors by PyTorch name (`weight`, `bias`). */
  parameters(): ReadonlyMap<string, Tensor> {
    return this.pByName;
  }
  /** The parameter and gradient arenas (one block each, same layout). @internal */
  arenas(): { params: Arena; grads: Arena } {
    return { params: this.params, grads: this.grads };
  }
  /** Gradient tensors, same names. */
  gradients(): ReadonlyMap<string, Tensor> {
    return this.gByName;
  }
  /** Load `weight` [O, I] and `bias` [O] (PyTorch names and layout), checked before anything changes. */
  loadStateDict(sd: StateDict): void {
    loadChecked(this.pByName, sd);
  }
  /** Copies of the parameters by PyTorch name. */
  stateDict(): Record<string, Float32Array> {
    return dumpTensors(this.pByName);
  }
  /** Copies of the gradients of the last backward, by parameter name. */
  gradStateDict(): Record<string, Float32Array> {
    return dumpTensors(this.gByName);
  }

  private ensure(N: number): void {
    if (this.acts && N <= this.cap) return;
    this.acts?.dispose();
    const a = new Arena();
    const I = this.inFeatures;
    const O = this.outFeatures;
    this.t = {
      x: a.tensor("x", [N, I]),
      y: a.tensor("y", [N, O]),
      dx: a.tensor("dx", [N, I]),
      scratch: a.tensor("scratch", [Math.ceil(Math.max(I, O) / 8) * 8 * Math.max(N, I, O)]),
    };
    this.acts = a.commit();
    this.cap = N;
  }

  /** y [N, O] = x [N, I] W^T + b, on WASM memory. Keeps x for backward. */
  forwardPtr(x: Ptr, N: number): Ptr {
    this.ensure(N);
    const k = kernels();
    const I = this.inFeatures;
    const O = this.outFeatures;
    if (x !== this.t.x.ptr) k.copy2d_f32(this.t.x.ptr, I, x, I, N, I);
    threads.gemmNT(N, O, I, this.t.x.ptr, I, this.pByName.get("weight")!.ptr, I, this.t.y.ptr, O, 0, this.t.scratch.ptr);
    const b = this.pByName.get("bias");
    if (b) k.bias_add_rows(this.t.y.ptr, N, O, b.ptr);
    this.lastN = N;
    return this.t.y.ptr;
  }

  /** Given dy [N, O]: writes dW = dy^T x, db = Σ_rows dy; returns dx [N, I] = dy W. */
  backwardPtr(dy: Ptr): Ptr {
    const N = this.lastN;
    if (N === 0) throw new UnfoldError("E_STATE", "Dense.backward() needs a forward() first");
    const k = kernels();
    const I = this.inFeatures;
    const O = this.outFeatures;
    threads.gemmTN(O, I, N, dy, O, this.t.x.ptr, I, this.gByName.get("weight")!.ptr, I, 0, this.t.scratch.ptr);
    const gb = this.gByName.get("bias");
    if (gb) k.sum_rows(gb.ptr, dy, N, O, 0);
    threads.gemmNN(N, I, O, dy, O, this.pByName.get("weight")!.ptr, I, this.t.dx.ptr, I, 0, this.t.scratch.ptr);
    return this.t.dx.ptr;
  }

  /** y [N, O] for x [N, I] (flat). */
  forward(x: ArrayLike<number>): Float32Array {
    const I = this.inFeatures;
    v.checkArrayLike("Dense.forward: x", x);
    if (x.length === 0 || x.length % I !== 0) throw new UnfoldError("E_SHAPE", `Dense input has ${x.length} values, not a multiple of inFeatures ${I}`, { name: "x", expected: `a multiple of ${I} values`, received: x.length });
    v.checkFinite("Dense.forward: x", x);
    const N = x.length / I;
    this.ensure(N);
    heap().f32(this.t.x.ptr, x.length).set(x);
    if (kernels().count_nonfinite(this.t.x.ptr, x.length) > 0) throw new UnfoldError("E_NAN", "Dense input contains NaN or infinite values", { name: "x" });
    const y = this.forwardPtr(this.t.x.ptr, N);
    return heap().f32(y, N * this.outFeatures).slice();
  }

  /** dx [N, I] for dy [N, O]; parameter gradients in {@link gradStateDict}. */
  backward(dy: ArrayLike<number>): Float32Array {
    const N = this.lastN;
    if (N === 0) throw new UnfoldError("E_STATE", "Dense.backward() needs a forward() first");
    v.checkArrayLike("Dense.backward: dy", dy);
    v.checkFinite("Dense.backward: dy", dy);
    if (dy.length !== N * this.outFeatures) throw new UnfoldError("E_SHAPE", `Dense dy should have ${N * this.outFeatures} values ([${N}, ${this.outFeatures}]), got ${dy.length}`, { name: "dy", expected: `${N * this.outFeatures} values`, received: dy.length });
    // dy goes in the y buffer (no longer needed).
    heap().f32(this.t.y.ptr, dy.length).set(dy);
    const dx = this.backwardPtr(this.t.y.ptr);
    return heap().f32(dx, N * this.inFeatures).slice();
  }

  /** Free the layer's WASM memory; the layer is unusable afterwards. */
  dispose(): void {
    this.acts?.dispose();
    this.params.dispose();
    this.grads.dispose();
  }
}

/** Options of {@link Embedding}. */
export interface EmbeddingOptions {
  /** Vocabulary size V: ids are 0..V-1. */
  numEmbeddings: number;
  /** Vector size E per id. */
  embeddingDim: number;
  /** Seed of the N(0, 1) initialisation (torch's default). Default 0. */
  seed?: number;
}

/** A lookup table: row ids[i] of weight [V, E] for every token. */
export class Embedding {
  /** Vocabulary size V. */
  readonly numEmbeddings: number;
  /** Vector size E. */
  readonly embeddingDim: number;
  private readonly params = new Arena();
  private readonly grads = new Arena();
  private readonly w: Tensor;
  private readonly gw: Tensor;
  private acts: Arena | null = null;
  private cap = 0;
  private t!: { ids: Tensor; y: Tensor };
  private lastN = 0;

  constructor(opts: EmbeddingOptions) {
    v.checkObject("Embedding options", opts, "an object { numEmbeddings, embeddingDim }");
    checkPos("numEmbeddings", opts.numEmbeddings);
    checkPos("embeddingDim", opts.embeddingDim);
    v.checkNumber("seed", opts.seed, { optional: true });
    this.numEmbeddings = opts.numEmbeddings;
    this.embeddingDim = opts.embeddingDim;
    this.w = this.params.tensor("weight", [opts.numEmbeddings, opts.embeddingDim]);
    this.gw = this.grads.tensor("weight", [opts.numEmbeddings, opts.embeddingDim]);
    this.params.commit();
    this.grads.commit();
    const rng = new Rng(opts.seed ?? 0);
    const w = this.w.f32();
    for (let i = 0; i < w.length; i++) w[i] = rng.normal();
  }

  /** Parameter tensors by PyTorch name (`weight` [V, E]). */
  parameters(): ReadonlyMap<string, Tensor> {
    return new Map([["weight", this.w]]);
  }
  /** The parameter and gradient arenas (one block each, same layout). @internal */
  arenas(): { params: Arena; grads: Arena } {
    return { params: this.params, grads: this.grads };
  }
  /** Gradient tensors, same names. */
  gradients(): ReadonlyMap<string, Tensor> {
    return new Map([["weight", this.gw]]);
  }
  /** Load `weight` [V, E] (PyTorch name and layout), checked before anything changes. */
  loadStateDict(sd: StateDict): void {
    loadChecked(this.parameters(), sd);
  }
  /** Copies of the parameters by PyTorch name. */
  stateDict(): Record<string, Float32Array> {
    return dumpTensors(this.parameters());
  }
  /** Copies of the gradients of the last backward, by parameter name. */
  gradStateDict(): Record<string, Float32Array> {
    return dumpTensors(this.gradients());
  }

  /** Throw unless every id is an integer in [0, V). */
  checkIds(ids: ArrayLike<number>): void {
    v.checkArrayLike("ids", ids);
    v.checkIds("ids", ids, this.numEmbeddings);
  }

  private ensure(N: number): void {
    if (this.acts && N <= this.cap) return;
    this.acts?.dispose();
    const a = new Arena();
    this.t = { ids: a.tensor("ids", [N], "i32"), y: a.tensor("y", [N, this.embeddingDim]) };
    this.acts = a.commit();
    this.cap = N;
  }

  /**
   * Engine-level lookup: ids i32 [N] already checked with {@link checkIds}.
   * A negative id (padding) gives a zero row and no gradient.
   * @returns byte offset of y [N, E], valid until the next call.
   */
  forwardIds(ids: ArrayLike<number>): Ptr {
    // Never gather past the table, whoever calls (a negative id is padding).
    v.checkIds("ids", ids, this.numEmbeddings, true);
    const N = ids.length;
    if (N === 0) throw new UnfoldError("E_SHAPE", "Embedding input is empty", { name: "ids", expected: "at least one id", received: 0 });
    this.ensure(N);
    heap().i32(this.t.ids.ptr, N).set(ids);
    kernels().gather_rows(this.t.y.ptr, this.w.ptr, this.t.ids.ptr, N, this.embeddingDim);
    this.lastN = N;
    return this.t.y.ptr;
  }

  /** Engine-level backward: dweight = scatter-add of dy [N, E] rows to their ids. */
  backwardPtr(dy: Ptr): void {
    const k = kernels();
    k.fill_f32(this.gw.ptr, this.gw.size, 0);
    k.scatter_add_rows(this.gw.ptr, dy, this.t.ids.ptr, this.lastN, this.embeddingDim);
  }

  /** y [N, E] = weight[ids]. Ids must be integers in [0, V). */
  forward(ids: ArrayLike<number>): Float32Array {
    this.checkIds(ids);
    const y = this.forwardIds(ids);
    return heap().f32(y, ids.length * this.embeddingDim).slice();
  }

  /** Writes dweight = Σ over tokens of dy rows scattered to their ids. */
  backward(dy: ArrayLike<number>): void {
    const N = this.lastN;
    const E = this.embeddingDim;
    if (N === 0) throw new UnfoldError("E_STATE", "Embedding.backward() needs a forward() first");
    v.checkArrayLike("Embedding.backward: dy", dy);
    if (dy.length !== N * E) throw new UnfoldError("E_SHAPE", `Embedding dy should have ${N * E} values ([${N}, ${E}]), got ${dy.length}`, { name: "dy", expected: `${N * E} values`, received: dy.length });
    v.checkFinite("Embedding.backward: dy", dy);
    heap().f32(this.t.y.ptr, dy.length).set(dy);
    this.backwardPtr(this.t.y.ptr);
  }

  /** Free the layer's WASM memory; the layer is unusable afterwards. */
  dispose(): void {
    this.acts?.dispose();
    this.params.dispose();
    this.grads.dispose();
  }
}

function checkPos(name: string, x: number): void {
  v.checkInt(name, x, 1);
}
