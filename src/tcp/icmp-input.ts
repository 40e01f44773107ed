/**
 * ICMP errors about our TCP segments (RFC 1122 4.2.3.9, RFC 1191 path MTU
 * discovery, RFC 5927 4.3 / RFC 5961 defences): the quoted IPv4 header + first
 * 8 bytes of TCP name the connection; the error is ignored unless the quoted
 * sequence number lies in SND.UNA .. SND.NXT (an in-flight segment).
 *   Fragmentation needed (type 3 code 4): lower the MSS to next-hop MTU - 40 and resend.
 *   Protocol / port unreachable (codes 2, 3): hard errors; an opening connection
 *   fails with ECONNREFUSED. Synchronized connections treat them as soft (RFC 5461).
 *   Other unreachable codes: soft errors, ignored.
 */
import { seqGe, seqLt } from "../wire/seq";
import { F_ACTIVE, F_RTT_TIMING } from "./conn-table";
import { ECONNREFUSED } from "./errno";
import { enterClosed } from "./lifecycle";
import { MIN_MSS } from "./options";
import { tcpOutput } from "./output";
import { TcpState } from "./state";
import type { TcpLayer } from "./tcp-layer";

const ICMP_DEST_UNREACH = 3;
const CODE_PROTO_UNREACH = 2;
const CODE_PORT_UNREACH = 3;
const CODE_FRAG_NEEDED = 4;
/** RFC 1191 5: a router that does not report the next-hop MTU; use the smallest plateau above 576... conservatively 576. */
const FALLBACK_MTU = 576;

export function handleIcmpError(
  t: TcpLayer, nowUs: number, type: number, code: number, nextHopMtu: number, mem: Uint8Array, dv: DataView, ipOff: number, ipLen: number,
): void {
  const cnt = t.counters;
  if (type !== ICMP_DEST_UNREACH || ipLen < 20) {
    cnt.icmpIgnored++;
    return;
  }
  const ihl = (mem[ipOff]! & 0x0f) * 4;
  if (ihl < 20 || ipLen < ihl + 8 || mem[ipOff + 9] !== 6) {
    cnt.icmpIgnored++;
    return;
  }
  // The quoted packet is one we sent: its source is our address.
  const lip = dv.getInt32(ipOff + 12);
  const rip = dv.getInt32(ipOff + 16);
  const lport = dv.getUint16(ipOff + ihl);
  const rport = dv.getUint16(ipOff + ihl + 2);
  const seq = dv.getInt32(ipOff + ihl + 4);
  const c = t.flows.lookup(lip, lport, rip, rport);
  if (c < 0) {
    cnt.icmpIgnored++;
    return;
  }
  const conns = t.conns;
  if (!seqGe(seq, conns.sndUna[c]!) || !seqLt(seq, conns.sndMax[c]!)) {
    cnt.icmpIgnored++;
    return;
  }
  const s = conns.state[c]!;
  if (code === CODE_FRAG_NEEDED) {
    const mtu = nextHopMtu >= 68 ? nextHopMtu : FALLBACK_MTU;
    let mss = mtu - 40;
    if (mss < MIN_MSS) mss = MIN_MSS;
    if (mss >= conns.mss[c]!) {
      cnt.icmpIgnored++;
      return;
    }
    conns.mss[c] = mss;
    t.cc.setMss(c, mss);
    cnt.icmpMssLowered++;
    if (s >= TcpState.Established) {
      // The too-big segments were dropped: resend from SND.UNA at the new size (not a congestion signal).
      conns.sndNxt[c] = conns.sndUna[c]!;
      conns.flags[c] = conns.flags[c]! & ~F_RTT_TIMING;
      tcpOutput(t, c, nowUs);
    }
    return;
  }
  if ((code === CODE_PROTO_UNREACH || code === CODE_PORT_UNREACH) && (s === TcpState.SynSent || (s === TcpState.SynReceived && (conns.flags[c]! & F_ACTIVE) !== 0))) {
    cnt.icmpHardErrors++;
    enterClosed(t, c, ECONNREFUSED, nowUs);
    return;
  }
  cnt.icmpIgnored++;
}
