/**
 * Receive-side packet classifier (QStack's packet-level priority): each frame of
 * an rx burst is given a priority class right after the burst, before protocol
 * processing, so the poll round can process class 0 (highest) first.
 *
 * `parseFrameInfo` fills a reusable FrameInfo with the positions a rule needs
 * (IEEE 802.3 Ethernet II + RFC 894; RFC 791 3.1 IPv4 with its real IHL;
 * RFC 9293 3.1 TCP with its REAL data offset; RFC 768 UDP). QStack assumed a
 * 32-byte TCP header (20 + timestamps); we read the Data Offset field instead,
 * so a rule on "payload byte 5" looks at the same byte whatever options the
 * peer sends.
 *
 * Only lengths are checked here (checkLen of each view); checksums are left to
 * the protocol layers, which drop and count bad frames. Frames that are not
 * parsed (too short, not IPv4, IPv4 fragments, bad lengths) go to the
 * Classifier's default class untouched: classifying never drops a frame.
 *
 * Per-packet path: no allocation, no closures created, one view per layer
 * (module-private, so one set per thread: each Bun Worker has its own module
 * instance). Rules are built once and called per frame.
 */
import { ETH_HEADER_LEN, ETHERTYPE_IPV4, EthernetView } from "../wire/ethernet";
import { Ipv4View } from "../wire/ipv4";
import { TCP_ACK, TCP_RST, TCP_SYN, TcpView } from "../wire/tcp";
import { UDP_HEADER_LEN, UdpView } from "../wire/udp";
import { IPPROTO_TCP, IPPROTO_UDP } from "../net/l4-tx";
import type { PacketBatch } from "../net/packet-batch";
import { MAX_CLASSES } from "../net/tx-queues";
import type { SynAdmission } from "./syn-admission";

/** classifyBatch's per-frame scratch: the class in the low bits (MAX_CLASSES <= 16), a bare SYN's prepared index + 1 above. */
const SYN_SHIFT = 4;
const CLASS_MASK = (1 << SYN_SHIFT) - 1;

/**
 * Where things are in one received frame (fixed shape, reused). Offsets are
 * absolute byte offsets into the device's `mem`, like the wire views use.
 * For L4 protocols other than TCP and UDP, ports are 0 and the payload is the
 * whole IP payload (payloadOff = l4Off).
 */
export class FrameInfo {
  /** First byte of the IPv4 header. */
  l3Off = 0;
  /** First byte of the L4 header (l3Off + IHL * 4). */
  l4Off = 0;
  /** IPv4 Protocol field (6 TCP, 17 UDP, 1 ICMP, ...). */
  l4Proto = 0;
  /** IPv4 addresses as uint32 values. */
  srcIp = 0;
  dstIp = 0;
  srcPort = 0;
  dstPort = 0;
  /** RFC 2474 DSCP, the upper 6 bits of the old TOS octet. */
  dscp = 0;
  /** First L4 payload byte (after the real TCP data offset / the 8-byte UDP header). */
  payloadOff = 0;
  /** L4 payload bytes, from the IPv4 Total Length (Ethernet padding excluded). */
  payloadLen = 0;
  /** Length of the whole frame as received (what QStack's "frame length > 80" tests). */
  frameLen = 0;
  /** TCP control bits (RFC 9293 3.1: the low byte of the flags word), 0 for other protocols. */
  tcpFlags = 0;
  /** TCP Sequence Number (int32), 0 for other protocols. */
  tcpSeq = 0;
}

const eth = new EthernetView();
const ip = new Ipv4View();
const tcp = new TcpView();
const udp = new UdpView();

/**
 * Parse the frame at mem[off, off+len) into `out`. Returns false, leaving
 * `out` partly written, when the frame is not an unfragmented IPv4 packet
 * whose IPv4, TCP or UDP lengths are consistent (RFC 1122 3.2.1.1-2 length
 * checks; RFC 9293 3.1 Data Offset within the segment; RFC 768 Length).
 */
