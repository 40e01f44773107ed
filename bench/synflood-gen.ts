/**
 * A SYN flood generator on our own stack (bench synflood, issue 7): an app stage that writes bare
 * SYNs (RFC 9293 3.1 header, SYN only, no options, like `hping3 -S`) with random source
 * addresses, ports and sequence numbers in place into transmit buffers, and queues them in the
 * LOWEST transmit class of the interface (TxQueues), so every segment of the process's own
 * connections (put in a higher class) leaves before any flood frame queued in the same round.
 *
 * Rate: with `ratePerSec` 0 it keeps the lowest class's batch topped up to `fill` frames each
 * round, and the flush hands the device as many as its ring takes (what the receiver drains);
 * with a rate, a token bucket on the injected clock (integer microseconds) bounds it.
 *
 * The batch is never filled to its capacity: TxQueues.full() would then refuse the other
 * classes' segments (Ipv4Output.begin) and enqueue() would flush the lowest class out of order.
 *
 * Source addresses are random outside 0/8, 10/8, 127/8 and 224/3 (so the target answers through
 * its gateway, not by ARP for each one); source ports random in 1024..65535. Checksums (RFC 791
 * 3.1 header checksum, RFC 9293 3.1 TCP checksum over the pseudo header) are updated
 * incrementally from a template's sums (RFC 1071 2 (B)/(C)): valid, so an admitted SYN costs the
 * target a real SYN cookie.
 *
 * Per frame: no allocation; one native 60-byte copy and six field writes.
 */
import type { Device } from "../src/net/device";
import type { TxQueues } from "../src/net/tx-queues";
import type { PollStage } from "../src/sched/poll-loop";
import { ETH_HEADER_LEN, ETHERTYPE_IPV4 } from "../src/wire/ethernet";
import { IPV4_HEADER_LEN, writeIpv4Header } from "../src/wire/ipv4";
import { TCP_HEADER_LEN, TCP_SYN, writeTcpHeader } from "../src/wire/tcp";
import { IPPROTO_TCP } from "../src/net/l4-tx";

/** Ethernet minimum frame (without FCS): 54 bytes of headers padded to 60. */
export const SYN_FRAME_BYTES = 60;
const IP = ETH_HEADER_LEN;
const TCP = ETH_HEADER_LEN + IPV4_HEADER_LEN;
const IP_CSUM = IP + 10;
const IP_SRC = IP + 12;
const TCP_SPORT = TCP;
const TCP_SEQ = TCP + 4;
const TCP_CSUM = TCP + 16;

export interface SynFloodOptions {
  /** Target address (uint32) and port. */
  dstIp: number;
  dstPort: number;
  /** Our MAC and the next hop's MAC (6 bytes each). */
  srcMac: Uint8Array;
  dstMac: Uint8Array;
  /** SYNs per second; 0: as many as the device ring takes each round. */
  ratePerSec: number;
  /** Transmit class (the interface's lowest). */
  cls: number;
  /** Frames kept queued in the class's batch at most (default capacity - 64). */
  fill?: number;
  seed?: number;
}

