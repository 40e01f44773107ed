/**
 * Connection state as struct-of-arrays (STYLE.md, DESIGN.md "Memory"): one typed
 * array per field, indexed by connection id, capacity fixed at construction,
 * no JS object per connection. Sequence numbers are int32 (src/wire/seq.ts).
 * Variable names follow RFC 9293 3.3.1 (sndUna, sndNxt, rcvNxt, ...).
 *
 * The RTT estimator, congestion control, SACK scoreboard, timer wheel and
 * buffers keep their own per-connection arrays; TcpLayer.bytesPerConnection()
 * adds them all up.
 */
import { TcpState } from "./state";

/** Bits of ConnTable.flags. */
export const F_NODELAY = 1 << 0;
export const F_KEEPALIVE = 1 << 1;
/** RFC 2018: both sides sent SACK-permitted. */
export const F_SACK_OK = 1 << 2;
/** RFC 7323: both sides sent timestamps. */
export const F_TS_OK = 1 << 3;
/** RFC 7323 2.2: both sides sent window scale. */
export const F_WS_OK = 1 << 4;
/** The application asked for a FIN after the queued data (shutdown/close). */
export const F_FIN_QUEUED = 1 << 5;
/** Our FIN has been sent at least once (it occupies sequence number sndMax - 1). */
export const F_FIN_SENT = 1 << 6;
/** The peer's FIN was received in order: the receive stream ends at rcvNxt - 1. */
export const F_FIN_RCVD = 1 << 7;
/** The application holds this id (accepted or connected, not yet closed). */
export const F_APP_OWNED = 1 << 8;
/** close() was called: the stack frees the id when the connection reaches CLOSED. */
export const F_APP_CLOSED = 1 << 9;
/** Send an ACK on the next output. */
export const F_ACK_NOW = 1 << 10;
/** A delayed ACK is pending (timer armed). */
export const F_DELACK = 1 << 11;
/** In fast recovery (RFC 5681 3.2 / RFC 6582 / RFC 6675). */
export const F_RECOVERY = 1 << 12;
/** On the dirty list (flush() will run output for it). */
export const F_DIRTY = 1 << 13;
/** rttSeq/rttStartUs time one segment (RFC 6298 Karn: never a retransmitted one). */
export const F_RTT_TIMING = 1 << 14;
/** The peer's FIN arrived ahead of a gap; its sequence number is in finSeq. */
export const F_OOO_FIN = 1 << 15;
/** The persist timer (zero-window probing, RFC 9293 3.8.6.1) is armed instead of the RTX timer. */
export const F_PERSIST = 1 << 16;
/** Waiting in a listener's accept queue. */
export const F_IN_ACCEPTQ = 1 << 17;
/** The application saw a full send buffer: emit Writable when space frees. */
export const F_WANT_WRITABLE = 1 << 18;
/** Active open (connect). */
export const F_ACTIVE = 1 << 19;
/** A passive-open half-open connection counted in its listener's SYN queue. */
export const F_IN_SYNQ = 1 << 20;
/** The application read EOF (recv returned 0) or was told of the peer's FIN. */
export const F_PEERFIN_SIGNALLED = 1 << 21;
/** Readable was signalled and not yet consumed by a recv(). */
export const F_READABLE_SIGNALLED = 1 << 22;
/** In use (allocated). */
export const F_USED = 1 << 23;
/** Loss recovery after an RTO: sndNxt was rewound to sndUna (go-back-N). */
export const F_RTO_RECOVERY = 1 << 24;
/** The MAIN timer id carries an idle-kind timer (keepalive, FIN-WAIT-2, TIME-WAIT), not RTX/persist (timers.ts). */
export const F_TMR_IDLE = 1 << 25;
/** The Closed event was delivered (teardown, lifecycle.ts). */
export const F_CLOSED_SIGNALLED = 1 << 26;
/** The MAIN timer carries a tail loss probe (RFC 8985 7), not the RTO (rack.ts). */
export const F_TLP = 1 << 27;
/** A send was cut short by the empty buffer pool: Writable when a chunk frees (pool-wait.ts). */
export const F_POOL_WAIT = 1 << 28;

