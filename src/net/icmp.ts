/**
 * ICMP for IPv4 (RFC 792, RFC 1122 3.2.2).
 *
 * Echo requests are answered in place (the request buffer becomes the reply,
 * RFC 1122 3.2.2.6: same data, identifier and sequence). Destination
 * unreachable (protocol unreachable) is sent for datagrams of a protocol we do
 * not speak, rate-limited with a token bucket (RFC 1812 4.3.2.8 recommends
 * limiting; RFC 1122 3.2.2 forbids errors about errors and broadcasts).
 * Errors received are handed to the transport through `IcmpErrorSink`.
 */
import { ETH_HEADER_LEN, EthernetView } from "../wire/ethernet";
import {
  ICMP_DEST_UNREACHABLE,
  ICMP_ECHO_REPLY,
  ICMP_ECHO_REQUEST,
  ICMP_HEADER_LEN,
  ICMP_TIME_EXCEEDED,
  IcmpView,
} from "../wire/icmp";
import { IPV4_HEADER_LEN, Ipv4View } from "../wire/ipv4";
import type { NetCounters } from "./counters";
import type { LocalAddresses } from "./local-addrs";
import type { Device } from "./device";
import { IPPROTO_ICMP } from "./l4-tx";
import type { Ipv4Output } from "./ipv4-output";
import { PRIO_HIGH, type TxQueues } from "./tx-queues";

/** Receives ICMP errors about datagrams we sent (e.g. TCP lowers its MSS on fragmentation-needed). */
export interface IcmpErrorSink {
  /**
   * `ipOff`/`ipLen` delimit the quoted IPv4 header plus at least 8 bytes of its
   * payload inside `mem`, already checked to hold a full quoted header.
   */
  icmpError(nowUs: number, type: number, code: number, nextHopMtu: number, mem: Uint8Array, dv: DataView, ipOff: number, ipLen: number): void;
}

/** Receives echo replies (ping clients, tests). */
export interface EchoReplySink {
  echoReply(nowUs: number, srcIp: number, identifier: number, sequence: number, dataLen: number): void;
}

export class IcmpLayer {
  private readonly icmp = new IcmpView();
  private readonly quoted = new Ipv4View();
  private readonly eth = new EthernetView();
  private readonly ip = new Ipv4View();
  /** Error replies allowed per second, and the bucket. */
  private readonly ratePerSec: number;
  private tokens: number;
  private lastRefillUs = 0;
  errorSink: IcmpErrorSink | null = null;
  echoSink: EchoReplySink | null = null;

  constructor(
    private readonly dev: Device,
    private readonly tx: TxQueues,
    private readonly out: Ipv4Output,
    private readonly counters: NetCounters,
    private readonly mac: Uint8Array,
    private readonly addrs: LocalAddresses,
    opts: { errorsPerSec?: number } = {},
  ) {
    this.ratePerSec = opts.errorsPerSec ?? 1000;
    this.tokens = this.ratePerSec;
  }

