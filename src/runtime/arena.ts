/**
 * The arena: a model (or layer) plans its named tensors — parameters,
 * gradients, optimizer moments, activation caches, scratch — then commits the
 * plan as one block of WASM memory. Every tensor is then a fixed region of
 * that block, 16-byte aligned (64, one cache line, where asked), and a
 * training step is a sequence of kernel calls on offsets: no allocation in
 * the hot loop.
 */
import { UnfoldError } from "../errors.js";
import type { Ptr } from "./abi.js";
import { alignUp } from "./heap.js";
import { heap, kernels } from "./wasm.js";

/** Element type of a {@link Tensor}: 32-bit float or 32-bit integer. */
export type DType = "f32" | "i32";

/** A view of one named region of WASM memory: offset and shape. */
export class Tensor {
  /** Byte offset into WASM memory; valid after the arena is committed. */
  private _ptr: Ptr = -1;
  /** Number of elements. */
  readonly size: number;

  constructor(
    /** The tensor's name in its arena (a PyTorch parameter name for parameters). */
    readonly name: string,
    /** Dimensions, outermost first (row-major). */
    readonly shape: readonly number[],
    /** Element type: "f32" or "i32". */
    readonly dtype: DType = "f32",
    /** Byte offset of this tensor inside its arena block. */
    readonly rel: number = 0,
  ) {
    for (const d of shape) {
      if (!Number.isInteger(d) || d < 0) throw new UnfoldError("E_SHAPE", `tensor '${name}' has an invalid shape [${shape.join(", ")}]`);
    }
    this.size = shape.reduce((a, b) => a * b, 1);
  }

  /** Byte offset in WASM memory. */
  get ptr(): Ptr {
    if (this._ptr < 0) throw new UnfoldError("E_STATE", `tensor '${this.name}' belongs to an arena that is not committed (or was disposed)`);
    return this._ptr;
  }

  /** @internal */
  bind(base: Ptr): void {
    this._ptr = base < 0 ? -1 : base + this.rel;
  }

  /** Bytes occupied (4 per element). */
  get bytes(): number {
    return this.size * 4;
  }

  /** A fresh Float32Array over the tensor's memory. Do not keep it across allocations. */
  f32(): Float32Array {
    if (this.dtype !== "f32") throw new UnfoldError("E_OPTION", `tensor '${this.name}' is ${this.dtype}, not f32`);
    return heap().f32(this.ptr, this.size);
  }

  /** A fresh Int32Array over the tensor's memory. */
  i32(): Int32Array {
    if (this.dtype !== "i32") throw new UnfoldError("E_OPTION", `tensor '${this.name}' is ${this.dtype}, not i32`);
    return heap().i32(this.ptr, this.size);
  }

  /** Copy `src` into the tensor after checking its length. */
  set(src: ArrayLike<number>): void {
    if (src.length !== this.size) {
      throw new UnfoldError("E_SHAPE", `'${this.name}' expects ${this.size} values (shape [${this.shape.join(", ")}]), got ${src.length}`);
    }
    (this.dtype === "f32" ? this.f32() : this.i32()).set(src);
  }

  /** A copy of the tensor's contents. */
  toArray(): Float32Array {
    return this.f32().slice();
  }
}

const registry = new FinalizationRegistry<Ptr>((ptr) => {
  try {
    heap().free(ptr);
  } catch {
    /* the runtime is gone */
  }
});

/**
 * Plans named regions, then commits them as one block.
 *
 * ```ts
 * const a = new Arena();
 * const w = a.tensor("weight_ih_l0", [4 * H, I]);
 * a.commit();
 * w.f32().fill(0);
 * ```
 */
export class Arena {
  private readonly tensors = new Map<string, Tensor>();
  private used = 0;
  private base: Ptr = -1;
  /** The heap block holding it (base rounded up to the alignment lies inside). */
  private block: Ptr = -1;
  /** Set on a part of a {@link Arena.join}ed block: the block that owns the memory (kept alive by its parts). */
  private owner: Arena | null = null;
  /** Set on a joined block: its parts, in order. */
  private parts: Arena[] = [];

  /**
   * @param align each tensor's alignment in bytes: 16 (the default) or 64, a
   *   cache line. 64 is for activations that threads write by columns (the
   *   recurrent layers' gates and states): two parts of a step then never
   *   write the same line (measured in bench/RESULTS.md, "Speed III, session
   *   11"). Parameter arenas keep 16: their layout, padding included, is the
   *   layout of the optimizer state that model files hold.
   */
  constructor(private readonly align: 16 | 64 = 16) {
    if (align !== 16 && align !== 64) throw new UnfoldError("E_OPTION", `Arena alignment must be 16 or 64 bytes, got ${align}`);
  }

