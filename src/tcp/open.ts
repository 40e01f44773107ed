/**
 * Active OPEN (RFC 9293 3.10.1): choose the local port (RFC 6056 randomized
 * ephemeral ports), reuse a TIME-WAIT 4-tuple when timestamps make it safe
 * (RFC 6191 reasoning, as Linux's tcp_tw_reuse: the new SYN's TSval exceeds any
 * the peer saw from the old incarnation), pick the ISN (RFC 6528), send the SYN.
 */
import { F_ACTIVE, F_APP_OWNED, F_KEEPALIVE, F_NODELAY, F_TS_OK, F_USED } from "./conn-table";
import { EADDRINUSE, EADDRNOTAVAIL, EINVAL, EMFILE } from "./errno";
import { releaseClosed } from "./lifecycle";
import { offeredOptionFlags } from "./options";
import { emitSegment } from "./output";
import { TcpState } from "./state";
import type { ConnOpts, TcpLayer } from "./tcp-layer";
import { armAfterSyn } from "./timers";

/** A TIME-WAIT connection older than this (with timestamps) may give its 4-tuple to a new active open. */
const TW_REUSE_MS = 1000;

/** Is connection c a TIME-WAIT one that an active open may take over? */
export function timeWaitReusable(t: TcpLayer, c: number, nowUs: number): boolean {
  const conns = t.conns;
  if (conns.state[c] !== TcpState.TimeWait || (conns.flags[c]! & (F_TS_OK | F_APP_OWNED)) !== F_TS_OK) return false;
  return ((((nowUs / 1000) | 0) - conns.lastRecvMs[c]!) | 0) >= TW_REUSE_MS;
}

/** PortTable for EphemeralPorts.pick: a 4-tuple is taken by a live connection or a listener. */
export class PortProbe {
  nowUs = 0;
  constructor(private readonly t: TcpLayer) {}
  taken(localIp: number, localPort: number, remoteIp: number, remotePort: number): boolean {
    const t = this.t;
    if (t.listeners.owns(localIp | 0, localPort)) return true;
    const c = t.flows.lookup(localIp | 0, localPort, remoteIp | 0, remotePort);
    return c >= 0 && !timeWaitReusable(t, c, this.nowUs);
  }
}

export function activeOpen(t: TcpLayer, nowUs: number, lip: number, lport: number, rip: number, rport: number, opts?: ConnOpts): number {
  if (rip === 0 || rport <= 0 || rport > 65535 || lport < 0 || lport > 65535) return -EINVAL;
  const probe = t.portProbe;
  probe.nowUs = nowUs;
  let port = lport;
  if (port === 0) {
    port = t.ports.pick(lip >>> 0, rip >>> 0, rport, probe);
    if (port < 0) return -EADDRNOTAVAIL;
  } else if (probe.taken(lip, port, rip, rport)) {
    return -EADDRINUSE;
  }
  const old = t.flows.lookup(lip, port, rip, rport);
  if (old >= 0) {
    // A reusable TIME-WAIT connection (checked by taken()): retire it now.
    t.counters.timeWaitReused++;
    t.flows.remove(lip, port, rip, rport);
    t.conns.state[old] = TcpState.Closed;
    releaseClosed(t, old);
  }
  const conns = t.conns;
  const c = conns.alloc();
  if (c < 0) {
    t.counters.connTableFull++;
    return -EMFILE;
  }
  if (!t.flows.insert(lip, port, rip, rport, c)) {
    conns.free(c);
    return -EADDRINUSE;
  }
  conns.localIp[c] = lip;
  conns.localPort[c] = port;
  conns.remoteIp[c] = rip;
  conns.remotePort[c] = rport;
  const noDelay = opts?.noDelay ?? t.cfg.noDelay;
  const keepAlive = opts?.keepAlive ?? t.cfg.keepAlive;
  conns.flags[c] = F_USED | F_ACTIVE | F_APP_OWNED | offeredOptionFlags(t) | (noDelay ? F_NODELAY : 0) | (keepAlive ? F_KEEPALIVE : 0);
  conns.rcvWscale[c] = t.rcvWscale;
  conns.mss[c] = t.ourMss;
  const iss = t.isn.isn(lip, port, rip, rport, nowUs) | 0;
  conns.iss[c] = iss;
  conns.sndUna[c] = iss;
  conns.sndNxt[c] = (iss + 1) | 0;
  conns.sndMax[c] = (iss + 1) | 0;
  conns.recover[c] = iss;
  conns.sndSml[c] = iss;
  conns.highRxt[c] = iss;
  conns.lastRecvMs[c] = (nowUs / 1000) | 0;
  conns.state[c] = TcpState.SynSent;
  t.rtt.reset(c);
  t.cc.init(c, conns.mss[c]!, nowUs);
  t.sack.clear(c);
  t.counters.activeOpens++;
  // <SEQ=ISS><CTL=SYN>, timed for the first RTT sample.
  armAfterSyn(t, c, nowUs, emitSegment(t, c, iss, 0, 0, nowUs, true));
  return c;
}
