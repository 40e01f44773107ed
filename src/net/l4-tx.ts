/**
 * The contract between a transport protocol (TCP) and IPv4 output.
 *
 * A transport writes its header and payload in place into a buffer that IPv4
 * output hands it, then commits; IPv4 output writes the IPv4 header (DF set,
 * TTL, header checksum) and the Ethernet header, resolves the next hop with
 * ARP (queueing the frame while a resolution is pending), and puts the frame
 * in the transmit batch of the given priority class.
 *
 * Addresses are IPv4 addresses as unsigned 32-bit values (10.0.0.1 = 0x0a000001).
 * The transport computes its own checksum (it owns the pseudo header).
 */
export interface L4Tx {
  /** All packet memory; begin() offsets index into it. */
  readonly mem: Uint8Array;
  readonly dv: DataView;
  /** Largest L4 length (header + payload) one packet can carry: MTU - 20. */
  readonly maxL4Bytes: number;
  /**
   * Start an outgoing packet. Returns the absolute offset in `mem` where the L4
   * header starts, or -1 when no transmit buffer is available (the caller
   * counts it and retries on its next timer or event). At most one packet is
   * open at a time.
   */
  begin(): number;
  /** Finish the open packet carrying `l4Len` bytes of L4 header + payload. */
  commit(srcIp: number, dstIp: number, proto: number, l4Len: number, prio: number): void;
  /** Give back the open packet without sending it. */
  abort(): void;
}

/** IPv4 protocol numbers (IANA). */
export const IPPROTO_ICMP = 1;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
