/**
 * The rings between stack threads (--layout stack=N) that the ARP mailbox
 * (arp-mailbox.ts) and the segment mailbox (segment-mailbox.ts) are built on:
 * one SPSC ring (src/mem/spsc-ring.ts, SharedArrayBuffer, no locks) per ordered
 * pair of threads, ring i->j produced only by thread i and consumed only by
 * thread j.
 */
import { SpscRing } from "../../mem/spsc-ring";

/** What a Worker needs to attach: ring buffers indexed [from * n + to] (null on the diagonal). */
export interface RingMeshShare {
  threads: number;
  rings: (SharedArrayBuffer | null)[];
}

/** Create the rings for `threads` threads, `wordsPerRing` uint32 words each (a power of two). */
export function createRingMesh(threads: number, wordsPerRing: number): RingMeshShare {
  const rings: (SharedArrayBuffer | null)[] = [];
  for (let i = 0; i < threads; i++) {
    for (let j = 0; j < threads; j++) rings.push(i === j ? null : SpscRing.create(wordsPerRing).sab);
  }
  return { threads, rings };
}

/**
 * Thread `index`'s end: out[k] is the ring to thread k (null for `index`
 * itself); inn holds the rings from every other thread, in thread order.
 */
export function attachRingMesh(index: number, share: RingMeshShare): { out: (SpscRing | null)[]; inn: SpscRing[] } {
  const n = share.threads;
  const out: (SpscRing | null)[] = [];
  const inn: SpscRing[] = [];
  for (let j = 0; j < n; j++) {
    out.push(j === index ? null : SpscRing.attach(share.rings[index * n + j]!));
    if (j !== index) inn.push(SpscRing.attach(share.rings[j * n + index]!));
  }
  return { out, inn };
}