export function parseFrameInfo(mem: Uint8Array, dv: DataView, off: number, len: number, out: FrameInfo): boolean {
  out.frameLen = len;
  if (!eth.reset(mem, dv, off, len).checkLen()) return false;
  if (eth.etherType() !== ETHERTYPE_IPV4) return false;
  const l3Off = off + ETH_HEADER_LEN;
  const v4 = ip.reset(mem, dv, l3Off, len - ETH_HEADER_LEN);
  if (!v4.checkLen()) return false;
  // The stack does not reassemble (net/interface.ts drops fragments): a
  // fragment has no reliable L4 header to classify on.
  if (v4.isFragment()) return false;
  const hl = v4.headerLen();
  const l4Off = l3Off + hl;
  // Trust the IPv4 Total Length, not the frame: Ethernet pads short frames.
  const l4Len = v4.totalLength() - hl;
  const proto = v4.protocol();
  out.l3Off = l3Off;
  out.l4Off = l4Off;
  out.l4Proto = proto;
  out.srcIp = v4.srcIp();
  out.dstIp = v4.dstIp();
  out.dscp = v4.dscp();
  if (proto === IPPROTO_TCP) {
    const t = tcp.reset(mem, dv, l4Off, l4Len);
    if (!t.checkLen()) return false;
    const doff = t.dataOffset();
    out.srcPort = t.srcPort();
    out.dstPort = t.dstPort();
    out.tcpFlags = t.flags();
    out.tcpSeq = t.seq();
    out.payloadOff = l4Off + doff;
    out.payloadLen = l4Len - doff;
    return true;
  }
  out.tcpFlags = 0;
  out.tcpSeq = 0;
  if (proto === IPPROTO_UDP) {
    const u = udp.reset(mem, dv, l4Off, l4Len);
    if (!u.checkLen()) return false;
    out.srcPort = u.srcPort();
    out.dstPort = u.dstPort();
    out.payloadOff = l4Off + UDP_HEADER_LEN;
    out.payloadLen = u.length() - UDP_HEADER_LEN;
    return true;
  }
  out.srcPort = 0;
  out.dstPort = 0;
  out.payloadOff = l4Off;
  out.payloadLen = l4Len;
  return true;
}

/**
 * A classification rule: returns a class, 0 (highest) .. classes-1. Called
 * only for frames parseFrameInfo accepted. It must not keep `info` or views of
 * `mem` past the call, and must not allocate (it runs once per frame).
 */
export type ClassifyFn = (mem: Uint8Array, dv: DataView, info: FrameInfo) => number;

const NO_CLASS = 0xff;

function checkClass(cls: number, what: string): void {
  if (!Number.isInteger(cls) || cls < 0 || cls >= MAX_CLASSES) throw new RangeError(`${what} must be an integer class 0..${MAX_CLASSES - 1}, got ${cls}`);
}

/**
 * By TCP/UDP port: the class of the first matching entry for the frame's
 * destination port (our local port on a server), else for its source port
 * (the remote service on a client), else `dflt`. A table lookup per frame.
 */
export function byPort(map: { port: number; cls: number }[], dflt: number): ClassifyFn {
  checkClass(dflt, "byPort default");
  const table = new Uint8Array(65536).fill(NO_CLASS);
  for (let i = map.length - 1; i >= 0; i--) {
    const e = map[i]!;
    if (!Number.isInteger(e.port) || e.port < 0 || e.port > 65535) throw new RangeError(`byPort: bad port ${e.port}`);
    checkClass(e.cls, "byPort class");
    table[e.port] = e.cls; // walking backwards, the first entry for a port wins
  }
  return (_mem, _dv, info) => {
    if (info.l4Proto !== IPPROTO_TCP && info.l4Proto !== IPPROTO_UDP) return dflt;
    const d = table[info.dstPort]!;
    if (d !== NO_CLASS) return d;
    const s = table[info.srcPort]!;
    return s !== NO_CLASS ? s : dflt;
  };
}

/** By DSCP (RFC 2474 3): the class mapped for the frame's code point, else `dflt`. */
export function byDscp(map: { dscp: number; cls: number }[], dflt: number): ClassifyFn {
  checkClass(dflt, "byDscp default");
  const table = new Uint8Array(64).fill(NO_CLASS);
  for (let i = map.length - 1; i >= 0; i--) {
    const e = map[i]!;
    if (!Number.isInteger(e.dscp) || e.dscp < 0 || e.dscp > 63) throw new RangeError(`byDscp: bad DSCP ${e.dscp}`);
    checkClass(e.cls, "byDscp class");
    table[e.dscp] = e.cls;
  }
  return (_mem, _dv, info) => {
    const c = table[info.dscp]!;
    return c !== NO_CLASS ? c : dflt;
  };
}

/**
 * By a payload byte: `cls` when the L4 payload has a byte at `offset` equal to
 * `value` and the frame is longer than `minFrameLen` bytes (default 0: any
 * length), else `dflt`. The payload is the TCP/UDP payload (after the real
 * header length), or the IP payload for other protocols.
 */
