/**
 * ARP between stack threads (--layout stack=N): each stack thread keeps its own
 * ARP cache, but a neighbour's ARP reply (or request) lands on whichever queue
 * the device's spreading picks, often not the queue of the thread that asked.
 * So every thread forwards each ARP packet it receives to every other thread,
 * and each thread feeds what it gets into its own cache (queue-device.ts).
 *
 * One SPSC ring (src/mem/spsc-ring.ts, SharedArrayBuffer, no locks) per ordered
 * pair of threads: ring i->j is produced only by thread i and consumed only by
 * thread j. A record is RECORD_WORDS uint32 words: the 28-byte ARP packet
 * (RFC 826, Ethernet/IPv4) as received, then one spare word. A full ring drops
 * the record (counted): ARP is retried by its sender, and a lost copy only
 * delays another thread's resolution until its own retry.
 */
import type { SpscRing } from "../../mem/spsc-ring";
import { attachRingMesh, createRingMesh, type RingMeshShare } from "./ring-mesh";

/** ARP packet bytes carried (Ethernet/IPv4 ARP, RFC 826). */
export const ARP_BYTES = 28;
/** uint32 words per record: 7 words of ARP packet and one spare. */
export const RECORD_WORDS = 8;

/** What a Worker needs to attach (ring-mesh.ts). */
export type ArpMailboxShare = RingMeshShare;

/** One thread's end of the mailbox: rings out to every other thread and in from them. */
export class ArpMailboxEnd {
  /** Records forwarded to other threads, dropped because a ring was full, and received. */
  sent = 0;
  dropped = 0;
  received = 0;
  private readonly out: SpscRing[];
  private readonly inn: SpscRing[];
  private readonly words = new Uint32Array(RECORD_WORDS);
  private readonly bytes = new Uint8Array(this.words.buffer);
  private next = 0;

  constructor(
    readonly index: number,
    share: ArpMailboxShare,
  ) {
    const { out, inn } = attachRingMesh(index, share);
    this.out = out.filter((r): r is SpscRing => r !== null);
    this.inn = inn;
  }

  /** Copy the ARP packet at mem[off, off + ARP_BYTES) to every other thread. */
  forward(mem: Uint8Array, off: number): void {
    const b = this.bytes;
    for (let i = 0; i < ARP_BYTES; i++) b[i] = mem[off + i]!;
    const out = this.out;
    for (let k = 0; k < out.length; k++) {
      const r = out[k]!;
      // All or nothing: the ring holds whole records only.
      if (r.capacity - r.size() < RECORD_WORDS) {
        this.dropped++;
        continue;
      }
      r.pushBatch(this.words, RECORD_WORDS);
      this.sent++;
    }
  }

  /**
   * Take one forwarded ARP packet into dst[dstOff, dstOff + ARP_BYTES).
   * Returns false when every incoming ring is empty. Rings are taken in turn.
   */
  take(dst: Uint8Array, dstOff: number): boolean {
    const inn = this.inn;
    for (let k = 0; k < inn.length; k++) {
      const r = inn[this.next]!;
      this.next = this.next + 1 === inn.length ? 0 : this.next + 1;
      if (r.size() < RECORD_WORDS) continue;
      r.popBatch(this.words, RECORD_WORDS);
      const b = this.bytes;
      for (let i = 0; i < ARP_BYTES; i++) dst[dstOff + i] = b[i]!;
      this.received++;
      return true;
    }
    return false;
  }

  /** True when some incoming ring holds a record (a snapshot). */
  waiting(): boolean {
    for (let k = 0; k < this.inn.length; k++) if (this.inn[k]!.size() >= RECORD_WORDS) return true;
    return false;
  }
}

/** Create the rings for `threads` stack threads; `recordsPerRing` records each (a power of two). */
export function createArpMailbox(threads: number, recordsPerRing = 256): ArpMailboxShare {
  return createRingMesh(threads, recordsPerRing * RECORD_WORDS);
}