  /**
   * Process an ICMP message. `ipOff` is the IPv4 header, `off`/`len` the ICMP
   * message. Returns true when the buffer was reused for a reply.
   */
  input(nowUs: number, handle: number, frameOff: number, ipOff: number, off: number, len: number): boolean {
    const mem = this.dev.mem;
    const dv = this.dev.dv;
    const icmp = this.icmp.reset(mem, dv, off, len);
    if (!icmp.checkLen()) {
      this.counters.dropIcmpTruncated++;
      return false;
    }
    if (!icmp.verifyChecksum()) {
      this.counters.dropIcmpBadChecksum++;
      return false;
    }
    const type = icmp.type();
    if (type === ICMP_ECHO_REQUEST) {
      this.counters.icmpEchoRequests++;
      const ip = this.ip.reset(mem, dv, ipOff, off + len - ipOff);
      const src = ip.srcIp();
      const dst = ip.dstIp();
      // Reply from the address the request was sent to, only when it is ours
      // (never answer broadcasts: RFC 1122 3.2.2.6 makes it optional).
      if (!this.addrs.isLocal(dst)) {
        this.counters.dropIpv4NotForUs++;
        return false;
      }
      icmp.setType(ICMP_ECHO_REPLY);
      icmp.fillChecksum();
      ip.setSrcIp(dst);
      ip.setDstIp(src);
      ip.setTtl(64);
      ip.fillChecksum();
      const eth = this.eth.reset(mem, dv, frameOff, ETH_HEADER_LEN);
      eth.setDstFrom(mem, frameOff + 6);
      eth.setSrc(this.mac);
      // Reply through routing/ARP (not just to the frame's source MAC), so a
      // request that came through a gateway goes back through it.
      this.out.nowUs = nowUs;
      this.out.sendFrame(handle, frameOff, off + len - frameOff, src, PRIO_HIGH);
      this.counters.icmpEchoReplies++;
      this.counters.icmpAccepted++;
      return true;
    }
    if (type === ICMP_DEST_UNREACHABLE || type === ICMP_TIME_EXCEEDED) {
      this.counters.icmpErrorsReceived++;
      const q = this.quoted.reset(mem, dv, off + ICMP_HEADER_LEN, len - ICMP_HEADER_LEN);
      // The quoted datagram must hold a whole IPv4 header and 8 bytes of payload (RFC 792).
      if (len - ICMP_HEADER_LEN < IPV4_HEADER_LEN + 8 || q.version() !== 4 || q.headerLen() < IPV4_HEADER_LEN || q.headerLen() + 8 > len - ICMP_HEADER_LEN) {
        this.counters.dropIcmpTruncated++;
        return false;
      }
      this.counters.icmpAccepted++;
      if (this.errorSink !== null) {
        this.errorSink.icmpError(nowUs, type, icmp.code(), icmp.nextHopMtu(), mem, dv, off + ICMP_HEADER_LEN, len - ICMP_HEADER_LEN);
      }
      return false;
    }
    if (type === ICMP_ECHO_REPLY) {
      this.counters.icmpAccepted++;
      if (this.echoSink !== null) {
        const ip = this.ip.reset(mem, dv, ipOff, off + len - ipOff);
        this.echoSink.echoReply(nowUs, ip.srcIp() >>> 0, icmp.identifier(), icmp.sequence(), len - ICMP_HEADER_LEN);
      }
      return false;
    }
    this.counters.dropIcmpUnhandledType++;
    return false;
  }

  private takeToken(nowUs: number): boolean {
    const elapsed = nowUs - this.lastRefillUs;
    if (elapsed > 0) {
      this.tokens = Math.min(this.ratePerSec, this.tokens + (elapsed * this.ratePerSec) / 1e6);
      this.lastRefillUs = nowUs;
    }
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /**
   * Send a destination-unreachable (or other error) about the datagram whose
   * IPv4 header is at mem[ipOff..]: quote its header and first 8 payload bytes.
   */
  sendError(nowUs: number, type: number, code: number, ipOff: number, ipLen: number): void {
    if (!this.takeToken(nowUs)) {
      this.counters.txIcmpErrorRateLimited++;
      return;
    }
    const mem = this.dev.mem;
    const dv = this.dev.dv;
    const orig = this.ip.reset(mem, dv, ipOff, ipLen);
    const dst = orig.srcIp();
    const from = this.addrs.isLocal(orig.dstIp()) ? orig.dstIp() : this.addrs.primary;
    const quoteLen = Math.min(ipLen, orig.headerLen() + 8);
    const l4 = this.out.begin();
    if (l4 < 0) return;
    const icmp = this.icmp.reset(mem, dv, l4, ICMP_HEADER_LEN + quoteLen);
    icmp.setType(type);
    icmp.setCode(code);
    dv.setUint32(l4 + 4, 0);
    mem.copyWithin(l4 + ICMP_HEADER_LEN, ipOff, ipOff + quoteLen);
    icmp.fillChecksum();
    this.out.nowUs = nowUs;
    this.out.commit(from, dst, IPPROTO_ICMP, ICMP_HEADER_LEN + quoteLen, PRIO_HIGH);
    this.counters.icmpUnreachableSent++;
  }

  /** Send an echo request with `dataLen` bytes of patterned data (RFC 792). False when no buffer. */
  sendEchoRequest(nowUs: number, dstIp: number, identifier: number, sequence: number, dataLen: number): boolean {
    const mem = this.dev.mem;
    const l4 = this.out.begin();
    if (l4 < 0) return false;
    const icmp = this.icmp.reset(mem, this.dev.dv, l4, ICMP_HEADER_LEN + dataLen);
    icmp.setType(ICMP_ECHO_REQUEST);
    icmp.setCode(0);
    icmp.setIdentifier(identifier);
    icmp.setSequence(sequence);
    for (let i = 0; i < dataLen; i++) mem[l4 + ICMP_HEADER_LEN + i] = (i + sequence) & 0xff;
    icmp.fillChecksum();
    this.out.nowUs = nowUs;
    this.out.commit(this.addrs.primary, dstIp, IPPROTO_ICMP, ICMP_HEADER_LEN + dataLen, PRIO_HIGH);
    return true;
  }
}
