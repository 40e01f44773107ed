/**
 * Message mode: QStack's prioritized TCP with unordered receive and send,
 * opt-in per connection (TcpLayer.setMessageMode). Byte-stream connections
 * never reach this file.
 *
 * What a message is. On a message-mode connection, a *message* is the payload
 * of one TCP segment that
 *   (a) arrives in order (SEG.SEQ = RCV.NXT after trimming, RFC 9293 3.10.7.4)
 *       while no out-of-order data is held for the connection, and
 *   (b) was classified above the lowest class by the stack's classifier
 *       (TcpLayer.rxClass < LOWEST_CLASS: the frame is "high priority").
 * Such a payload goes to the connection's express queue instead of the byte
 * stream. recv() returns the oldest express message, whole and alone (one
 * message per call; a destination shorter than the message gets its first
 * bytes and the rest is discarded, as with a datagram), before any byte of the
 * stream -- also before stream bytes that arrived earlier and are still unread.
 * Everything else (lowest-class segments; a high segment that arrives out of
 * order, or while out-of-order data is held, or when the express store is full)
 * joins the byte stream and is read in order exactly as in byte-stream mode.
 *
 * TCP itself is unchanged: the sequence space, ACKs, SACK and the window are as
 * for a byte stream. An express message is acknowledged when it arrives (the
 * same delayed-ACK policy) and its bytes count against the receive window until
 * the application reads them (rcvHeld). The stream simply no longer contains
 * the express bytes: the receive queue's end keeps matching RCV.NXT, which is
 * why a message is only taken while no out-of-order range is held (those are
 * stored at offsets relative to the queue's end).
 *
 * Send-ahead: sendAhead(c, bytes, cls) queues a message ahead of bytes not yet
 * sent (after earlier send-ahead messages still unsent), so it is the next data
 * to go out. Bytes already sent (acknowledged or not) keep their place. Its
 * segments carry only message bytes (no coalescing with the data queued behind,
 * no Nagle delay), the first one starts with the message (so the peer's
 * payload classifier sees it), and they leave in class `cls`. The message is
 * queued whole or not at all (0 when the send buffer or buffer pool is short).
 *
 * Memory: the express queues and send-ahead boundaries are side tables sized by
 * TcpConfig.expressSlots (shared by all connections, created on first use); a
 * connection in message mode costs nothing more than its priority byte.
 */
import { ChunkQueues } from "../mem/chunk-queue";
import { ConnMap } from "./conn-map";
import { P_RX_EXPRESS, P_TX_AHEAD } from "./priority";
import type { TcpLayer } from "./tcp-layer";

/** Side tables for message mode (one per TcpLayer). */
export class MessageStore {
  /** One ChunkQueues queue per express slot, one message per slot. */
  readonly q: ChunkQueues;
  readonly next: Int32Array;
  readonly cls: Uint8Array;
  /** conn -> first express slot. */
  readonly rxHead: ConnMap;
  private free = 0;
  /** conn -> its first send-ahead slot (one per message still unsent: start, end sequence numbers and class). */
  readonly txSlot: ConnMap;
  readonly aheadStart: Int32Array;
  readonly aheadEnd: Int32Array;
  readonly aheadCls: Uint8Array;
  /** Next send-ahead message of the same connection, -1 at the last. */
  readonly aheadChain: Int32Array;
  private aheadFree = 0;
  /** Scratch for the unsent bytes moved behind a send-ahead message. */
  readonly scratch: Uint8Array;
  /** Express messages refused (store or pool full: the payload joined the stream). */
  expressFull = 0;
  expressIn = 0;
  aheadIn = 0;

  constructor(t: TcpLayer) {
    const n = t.cfg.expressSlots;
    this.q = new ChunkQueues({ queues: n, pool: t.pool, maxRanges: 1, oooRecords: 0 });
    this.next = new Int32Array(n);
    for (let i = 0; i < n; i++) this.next[i] = i + 1 < n ? i + 1 : -1;
    this.cls = new Uint8Array(n);
    this.rxHead = new ConnMap(n);
    this.txSlot = new ConnMap(n);
    this.aheadStart = new Int32Array(n);
    this.aheadEnd = new Int32Array(n);
    this.aheadCls = new Uint8Array(n);
    this.aheadChain = new Int32Array(n);
    const an = new Int32Array(n);
    for (let i = 0; i < n; i++) an[i] = i + 1 < n ? i + 1 : -1;
    this.aheadNext = an;
    this.scratch = new Uint8Array(t.cfg.sndBufBytes);
  }
  readonly aheadNext: Int32Array;

