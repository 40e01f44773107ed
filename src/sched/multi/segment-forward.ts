/**
 * Active opens on every stack thread of --layout stack=N when the device's flow
 * hash is NOT known (net_af_packet: the kernel's fanout hash is seeded per boot;
 * net_tap: the kernel picks the queue). Where the hash is known (a NIC reporting
 * its Toeplitz key) rss-ports.ts picks ports whose flows come home instead.
 *
 * Ports are partitioned: port p belongs to stack thread p mod N.
 * - PartitionPortProbe extends TCP's port check (src/tcp/open.ts PortProbe,
 *   RFC 6056 check_suitable_port()): a port of another thread counts as taken,
 *   so RFC 6056's algorithm moves to its next candidate (one in N passes). A
 *   local port the application names goes through the same check: one that
 *   belongs to another thread is refused with EADDRINUSE, as the RSS probe
 *   refuses a port whose flow hashes elsewhere. One rule for every device: an
 *   explicit local port works on the thread that owns it.
 * - SegmentForwarder is TCP's stray-segment sink (src/tcp/input.ts
 *   StraySegmentSink): a segment that reaches thread j, finds no connection and
 *   no listener there (where RFC 9293 3.10.7.1 would answer with RST) and whose
 *   destination port belongs to thread k != j is copied, with its Ethernet and
 *   IPv4 headers, to thread k over the segment mailbox (segment-mailbox.ts);
 *   thread k's QueueDevice hands it to k's stack as a received frame. The owner
 *   never forwards a port it owns, so a segment is forwarded at most once: if
 *   the owner does not know it either, TCP there answers as usual (RST, or a
 *   stray drop with TcpConfig.strayRst off).
 *
 * Cost. Only segments that would be reset reach the sink: a connection whose
 * segments arrive on its own thread pays nothing per segment (the receiving side
 * pays one mailbox check per rx burst, queue-device.ts). A connection whose flow
 * the device delivers to another thread has every segment it receives copied
 * twice (into the ring, out into a buffer) and processed by two IPv4 inputs.
 * Passive opens are unaffected: a SYN creates its connection on the thread its
 * flow reaches, and listeners are replicated.
 */
import type { TcpLayer } from "../../tcp/tcp-layer";
import { PortProbe } from "../../tcp/open";
import type { StraySegmentSink } from "../../tcp/input";
import { ETH_HEADER_LEN } from "../../wire/ethernet";
import { IPV4_HEADER_LEN } from "../../wire/ipv4";
import type { SegmentMailboxEnd } from "./segment-mailbox";
import { steerActiveOpens, type RssInfo } from "./rss-ports";

/** The stack thread that owns local port `port` among `threads`. */
export function portOwner(port: number, threads: number): number {
  return port % threads;
}

export class PartitionPortProbe extends PortProbe {
  /** Candidates refused because they belong to another thread. */
  otherThread = 0;

  constructor(
    t: TcpLayer,
    readonly threads: number,
    readonly index: number,
  ) {
    super(t);
  }

  override taken(localIp: number, localPort: number, remoteIp: number, remotePort: number): boolean {
    if (localPort % this.threads !== this.index) {
      this.otherThread++;
      return true;
    }
    return super.taken(localIp, localPort, remoteIp, remotePort);
  }
}

export class SegmentForwarder implements StraySegmentSink {
  /** Segments taken for their owner thread (sent, or dropped on a full ring: see the mailbox's counters). */
  taken = 0;
  /** Segments of another thread's port that were not behind Ethernet + a 20-byte IPv4 header (left to TCP). */
  notFramed = 0;

  constructor(
    readonly mailbox: SegmentMailboxEnd,
    readonly index: number,
    readonly threads: number,
  ) {}

  take(mem: Uint8Array, l4Off: number, l4Len: number, dstPort: number): boolean {
    const owner = dstPort % this.threads;
    if (owner === this.index) return false;
    const ipOff = l4Off - IPV4_HEADER_LEN;
    const frameOff = ipOff - ETH_HEADER_LEN;
    // NetInterface drops IPv4 with options, so TCP follows a 20-byte header (version 4, IHL 5)
    // behind an Ethernet header of type IPv4; anything else is not ours to move.
    if (frameOff < 0 || mem[ipOff] !== 0x45 || mem[frameOff + 12] !== 0x08 || mem[frameOff + 13] !== 0x00) {
      this.notFramed++;
      return false;
    }
    // The frame up to the IPv4 total length (no Ethernet padding). A full ring drops it:
    // TCP's retransmission recovers it, as a loss on the wire; no RST from a thread that is not the owner.
    this.mailbox.forward(mem, frameOff, ETH_HEADER_LEN + IPV4_HEADER_LEN + l4Len, owner);
    this.taken++;
    return true;
  }
}

/** How a stack thread's active opens find their way home. */
export type ActiveOpenSteering = "rss" | "forward" | "none";

/** What keepActiveOpensHome needs of a stack thread's device (QueueDevice). */
export interface SteerableDevice {
  rss: RssInfo | null;
  queue: number;
  segments: SegmentMailboxEnd | null;
}

/**
 * Make `tcp`'s active opens work on stack thread `dev.queue`: with the device's RSS hash
 * known, pick ports whose flows hash to this queue (rss-ports.ts); else, with several threads,
 * partition the ports and forward stray segments to their owner (above). Call once at start,
 * on every stack thread. Returns what it did ("none": one thread, nothing to do).
 */
export function keepActiveOpensHome(tcp: TcpLayer, dev: SteerableDevice): ActiveOpenSteering {
  if (dev.rss !== null) {
    steerActiveOpens(tcp, dev.rss, dev.queue);
    return "rss";
  }
  const mb = dev.segments;
  if (mb === null || mb.threads < 2) return "none";
  tcp.portProbe = new PartitionPortProbe(tcp, mb.threads, dev.queue);
  tcp.stray = new SegmentForwarder(mb, dev.queue, mb.threads);
  return "forward";
}
