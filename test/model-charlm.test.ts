// The character-level language model of lecture p.15: inputs h, e, l, l;
// targets e, l, l, o. After training, the model predicts "ello" from "hell"
// with teacher forcing (the true previous character as input at every step)
// and also free-running (its own prediction fed back as the next input).
import { beforeAll, describe, expect, it } from "vitest";
import { Sequential } from "../src/model/sequential.js";
import { Vocab } from "../src/data/vocab.js";
import { argmax } from "../src/model/sampling.js";
import { loadKernels } from "./helpers.js";

beforeAll(async () => {
  await loadKernels();
});

describe("char-level LM on 'hello' (p.15)", () => {
  for (const cell of ["rnn", "lstm", "gru"] as const) {
    it(`${cell}: learns h,e,l,l -> e,l,l,o`, () => {
      const vocab = Vocab.fromChars("hello");
      expect(vocab.size).toBe(4);
      const ids = Array.from(vocab.encode("hello"));
      const model = new Sequential({
        input: { type: "tokens", vocabSize: vocab.size, embeddingDim: 8 },
        recurrent: [{ cell, hiddenSize: 16 }],
        output: { size: vocab.size, loss: "xent" },
        mode: "many-to-many",
        seed: 1,
      });
      const inputs = [ids.slice(0, 4)]; // h e l l
      const targets = [ids.slice(1)]; // e l l o
      const losses: number[] = [];
      model.fit({ inputs, targets }, { epochs: 150, batchSize: 1, optimizer: { type: "adam", lr: 0.02 }, onEpoch: (e) => void losses.push(e.loss) });
      expect(losses[losses.length - 1]).toBeLessThan(0.05);
      expect(losses[losses.length - 1]).toBeLessThan(losses[0] / 20);

      // Teacher forcing: feed the true "hell", read the argmax at every step.
      const probs = model.predict([ids.slice(0, 4)])[0];
      const pred = [0, 1, 2, 3].map((t) => argmax(probs, t * vocab.size, vocab.size));
      expect(vocab.decode(pred)).toBe("ello");

      // Free-running: start from "h" and feed back each prediction.
      const gen = model.generate(vocab.encode("h"), { length: 4, temperature: 0 });
      expect(vocab.decode(gen)).toBe("ello");
      model.dispose();
    });
  }
});
