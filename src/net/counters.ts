/**
 * Named counters of the network layer: one field per event or drop reason, so
 * an increment on the per-packet path is a plain property write. `snapshot()`
 * turns them into a plain record for status lines, metrics and tests.
 *
 * Receive accounting: every received frame ends in exactly one `drop*` counter
 * or one of arpAccepted / icmpAccepted / tcpDelivered, so
 * rxFrames == totalDrops() + arpAccepted + icmpAccepted + tcpDelivered.
 * (Transmit-side losses are `tx*`, never `drop*`.)
 */
export class NetCounters {
  // Received frames
  rxFrames = 0;
  rxBytes = 0;
  // Drops by reason (Ethernet)
  dropRuntFrame = 0;
  dropNotForUs = 0;
  dropUnknownEtherType = 0;
  dropVlanTagged = 0;
  // Drops by reason (ARP)
  dropArpMalformed = 0;
  dropArpNotEthernetIpv4 = 0;
  dropArpNotForUs = 0;
  // Drops by reason (IPv4)
  dropIpv4Truncated = 0;
  dropIpv4BadVersion = 0;
  dropIpv4BadHeaderLength = 0;
  dropIpv4BadTotalLength = 0;
  dropIpv4BadChecksum = 0;
  dropIpv4Fragment = 0;
  dropIpv4Options = 0;
  dropIpv4NotForUs = 0;
  dropIpv4BadSource = 0;
  dropIpv4TtlExpired = 0;
  dropIpv4UnknownProtocol = 0;
  // Drops by reason (classifier)
  /** Bare SYNs shed by the receive classifier over its per-burst budget under overload (issue 7). */
  dropSynShed = 0;
  // Drops by reason (ICMP)
  dropIcmpTruncated = 0;
  dropIcmpBadChecksum = 0;
  dropIcmpUnhandledType = 0;
  // Received frames handed on (every received frame ends in exactly one drop* counter or one of these)
  /** ARP packets processed (learned and/or answered). */
  arpAccepted = 0;
  /** ICMP messages processed (echo answered, error passed to the transport, echo reply taken). */
  icmpAccepted = 0;
  /** IPv4 datagrams handed to TCP (which counts its own drops). */
  tcpDelivered = 0;
  // Transmit side
  txFrames = 0;
  txNoBuffer = 0;
  txArpQueueFull = 0;
  /** Frames that had to wait for an ARP resolution (held, or dropped when the hold queue was full). */
  txArpHeld = 0;
  txArpUnresolved = 0;
  txNoRoute = 0;
  txDeviceDropped = 0;
  /** ICMP errors we did not send because of the rate limit (RFC 1812 4.3.2.8). */
  txIcmpErrorRateLimited = 0;
  // ARP activity
  arpRequestsSent = 0;
  arpRepliesSent = 0;
  arpRequestsReceived = 0;
  arpRepliesReceived = 0;
  arpGratuitousSent = 0;
  arpCacheFull = 0;
  // ICMP activity
  icmpEchoRequests = 0;
  icmpEchoReplies = 0;
  icmpUnreachableSent = 0;
  icmpErrorsReceived = 0;

  snapshot(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const k of Object.keys(this)) out[k] = (this as unknown as Record<string, number>)[k]!;
    return out;
  }

  /** Sum of every `drop*` counter. */
  totalDrops(): number {
    let n = 0;
    for (const k of Object.keys(this)) if (k.startsWith("drop")) n += (this as unknown as Record<string, number>)[k]!;
    return n;
  }
}
