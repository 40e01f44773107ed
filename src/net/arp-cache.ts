/**
 * ARP cache (RFC 826; RFC 1122 2.3.2.1 for expiry and flooding limits).
 *
 * A small open-addressing table on typed arrays: IPv4 address -> MAC, with an
 * expiry time, plus the time of the last request sent so requests for one
 * address go out at most once per `retryUs` (RFC 1122 2.3.2.1: prevent ARP
 * flooding). No JS object per entry.
 *
 * An entry past its lifetime is not dropped at once: it stays usable for sending
 * for `staleUs` from its first use after the lifetime, while refresh requests go out
 * (at most one per `retryUs`), like Linux's STALE -> DELAY -> PROBE states: a reply
 * refreshes it, and only when the grace passes unanswered does a lookup miss and
 * frames wait for a fresh answer. The grace starts at the first use, not at the
 * expiry, so a neighbour that was idle for longer than the lifetime (an IoT client
 * address between two rounds of messages) is revalidated while its traffic flows
 * again, instead of having every frame held behind an ARP round trip, or a second
 * of retry when that request or its reply is lost.
 */
/** lookup(): no usable mapping (resolve first). */
export const ARP_MISS = 0;
/** lookup(): a fresh mapping. */
export const ARP_HIT = 1;
/** lookup(): a stale mapping, usable; the caller should send a refresh request now. */
export const ARP_HIT_REFRESH = 2;

const EMPTY = 0;
const RESOLVED = 1;
const INCOMPLETE = 2;

/** Linear-probe length; the table is sized so probes stay short. */
const MAX_PROBE = 8;

export interface ArpCacheOptions {
  capacity?: number;
  /** How long a learned mapping stays valid. */
  lifetimeUs?: number;
  /** Minimum interval between requests for one address. */
  retryUs?: number;
  /** Requests sent before an address is declared unreachable. */
  maxRequests?: number;
  /** How long an expired mapping stays usable, from its first use after expiry, while it is refreshed (default retryUs x maxRequests). */
  staleUs?: number;
}

export class ArpCache {
  readonly capacity: number;
  readonly lifetimeUs: number;
  readonly retryUs: number;
  readonly maxRequests: number;
  readonly staleUs: number;
  private readonly mask: number;
  private readonly ip: Int32Array;
  private readonly state: Uint8Array;
  private readonly requests: Uint8Array;
  private readonly mac: Uint8Array;
  private readonly expiresUs: Float64Array;
  private readonly lastRequestUs: Float64Array;
  /** When the grace of an expired entry began (its first use after expiry); -1: not begun. */
  private readonly staleSinceUs: Float64Array;
  /** Number of slots in use. */
  size = 0;
  /** Insertions that had to evict a live entry. */
  evictions = 0;

  constructor(opts: ArpCacheOptions = {}) {
    let cap = 16;
    while (cap < (opts.capacity ?? 1024)) cap <<= 1;
    this.capacity = cap;
    this.mask = cap - 1;
    this.lifetimeUs = opts.lifetimeUs ?? 60_000_000;
    this.retryUs = opts.retryUs ?? 1_000_000;
    this.maxRequests = opts.maxRequests ?? 3;
    this.staleUs = opts.staleUs ?? this.retryUs * this.maxRequests;
    this.ip = new Int32Array(cap);
    this.state = new Uint8Array(cap);
    this.requests = new Uint8Array(cap);
    this.mac = new Uint8Array(cap * 6);
    this.expiresUs = new Float64Array(cap);
    this.lastRequestUs = new Float64Array(cap);
    this.staleSinceUs = new Float64Array(cap).fill(-1);
  }

  private home(ip: number): number {
    return (Math.imul(ip | 0, 0x9e3779b1) >>> 16) & this.mask;
  }

  /** Slot holding `ip`, or -1. */
  private find(ip: number): number {
    const key = ip | 0;
    let s = this.home(ip);
    for (let i = 0; i < MAX_PROBE; i++) {
      if (this.state[s] !== EMPTY && this.ip[s] === key) return s;
      s = (s + 1) & this.mask;
    }
    return -1;
  }

  /** Slot for `ip`, creating it (evicting the entry that expires first) when absent. */
  private slotFor(ip: number, nowUs: number): number {
    const found = this.find(ip);
    if (found >= 0) return found;
    let s = this.home(ip);
    let victim = s;
    let victimExp = Number.POSITIVE_INFINITY;
    for (let i = 0; i < MAX_PROBE; i++) {
      if (this.state[s] === EMPTY) {
        victim = s;
        victimExp = Number.NEGATIVE_INFINITY;
        break;
      }
      const exp = this.state[s] === RESOLVED ? this.expiresUs[s]! : this.lastRequestUs[s]! + this.retryUs;
      if (exp < victimExp) {
        victimExp = exp;
        victim = s;
      }
      s = (s + 1) & this.mask;
    }
    if (this.state[victim] === EMPTY) this.size++;
    else if (victimExp > nowUs) this.evictions++;
    this.ip[victim] = ip | 0;
    this.state[victim] = INCOMPLETE;
    this.requests[victim] = 0;
    this.lastRequestUs[victim] = Number.NEGATIVE_INFINITY;
    this.staleSinceUs[victim] = -1;
    this.expiresUs[victim] = 0;
    return victim;
  }