  takeSlot(): number {
    const s = this.free;
    if (s < 0) return -1;
    this.free = this.next[s]!;
    this.next[s] = -1;
    return s;
  }

  freeSlot(s: number): void {
    this.q.reset(s);
    this.next[s] = this.free;
    this.free = s;
  }

  takeAhead(): number {
    const s = this.aheadFree;
    if (s < 0) return -1;
    this.aheadFree = this.aheadNext[s]!;
    this.aheadChain[s] = -1;
    return s;
  }

  freeAhead(s: number): void {
    this.aheadNext[s] = this.aheadFree;
    this.aheadFree = s;
  }
}

// ---- receive: express messages ------------------------------------------------------

/** Store an in-order high-priority payload as a message of c. False when there is no room (the caller streams it). */
export function expressPush(t: TcpLayer, c: number, cls: number, src: Uint8Array, off: number, len: number): boolean {
  const m = t.messages();
  const pool = t.pool;
  if (pool.available() * pool.objBytes < len + pool.objBytes) {
    m.expressFull++;
    return false;
  }
  const s = m.takeSlot();
  if (s < 0) {
    m.expressFull++;
    return false;
  }
  const headSlot = (t.conns.prio[c]! & P_RX_EXPRESS) !== 0 ? m.rxHead.get(c) : -1;
  if (headSlot < 0 && !m.rxHead.set(c, s)) {
    m.freeSlot(s);
    m.expressFull++;
    return false;
  }
  if (m.q.append(s, src, off, len) !== len) {
    if (headSlot < 0) m.rxHead.delete(c);
    m.freeSlot(s);
    m.expressFull++;
    return false;
  }
  m.cls[s] = cls;
  if (headSlot >= 0) {
    let k = headSlot;
    while (m.next[k]! >= 0) k = m.next[k]!;
    m.next[k] = s;
  }
  t.conns.prio[c] = t.conns.prio[c]! | P_RX_EXPRESS;
  m.expressIn++;
  return true;
}

/** Bytes of c's unread express messages. */
export function expressBytes(t: TcpLayer, c: number): number {
  if ((t.conns.prio[c]! & P_RX_EXPRESS) === 0) return 0;
  const m = t.messages();
  let n = 0;
  for (let s = m.rxHead.get(c); s >= 0; s = m.next[s]!) n += m.q.length(s);
  return n;
}

/** Length of c's oldest express message, -1 when none. */
export function expressPeek(t: TcpLayer, c: number): number {
  if ((t.conns.prio[c]! & P_RX_EXPRESS) === 0) return -1;
  const m = t.messages();
  return m.q.length(m.rxHead.get(c));
}

/**
 * Take c's oldest express message: copy up to `len` bytes to dst[off..] and
 * drop the message. Returns the bytes copied; t.lastRecvClass = its class.
 */
export function expressRead(t: TcpLayer, c: number, dst: Uint8Array, off: number, len: number): number {
  const m = t.messages();
  const s = m.rxHead.get(c);
  const mlen = m.q.length(s);
  const n = len < mlen ? len : mlen;
  m.q.copyOut(s, 0, dst, off, n);
  t.lastRecvClass = m.cls[s]!;
  const nx = m.next[s]!;
  if (nx >= 0) m.rxHead.set(c, nx);
  else {
    m.rxHead.delete(c);
    t.conns.prio[c] = t.conns.prio[c]! & ~P_RX_EXPRESS;
  }
  m.freeSlot(s);
  return n;
}

/** Drop c's express messages (reset, or the id is freed). */
export function expressDrop(t: TcpLayer, c: number): void {
  if ((t.conns.prio[c]! & P_RX_EXPRESS) === 0) return;
  const m = t.messages();
  let s = m.rxHead.delete(c);
  while (s >= 0) {
    const nx = m.next[s]!;
    m.freeSlot(s);
    s = nx;
  }
  t.conns.prio[c] = t.conns.prio[c]! & ~P_RX_EXPRESS;
}

/** Bytes held for the application: the stream plus express messages (what the window accounts for). */
export function rcvHeld(t: TcpLayer, c: number): number {
  const n = t.rcv.length(c);
  return (t.conns.prio[c]! & P_RX_EXPRESS) === 0 ? n : n + expressBytes(t, c);
}

// ---- send: send-ahead ---------------------------------------------------------------------

/**
 * Queue `len` bytes of src as one message ahead of c's unsent bytes, sent in
 * class `cls`. Returns len, or 0 when it does not fit whole. The caller
 * checked that c may send.
 */
