/** What the TCP layer tells the application layer (src/api) about a connection. */

/** Event kinds delivered to TcpEventSink.event(connId, kind, arg). */
export const TcpEvent = {
  /** An active open reached ESTABLISHED. */
  Connected: 1,
  /** New bytes became readable (each time in-order data arrives); arg = bytes readable. */
  Readable: 2,
  /** Send buffer space freed after a send() that could not queue everything; arg = free bytes. */
  Writable: 3,
  /** connId = listener id: a connection is waiting in the accept queue; arg = its id. */
  Accept: 4,
  /** The connection reached CLOSED (or TIME-WAIT); arg = 0 (orderly) or a negative errno (-ECONNRESET, -ETIMEDOUT, ...). */
  Closed: 5,
  /** The peer's FIN arrived in order: recv() returns 0 once the buffer is drained. */
  PeerFin: 6,
} as const;

/**
 * Receives events; a plain method on an object (no closure per packet). Events are
 * sent only for ids the application holds (connected or accepted), and for listeners.
 */
export interface TcpEventSink {
  event(connId: number, kind: number, arg: number): void;
}
