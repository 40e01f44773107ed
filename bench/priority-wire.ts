/**
 * The server-side wire view of bench/priority (issue 5), the way QStack
 * measures (HCMonitor at the server's NIC) and the way issue 6's target is
 * stated: per message, from the server's rx burst that received it to the tx
 * burst that sent its reply, per class, in HDR histograms. A BurstTap
 * (src/net/interface.ts) on the server's stack: rx frames are stamped with the
 * round's clock reading (taken just before the rx burst), tx frames with a
 * clock reading right after the device took them, as apps/iotep/wire-live.ts
 * does for the iotep server.
 *
 * Pairing: the generator's messages and the server's replies are 100 bytes
 * and carry the message number (bytes 12..15, bench/priority-server.ts). Per
 * client port the tap keeps the sequence number of the first data byte of
 * each direction (the SYN's and the SYN-ACK's ISN + 1, RFC 9293 3.4), so
 * message starts are found through the sequence space (origin + k * 100)
 * whether segments carry one message, several, or cut one. A request's
 * number indexes a direct-mapped table of rx times; the reply with the same
 * number takes it (first transmission only: a retransmitted reply finds its
 * slot taken). Class: the message's byte 5 (0x01 high), as the classifier and
 * the generator see it. The generator's address is one: flows are keyed by
 * its port. Nothing is allocated per frame.
 */
import { FrameTap } from "../src/net/frame-tap";
import { IPPROTO_TCP } from "../src/net/l4-tx";
import { FrameInfo, parseFrameInfo } from "../src/sched/classifier";
import { TCP_SYN } from "../src/wire/tcp";
import { seqAdd, seqSub } from "../src/wire/seq";
import { newLatencyHistogram, recordUs, summarize, type Histogram } from "../apps/iotep/latency";
import { HighStamps } from "./priority-tail";
import { LABEL_REPLY, LABEL_REQUEST, MSG, OFF_LABEL, OFF_PRIO, OFF_SEQ, PRIO_HIGH } from "./priority-server";

/** Bytes of a message the tap reads: up to the end of the message number. */
const HEAD = OFF_SEQ + 4;

export class PriorityWireCounters {
  /** Requests stamped at an rx burst (first time seen). */
  requests = 0;
  /** Request starts seen again (a retransmission) and kept at their first time. */
  requestRepeats = 0;
  replies = 0;
  /** Replies paired with their request's rx time. */
  paired = 0;
  /** Replies with no rx time (before a reset, a repeat, or the request's slot reused). */
  unpaired = 0;
  /** Message starts whose first 16 bytes were cut by the segment's end (not read). */
  cutHeads = 0;
  /** Message starts without the expected label (misaligned: should stay 0). */
  misaligned = 0;
}

export class PriorityWireTap extends FrameTap {
  readonly counters = new PriorityWireCounters();
  /** rx burst -> reply's tx burst, us: [high, low]. */
  readonly lat: [Histogram, Histogram] = [newLatencyHistogram(), newLatencyHistogram()];
  private readonly info = new FrameInfo();
  /** Per client port: the sequence number of the first data byte, client -> server and server -> client. */
  private readonly cOrigin = new Int32Array(65536);
  private readonly sOrigin = new Int32Array(65536);
  private readonly cKnown = new Uint8Array(65536);
  private readonly sKnown = new Uint8Array(65536);
  /** Direct-mapped by message number: the number held (-1: none) and its rx time (-1: replied). */
  private readonly slotNo: Int32Array;
  private readonly slotT: Float64Array;
  private readonly mask: number;
  /** High messages' request rx and reply tx times by message number (bench/priority-tail.ts). */
  readonly high: HighStamps;