interface Field {
  name: string;
  bytes: number;
}

/** The layout: [name, bytes per element]; arrays are carved from one buffer in this order (largest first). */
const FIELDS: Field[] = [
  // int32 fields (4 B)
  { name: "localIp", bytes: 4 },
  { name: "remoteIp", bytes: 4 },
  { name: "flags", bytes: 4 },
  { name: "iss", bytes: 4 },
  { name: "sndUna", bytes: 4 },
  { name: "sndNxt", bytes: 4 },
  { name: "sndMax", bytes: 4 },
  { name: "sndWnd", bytes: 4 },
  { name: "sndWl1", bytes: 4 },
  { name: "sndWl2", bytes: 4 },
  { name: "maxSndWnd", bytes: 4 },
  { name: "rcvNxt", bytes: 4 },
  { name: "rcvAdv", bytes: 4 },
  { name: "recover", bytes: 4 },
  { name: "highRxt", bytes: 4 },
  { name: "rttSeq", bytes: 4 },
  { name: "rttStartUs", bytes: 4 },
  { name: "tsRecent", bytes: 4 },
  { name: "tsRecentMs", bytes: 4 },
  { name: "lastAckSent", bytes: 4 },
  { name: "lastRecvMs", bytes: 4 },
  { name: "finSeq", bytes: 4 },
  { name: "sndSml", bytes: 4 },
  { name: "link", bytes: 4 },
  // 16-bit fields
  { name: "listener", bytes: 2 },
  { name: "localPort", bytes: 2 },
  { name: "remotePort", bytes: 2 },
  { name: "mss", bytes: 2 },
  // uint8 fields
  { name: "state", bytes: 1 },
  { name: "sndWscale", bytes: 1 },
  { name: "rcvWscale", bytes: 1 },
  { name: "dupAcks", bytes: 1 },
  { name: "retries", bytes: 1 },
  { name: "probes", bytes: 1 },
  { name: "delackSegs", bytes: 1 },
  { name: "errno", bytes: 1 },
  { name: "prio", bytes: 1 },
];

function align8(n: number): number {
  return (n + 7) & ~7;
}

export class ConnTable {
  readonly capacity: number;
  readonly buffer: ArrayBuffer;

