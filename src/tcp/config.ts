/**
 * TCP tunables with their defaults. Times are integer microseconds.
 * RFC 6298 (minimum RTO: we default to 200 ms like Linux rather than the RFC's
 * 1 s, as the issue asks), RFC 6928 (initial window), RFC 9293 3.8.6.3 / RFC 5681 4.2
 * (delayed ACK), RFC 9293 3.4.2 (MSL), RFC 1122 4.2.3.6 (keepalive).
 */
export type CcName = "cubic" | "newreno";

export interface TcpConfig {
  /** Connection ids are 0 .. maxConnections-1. */
  maxConnections: number;
  maxListeners: number;
  /** IP MTU of the interface; the MSS we announce and accept is clamped to mtu - 40. */
  mtu: number;
  minRtoUs: number;
  maxRtoUs: number;
  initialRtoUs: number;
  /** Delayed ACK timer (RFC 9293 3.8.6.3: < 0.5 s). */
  delAckUs: number;
  /** Maximum segment lifetime; TIME-WAIT lasts timeWaitUs (default 2 * MSL). */
  mslUs: number;
  timeWaitUs: number;
  /** FIN-WAIT-2 timeout once the application has closed (Linux tcp_fin_timeout). */
  finWait2TimeoutUs: number;
  /** Retransmissions of a SYN before connect fails with ETIMEDOUT. */
  synRetries: number;
  /** Retransmissions of a SYN-ACK before a half-open connection is dropped. */
  synAckRetries: number;
  /** Consecutive RTO expiries on data before the connection fails with ETIMEDOUT. */
  dataRetries: number;
  initialWindowSegments: number;
  cc: CcName;
  keepAlive: boolean;
  keepIdleUs: number;
  keepIntervalUs: number;
  keepProbes: number;
  noDelay: boolean;
  sndBufBytes: number;
  rcvBufBytes: number;
  /** Buffer chunk size and the number of chunks shared by all send and receive buffers. */
  chunkBytes: number;
  chunkCount: number;
  /** Out-of-order ranges held per receive buffer (and SACK blocks we can report). */
  maxOooRanges: number;
  /** Half-open connections (SYN-RECEIVED) per listener before SYN cookies are used. */
  synQueueSize: number;
  defaultBacklog: number;
  synCookies: boolean;
  /**
   * RFC 9293 3.10.7.1/3.10.7.2: answer a non-SYN segment that finds no connection with a RST.
   * Off only where another stack thread may own the connection (--layout stack=N over
   * af_packet's fanout, which moves frames to another queue when one is full): such segments are
   * dropped and counted (strayDropped) and the owner gets the peer's retransmission.
   */
  strayRst: boolean;
  timestamps: boolean;
  sack: boolean;
  /**
   * RFC 6675 5.1: after an RTO keep the SACK scoreboard, use the SACK information that arrives
   * during the recovery, and resend only the holes (as Linux), unless the receiver reneged;
   * false: forget it and go back N over everything (RFC 2018 8's conservative rule).
   */
  sackAfterRto: boolean;
  windowScaling: boolean;
  /** RFC 5961 10: challenge ACKs sent per second, all connections together. */
  challengeAckLimit: number;
  ephemeralLo: number;
  ephemeralHi: number;
  /** Timer wheel tick. */
  timerTickUs: number;
  /** Every connection's transmit class follows the class of the last data segment received (priority.ts). */
  priorityFollowsRx: boolean;
  /** Message mode: express messages and send-ahead boundaries held at once, all connections (message-mode.ts). */
  expressSlots: number;
}

export function defaultTcpConfig(): TcpConfig {
  return {
    maxConnections: 1024,
    maxListeners: 64,
    mtu: 1500,
    minRtoUs: 200_000,
    maxRtoUs: 60_000_000,
    initialRtoUs: 1_000_000,
    delAckUs: 40_000,
    mslUs: 30_000_000,
    timeWaitUs: 60_000_000,
    finWait2TimeoutUs: 60_000_000,
    synRetries: 6,
    synAckRetries: 5,
    dataRetries: 15,
    initialWindowSegments: 10,
    cc: "cubic",
    keepAlive: false,
    keepIdleUs: 7_200_000_000,
    keepIntervalUs: 75_000_000,
    keepProbes: 9,
    noDelay: false,
    sndBufBytes: 256 * 1024,
    rcvBufBytes: 256 * 1024,
    chunkBytes: 2048,
    chunkCount: 16384,
    maxOooRanges: 4,
    synQueueSize: 256,
    defaultBacklog: 128,
    synCookies: true,
    strayRst: true,
    timestamps: true,
    sack: true,
    sackAfterRto: true,
    windowScaling: true,
    challengeAckLimit: 1000,
    ephemeralLo: 32768,
    ephemeralHi: 60999,
    timerTickUs: 1000,
    priorityFollowsRx: false,
    expressSlots: 1024,
  };
}

/** Defaults overridden by `over`; throws RangeError naming the first bad field. */
export function makeTcpConfig(over?: Partial<TcpConfig>): TcpConfig {
  const c = defaultTcpConfig();
  if (over) Object.assign(c, over);
  const pos: (keyof TcpConfig)[] = [
    "maxConnections", "maxListeners", "mtu", "minRtoUs", "maxRtoUs", "initialRtoUs", "delAckUs", "mslUs",
    "sndBufBytes", "rcvBufBytes", "chunkBytes", "chunkCount", "synQueueSize", "defaultBacklog", "timerTickUs",
    "initialWindowSegments", "maxOooRanges", "expressSlots",
  ];
  for (let i = 0; i < pos.length; i++) {
    const v = c[pos[i]!] as number;
    if (!Number.isInteger(v) || v <= 0) throw new RangeError("tcp config: " + pos[i] + " must be a positive integer");
  }
  if (c.maxListeners > 32767) throw new RangeError("tcp config: maxListeners must be <= 32767");
  if (c.mtu < 68 + 40) throw new RangeError("tcp config: mtu must be >= 108");
  if (c.cc !== "cubic" && c.cc !== "newreno") throw new RangeError("tcp config: cc must be \"cubic\" or \"newreno\"");
  if (c.ephemeralLo < 1024 || c.ephemeralHi > 65535 || c.ephemeralLo > c.ephemeralHi) {
    throw new RangeError("tcp config: ephemeral port range must lie in 1024..65535");
  }
  if (c.maxConnections * 4 > 0x7fffffff) throw new RangeError("tcp config: maxConnections too large");
  return c;
}

/** RFC 7323 2.3: the smallest shift that lets a window of `bytes` fit in 16 bits (max 14). */
export function wscaleFor(bytes: number): number {
  let s = 0;
  while (s < 14 && bytes >>> s > 0xffff) s++;
  return s;
}