  constructor(
    private readonly serverPort: number,
    /** The device's memory (frames' bytes at their offsets). */
    mem: Uint8Array,
    dv: DataView,
    /** Monotonic clock, integer us (the tx bursts' timestamps). */
    clockUs: () => number,
    /** Table size, a power of two above the messages in flight at once. */
    slots = 1 << 18,
  ) {
    super(mem, dv, clockUs);
    if (slots <= 0 || (slots & (slots - 1)) !== 0) throw new RangeError(`slots must be a power of two, got ${slots}`);
    this.slotNo = new Int32Array(slots).fill(-1);
    this.slotT = new Float64Array(slots);
    this.mask = slots - 1;
    this.high = new HighStamps(clockUs);
  }

  /** Forget every stamp and figure (the measured phase starts); connection origins stay. */
  reset(): void {
    this.slotNo.fill(-1);
    this.high.reset();
    this.lat[0].reset();
    this.lat[1].reset();
    Object.assign(this.counters, new PriorityWireCounters());
  }

  protected frame(tsUs: number, buf: Uint8Array, dv: DataView, off: number, len: number, rx: boolean): void {
    const f = this.info;
    if (!parseFrameInfo(buf, dv, off, len, f) || f.l4Proto !== IPPROTO_TCP) return;
    if (rx ? f.dstPort !== this.serverPort : f.srcPort !== this.serverPort) return;
    const port = rx ? f.srcPort : f.dstPort;
    const origin = rx ? this.cOrigin : this.sOrigin;
    const known = rx ? this.cKnown : this.sKnown;
    if ((f.tcpFlags & TCP_SYN) !== 0) {
      // Data starts at ISN + 1 (RFC 9293 3.4).
      origin[port] = seqAdd(f.tcpSeq, 1);
      known[port] = 1;
      return;
    }
    const plen = f.payloadLen;
    if (plen <= 0) return;
    if (known[port] === 0) {
      // Missed the handshake: take this segment as starting a message.
      origin[port] = f.tcpSeq;
      known[port] = 1;
    }
    // First message start at or after the segment's first byte.
    const into = seqSub(f.tcpSeq, origin[port]!);
    const r = ((into % MSG) + MSG) % MSG;
    const p = f.payloadOff;
    for (let o = r === 0 ? 0 : MSG - r; o < plen; o += MSG) {
      if (o + HEAD > plen) {
        this.counters.cutHeads++;
        break;
      }
      const at = p + o;
      const no = dv.getInt32(at + OFF_SEQ, true);
      if (buf[at + OFF_PRIO] === PRIO_HIGH) this.high.note(tsUs, rx, no);
      if (rx) this.request(tsUs, buf[at + OFF_LABEL]!, no);
      else this.reply(tsUs, buf[at + OFF_LABEL]!, buf[at + OFF_PRIO] === PRIO_HIGH ? 0 : 1, no);
    }
  }

  private request(tsUs: number, label: number, no: number): void {
    const c = this.counters;
    if (label !== LABEL_REQUEST) {
      c.misaligned++;
      return;
    }
    const s = no & this.mask;
    if (this.slotNo[s] === no && this.slotT[s]! >= 0) {
      c.requestRepeats++;
      return;
    }
    this.slotNo[s] = no;
    this.slotT[s] = tsUs;
    c.requests++;
  }

  private reply(tsUs: number, label: number, cls: number, no: number): void {
    const c = this.counters;
    if (label !== LABEL_REPLY) {
      c.misaligned++;
      return;
    }
    c.replies++;
    const s = no & this.mask;
    const t = this.slotT[s]!;
    if (this.slotNo[s] !== no || t < 0) {
      c.unpaired++;
      return;
    }
    this.slotT[s] = -1;
    c.paired++;
    recordUs(this.lat[cls]!, tsUs - t);
  }

  summary() {
    const stamps: number[][] = [];
    const h = this.high;
    for (let k = 0; k < h.size; k++) if (h.req[k] !== 0 || h.rep[k] !== 0) stamps.push([k, h.req[k]!, h.rep[k]!]);
    return { high: summarize(this.lat[0]), low: summarize(this.lat[1]), counters: { ...this.counters }, highStamps: stamps };
  }
}