export function byPayloadByte(offset: number, value: number, cls: number, dflt: number, minFrameLen = 0): ClassifyFn {
  if (!Number.isInteger(offset) || offset < 0) throw new RangeError(`byPayloadByte: bad offset ${offset}`);
  if (!Number.isInteger(value) || value < 0 || value > 255) throw new RangeError(`byPayloadByte: bad byte value ${value}`);
  checkClass(cls, "byPayloadByte class");
  checkClass(dflt, "byPayloadByte default");
  return (mem, _dv, info) => {
    if (info.frameLen > minFrameLen && info.payloadLen > offset && mem[info.payloadOff + offset] === value) return cls;
    return dflt;
  };
}

/** iotep request marker: payload byte 5 (DESIGN.md "iotep workload"). */
export const IOTEP_PRIO_BYTE = 5;
export const IOTEP_PRIO_HIGH = 0x01;
/** QStack's length threshold: frames of 80 bytes or fewer are never high. */
export const IOTEP_MIN_FRAME_LEN = 80;

/**
 * QStack's rule for the iotep workload: a TCP frame longer than 80 bytes whose
 * payload byte 5 is 0x01 (a request) is class 0, everything else class 1.
 * Unlike QStack, payload byte 5 is found through the real TCP data offset.
 */
export function iotepClassifier(): ClassifyFn {
  return (mem, _dv, info) => {
    if (info.l4Proto === IPPROTO_TCP && info.frameLen > IOTEP_MIN_FRAME_LEN && info.payloadLen > IOTEP_PRIO_BYTE && mem[info.payloadOff + IOTEP_PRIO_BYTE] === IOTEP_PRIO_HIGH) return 0;
    return 1;
  };
}

/** RFC 9293 3.10.7.2 third: a SYN without ACK or RST, what opens a connection at a listener. */
export function isBareSyn(info: FrameInfo): boolean {
  return info.l4Proto === IPPROTO_TCP && (info.tcpFlags & (TCP_SYN | TCP_ACK | TCP_RST)) === TCP_SYN;
}

/**
 * Connection requests below everything else (issue 7, SYN floods): a bare SYN
 * (SYN without ACK or RST) is class `low`; every other frame the classifier
 * parses is class `high`: segments of established flows, handshake-completing
 * ACKs (a SYN-cookie connection's first ACK too), FINs and RSTs, and ICMP.
 * No flow-table lookup is needed: a bare SYN belongs to no synchronized flow
 * (RFC 9293 3.10.7.4 fourth: in a synchronized state it only draws a challenge
 * ACK, RFC 5961 4.2), so a flood of them cannot take the high class. Frames
 * the classifier does not parse (ARP, fragments) take the Classifier's default
 * class. With `inner`, frames that are not bare SYNs get inner's class instead
 * of `high` (a payload rule, say), and bare SYNs the lowest class `low`.
 */
export function synLowClassifier(low = 1, high = 0, inner: ClassifyFn | null = null): ClassifyFn {
  checkClass(low, "synLowClassifier low class");
  checkClass(high, "synLowClassifier high class");
  if (inner === null) return (_mem, _dv, info) => (isBareSyn(info) ? low : high);
  return (mem, dv, info) => (isBareSyn(info) ? low : inner(mem, dv, info));
}

export interface ClassifierOptions {
  /** Number of classes, 1..8 (MAX_CLASSES); class 0 is the highest. */
  classes: number;
  fn: ClassifyFn;
  /**
   * Class for frames parseFrameInfo rejects (non-IPv4 such as ARP, fragments,
   * malformed) and for out-of-range answers of `fn`. Default: classes - 1
   * (the lowest), so junk cannot take the high class.
   */
  defaultClass?: number;
  /**
   * SYN admission under a flood (issue 7, src/sched/syn-admission.ts): bare
   * SYNs over its bounds are shed into classifyBatch's `shed` batch before any
   * protocol work. Established traffic is never shed. Default: none.
   */
  admission?: SynAdmission | null;
}

export class Classifier {
  readonly classes: number;
  readonly defaultClass: number;
  readonly fn: ClassifyFn;
  /** Frames put in each class since construction. */
  readonly counts: Float64Array;
  /** Frames parseFrameInfo rejected (sent to defaultClass). */
  unparsed = 0;
  /** Answers of `fn` outside 0..classes-1 (sent to defaultClass). */
  badClass = 0;
  /** Frames left in the input batch because their output batch was full. */
  overflow = 0;
  /** The FrameInfo of the last frame classified (reused). */
  readonly info = new FrameInfo();
  /** SYN admission (ClassifierOptions.admission), or null: nothing is shed. */
  readonly admission: SynAdmission | null;
  /** Whether the last frame classify() saw was parsed (`info` describes it). */
  parsed = false;
  /** Per frame of the burst being classified with admission: its class, | (prepared index + 1) << SYN_SHIFT for a bare SYN. */
  private cls = new Int32Array(0);

