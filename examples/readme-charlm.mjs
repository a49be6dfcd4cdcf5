// The README's ten-line example, verbatim: a character-level language model.
import { init, Sequential, Vocab } from "unfold-rnn";

await init();                                        // loads the WASM kernels (needs WASM SIMD)
const text = "hello world, hello rnn, hello lstm. ".repeat(40);
const vocab = Vocab.fromChars(text);
const model = new Sequential({ input: { type: "tokens", vocabSize: vocab.size, embeddingDim: 16 },
  recurrent: [{ cell: "lstm", hiddenSize: 64 }], output: { size: vocab.size, loss: "xent" }, mode: "many-to-many" });
model.fit({ stream: vocab.encode(text) }, { epochs: 20, batchSize: 4, tbptt: { k1: 16 }, optimizer: { type: "adam", lr: 0.01 } });
console.log(vocab.decode(model.generate(vocab.encode("hello "), { length: 30, temperature: 0.5 })));