export function sendAhead(t: TcpLayer, c: number, src: Uint8Array, off: number, len: number, cls: number): number {
  if (len <= 0) return 0;
  const conns = t.conns;
  const snd = t.snd;
  const total = snd.length(c);
  if (total + len > t.cfg.sndBufBytes) return 0;
  const pool = t.pool;
  if (pool.available() * pool.objBytes < len + pool.objBytes) return 0;
  const m = t.messages();
  const una = conns.sndUna[c]!;
  let at = (conns.sndMax[c]! - una) | 0;
  // After the last send-ahead message still queued (FIFO among messages).
  let last = (conns.prio[c]! & P_TX_AHEAD) !== 0 ? m.txSlot.get(c) : -1;
  if (last >= 0) {
    while (m.aheadChain[last]! >= 0) last = m.aheadChain[last]!;
    const end = (m.aheadEnd[last]! - una) | 0;
    if (end > at) at = end;
  }
  const slot = m.takeAhead();
  if (slot < 0) return 0;
  if (last < 0 && !m.txSlot.set(c, slot)) {
    m.freeAhead(slot);
    return 0;
  }
  if (at > total) at = total;
  if (at < 0) at = 0;
  const tail = total - at;
  if (tail > 0) snd.copyOut(c, at, m.scratch, 0, tail);
  // Grow the queue by len (the bytes are rewritten below), then lay out [message][moved tail].
  const got = snd.append(c, src, off, len);
  if (got !== len) {
    // The pool check above makes this unreachable in one thread; keep the stream consistent anyway.
    if (got > 0 && tail > 0) overwrite(t, c, at, m.scratch, 0, tail);
    if (last < 0) m.txSlot.delete(c);
    m.freeAhead(slot);
    return got;
  }
  if (tail > 0) {
    overwrite(t, c, at, src, off, len);
    overwrite(t, c, at + len, m.scratch, 0, tail);
  }
  m.aheadStart[slot] = (una + at) | 0;
  m.aheadEnd[slot] = (una + at + len) | 0;
  if (last >= 0) m.aheadChain[last] = slot;
  m.aheadCls[slot] = cls;
  conns.prio[c] = conns.prio[c]! | P_TX_AHEAD;
  m.aheadIn++;
  return len;
}

/** Write bytes over c's send queue at `pos` (readable bytes only), through zero-copy spans. */
function overwrite(t: TcpLayer, c: number, pos: number, src: Uint8Array, off: number, len: number): void {
  const span = t.scratch2;
  const mem = t.pool.mem;
  let p = pos;
  let o = off;
  let left = len;
  while (left > 0) {
    const n0 = t.snd.spanAt(c, p, span);
    if (n0 <= 0) return;
    const n = n0 < left ? n0 : left;
    const d = span[0]!;
    for (let i = 0; i < n; i++) mem[d + i] = src[o + i]!;
    p += n;
    o += n;
    left -= n;
  }
}

/**
 * For the segment starting at `nxt`, the most bytes it may carry because of
 * c's send-ahead messages: inside them, the bytes left to their end
 * (t.aheadClass = their class); before them (a go-back retransmission), the
 * bytes up to their start (t.aheadClass = -1); past them 0 (the boundary is
 * then dropped).
 */
export function aheadLimit(t: TcpLayer, c: number, nxt: number): number {
  const m = t.messages();
  let slot = m.txSlot.get(c);
  while (slot >= 0) {
    const before = (m.aheadStart[slot]! - nxt) | 0;
    if (before > 0) {
      t.aheadClass = -1;
      return before;
    }
    const left = (m.aheadEnd[slot]! - nxt) | 0;
    if (left > 0) {
      t.aheadClass = m.aheadCls[slot]!;
      return left;
    }
    // This message is behind us: forget it.
    const nx = m.aheadChain[slot]!;
    m.freeAhead(slot);
    if (nx >= 0) m.txSlot.set(c, nx);
    else m.txSlot.delete(c);
    slot = nx;
  }
  t.conns.prio[c] = t.conns.prio[c]! & ~P_TX_AHEAD;
  return 0;
}

/** Forget c's send-ahead messages (its send buffer was reset, or the id is freed). */
export function aheadDrop(t: TcpLayer, c: number): void {
  if ((t.conns.prio[c]! & P_TX_AHEAD) === 0) return;
  const m = t.messages();
  let slot = m.txSlot.delete(c);
  while (slot >= 0) {
    const nx = m.aheadChain[slot]!;
    m.freeAhead(slot);
    slot = nx;
  }
  t.conns.prio[c] = t.conns.prio[c]! & ~P_TX_AHEAD;
}
