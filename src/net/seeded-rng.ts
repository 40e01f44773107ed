/**
 * A small seeded pseudo-random generator (SplitMix32 finaliser over a Weyl
 * sequence) for simulation and tests: same seed, same run. Not for secrets:
 * ISNs and SYN cookies take their keys from crypto.getRandomValues.
 */
export class SeededRng {
  private state: number;

  constructor(seed: number) {
    this.state = seed | 0;
  }

  /** Next uint32. */
  nextU32(): number {
    this.state = (this.state + 0x9e3779b9) | 0;
    let z = this.state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextU32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  below(n: number): number {
    return Math.floor(this.next() * n);
  }
}

/** An RNG function for production: uint32 values from the OS CSPRNG, drawn in blocks. */
export function cryptoRng(): () => number {
  const block = new Uint32Array(256);
  let i = block.length;
  return () => {
    if (i === block.length) {
      crypto.getRandomValues(block);
      i = 0;
    }
    return block[i++]!;
  };
}