  readonly localIp: Int32Array;
  readonly remoteIp: Int32Array;
  readonly flags: Int32Array;
  /** RFC 9293 3.3.1 send sequence variables. sndMax: highest sequence sent + 1 (sndNxt rewinds on RTO). */
  readonly iss: Int32Array;
  readonly sndUna: Int32Array;
  readonly sndNxt: Int32Array;
  readonly sndMax: Int32Array;
  /** Peer's window in bytes (already scaled). */
  readonly sndWnd: Int32Array;
  readonly sndWl1: Int32Array;
  readonly sndWl2: Int32Array;
  /** Largest window the peer offered (RFC 9293 3.8.6.2.1 sender SWS avoidance). */
  readonly maxSndWnd: Int32Array;
  readonly rcvNxt: Int32Array;
  /** Right edge of the window we last advertised (never moved left, RFC 9293 3.8.6.2.2). */
  readonly rcvAdv: Int32Array;
  /** RFC 6582 "recover". */
  readonly recover: Int32Array;
  /** RFC 6675 HighRxt. */
  readonly highRxt: Int32Array;
  /** RFC 6298 timing of one segment without timestamps: its end sequence and the low 32 bits of the send time. */
  readonly rttSeq: Int32Array;
  readonly rttStartUs: Int32Array;
  /** RFC 7323 4.3 TS.Recent, the time (ms, low 32 bits) it was set (5.5), Last.ACK.sent. */
  readonly tsRecent: Int32Array;
  readonly tsRecentMs: Int32Array;
  readonly lastAckSent: Int32Array;
  /** Time of the last segment received, ms (low 32 bits): keepalive idle time. */
  readonly lastRecvMs: Int32Array;
  /** The peer's FIN sequence number when it arrived out of order. */
  readonly finSeq: Int32Array;
  /** End of the last small (< MSS) segment sent: Minshall's Nagle variant. */
  readonly sndSml: Int32Array;
  /** Free list / accept queue link. */
  readonly link: Int32Array;
  /** Listener id of a passive-open connection (-1 for active opens); TcpConfig.maxListeners <= 32767. */
  readonly listener: Int16Array;
  readonly localPort: Uint16Array;
  readonly remotePort: Uint16Array;
  /** Effective send MSS (RFC 9293 3.7.1, RFC 1122 4.2.2.6), clamped to our MTU and lowered by ICMP. */
  readonly mss: Uint16Array;
  readonly state: Uint8Array;
  /** RFC 7323 2.3 Snd.Wind.Shift / Rcv.Wind.Shift. */
  readonly sndWscale: Uint8Array;
  readonly rcvWscale: Uint8Array;
  readonly dupAcks: Uint8Array;
  /** Consecutive retransmission timeouts (also SYN / SYN-ACK retransmissions, persist probes). */
  readonly retries: Uint8Array;
  /** Keepalive probes sent without answer. */
  readonly probes: Uint8Array;
  /** Full-sized segments received since our last ACK (RFC 5681 4.2). */
  readonly delackSegs: Uint8Array;
  /** Error to report when the connection failed (positive errno), 0 if none. */
  readonly errno: Uint8Array;
  /** Priority class (inverted) and message-mode bits (priority.ts). */
  readonly prio: Uint8Array;

  private freeHead = -1;
  private used = 0;

  static bytesPerConn(): number {
    let n = 0;
    for (let i = 0; i < FIELDS.length; i++) n += FIELDS[i]!.bytes;
    return n;
  }

  static bytesFor(capacity: number): number {
    let n = 0;
    for (let i = 0; i < FIELDS.length; i++) n += align8(FIELDS[i]!.bytes * capacity);
    return n;
  }

  constructor(capacity: number, backing?: ArrayBuffer, byteOffset = 0) {
    if (!Number.isInteger(capacity) || capacity <= 0) throw new RangeError("ConnTable capacity must be a positive integer");
    this.capacity = capacity;
    const need = ConnTable.bytesFor(capacity);
    this.buffer = backing ?? new ArrayBuffer(need);
    if (this.buffer.byteLength - byteOffset < need) throw new RangeError("ConnTable backing too small");
    let off = byteOffset;
    const arrays: Record<string, Int32Array | Int16Array | Uint16Array | Uint8Array> = {};
    for (let i = 0; i < FIELDS.length; i++) {
      const f = FIELDS[i]!;
      if (f.bytes === 4) arrays[f.name] = new Int32Array(this.buffer, off, capacity);
      else if (f.name === "listener") arrays[f.name] = new Int16Array(this.buffer, off, capacity);
      else if (f.bytes === 2) arrays[f.name] = new Uint16Array(this.buffer, off, capacity);
      else arrays[f.name] = new Uint8Array(this.buffer, off, capacity);
      off += align8(f.bytes * capacity);
    }
    this.localIp = arrays.localIp as Int32Array;
    this.remoteIp = arrays.remoteIp as Int32Array;
    this.flags = arrays.flags as Int32Array;
    this.iss = arrays.iss as Int32Array;
    this.sndUna = arrays.sndUna as Int32Array;
    this.sndNxt = arrays.sndNxt as Int32Array;
    this.sndMax = arrays.sndMax as Int32Array;
    this.sndWnd = arrays.sndWnd as Int32Array;
    this.sndWl1 = arrays.sndWl1 as Int32Array;
    this.sndWl2 = arrays.sndWl2 as Int32Array;
    this.maxSndWnd = arrays.maxSndWnd as Int32Array;
    this.rcvNxt = arrays.rcvNxt as Int32Array;
    this.rcvAdv = arrays.rcvAdv as Int32Array;
    this.recover = arrays.recover as Int32Array;
    this.highRxt = arrays.highRxt as Int32Array;
    this.rttSeq = arrays.rttSeq as Int32Array;
    this.rttStartUs = arrays.rttStartUs as Int32Array;
    this.tsRecent = arrays.tsRecent as Int32Array;
    this.tsRecentMs = arrays.tsRecentMs as Int32Array;
    this.lastAckSent = arrays.lastAckSent as Int32Array;
    this.lastRecvMs = arrays.lastRecvMs as Int32Array;
    this.finSeq = arrays.finSeq as Int32Array;
    this.sndSml = arrays.sndSml as Int32Array;
    this.link = arrays.link as Int32Array;
    this.listener = arrays.listener as Int16Array;
    this.localPort = arrays.localPort as Uint16Array;
    this.remotePort = arrays.remotePort as Uint16Array;
    this.mss = arrays.mss as Uint16Array;
    this.state = arrays.state as Uint8Array;
    this.sndWscale = arrays.sndWscale as Uint8Array;
    this.rcvWscale = arrays.rcvWscale as Uint8Array;
    this.dupAcks = arrays.dupAcks as Uint8Array;
    this.retries = arrays.retries as Uint8Array;
    this.probes = arrays.probes as Uint8Array;
    this.delackSegs = arrays.delackSegs as Uint8Array;
    this.errno = arrays.errno as Uint8Array;
    this.prio = arrays.prio as Uint8Array;
    // Free list in id order: 0 is handed out first.
    for (let i = capacity - 1; i >= 0; i--) {
      this.link[i] = this.freeHead;
      this.freeHead = i;
    }
  }

