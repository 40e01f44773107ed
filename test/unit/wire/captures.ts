/**
 * Real frames captured with tcpdump on a veth between two Linux 6.x network
 * namespaces (10.77.0.1 = f6:fc:39:6f:14:81, 10.77.0.2 = 26:89:49:7a:6f:bd),
 * offloads off; tshark reported every IP/TCP/UDP/ICMP checksum good.
 * Shared by the wire unit tests (not a test file itself).
 */

export const MAC_A = "f6:fc:39:6f:14:81";
export const MAC_B = "26:89:49:7a:6f:bd";
export const IP_A = 0x0a4d0001;
export const IP_B = 0x0a4d0002;

/** ARP request: who has 10.77.0.2? tell 10.77.0.1 (42 bytes). */
export const ARP_REQUEST_FRAME =
  "fffffffffffff6fc396f148108060001080006040001f6fc396f14810a4d00010000000000000a4d0002";
/** ARP reply: 10.77.0.2 is at 26:89:49:7a:6f:bd. */
export const ARP_REPLY_FRAME =
  "f6fc396f14812689497a6fbd080600010800060400022689497a6fbd0a4d0002f6fc396f14810a4d0001";
/** ping -c 1: ICMP echo request id 0x25c0 seq 1, 56 data bytes, IP id 0xa131, DF. */
export const ICMP_ECHO_REQUEST_FRAME =
  "2689497a6fbdf6fc396f1481080045000054a1314000400184db0a4d00010a4d00020800840e25c00001a02f0b6b00000000d8c20b0000000000" +
  "101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637";
/** The kernel's echo reply to it (IP id 0x021c, DF clear). */
export const ICMP_ECHO_REPLY_FRAME =
  "f6fc396f14812689497a6fbd080045000054021c0000400163f10a4d00020a4d000100008c0e25c00001a02f0b6b00000000d8c20b0000000000" +
  "101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f3031323334353637";
/** Linux SYN 53262 -> 5001: seq 0x0431a35f, win 64240, MSS 1460, SACK_PERM, TS 2873694725/0, WS 10. */
export const TCP_SYN_FRAME =
  "2689497a6fbdf6fc396f148108004500003c765340004006afcc0a4d00010a4d0002d00e13890431a35f00000000a002faf0e7f80000" +
  "020405b40402080aab491a05000000000103030a";
/** Linux SYN-ACK 5001 -> 53262: seq 0x361d03e3, ack 0x0431a360, win 65160, TS 65111395/2873694725. */
export const TCP_SYNACK_FRAME =
  "f6fc396f14812689497a6fbd08004500003c00004000400626200a4d00020a4d00011389d00e361d03e30431a360a012fe88210b0000" +
  "020405b40402080a03e18563ab491a050103030a";
/** PSH|ACK carrying "world\n" with NOP NOP TS. */
export const TCP_DATA_FRAME =
  "2689497a6fbdf6fc396f148108004500003a765540004006afcc0a4d00010a4d0002d00e13890431a360361d03e48018003f00300000" +
  "0101080aab491a0503e18563776f726c640a";
/** RST|ACK from a closed port 5002 -> 42032. */
export const TCP_RST_FRAME =
  "f6fc396f14812689497a6fbd08004500002800004000400626340a4d00020a4d0001138aa43000000000d779533550140000b8ca0000";
/** UDP 48513 -> 5003 carrying "x\n". */
export const UDP_FRAME = "2689497a6fbdf6fc396f148108004500001eb3ad4000401172850a4d00010a4d0002bd81138b000aa226780a";
/** ICMP port unreachable quoting UDP_FRAME's datagram (TOS 0xc0). */
export const ICMP_PORT_UNREACH_FRAME =
  "f6fc396f14812689497a6fbd080045c0003a02c60000400162a10a4d00020a4d0001030311b5000000004500001eb3ad4000401172850a4d0001" +
  "0a4d0002bd81138b000aa226780a";

export function hexBytes(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(i * 2, 2), 16);
  return out;
}

export function toHex(buf: Uint8Array, off: number, len: number): string {
  let s = "";
  for (let i = 0; i < len; i++) s += buf[off + i]!.toString(16).padStart(2, "0");
  return s;
}

/** A frame placed at an odd absolute offset inside a larger buffer, as in a packet pool. */
export interface Placed {
  buf: Uint8Array;
  dv: DataView;
  off: number;
  len: number;
}

export function place(hex: string, off = 67, tail = 29): Placed {
  const bytes = hexBytes(hex);
  const buf = new Uint8Array(off + bytes.length + tail).fill(0xee);
  buf.set(bytes, off);
  return { buf, dv: new DataView(buf.buffer), off, len: bytes.length };
}
