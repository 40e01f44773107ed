/** RFC 9293 3.3.2: the connection states. Stored as a Uint8 per connection. */
export enum TcpState {
  Closed = 0,
  Listen = 1,
  SynSent = 2,
  SynReceived = 3,
  Established = 4,
  FinWait1 = 5,
  FinWait2 = 6,
  CloseWait = 7,
  Closing = 8,
  LastAck = 9,
  TimeWait = 10,
}

const STATE_NAMES = [
  "CLOSED",
  "LISTEN",
  "SYN-SENT",
  "SYN-RECEIVED",
  "ESTABLISHED",
  "FIN-WAIT-1",
  "FIN-WAIT-2",
  "CLOSE-WAIT",
  "CLOSING",
  "LAST-ACK",
  "TIME-WAIT",
];

export function stateName(s: number): string {
  return STATE_NAMES[s] ?? "?" + s;
}

/** RFC 9293 3.10.7.4 / 3.5.2: the synchronized states are ESTABLISHED through TIME-WAIT. */
export function isSynchronized(s: number): boolean {
  return s >= TcpState.Established;
}