  /** Take a free id with every field zeroed (state CLOSED), or -1 when the table is full. */
  alloc(): number {
    const c = this.freeHead;
    if (c < 0) return -1;
    this.freeHead = this.link[c]!;
    this.clear(c);
    this.flags[c] = F_USED;
    this.used++;
    return c;
  }

  /** Return an id to the free list. Freeing a free id is ignored. */
  free(c: number): void {
    if ((this.flags[c]! & F_USED) === 0) return;
    this.flags[c] = 0;
    this.state[c] = TcpState.Closed;
    this.link[c] = this.freeHead;
    this.freeHead = c;
    this.used--;
  }

  isUsed(c: number): boolean {
    return c >= 0 && c < this.capacity && (this.flags[c]! & F_USED) !== 0;
  }

  inUse(): number {
    return this.used;
  }

  private clear(c: number): void {
    this.localIp[c] = 0;
    this.remoteIp[c] = 0;
    this.flags[c] = 0;
    this.iss[c] = 0;
    this.sndUna[c] = 0;
    this.sndNxt[c] = 0;
    this.sndMax[c] = 0;
    this.sndWnd[c] = 0;
    this.sndWl1[c] = 0;
    this.sndWl2[c] = 0;
    this.maxSndWnd[c] = 0;
    this.rcvNxt[c] = 0;
    this.rcvAdv[c] = 0;
    this.recover[c] = 0;
    this.highRxt[c] = 0;
    this.rttSeq[c] = 0;
    this.rttStartUs[c] = 0;
    this.tsRecent[c] = 0;
    this.tsRecentMs[c] = 0;
    this.lastAckSent[c] = 0;
    this.lastRecvMs[c] = 0;
    this.finSeq[c] = 0;
    this.sndSml[c] = 0;
    this.link[c] = -1;
    this.listener[c] = -1;
    this.localPort[c] = 0;
    this.remotePort[c] = 0;
    this.mss[c] = 536;
    this.state[c] = TcpState.Closed;
    this.sndWscale[c] = 0;
    this.rcvWscale[c] = 0;
    this.dupAcks[c] = 0;
    this.retries[c] = 0;
    this.probes[c] = 0;
    this.delackSegs[c] = 0;
    this.errno[c] = 0;
    this.prio[c] = 0;
  }
}