  constructor(opts: ClassifierOptions) {
    const c = opts.classes;
    if (!Number.isInteger(c) || c < 1 || c > MAX_CLASSES) throw new RangeError(`classes must be an integer 1..${MAX_CLASSES}, got ${c}`);
    const d = opts.defaultClass ?? c - 1;
    if (!Number.isInteger(d) || d < 0 || d >= c) throw new RangeError(`defaultClass must be 0..${c - 1}, got ${d}`);
    this.classes = c;
    this.defaultClass = d;
    this.fn = opts.fn;
    this.counts = new Float64Array(c);
    this.admission = opts.admission ?? null;
  }

  /** The class of one frame (no counting). */
  classify(mem: Uint8Array, dv: DataView, off: number, len: number): number {
    const info = this.info;
    if (!parseFrameInfo(mem, dv, off, len, info)) {
      this.parsed = false;
      this.unparsed++;
      return this.defaultClass;
    }
    this.parsed = true;
    const c = this.fn(mem, dv, info);
    if (c >= 0 && c < this.classes && (c | 0) === c) return c;
    this.badClass++;
    return this.defaultClass;
  }

  /**
   * Move every descriptor of `batch` into `out[class]` (out.length >= classes),
   * keeping arrival order within a class, and leave `batch` empty. Ownership of
   * the buffers moves with the descriptors. If an output batch is full, the
   * frames that did not fit stay at the front of `batch` (in order; counted in
   * `overflow`) and their number is returned: size each out[c] to hold at
   * least one rx burst and drain them every round, and this returns 0.
   *
   * With `shed` and an admission object, the bare SYNs it refuses go to `shed`
   * (the caller frees them; size it like an rx burst) and are counted there
   * (SynAdmission.shedBurst / shedRate), not in `counts`. `nowUs` is the
   * round's time (the admission's rate bound). Without `shed` nothing is shed.
   */
  classifyBatch(mem: Uint8Array, dv: DataView, batch: PacketBatch, out: PacketBatch[], shed: PacketBatch | null = null, nowUs = 0): number {
    const n = batch.count;
    const handle = batch.handle;
    const offs = batch.off;
    const lens = batch.len;
    const counts = this.counts;
    const info = this.info;
    const adm = shed !== null ? this.admission : null;
    let cls = this.cls;
    if (adm !== null) {
      adm.beginBurst(n, batch.capacity, nowUs);
      if (cls.length < n) cls = this.cls = new Int32Array(Math.max(n, batch.capacity));
      // Pass 1: classify every frame and hash each bare SYN (class | (index + 1) << SYN_SHIFT); then
      // read the shed-SYN filter's lines of all of them at once, so their cache misses overlap
      // instead of each stalling a decision (src/sched/syn-retry-filter.ts).
      for (let i = 0; i < n; i++) {
        let c = this.classify(mem, dv, offs[i]!, lens[i]!);
        if (this.parsed && isBareSyn(info)) c |= (adm.prepareSyn(info.srcIp, info.srcPort, info.dstPort, info.tcpSeq) + 1) << SYN_SHIFT;
        cls[i] = c;
      }
      adm.prefetch();
    }
    let kept = 0;
    for (let i = 0; i < n; i++) {
      const h = handle[i]!;
      const o = offs[i]!;
      const l = lens[i]!;
      let c: number;
      if (adm === null) c = this.classify(mem, dv, o, l);
      else {
        // Pass 2: the admission decisions, in arrival order.
        c = cls[i]!;
        if (c >>> SYN_SHIFT !== 0) {
          const p = (c >>> SYN_SHIFT) - 1;
          c &= CLASS_MASK;
          if (shed!.count < shed!.capacity && !adm.admitPrepared(p)) {
            shed!.push(h, o, l);
            continue;
          }
        }
      }
      if (out[c]!.push(h, o, l) >= 0) {
        counts[c]++;
      } else {
        handle[kept] = h;
        offs[kept] = o;
        lens[kept] = l;
        kept++;
      }
    }
    batch.count = kept;
    this.overflow += kept;
    return kept;
  }
}
