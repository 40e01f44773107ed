/**
 * Named TCP counters: every drop is counted by reason (STYLE.md). Plain numeric
 * fields on one object of fixed shape, incremented in place.
 */
export class TcpCounters {
  segsIn = 0;
  segsOut = 0;
  bytesIn = 0;
  bytesOut = 0;
  // drops on input
  badChecksum = 0;
  badOffset = 0;
  badOptions = 0;
  noListener = 0;
  outOfWindow = 0;
  pawsRejected = 0;
  badAck = 0;
  ackTooNew = 0;
  rcvBufFull = 0;
  oooDropped = 0;
  listenDrops = 0;
  acceptQueueFull = 0;
  connTableFull = 0;
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
}
