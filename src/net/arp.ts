/**
 * ARP for Ethernet/IPv4 (RFC 826, RFC 1122 2.3.2, RFC 5227 for gratuitous ARP).
 *
 * Answers requests for our address in place (the request buffer becomes the
 * reply), learns mappings, sends requests with a retry interval and a cap, and
 * holds a bounded number of outgoing frames per unresolved next hop; when the
 * bound is hit the oldest frame for that address is kept and the new one is
 * dropped and counted (RFC 1122 2.3.2.2 says SHOULD keep at least one).
 */
import { ArpView, ARP_LEN, ARP_REPLY, ARP_REQUEST, writeArp } from "../wire/arp";
import { ETH_HEADER_LEN, ETHERTYPE_ARP, EthernetView } from "../wire/ethernet";
import { BROADCAST_MAC } from "../wire/mac";
import { ARP_MISS, ArpCache, type ArpCacheOptions } from "./arp-cache";
import type { LocalAddresses } from "./local-addrs";
import type { NetCounters } from "./counters";
import type { Device } from "./device";
import { PRIO_HIGH, type TxQueues } from "./tx-queues";

const ZERO_MAC = new Uint8Array(6);
/** Ethernet minimum frame without FCS. */
export const ETH_MIN_FRAME = 60;

export interface ArpLayerOptions extends ArpCacheOptions {
  /** Frames held while resolving, all next hops together. */
  pendingCapacity?: number;
  /** Frames held per unresolved next hop. */
  pendingPerHop?: number;
}

export class ArpLayer {
  readonly cache: ArpCache;
  private readonly arp = new ArpView();
  private readonly eth = new EthernetView();
  // Frames awaiting resolution, struct-of-arrays, in arrival order.
  private readonly pendCap: number;
  private readonly perHop: number;
  private readonly pHandle: Uint32Array;
  private readonly pOff: Uint32Array;
  private readonly pLen: Uint32Array;
  private readonly pHop: Int32Array;
  private readonly pPrio: Uint8Array;
  private pCount = 0;
  /** Scratch for the retry pass: room for every cache slot, so no pending address is ever skipped. */
  private readonly retryIps: Int32Array;
  private readonly peerMac = new Uint8Array(6);

  constructor(
    private readonly dev: Device,
    private readonly tx: TxQueues,
    private readonly counters: NetCounters,
    private readonly mac: Uint8Array,
    private readonly addrs: LocalAddresses,
    opts: ArpLayerOptions = {},
  ) {
    this.cache = new ArpCache(opts);
    this.pendCap = opts.pendingCapacity ?? 1024;
    this.retryIps = new Int32Array(this.pendCap);
    this.perHop = opts.pendingPerHop ?? 512;
    this.pHandle = new Uint32Array(this.pendCap);
    this.pOff = new Uint32Array(this.pendCap);
    this.pLen = new Uint32Array(this.pendCap);
    this.pHop = new Int32Array(this.pendCap);
    this.pPrio = new Uint8Array(this.pendCap);
  }

  /** Frames currently held for resolution. */
  pending(): number {
    return this.pCount;
  }

  /**
   * Process one received ARP packet at mem[off..off+len) (the Ethernet payload).
   * `frameOff` is the Ethernet header. Returns true when the buffer was reused
   * for a reply (ownership moved to the transmit queue), false when the caller
   * frees it.
   */
  input(nowUs: number, handle: number, frameOff: number, off: number, len: number): boolean {
    const mem = this.dev.mem;
    const arp = this.arp.reset(mem, this.dev.dv, off, len);
    if (!arp.checkLen()) {
      this.counters.dropArpMalformed++;
      return false;
    }
    if (!arp.isEthernetIpv4()) {
      this.counters.dropArpNotEthernetIpv4++;
      return false;
    }
    const op = arp.operation();
    const senderIp = arp.senderIp();
    const targetIp = arp.targetIp();
    if (op === ARP_REQUEST) this.counters.arpRequestsReceived++;
    else if (op === ARP_REPLY) this.counters.arpRepliesReceived++;
    // RFC 826 packet reception: update an existing entry first (merge flag).
    const merged = senderIp !== 0 && this.cache.update(senderIp, mem, arp.senderMacOff(), nowUs);
    if (!this.addrs.isLocal(targetIp) || senderIp === 0) {
      if (merged) this.release(senderIp, nowUs);
      this.counters.dropArpNotForUs++;
      return false;
    }
    if (!merged) this.cache.learn(senderIp, mem, arp.senderMacOff(), nowUs);
    this.release(senderIp, nowUs);
    this.counters.arpAccepted++;
    if (op !== ARP_REQUEST) return false;
    // Turn the request into the reply in place: swap sender/target, set our MAC.
    const eth = this.eth.reset(mem, this.dev.dv, frameOff, ETH_HEADER_LEN);
    eth.setDstFrom(mem, arp.senderMacOff());
    eth.setSrc(this.mac);
    const peerMac = this.peerMac;
    const smo = arp.senderMacOff();
    for (let i = 0; i < 6; i++) peerMac[i] = mem[smo + i]!;
    writeArp(mem, this.dev.dv, off, ARP_REPLY, this.mac, targetIp, peerMac, senderIp);
    this.tx.enqueue(handle, frameOff, padFrame(mem, frameOff, ETH_HEADER_LEN + ARP_LEN), PRIO_HIGH);
    this.counters.arpRepliesSent++;
    return true;
  }

  /** Send an ARP request for `targetIp` (broadcast). False when no buffer. */
  sendRequest(targetIp: number): boolean {
    return this.sendArp(ARP_REQUEST, BROADCAST_MAC, ZERO_MAC, targetIp, this.addrs.primary);
  }

