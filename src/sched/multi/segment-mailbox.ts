/**
 * TCP segments between stack threads (--layout stack=N where the device's flow
 * hash is unknown; segment-forward.ts decides what goes). A frame that reached
 * thread j but belongs to a connection of thread k is copied into ring j->k;
 * thread k's QueueDevice copies it into a fresh buffer of its own and hands it
 * to its stack as a received frame (queue-device.ts), so the owner processes it
 * exactly as if its own queue had received it (classifier, IPv4 checks, TCP).
 *
 * One SPSC ring (src/mem/spsc-ring.ts, SharedArrayBuffer, no locks) per ordered
 * pair of threads, as the ARP mailbox (arp-mailbox.ts): ring i->j is produced
 * only by thread i and consumed only by thread j. A record is one uint32 word
 * holding the frame's length in bytes, then the frame's bytes padded to whole
 * words. A record goes in whole or not at all (one pushBatch publishes it): a
 * full ring drops the frame (counted); TCP's retransmission recovers it, as
 * after a loss on the wire.
 */
import type { SpscRing } from "../../mem/spsc-ring";
import { attachRingMesh, createRingMesh, type RingMeshShare } from "./ring-mesh";

/** Largest frame carried: a 9000-byte jumbo MTU plus the Ethernet header and a VLAN tag. */
export const MAX_FORWARD_FRAME = 9018;
const MAX_WORDS = 1 + ((MAX_FORWARD_FRAME + 3) >>> 2);
/** Frames up to this many bytes are copied in a loop, longer ones with Uint8Array.set. */
const COPY_LOOP_MAX = 128;

/** What a Worker needs to attach (ring-mesh.ts). */
export type SegmentMailboxShare = RingMeshShare;

/** One thread's end: rings out to every other thread and in from them. */
export class SegmentMailboxEnd {
  /** Frames put into another thread's ring, dropped (that ring was full or the frame too long), and taken. */
  sent = 0;
  dropped = 0;
  received = 0;
  /** out[k]: ring to thread k (null for this thread). */
  private readonly out: (SpscRing | null)[];
  private readonly inn: SpscRing[];
  private readonly words = new Uint32Array(MAX_WORDS);
  /** Producer: the frame's bytes after the length word; consumer: the popped bytes from word 0. */
  private readonly bytes = new Uint8Array(this.words.buffer, 4);
  private readonly inBytes = new Uint8Array(this.words.buffer);
  private next = 0;

  constructor(
    readonly index: number,
    share: SegmentMailboxShare,
  ) {
    const { out, inn } = attachRingMesh(index, share);
    this.out = out;
    this.inn = inn;
  }

  get threads(): number {
    return this.out.length;
  }

  /** Copy the frame mem[off, off + len) to thread `to`; false (counted) when it does not fit. */
  forward(mem: Uint8Array, off: number, len: number, to: number): boolean {
    const r = this.out[to];
    const need = 1 + ((len + 3) >>> 2);
    if (r == null || len > MAX_FORWARD_FRAME || r.capacity - r.size() < need) {
      this.dropped++;
      return false;
    }
    const w = this.words;
    w[0] = len;
    const b = this.bytes;
    // Short frames byte by byte; longer ones through one view and a native copy (its ~40 ns
    // allocation is repaid many times over: bench/multi-fwd-cost.ts).
    if (len <= COPY_LOOP_MAX) for (let i = 0; i < len; i++) b[i] = mem[off + i]!;
    else b.set(mem.subarray(off, off + len));
    r.pushBatch(w, need);
    this.sent++;
    return true;
  }

  /**
   * Take one forwarded frame into dst[dstOff, dstOff + room); returns its length, or 0 when
   * every incoming ring is empty. Rings are taken in turn. A frame longer than `room` is
   * dropped (counted) and the next one is tried.
   */
  take(dst: Uint8Array, dstOff: number, room: number): number {
    const inn = this.inn;
    const w = this.words;
    const b = this.inBytes;
    for (let k = 0; k < inn.length; k++) {
      const r = inn[this.next]!;
      this.next = this.next + 1 === inn.length ? 0 : this.next + 1;
      // The producer published each record whole: when the ring is not empty, a whole record is there.
      while (r.size() > 0) {
        const len = r.pop();
        r.popBatch(w, (len + 3) >>> 2);
        if (len > room) {
          this.dropped++;
          continue;
        }
        if (len <= COPY_LOOP_MAX) for (let i = 0; i < len; i++) dst[dstOff + i] = b[i]!;
        else dst.set(b.subarray(0, len), dstOff);
        this.received++;
        return len;
      }
    }
    return 0;
  }

  /** True when some incoming ring holds a record (a snapshot). */
  waiting(): boolean {
    for (let k = 0; k < this.inn.length; k++) if (this.inn[k]!.size() > 0) return true;
    return false;
  }
}

/** Create the rings for `threads` stack threads, `wordsPerRing` uint32 words each (a power of two). */
export function createSegmentMailbox(threads: number, wordsPerRing = 32768): SegmentMailboxShare {
  return createRingMesh(threads, wordsPerRing);
}
