/**
 * Named TCP counters: every drop is counted by reason (STYLE.md). Plain numeric
 * fields on one object of fixed shape, incremented in place.
 *
 * Segment accounting: every segment tcpInput receives (segsIn) ends in exactly one
 * outcome: segsAccepted, or one of the drop reasons in SEGMENT_DROP_REASONS, so
 * segsIn == segsAccepted + segmentDrops(). Other counters (badOptions, acceptQueueFull,
 * connTableFull, synCookiesRejected, challengeAcks, rcvBufFull, ...) are details that
 * move beside an outcome, never instead of one.
 */
export class TcpCounters {
  segsIn = 0;
  /** Segments that passed the checks of RFC 9293 3.10.7 and were processed (answered, queued or acted on). */
  segsAccepted = 0;
  segsOut = 0;
  bytesIn = 0;
  bytesOut = 0;
  // drops on input
  badChecksum = 0;
  badOffset = 0;
  badOptions = 0;
  noListener = 0;
  /** Non-SYN segments with no connection dropped without a RST (TcpConfig.strayRst off: several stack threads). */
  strayDropped = 0;
  /** Segments with no connection and no listener handed to the stack thread that owns their port (TcpLayer.stray). */
  strayForwarded = 0;
  outOfWindow = 0;
  pawsRejected = 0;
  badAck = 0;
  ackTooNew = 0;
  rcvBufFull = 0;
  /** send() cut short by the empty buffer pool (not the connection's own buffer), and the Writable events that followed (pool-wait.ts). */
  sndPoolWaits = 0;
  sndPoolWakeups = 0;
  oooDropped = 0;
  listenDrops = 0;
  acceptQueueFull = 0;
  connTableFull = 0;
  /** RFC 9293 3.10.7.4 fifth: a segment without ACK in SYN-RECEIVED or a synchronized state. */
  noAckInSynchronized = 0;
  /** RFC 9293 3.10.7.3 fourth/fifth: neither SYN nor RST in SYN-SENT. */
  nonSynInSynSent = 0;
  /** RFC 9293 3.10.7.3 second: a RST without an ACK in SYN-SENT. */
  rstWithoutAckInSynSent = 0;
  /** RFC 9293 3.10.7.2 first: a RST arriving at a listener. */
  rstInListen = 0;
  /** RFC 9293 3.10.7.2 fourth: neither SYN, ACK nor RST arriving at a listener. */
  nonSynInListen = 0;
  /** RFC 9293 3.10.7.2 second: an ACK at a listener that is not a valid SYN cookie (answered with RST). */
  ackInListen = 0;
  /** RFC 5961 3.2: a RST in the window but not at RCV.NXT (challenge ACK). */
  rstNotExact = 0;
  /** RFC 5961 4.2: a SYN in a synchronized state (challenge ACK). */
  synInSynchronized = 0;
  // RFC 5961
  challengeAcks = 0;
  challengeAcksLimited = 0;
  rstsReceived = 0;
  rstsSent = 0;
  // handshake
  activeOpens = 0;
  passiveOpens = 0;
  synCookiesSent = 0;
  synCookiesAccepted = 0;
  synCookiesRejected = 0;
  timeWaitReused = 0;
  // loss recovery
  retransmits = 0;
  retransmittedBytes = 0;
  fastRetransmits = 0;
  sackRecoveries = 0;
  partialAcks = 0;
  rtoTimeouts = 0;
  /** RTOs that kept the SACK scoreboard (RFC 6675 5.1) / SACKed bytes the go-back after one skipped. */
  rtoSackKept = 0;
  rtoSackSkipped = 0;
  /** RACK (RFC 8985): recoveries started by the time rule on an ACK / by the probe timer; retransmission passes found lost. */
  rackLosses = 0;
  rackTimeoutLosses = 0;
  rackLostRetransmits = 0;
  /** Tail loss probes sent (RFC 8985 7). */
  tlpProbes = 0;
  dupAcksIn = 0;
  persistProbes = 0;
  keepaliveProbes = 0;
  delayedAcks = 0;
  oooSegments = 0;
  urgentSegments = 0;
  // outcomes
  connTimeouts = 0;
  resets = 0;
  finWait2Timeouts = 0;
  // ICMP
  icmpMssLowered = 0;
  icmpIgnored = 0;
  icmpHardErrors = 0;
  // transmit path
  txNoBuf = 0;
  /** Retransmission / persist timers that expired while transmission was refused (re-armed, no backoff). */
  timersDeferred = 0;

  /** Sum of the segment drop reasons (SEGMENT_DROP_REASONS). */
  segmentDrops(): number {
    let n = 0;
    for (let i = 0; i < SEGMENT_DROP_REASONS.length; i++) n += this[SEGMENT_DROP_REASONS[i]!];
    return n;
  }
}

/**
 * The counters that end a received segment without acceptance. listenDrops covers every
 * segment a listener could not take (accept queue full, SYN queue full without cookies,
 * connection or flow table full); acceptQueueFull and connTableFull name the detail.
 */
export const SEGMENT_DROP_REASONS = [
  "badOffset", "badChecksum", "noListener", "outOfWindow", "pawsRejected", "badAck", "ackTooNew", "listenDrops",
  "noAckInSynchronized", "nonSynInSynSent", "rstWithoutAckInSynSent", "rstInListen", "nonSynInListen", "ackInListen",
  "rstNotExact", "synInSynchronized", "strayDropped", "strayForwarded",
] as const satisfies readonly (keyof TcpCounters)[];
