/**
 * The segment being processed, parsed once into a reusable fixed-shape object
 * (STYLE.md: no fresh literals per packet). Input fills it; the step functions
 * read it and trim it (RFC 9293 3.10.7.4 "trim the segment to the window").
 */
import { TcpOptions } from "../wire/tcp";

export class SegInfo {
  mem: Uint8Array = new Uint8Array(0);
  dv: DataView = new DataView(new ArrayBuffer(0));
  /** IPv4 addresses and ports as seen on the wire (src = remote for us). */
  srcIp = 0;
  dstIp = 0;
  srcPort = 0;
  dstPort = 0;
  seq = 0;
  ack = 0;
  flags = 0;
  /** Window field as received (not yet scaled). */
  wnd = 0;
  urgPtr = 0;
  /** Absolute offset of the payload in mem and its length (after trimming). */
  payOff = 0;
  payLen = 0;
  /** Length as received (SYN + payload + FIN), before trimming. */
  origLen = 0;
  readonly opts = new TcpOptions();
}
