/**
 * Transmit priority of TCP segments (QStack's prioritized TCP; issue 5).
 *
 * Each connection has a priority class, 0 (highest) .. 7 (lowest), kept with
 * its mode bits in one byte (ConnTable.prio). The class is stored inverted
 * (7 - class) so a freshly cleared connection is in the lowest class. The IPv4
 * transmit queues have fewer classes (TxQueues clamps: with 2 classes, 1..7 all
 * mean "low").
 *
 * The class of a segment we send is the higher (numerically lower) of:
 *  - the connection's class (set by the application, or following the class
 *    of the last data segment received when P_FOLLOW_RX or
 *    TcpConfig.priorityFollowsRx is on);
 *  - TcpLayer.rxClass, the class of the segment being processed while we send
 *    (set by the stack around receive), so ACKs and other immediate replies
 *    to a high-priority segment leave in its class;
 *  - for bytes queued with the send-ahead flag (message-mode.ts), the class
 *    given with them.
 * This is not an RFC mechanism: it only orders our own transmit queue and
 * never changes what is sent.
 */
import type { TcpLayer } from "./tcp-layer";

/** The class bits (inverted) of ConnTable.prio. */
export const P_CLASS_MASK = 0x07;
/** Follow the class of the last data segment received. */
export const P_FOLLOW_RX = 0x08;
/** Message mode (message-mode.ts). */
export const P_MESSAGE = 0x10;
/** Express (high-priority) messages wait in the express store. */
export const P_RX_EXPRESS = 0x20;
/** A send-ahead boundary is set (bytes queued ahead of low-priority data). */
export const P_TX_AHEAD = 0x40;

export const LOWEST_CLASS = 7;
/** TcpLayer.rxClass when no segment above the lowest class is being processed. */
export const NO_RX_CLASS = 255;

/** The connection's own class. */
export function connClass(t: TcpLayer, c: number): number {
  return LOWEST_CLASS - (t.conns.prio[c]! & P_CLASS_MASK);
}

export function setConnClass(t: TcpLayer, c: number, cls: number): void {
  const p = t.conns.prio[c]!;
  t.conns.prio[c] = (p & ~P_CLASS_MASK) | (LOWEST_CLASS - cls);
}

/** The class a segment of connection c leaves in now (module doc). */
export function txClass(t: TcpLayer, c: number): number {
  const own = LOWEST_CLASS - (t.conns.prio[c]! & P_CLASS_MASK);
  const rx = t.rxClass;
  return rx < own ? rx : own;
}

/** The class of a reply not tied to a connection (RST, SYN-ACK cookie): the class of what it answers. */
export function replyClass(t: TcpLayer): number {
  const rx = t.rxClass;
  return rx < LOWEST_CLASS ? rx : LOWEST_CLASS;
}

/** A data segment was accepted on c: in follow mode the connection takes its class. */
export function followRx(t: TcpLayer, c: number): void {
  const p = t.conns.prio[c]!;
  if ((p & P_FOLLOW_RX) === 0 && !t.cfg.priorityFollowsRx) return;
  const rx = t.rxClass;
  const cls = rx < LOWEST_CLASS ? rx : LOWEST_CLASS;
  t.conns.prio[c] = (p & ~P_CLASS_MASK) | (LOWEST_CLASS - cls);
}
