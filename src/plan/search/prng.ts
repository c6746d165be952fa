/**
 * A seeded PRNG for samplers: sfc32 (Chris Doty-Humphrey's small fast counting generator, 128-bit
 * state, passes PractRand), seeded by hashing the seed and a few labels, so each trial (and each
 * parameter of it) gets its own stream: `rngFor(seed, trial, "lr")`. PURE.
 */

/** A random source: `next()` is uniform in [0, 1) with 53 random bits. */
export interface Rng {
  next(): number;
}

/** cyrb128-style hash of a string into four 32-bit words. */
function hash128(text: string): [number, number, number, number] {
  let h1 = 1779033703;
  let h2 = 3144134277;
  let h3 = 1013904242;
  let h4 = 2773480762;
  for (let i = 0; i < text.length; i++) {
    const k = text.charCodeAt(i);
    h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
    h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
    h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
    h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
  }
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067);
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213);
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179);
  return [(h1 ^ h2 ^ h3 ^ h4) >>> 0, (h2 ^ h1) >>> 0, (h3 ^ h1) >>> 0, (h4 ^ h1) >>> 0];
}

/** An sfc32 generator seeded from the given parts (numbers and strings). */
export function rngFor(...parts: Array<number | string>): Rng {
  let [a, b, c, d] = hash128(parts.map(String).join("\u0000"));
  const u32 = (): number => {
    a >>>= 0;
    b >>>= 0;
    c >>>= 0;
    d >>>= 0;
    let t = (a + b) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    d = (d + 1) | 0;
    t = (t + d) | 0;
    c = (c + t) | 0;
    return t >>> 0;
  };
  // Warm up: the first outputs of a freshly hashed state are the least mixed.
  for (let i = 0; i < 12; i++) u32();
  return {
    next: () => ((u32() >>> 5) * 67108864 + (u32() >>> 6)) / 9007199254740992,
  };
}
