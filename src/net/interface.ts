/**
 * One network interface: a Device plus our Ethernet/ARP/IPv4/ICMP handling
 * (RFC 894 for IPv4 over Ethernet, RFC 1122 3.2.1 for IPv4 input checks).
 *
 * `receive(nowUs, batch)` consumes a batch of received frames: each is either
 * reused in place for a reply (ownership moves to the transmit queues) or freed
 * in bulk at the end. Transports register with `setTransport`; IPv4 input hands
 * them the segment in place and they copy what they keep.
 */
import { ETH_HEADER_LEN, ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_VLAN, EthernetView } from "../wire/ethernet";
import { IPV4_HEADER_LEN, Ipv4View } from "../wire/ipv4";
import { ICMP_DEST_UNREACHABLE, ICMP_CODE_PROTOCOL_UNREACHABLE } from "../wire/icmp";
import { ArpLayer, type ArpLayerOptions } from "./arp";
import { NetCounters } from "./counters";
import type { Device } from "./device";
import { IcmpLayer, type IcmpErrorSink } from "./icmp";
import { LocalAddresses } from "./local-addrs";
import { Ipv4Output, type RouteConfig } from "./ipv4-output";
import { IPPROTO_ICMP, IPPROTO_TCP } from "./l4-tx";
import { PacketBatch } from "./packet-batch";
import { TxQueues } from "./tx-queues";

/** A transport's receive entry point (TCP implements it). */
export interface TransportInput {
  input(nowUs: number, mem: Uint8Array, dv: DataView, l4Off: number, l4Len: number, srcIp: number, dstIp: number): void;
}

/**
 * A read-only observer of every burst, for a live wire monitor (apps/iotep's
 * live mode): received frames before processing, transmitted frames as the
 * device takes them. Set with NetInterface.setBurstTap; off (null) it costs
 * one null check per burst. The tap reads the frames synchronously and keeps
 * nothing that points into them.
 */
export interface BurstTap {
  /** Frames batch[0, count) were received in the round at `nowUs` (with a classifier: one class at a time, highest first). */
  rx(nowUs: number, mem: Uint8Array, dv: DataView, batch: PacketBatch): void;
  /** Frames batch[0, count) are about to be offered to the device (it may take a prefix). */
  txOffer(batch: PacketBatch): void;
  /** The device took the first `taken` frames of the last offer (their bytes stay readable until the tap returns). */
  txTaken(taken: number): void;
}

export interface InterfaceConfig {
  ip: number;
  prefixLen: number;
  gateway?: number;
  ttl?: number;
  /** Priority classes for transmit (and, with a classifier, receive). */
  classes?: number;
  arp?: ArpLayerOptions;
}

export class NetInterface {
  readonly counters = new NetCounters();
  readonly tx: TxQueues;
  readonly arp: ArpLayer;
  readonly out: Ipv4Output;
  readonly icmp: IcmpLayer;
  readonly mac: Uint8Array;
  readonly ip: number;
  readonly prefixLen: number;
  /** Every address we own (the primary `ip` and secondary ranges). */
  readonly addrs: LocalAddresses;
  private readonly broadcast: number;
  private readonly eth = new EthernetView();
  private readonly ipv4 = new Ipv4View();
  private readonly toFree: PacketBatch;
  private tcp: TransportInput | null = null;
  private tap: BurstTap | null = null;

  constructor(
    readonly dev: Device,
    cfg: InterfaceConfig,
  ) {
    this.mac = dev.caps.mac;
    this.ip = cfg.ip >>> 0;
    this.prefixLen = cfg.prefixLen;
    const hostMask = cfg.prefixLen >= 32 ? 0 : 0xffffffff >>> cfg.prefixLen;
    this.broadcast = (this.ip | hostMask) >>> 0;
    this.addrs = new LocalAddresses(this.ip);
    this.tx = new TxQueues(dev, { classes: cfg.classes ?? 2 });
    this.arp = new ArpLayer(dev, this.tx, this.counters, this.mac, this.addrs, cfg.arp);
    const route: RouteConfig = { ip: this.ip, prefixLen: cfg.prefixLen, gateway: (cfg.gateway ?? 0) >>> 0, ttl: cfg.ttl ?? 64 };
    this.out = new Ipv4Output(dev, this.tx, this.arp, this.counters, this.mac, route);
    this.icmp = new IcmpLayer(dev, this.tx, this.out, this.counters, this.mac, this.addrs);
    this.toFree = new PacketBatch(Math.max(64, dev.caps.maxBurst * 4));
  }

  setTransport(tcp: TransportInput & Partial<IcmpErrorSink>): void {
    this.tcp = tcp;
    if (typeof tcp.icmpError === "function") this.icmp.errorSink = tcp as IcmpErrorSink;
  }

  /** Observe every rx and tx burst (null: stop). */
  setBurstTap(tap: BurstTap | null): void {
    this.tap = tap;
    this.tx.tap = tap;
  }

  /**
   * Own `count` more addresses from `first` (same subnet). They answer ARP and
   * ping and accept TCP; transports may open connections from them.
   */
  addAddressRange(first: number, count: number): void {
    this.addrs.addRange(first, count);
  }

  /** Announce our primary address (gratuitous ARP); call once after the link comes up. */
  start(nowUs: number): void {
    this.out.nowUs = nowUs;
    this.arp.announce();
  }