function fold(s: number): number {
  s = (s & 0xffff) + (s >>> 16);
  s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

export class SynFloodGen implements PollStage {
  private readonly tpl = new Uint8Array(SYN_FRAME_BYTES);
  /** Partial sums of the template with the varying fields zero. */
  private readonly ipBase: number;
  private readonly tcpBase: number;
  private rng: number;
  private running = false;
  private tokens = 0;
  private lastUs = -1;
  private readonly fill: number;
  /** Frames handed to the transmit queue. */
  queued = 0;
  /** Rounds that wanted buffers and found the pool empty. */
  noBuffer = 0;
  startUs = 0;
  stopUs = 0;
  /**
   * Send the frames to another Ethernet address (the target drops them at its Ethernet layer, before
   * IP and TCP): the generator's whole transmit path runs while the target's flood paths stay cold.
   */
  get misaddressed(): boolean {
    return this.tpl[5] !== this.o.dstMac[5];
  }
  set misaddressed(on: boolean) {
    this.tpl[5] = on ? this.o.dstMac[5]! ^ 0x80 : this.o.dstMac[5]!;
  }

  constructor(
    private readonly dev: Device,
    private readonly tx: TxQueues,
    readonly o: SynFloodOptions,
  ) {
    const cap = tx.batches[Math.min(o.cls, tx.classes - 1)]!.capacity;
    this.fill = Math.max(1, Math.min(o.fill ?? cap - 64, cap - 1));
    this.rng = (o.seed ?? 0x5eed) | 1;
    const t = this.tpl;
    const dv = new DataView(t.buffer);
    t.set(o.dstMac, 0);
    t.set(o.srcMac, 6);
    dv.setUint16(12, ETHERTYPE_IPV4);
    // hping3 -S: TTL 64, window 64, no options.
    writeIpv4Header(dv, IP, 0, IPV4_HEADER_LEN + TCP_HEADER_LEN, 0, true, 64, IPPROTO_TCP, 0, o.dstIp);
    writeTcpHeader(dv, TCP, 0, o.dstPort, 0, 0, TCP_HEADER_LEN, TCP_SYN, 64);
    dv.setUint16(IP_CSUM, 0);
    let ip = 0;
    for (let i = 0; i < IPV4_HEADER_LEN; i += 2) ip += dv.getUint16(IP + i);
    this.ipBase = ip;
    // Pseudo header (source address added per frame) + the TCP header.
    let tcp = (o.dstIp >>> 16) + (o.dstIp & 0xffff) + IPPROTO_TCP + TCP_HEADER_LEN;
    for (let i = 0; i < TCP_HEADER_LEN; i += 2) tcp += dv.getUint16(TCP + i);
    this.tcpBase = tcp;
  }

  start(nowUs: number): void {
    this.running = true;
    this.startUs = nowUs;
    this.lastUs = nowUs;
    this.tokens = 0;
  }

  stop(nowUs: number): void {
    if (this.running) this.stopUs = nowUs;
    this.running = false;
  }

  get active(): boolean {
    return this.running;
  }

  /** Flood frames still waiting in the transmit batch (not yet taken by the device). */
  backlog(): number {
    return this.tx.batches[Math.min(this.o.cls, this.tx.classes - 1)]!.count;
  }

  private next(): number {
    // xorshift32
    let x = this.rng;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.rng = x;
    return x >>> 0;
  }

  poll(nowUs: number): number {
    if (!this.running) return 0;
    const cls = Math.min(this.o.cls, this.tx.classes - 1);
    let n = this.fill - this.tx.batches[cls]!.count;
    if (this.o.ratePerSec > 0) {
      if (nowUs > this.lastUs) {
        this.tokens += ((nowUs - this.lastUs) * this.o.ratePerSec) / 1e6;
        this.lastUs = nowUs;
      }
      const cap = Math.max(64, this.o.ratePerSec / 100);
      if (this.tokens > cap) this.tokens = cap;
      if (n > this.tokens) n = Math.floor(this.tokens);
    }
    if (n <= 0) return 0;
    const mem = this.dev.mem;
    const dv = this.dev.dv;
    const tx = this.tx;
    const tpl = this.tpl;
    let done = 0;
    for (; done < n; done++) {
      const off = tx.take();
      if (off < 0) {
        this.noBuffer++;
        break;
      }
      mem.set(tpl, off);
      let src = this.next();
      // First octet 1..223, not 10 or 127: routable unicast, off the target's link.
      let a = ((src >>> 24) % 223) + 1;
      if (a === 10 || a === 127) a++;
      src = ((a << 24) | (src & 0xffffff)) >>> 0;
      const r = this.next();
      const sport = 1024 + (r % 64512);
      const seq = this.next();
      const sHi = src >>> 16;
      const sLo = src & 0xffff;
      dv.setUint32(off + IP_SRC, src);
      dv.setUint16(off + IP_CSUM, fold(this.ipBase + sHi + sLo));
      dv.setUint16(off + TCP_SPORT, sport);
      dv.setUint32(off + TCP_SEQ, seq);
      dv.setUint16(off + TCP_CSUM, fold(this.tcpBase + sHi + sLo + sport + (seq >>> 16) + (seq & 0xffff)));
      tx.enqueue(tx.lastHandle, off, SYN_FRAME_BYTES, cls);
    }
    this.queued += done;
    if (this.o.ratePerSec > 0) this.tokens -= done;
    return done;
  }

  pollAt(): number {
    return this.running ? 0 : Number.POSITIVE_INFINITY;
  }
}