  /** Gratuitous ARP announcing our address (RFC 5227 3: an ARP request with sender = target = our IP). */
  announce(ip: number = this.addrs.primary): boolean {
    const ok = this.sendArp(ARP_REQUEST, BROADCAST_MAC, ZERO_MAC, ip, ip);
    if (ok) this.counters.arpGratuitousSent++;
    return ok;
  }

  private sendArp(op: number, ethDst: Uint8Array, targetMac: Uint8Array, targetIp: number, senderIp: number): boolean {
    const off = this.tx.take();
    if (off < 0) {
      this.counters.txNoBuffer++;
      return false;
    }
    const mem = this.dev.mem;
    const eth = this.eth.reset(mem, this.dev.dv, off, ETH_HEADER_LEN);
    eth.setDst(ethDst);
    eth.setSrc(this.mac);
    eth.setEtherType(ETHERTYPE_ARP);
    writeArp(mem, this.dev.dv, off + ETH_HEADER_LEN, op, this.mac, senderIp, targetMac, targetIp);
    this.tx.enqueue(this.tx.lastHandle, off, padFrame(mem, off, ETH_HEADER_LEN + ARP_LEN), PRIO_HIGH);
    if (op === ARP_REQUEST && senderIp !== targetIp) this.counters.arpRequestsSent++;
    return true;
  }

  /**
   * Hold a finished frame (Ethernet destination still to fill) until `hop`
   * resolves, sending a request when one is due. Takes ownership of the buffer.
   */
  hold(nowUs: number, handle: number, off: number, len: number, hop: number, prio: number): void {
    this.counters.txArpHeld++;
    let forHop = 0;
    for (let i = 0; i < this.pCount; i++) if (this.pHop[i] === (hop | 0)) forHop++;
    if (forHop >= this.perHop || this.pCount >= this.pendCap) {
      this.counters.txArpQueueFull++;
      this.dev.freeOne(handle);
    } else {
      const i = this.pCount++;
      this.pHandle[i] = handle;
      this.pOff[i] = off;
      this.pLen[i] = len;
      this.pHop[i] = hop | 0;
      this.pPrio[i] = prio;
    }
    this.solicit(nowUs, hop);
  }

  private solicit(nowUs: number, hop: number): void {
    const due = this.cache.requestDue(hop, nowUs);
    if (due > 0) this.sendRequest(hop);
    else if (due < 0) this.dropFor(hop);
  }

  /** Move frames waiting for `hop` to the transmit queues, now that it resolved. */
  private release(hop: number, nowUs: number): void {
    if (this.pCount === 0) return;
    const mem = this.dev.mem;
    let w = 0;
    for (let i = 0; i < this.pCount; i++) {
      if (this.pHop[i] === (hop | 0) && this.cache.lookup(hop, nowUs, mem, this.pOff[i]!) !== ARP_MISS) {
        this.tx.enqueue(this.pHandle[i]!, this.pOff[i]!, this.pLen[i]!, this.pPrio[i]!);
      } else {
        this.move(i, w++);
      }
    }
    this.pCount = w;
  }

  private dropFor(hop: number): void {
    let w = 0;
    for (let i = 0; i < this.pCount; i++) {
      if (this.pHop[i] === (hop | 0)) {
        this.dev.freeOne(this.pHandle[i]!);
        this.counters.txArpUnresolved++;
      } else {
        this.move(i, w++);
      }
    }
    this.pCount = w;
  }

  private move(from: number, to: number): void {
    if (from === to) return;
    this.pHandle[to] = this.pHandle[from]!;
    this.pOff[to] = this.pOff[from]!;
    this.pLen[to] = this.pLen[from]!;
    this.pHop[to] = this.pHop[from]!;
    this.pPrio[to] = this.pPrio[from]!;
  }

  /** Retry outstanding requests and give up on silent next hops. Call once per poll round when pending() > 0. */
  service(nowUs: number): void {
    if (this.pCount === 0) return;
    // Work from the held frames, not the cache: an entry evicted while frames
    // wait for it must still be asked for again (or given up on).
    const n = this.pendingHops();
    for (let i = 0; i < n; i++) this.solicit(nowUs, this.retryIps[i]!);
  }

  /** Distinct next hops of the held frames, into retryIps; returns how many. */
  private pendingHops(): number {
    let n = 0;
    for (let i = 0; i < this.pCount; i++) {
      const hop = this.pHop[i]!;
      let seen = false;
      for (let k = 0; k < n; k++) {
        if (this.retryIps[k] === hop) {
          seen = true;
          break;
        }
      }
      if (!seen) this.retryIps[n++] = hop;
    }
    return n;
  }

  /** Next time service() has work, or +Infinity. */
  pollAt(): number {
    if (this.pCount === 0) return Number.POSITIVE_INFINITY;
    const n = this.pendingHops();
    let at = Number.POSITIVE_INFINITY;
    for (let i = 0; i < n; i++) {
      const due = this.cache.retryDueUs(this.retryIps[i]!);
      if (due < at) at = due;
    }
    return at;
  }

  /** Free every held frame (shutdown). */
  releaseAll(): void {
    for (let i = 0; i < this.pCount; i++) this.dev.freeOne(this.pHandle[i]!);
    this.pCount = 0;
  }
}

/** Zero-pad a frame to the Ethernet minimum; returns the length to send. */
export function padFrame(mem: Uint8Array, off: number, len: number): number {
  if (len >= ETH_MIN_FRAME) return len;
  mem.fill(0, off + len, off + ETH_MIN_FRAME);
  return ETH_MIN_FRAME;
}
