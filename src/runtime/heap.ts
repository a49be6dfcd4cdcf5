/**
 * The heap: blocks of the module's one `WebAssembly.Memory`, 16-byte aligned.
 * `alloc` is the only place the memory ever grows; after growth every old
 * typed-array view is detached, so views are made fresh on every read
 * ({@link Heap.f32}) and never kept across an allocation.
 */
import { UnfoldError } from "../errors.js";
import type { Kernels, Ptr } from "./abi.js";

const ALIGN = 16;
const PAGE = 65536;

/** Round n up to a multiple of `a` (a power of two). */
export const alignUp = (n: number, a: number): number => (n + a - 1) & ~(a - 1);

/** Round n up to a multiple of 16. */
export const align16 = (n: number): number => alignUp(n, ALIGN);

export class Heap {
  private readonly memory: WebAssembly.Memory;
  private top: Ptr;
  /** Live blocks: start -> size in bytes. */
  private readonly live = new Map<Ptr, number>();
  /** Free blocks sorted by start, coalesced. */
  private freeList: { start: Ptr; size: number }[] = [];

  /**
   * @param maxBytes the memory's maximum size: 4 GiB for the default build;
   *   the shared memory of `init({ threads })` is created with a maximum too.
   */
  constructor(
    k: Kernels,
    private readonly maxBytes = 2 ** 32,
  ) {
    this.memory = k.memory;
    this.top = align16(k.heap_base());
  }

  /** Allocate `bytes` (rounded up to 16); returns the byte offset. */
  alloc(bytes: number): Ptr {
    if (!Number.isFinite(bytes) || bytes < 0) throw new UnfoldError("E_RUNTIME", `cannot allocate ${bytes} bytes`);
    const size = Math.max(ALIGN, align16(bytes));
    // First fit among freed blocks.
    for (let i = 0; i < this.freeList.length; i++) {
      const f = this.freeList[i];
      if (f.size >= size) {
        const ptr = f.start;
        if (f.size === size) this.freeList.splice(i, 1);
        else this.freeList[i] = { start: f.start + size, size: f.size - size };
        this.live.set(ptr, size);
        return ptr;
      }
    }
    const ptr = this.top;
    const end = ptr + size;
    const have = this.memory.buffer.byteLength;
    if (end > have) {
      const pages = Math.ceil((end - have) / PAGE);
      try {
        if (end > this.maxBytes) throw new RangeError("beyond the maximum");
        // Shared memory (threads) grows in place: old views keep their length, so views are still made fresh.
        this.memory.grow(pages);
      } catch {
        throw new UnfoldError(
          "E_RUNTIME",
          `unfold-rnn: out of WebAssembly memory: needed ${(end / 2 ** 20).toFixed(1)} MiB in all (max ${(this.maxBytes / 2 ** 30).toFixed(this.maxBytes % 2 ** 30 ? 2 : 0)} GiB). ` +
            "Use a smaller batch, sequence chunk (truncated BPTT) or model.",
        );
      }
    }
    this.top = end;
    this.live.set(ptr, size);
    return ptr;
  }

  /** Return a block from {@link alloc}. Freeing twice is an error. */
  free(ptr: Ptr): void {
    const size = this.live.get(ptr);
    if (size === undefined) throw new UnfoldError("E_STATE", `unfold-rnn: free of a block that is not allocated (${ptr})`);
    this.live.delete(ptr);
    let block = { start: ptr, size };
    // Insert sorted and coalesce with neighbours.
    const fl = this.freeList;
    let i = 0;
    while (i < fl.length && fl[i].start < ptr) i++;
    fl.splice(i, 0, block);
    if (i + 1 < fl.length && block.start + block.size === fl[i + 1].start) {
      block.size += fl[i + 1].size;
      fl.splice(i + 1, 1);
    }
    if (i > 0 && fl[i - 1].start + fl[i - 1].size === block.start) {
      fl[i - 1].size += block.size;
      fl.splice(i, 1);
      block = fl[i - 1];
    }
    // Give the tail back to the bump pointer.
    const last = fl[fl.length - 1];
    if (last && last.start + last.size === this.top) {
      this.top = last.start;
      fl.pop();
    }
  }

  /** Bytes in live blocks. */
  get liveBytes(): number {
    let s = 0;
    for (const v of this.live.values()) s += v;
    return s;
  }

  /** A fresh f32 view of `length` floats at byte offset `ptr`. Do not keep it across allocations. */
  f32(ptr: Ptr, length: number): Float32Array {
    return new Float32Array(this.memory.buffer, ptr, length);
  }

  /** A fresh i32 view of `length` ints at byte offset `ptr`. */
  i32(ptr: Ptr, length: number): Int32Array {
    return new Int32Array(this.memory.buffer, ptr, length);
  }
}
