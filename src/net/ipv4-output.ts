/**
 * IPv4 output (RFC 791 3.1, RFC 1122 3.3.1 routing of outbound datagrams).
 *
 * Implements L4Tx: hands a transport a buffer with room for Ethernet + IPv4
 * headers in front, then writes those headers (DF set: we never fragment, and
 * path MTU discovery per RFC 1191 relies on it), chooses the next hop (the
 * destination when on-link, else the default gateway) and resolves it with ARP.
 */
import { ETH_HEADER_LEN, ETHERTYPE_IPV4, EthernetView } from "../wire/ethernet";
import { IPV4_HEADER_LEN, writeIpv4Header } from "../wire/ipv4";
import { padFrame, type ArpLayer } from "./arp";
import { ARP_HIT_REFRESH, ARP_MISS } from "./arp-cache";
import type { NetCounters } from "./counters";
import type { Device } from "./device";
import type { L4Tx } from "./l4-tx";
import type { TxQueues } from "./tx-queues";

export const L4_OFFSET = ETH_HEADER_LEN + IPV4_HEADER_LEN;

export interface RouteConfig {
  ip: number;
  prefixLen: number;
  /** Default gateway, 0 when none. */
  gateway: number;
  ttl: number;
}

export class Ipv4Output implements L4Tx {
  readonly mem: Uint8Array;
  readonly dv: DataView;
  readonly maxL4Bytes: number;
  /** Current time, set by the interface at the start of each poll round. */
  nowUs = 0;
  private openHandle = -1;
  private openOff = 0;
  private ident = 1;
  private readonly mask: number;
  private readonly eth = new EthernetView();

  constructor(
    private readonly dev: Device,
    private readonly tx: TxQueues,
    private readonly arp: ArpLayer,
    private readonly counters: NetCounters,
    private readonly mac: Uint8Array,
    private readonly route: RouteConfig,
  ) {
    this.mem = dev.mem;
    this.dv = dev.dv;
    this.maxL4Bytes = Math.min(dev.caps.mtu, dev.caps.bufBytes - ETH_HEADER_LEN) - IPV4_HEADER_LEN;
    this.mask = route.prefixLen === 0 ? 0 : (0xffffffff << (32 - route.prefixLen)) | 0;
  }

  /**
   * L4Tx.begin(): -1 when no buffer is free, and also when the transmit backlog is
   * at its limit (TxQueues.full(), counted in tx.refused): refusing here keeps the
   * segment with the transport, which retries, instead of dropping the frame later.
   */
  begin(): number {
    if (this.openHandle >= 0) this.abort();
    if (this.tx.full()) {
      this.tx.refused++;
      return -1;
    }
    const off = this.tx.take();
    if (off < 0) {
      this.counters.txNoBuffer++;
      return -1;
    }
    this.openHandle = this.tx.lastHandle;
    this.openOff = off;
    return off + L4_OFFSET;
  }

  abort(): void {
    if (this.openHandle < 0) return;
    this.tx.giveBack(this.openHandle, this.openOff);
    this.openHandle = -1;
  }

  commit(srcIp: number, dstIp: number, proto: number, l4Len: number, prio: number): void {
    const handle = this.openHandle;
    if (handle < 0) return;
    this.openHandle = -1;
    const off = this.openOff;
    this.ident = (this.ident + 1) & 0xffff;
    writeIpv4Header(this.dv, off + ETH_HEADER_LEN, 0, IPV4_HEADER_LEN + l4Len, this.ident, true, this.route.ttl, proto, srcIp, dstIp);
    this.sendFrame(handle, off, L4_OFFSET + l4Len, dstIp, prio);
  }

  /** Next hop for `dstIp`, or -1 when there is no route (off-link with no gateway). */
  nextHop(dstIp: number): number {
    if (((dstIp ^ this.route.ip) & this.mask) === 0) return dstIp;
    return this.route.gateway !== 0 ? this.route.gateway : -1;
  }

  /**
   * Finish and queue an IPv4 frame whose IPv4 header is written: Ethernet
   * header, next hop, ARP. Takes ownership of the buffer.
   */
  sendFrame(handle: number, off: number, len: number, dstIp: number, prio: number): void {
    const hop = this.nextHop(dstIp);
    if (hop === -1) {
      this.counters.txNoRoute++;
      this.dev.freeOne(handle);
      return;
    }
    const eth = this.eth.reset(this.mem, this.dv, off, ETH_HEADER_LEN);
    eth.setSrc(this.mac);
    eth.setEtherType(ETHERTYPE_IPV4);
    const flen = padFrame(this.mem, off, len);
    const hit = this.arp.cache.lookup(hop, this.nowUs, this.mem, off);
    if (hit === ARP_MISS) {
      this.arp.hold(this.nowUs, handle, off, flen, hop, prio);
      return;
    }
    this.tx.enqueue(handle, off, flen, prio);
    // Expired but still usable: ask again while traffic keeps flowing (ArpCache staleUs).
    if (hit === ARP_HIT_REFRESH) this.arp.sendRequest(hop);
  }
}