  /**
   * Copy the MAC for `ip` into out[outOff..outOff+6) when a usable mapping exists at
   * `nowUs`: ARP_HIT (fresh), ARP_HIT_REFRESH (expired but within staleUs: send a
   * refresh request now; one per retryUs), else ARP_MISS.
   */
  lookup(ip: number, nowUs: number, out: Uint8Array, outOff: number): number {
    const s = this.find(ip);
    if (s < 0 || this.state[s] !== RESOLVED) return ARP_MISS;
    const exp = this.expiresUs[s]!;
    let r = ARP_HIT;
    if (exp <= nowUs) {
      let since = this.staleSinceUs[s]!;
      if (since < 0) {
        if (this.staleUs <= 0) return ARP_MISS;
        since = nowUs;
        this.staleSinceUs[s] = nowUs;
        this.lastRequestUs[s] = Number.NEGATIVE_INFINITY;
      }
      if (since + this.staleUs <= nowUs) return ARP_MISS;
      if (nowUs - this.lastRequestUs[s]! >= this.retryUs) {
        this.lastRequestUs[s] = nowUs;
        r = ARP_HIT_REFRESH;
      }
    }
    const m = s * 6;
    const mac = this.mac;
    out[outOff] = mac[m]!;
    out[outOff + 1] = mac[m + 1]!;
    out[outOff + 2] = mac[m + 2]!;
    out[outOff + 3] = mac[m + 3]!;
    out[outOff + 4] = mac[m + 4]!;
    out[outOff + 5] = mac[m + 5]!;
    return r;
  }

  has(ip: number, nowUs: number): boolean {
    const s = this.find(ip);
    return s >= 0 && this.state[s] === RESOLVED && this.expiresUs[s]! > nowUs;
  }

  /** Learn or refresh `ip` -> MAC at buf[off..off+6) (RFC 826 "merge_flag" step). */
  learn(ip: number, buf: Uint8Array, off: number, nowUs: number): void {
    const s = this.slotFor(ip, nowUs);
    const m = s * 6;
    for (let i = 0; i < 6; i++) this.mac[m + i] = buf[off + i]!;
    this.state[s] = RESOLVED;
    this.requests[s] = 0;
    this.lastRequestUs[s] = Number.NEGATIVE_INFINITY;
    this.staleSinceUs[s] = -1;
    this.expiresUs[s] = nowUs + this.lifetimeUs;
  }

  /** Refresh only when `ip` is already present (RFC 826: update existing entries from any ARP packet). */
  update(ip: number, buf: Uint8Array, off: number, nowUs: number): boolean {
    if (this.find(ip) < 0) return false;
    this.learn(ip, buf, off, nowUs);
    return true;
  }

  /**
   * Decide whether a request for `ip` should be sent now: returns 1 to send one,
   * 0 to wait (one is outstanding), -1 when `maxRequests` went unanswered
   * (the caller drops what waits for it and the entry starts over).
   */
  requestDue(ip: number, nowUs: number): number {
    const s = this.slotFor(ip, nowUs);
    if (this.state[s] === RESOLVED && this.expiresUs[s]! > nowUs) return 0;
    if (this.state[s] === RESOLVED) {
      this.state[s] = INCOMPLETE;
      this.requests[s] = 0;
      this.lastRequestUs[s] = Number.NEGATIVE_INFINITY;
    }
    if (nowUs - this.lastRequestUs[s]! < this.retryUs) return 0;
    if (this.requests[s]! >= this.maxRequests) {
      this.requests[s] = 0;
      this.lastRequestUs[s] = nowUs;
      return -1;
    }
    this.requests[s] = this.requests[s]! + 1;
    this.lastRequestUs[s] = nowUs;
    return 1;
  }

  /**
   * When a request for `ip` is next due: the retry time of an outstanding
   * request, or -Infinity when the address has no entry (it was evicted: ask now).
   */
  retryDueUs(ip: number): number {
    const s = this.find(ip);
    if (s < 0) return Number.NEGATIVE_INFINITY;
    if (this.state[s] === RESOLVED) return Number.POSITIVE_INFINITY;
    return this.lastRequestUs[s]! + this.retryUs;
  }

  /** Earliest time an outstanding request needs a retry, or +Infinity. */
  nextRetryUs(): number {
    let t = Number.POSITIVE_INFINITY;
    for (let s = 0; s < this.capacity; s++) {
      if (this.state[s] === INCOMPLETE && this.requests[s]! > 0) {
        const due = this.lastRequestUs[s]! + this.retryUs;
        if (due < t) t = due;
      }
    }
    return t;
  }

  /** Addresses with an outstanding request (for the retry pass). */
  pendingIps(out: Int32Array): number {
    let n = 0;
    for (let s = 0; s < this.capacity && n < out.length; s++) {
      if (this.state[s] === INCOMPLETE && this.requests[s]! > 0) out[n++] = this.ip[s]!;
    }
    return n;
  }
}