  /** Process every frame in `batch` (ownership of all of them passes here), then clear it. */
  receive(nowUs: number, batch: PacketBatch): void {
    this.out.nowUs = nowUs;
    const n = batch.count;
    if (this.tap !== null) this.tap.rx(nowUs, this.dev.mem, this.dev.dv, batch);
    for (let i = 0; i < n; i++) {
      const h = batch.handle[i]!;
      if (!this.receiveFrame(nowUs, h, batch.off[i]!, batch.len[i]!)) {
        if (this.toFree.push(h, 0, 0) < 0) {
          this.dev.free(this.toFree);
          this.toFree.push(h, 0, 0);
        }
      }
    }
    batch.count = 0;
    if (this.toFree.count > 0) this.dev.free(this.toFree);
  }

  /** One frame. Returns true when the buffer was kept (reused for transmit). */
  receiveFrame(nowUs: number, handle: number, off: number, len: number): boolean {
    const c = this.counters;
    c.rxFrames++;
    c.rxBytes += len;
    const mem = this.dev.mem;
    const dv = this.dev.dv;
    const eth = this.eth.reset(mem, dv, off, len);
    if (!eth.checkLen()) {
      c.dropRuntFrame++;
      return false;
    }
    if (!eth.dstMacEquals(this.mac) && !eth.isBroadcast()) {
      c.dropNotForUs++;
      return false;
    }
    const type = eth.etherType();
    if (type === ETHERTYPE_IPV4) return this.ipv4Input(nowUs, handle, off, off + ETH_HEADER_LEN, len - ETH_HEADER_LEN);
    if (type === ETHERTYPE_ARP) return this.arp.input(nowUs, handle, off, off + ETH_HEADER_LEN, len - ETH_HEADER_LEN);
    if (type === ETHERTYPE_VLAN) c.dropVlanTagged++;
    else c.dropUnknownEtherType++;
    return false;
  }

  private ipv4Input(nowUs: number, handle: number, frameOff: number, off: number, len: number): boolean {
    const c = this.counters;
    const mem = this.dev.mem;
    const dv = this.dev.dv;
    const ip = this.ipv4.reset(mem, dv, off, len);
    if (!ip.checkLen()) {
      // Name the reason precisely (RFC 1122 3.2.1.1-3.2.1.2 checks).
      if (len < IPV4_HEADER_LEN) c.dropIpv4Truncated++;
      else if (ip.version() !== 4) c.dropIpv4BadVersion++;
      else if (ip.ihl() < 5 || ip.headerLen() > len) c.dropIpv4BadHeaderLength++;
      else c.dropIpv4BadTotalLength++;
      return false;
    }
    if (!ip.verifyChecksum()) {
      c.dropIpv4BadChecksum++;
      return false;
    }
    const dst = ip.dstIp() >>> 0;
    const local = this.addrs.isLocal(dst);
    if (!local && dst !== this.broadcast && dst !== 0xffffffff) {
      c.dropIpv4NotForUs++;
      return false;
    }
    const src = ip.srcIp() >>> 0;
    // RFC 1122 3.2.1.3: a source that is broadcast or multicast is discarded; so is one of our own
    // addresses arriving from the wire (a martian, RFC 1812 5.3.7, as Linux does: the land attack).
    if (src === 0xffffffff || src === this.broadcast || src >>> 28 === 0xe || this.addrs.isLocal(src)) {
      c.dropIpv4BadSource++;
      return false;
    }
    if (ip.isFragment()) {
      // We do not reassemble: count and drop (DESIGN.md; every peer we serve sets DF).
      c.dropIpv4Fragment++;
      return false;
    }
    if (ip.hasOptions()) {
      c.dropIpv4Options++;
      return false;
    }
    if (ip.ttl() === 0) {
      c.dropIpv4TtlExpired++;
      return false;
    }
    const hl = ip.headerLen();
    const l4Off = off + hl;
    // Trust the IPv4 total length, not the frame: Ethernet pads short frames.
    const l4Len = ip.totalLength() - hl;
    const proto = ip.protocol();
    if (proto === IPPROTO_TCP) {
      if (!local) {
        c.dropIpv4NotForUs++;
        return false;
      }
      if (this.tcp !== null) {
        c.tcpDelivered++;
        this.tcp.input(nowUs, mem, dv, l4Off, l4Len, src, dst);
        return false;
      }
    } else if (proto === IPPROTO_ICMP) {
      return this.icmp.input(nowUs, handle, frameOff, off, l4Off, l4Len);
    }
    c.dropIpv4UnknownProtocol++;
    // RFC 1122 3.2.2.1: protocol unreachable, never for broadcasts.
    if (local) this.icmp.sendError(nowUs, ICMP_DEST_UNREACHABLE, ICMP_CODE_PROTOCOL_UNREACHABLE, off, ip.totalLength());
    return false;
  }

  /** Periodic work: ARP retries. */
  service(nowUs: number): void {
    this.out.nowUs = nowUs;
    this.arp.service(nowUs);
  }

  pollAt(): number {
    // Frames left by a full device ring go out next round: poll again now.
    if (this.tx.queued > 0) return this.out.nowUs;
    return this.arp.pollAt();
  }

  /** Transmit everything queued, highest priority class first. */
  flush(): number {
    const tx = this.tx;
    const sent = tx.flush();
    // Totals, not deltas: the queues also transmit (or drop) from enqueue()
    // when a class's batch fills up between flushes.
    this.counters.txFrames = tx.sent;
    this.counters.txDeviceDropped = tx.dropped;
    return sent;
  }

  close(): void {
    this.arp.releaseAll();
    this.tx.release();
  }
}
