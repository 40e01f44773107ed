/**
 * Diagnostics: the complete TCP state of one connection as a plain object (sequence
 * variables relative to ISS/IRS and absolute, windows, queues, flags by name, timers),
 * for benchmarks and tests that must explain a connection that did not finish.
 * Allocates: never call it on the packet path.
 */
import * as CT from "./conn-table";
import { TcpState } from "./state";
import type { TcpLayer } from "./tcp-layer";
import { TIMER_KINDS } from "./timers";

const FLAG_NAMES: [string, number][] = Object.entries(CT)
  .filter(([k, v]) => k.startsWith("F_") && typeof v === "number")
  .map(([k, v]) => [k.slice(2), v as number]);

/** Names of the flag bits set in `f`. */
export function flagNames(f: number): string {
  const out: string[] = [];
  for (const [name, bit] of FLAG_NAMES) if ((f & bit) !== 0) out.push(name);
  return out.join("|");
}

/** Everything TCP knows about connection c, at time nowUs. */
export function describeConn(t: TcpLayer, c: number, nowUs: number): Record<string, unknown> {
  const k = t.conns;
  if (!k.isUsed(c)) return { id: c, used: false };
  const una = k.sndUna[c]!;
  const rel = (x: number) => (x - una) | 0;
  const mainDl = t.wheel.deadline(c * TIMER_KINDS);
  const delDl = t.wheel.deadline(c * TIMER_KINDS + 1);
  const f = k.flags[c]!;
  return {
    id: c,
    state: TcpState[k.state[c]!],
    flags: flagNames(f),
    local: `${k.localIp[c]! >>> 0}:${k.localPort[c]}`,
    remote: `${k.remoteIp[c]! >>> 0}:${k.remotePort[c]}`,
    sndUna: una >>> 0,
    // Relative to SND.UNA.
    sndNxt: rel(k.sndNxt[c]!),
    sndMax: rel(k.sndMax[c]!),
    sndWnd: k.sndWnd[c]!,
    maxSndWnd: k.maxSndWnd[c]!,
    sndWl1: k.sndWl1[c]! >>> 0,
    sndWl2: k.sndWl2[c]! >>> 0,
    sndWl2RelUna: rel(k.sndWl2[c]!),
    sndWscale: k.sndWscale[c],
    sndQueued: t.snd.length(c),
    sndSml: rel(k.sndSml[c]!),
    recover: rel(k.recover[c]!),
    highRxt: rel(k.highRxt[c]!),
    cwnd: t.cc.cwnd(c),
    rcvNxt: k.rcvNxt[c]! >>> 0,
    rcvAdvRel: (k.rcvAdv[c]! - k.rcvNxt[c]!) | 0,
    lastAckSentRel: (k.lastAckSent[c]! - k.rcvNxt[c]!) | 0,
    rcvWscale: k.rcvWscale[c],
    rcvQueued: t.rcv.length(c),
    rcvChunks: t.rcv.chunksHeld(c),
    rcvRanges: t.rcv.rangeCount(c),
    mss: k.mss[c],
    retries: k.retries[c],
    dupAcks: k.dupAcks[c],
    rtoUs: t.rtt.rtoUs(c),
    backoff: t.rtt.backoffCount(c),
    mainTimerInUs: mainDl < 0 ? -1 : mainDl - nowUs,
    delackTimerInUs: delDl < 0 ? -1 : delDl - nowUs,
    lastRecvAgoMs: (((nowUs / 1000) | 0) - k.lastRecvMs[c]!) | 0,
  };
}