  /**
   * Move committed arenas into one new block, in order, keeping their
   * contents (llm.c's one allocation for all parameters). Each part then
   * lives in its slice of the block: its tensors keep their names, shapes and
   * offsets inside the part, only the base moves, and the part's own memory is
   * freed. Parts planned alike (a parameter arena and its gradient arena)
   * give joined blocks of the same layout. The block owns the memory:
   * disposing a part only detaches it; disposing the block frees it all.
   */
  static join(parts: readonly Arena[]): Arena {
    for (const p of parts) {
      if (p.base < 0) throw new UnfoldError("E_STATE", "cannot join an arena that is not committed (or was disposed)", { name: "Arena.join" });
      if (p.owner) throw new UnfoldError("E_STATE", "cannot join an arena that is already part of a joined block", { name: "Arena.join" });
    }
    if (new Set(parts).size !== parts.length) throw new UnfoldError("E_STATE", "Arena.join got the same arena twice", { name: "Arena.join" });
    const whole = new Arena(parts.some((p) => p.align === 64) ? 64 : 16); // a part's lines stay lines
    const slots = parts.map((p, i) => whole.tensor(`part${i}`, [p.used / 4]));
    whole.commit();
    const h = heap();
    const all = h.f32(0, h.f32(0, 0).buffer.byteLength / 4);
    parts.forEach((p, i) => {
      const dst = slots[i].ptr;
      all.copyWithin(dst / 4, p.base / 4, (p.base + p.used) / 4);
      registry.unregister(p);
      h.free(p.block);
      p.base = p.block = dst;
      p.owner = whole;
      for (const t of p.tensors.values()) t.bind(dst);
    });
    whole.parts = [...parts];
    return whole;
  }

  /** Plan a tensor; only before {@link commit}. Names are unique in an arena. */
  tensor(name: string, shape: readonly number[], dtype: DType = "f32"): Tensor {
    if (this.base >= 0) throw new UnfoldError("E_STATE", `cannot add '${name}' to an arena that is already committed`);
    if (this.tensors.has(name)) throw new UnfoldError("E_OPTION", `arena already has a tensor named '${name}'`);
    const t = new Tensor(name, shape, dtype, this.used);
    this.used += alignUp(t.bytes, this.align);
    this.tensors.set(name, t);
    return t;
  }

  /** Allocate the block (zero-filled) and bind every tensor to it. */
  commit(): this {
    if (this.base >= 0) return this;
    const h = heap();
    // The heap aligns blocks to 16 bytes: a 64-byte arena asks for 48 more and starts at the first line.
    this.block = h.alloc(Math.max(this.used, 16) + this.align - 16);
    this.base = alignUp(this.block, this.align);
    // Zero with the SIMD kernel: ~3-4x faster than a JS fill over memory already
    // touched (a reused block). Freshly grown memory costs its page faults either way.
    kernels().fill_f32(this.base, this.used / 4, 0);
    for (const t of this.tensors.values()) t.bind(this.base);
    registry.register(this, this.block, this);
    return this;
  }

  /** The tensor called `name`. */
  get(name: string): Tensor {
    const t = this.tensors.get(name);
    if (!t) throw new UnfoldError("E_OPTION", `no tensor named '${name}' in this arena`);
    return t;
  }

  /** True if a tensor called `name` is planned. */
  has(name: string): boolean {
    return this.tensors.has(name);
  }

  /** All tensors in plan order. */
  all(): Tensor[] {
    return [...this.tensors.values()];
  }

  /** Total bytes of the plan. */
  get bytes(): number {
    return this.used;
  }

  /** Byte offset of the block: all tensors lie in [ptr, ptr + bytes). */
  get ptr(): Ptr {
    if (this.base < 0) throw new UnfoldError("E_STATE", "arena is not committed");
    return this.base;
  }

  /** True after {@link commit} and before {@link dispose}. */
  get committed(): boolean {
    return this.base >= 0;
  }

  /** Free the block now instead of waiting for garbage collection (a part of a joined block is only detached). */
  dispose(): void {
    if (this.base < 0) return;
    if (!this.owner) {
      registry.unregister(this);
      heap().free(this.block);
      for (const p of this.parts) p.detach();
    }
    this.detach();
  }

  private detach(): void {
    this.base = this.block = -1;
    for (const t of this.tensors.values()) t.bind(-1);
  }
}
