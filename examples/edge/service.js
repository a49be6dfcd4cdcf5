/**
 * The edge inference service: `GET /generate?prime=…&length=…&temperature=…&seed=…`
 * answers `{ "text": … }`, sampled from a character-level language model.
 *
 * One worker module, `export default { fetch(request, env) }`, run as it is
 * by workerd / Cloudflare Workers (workerd.js, workerd.capnp), Deno
 * (deno.js: Deno.serve) and Bun (bun.js: Bun.serve). The same model file,
 * prime and seed give the same text in every runtime and in Node (the kernels
 * are deterministic WebAssembly; test/edge.test.ts checks it).
 *
 * `env.MODEL`: the bytes of a model saved by `saveModel` / `unfold train`
 * (a token language model with its vocabulary). `env.UNFOLD_WASM`
 * (optional): a `WebAssembly.Module` of unfold.wasm, for runtimes that forbid
 * compiling bytes (workerd: a wasm module import); without it `init()` finds
 * the file itself.
 *
 * Bad queries get HTTP 400 and `{ "error": …, "param": … }`, a path and
 * query over LIMITS.url characters HTTP 414 and `{ "error": …, "param": null }`;
 * nothing a client sends can cause a 500 or a hang (the lengths are bounded).
 * Beyond a runtime's own limit on the request line the runtime answers before
 * the service runs (Bun: over ~16 KiB, HTTP 431 with an empty body).
 */
import { init, loadModel } from "unfold-rnn";

/** What the query may ask for. */
export const LIMITS = {
  /** Characters of prime text. */
  prime: 1000,
  /** Characters to generate. */
  length: 2000,
  /** 0 = greedy; higher = more random. */
  temperature: 10,
  /** The sampler's seed: an unsigned 32-bit integer. */
  seed: 2 ** 32 - 1,
  /**
   * Characters of path and query (percent-encoded). Longer gets a 414 JSON
   * error from the service, below the runtimes' own limits (Bun answers a
   * request line over ~16 KiB itself: 431, empty body). The longest valid query
   * (1000 prime characters of 3 UTF-8 bytes each, 9 encoded characters apiece)
   * is about 9.1 K characters, so no valid query reaches it.
   */
  url: 12 * 1024,
};

const PARAMS = ["prime", "length", "temperature", "seed"];

/** One model per isolate, loaded by the first request. */
let loading = null;

function load(env) {
  loading ??= (async () => {
    if (!env || env.MODEL == null) throw new Error("env.MODEL (the model file's bytes) is not bound");
    await init(env.UNFOLD_WASM);
    const bytes = env.MODEL instanceof Uint8Array ? env.MODEL : new Uint8Array(env.MODEL);
    const { model, vocab } = loadModel(bytes);
    if (!vocab || typeof model.generate !== "function") throw new Error("env.MODEL is not a token language model with a vocabulary");
    return { model, vocab };
  })().catch((err) => {
    loading = null; // a later request may retry
    throw err;
  });
  return loading;
}

function json(status, body) {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json; charset=utf-8" } });
}

/** A 400 answer naming the parameter. */
class BadRequest extends Error {
  constructor(param, message) {
    super(message);
    this.param = param;
  }
}

/** An integer query parameter in [min, max]; digits only (no "1e3", "0x10", " 5"). */
function integer(q, name, min, max) {
  const s = q.get(name);
  if (s === null || s === "") throw new BadRequest(name, `missing parameter ${name}: an integer from ${min} to ${max}`);
  if (!/^\d{1,10}$/.test(s) || Number(s) < min || Number(s) > max) throw new BadRequest(name, `${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(s.slice(0, 40))}`);
  return Number(s);
}

/** The four parameters, checked; throws BadRequest. */
function parse(q, vocab) {
  for (const key of q.keys()) {
    if (!PARAMS.includes(key)) throw new BadRequest(key, `unknown parameter ${JSON.stringify(key.slice(0, 40))}; use ${PARAMS.join(", ")}`);
  }
  for (const key of PARAMS) if (q.getAll(key).length > 1) throw new BadRequest(key, `parameter ${key} is given more than once`);
  const prime = q.get("prime");
  if (prime === null || prime === "") throw new BadRequest("prime", "missing parameter prime: the text to start from (at least one character)");
  if (prime.length > LIMITS.prime) throw new BadRequest("prime", `prime is ${prime.length} characters long; the limit is ${LIMITS.prime}`);
  const tokens = vocab.tokenize(prime);
  if (vocab.unkId === undefined) {
    const unknown = [...new Set(tokens.filter((t) => !vocab.has(t)))];
    if (unknown.length > 0) {
      throw new BadRequest("prime", `prime has characters the model has never seen: ${unknown.slice(0, 10).map((t) => JSON.stringify(t)).join(", ")}`);
    }
  }
  const length = integer(q, "length", 1, LIMITS.length);
  const t = q.get("temperature");
  if (t === null || t === "") throw new BadRequest("temperature", `missing parameter temperature: a number from 0 to ${LIMITS.temperature}`);
  const temperature = /^\d{1,3}(\.\d{1,8})?$/.test(t) ? Number(t) : NaN;
  if (!(temperature >= 0 && temperature <= LIMITS.temperature)) {
    throw new BadRequest("temperature", `temperature must be a number from 0 to ${LIMITS.temperature}, got ${JSON.stringify(t.slice(0, 40))}`);
  }
  const seed = integer(q, "seed", 0, LIMITS.seed);
  return { prime, ids: vocab.encode(tokens), length, temperature, seed };
}

export default {
  /** @param {Request} request @param {{ MODEL: ArrayBuffer | Uint8Array, UNFOLD_WASM?: WebAssembly.Module }} env */
  async fetch(request, env) {
    const url = new URL(request.url);
    const size = url.pathname.length + url.search.length;
    if (size > LIMITS.url) return json(414, { error: `the path and query are ${size} characters long; the limit is ${LIMITS.url} (prime: at most ${LIMITS.prime} characters)`, param: null });
    if (url.pathname !== "/generate") return json(404, { error: `no route ${url.pathname}; use GET /generate?prime=&length=&temperature=&seed=` });
    if (request.method !== "GET") return json(405, { error: `method ${request.method} not allowed; use GET` });
    let lm;
    try {
      lm = await load(env);
    } catch (err) {
      return json(500, { error: `the service is misconfigured: ${err.message}` });
    }
    let p;
    try {
      p = parse(url.searchParams, lm.vocab);
    } catch (err) {
      if (err instanceof BadRequest) return json(400, { error: err.message, param: err.param });
      throw err;
    }
    const ids = lm.model.generate(p.ids, { length: p.length, temperature: p.temperature, seed: p.seed });
    return json(200, { text: lm.vocab.decode(ids), prime: p.prime, length: p.length, temperature: p.temperature, seed: p.seed });
  },
};
