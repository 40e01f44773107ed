/**
 * The production clock: monotonic integer microseconds. Protocol code never
 * calls it; the poll loop reads it once per round and passes the value down.
 */
const origin = performance.now();

export function monotonicUs(): number {
  return Math.floor((performance.now() - origin) * 1000);
}

/** Wall-clock microseconds since the Unix epoch (pcap timestamps, logs). */
export function wallUs(): number {
  return Math.floor((performance.timeOrigin + performance.now()) * 1000);
}
