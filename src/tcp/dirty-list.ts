/**
 * The dirty list's overflow (TcpLayer.markDirty / flush): connections with
 * output pending until the next flush are listed in dirtySlots(maxConnections)
 * slots, at most 65536 (4 B each: 0.26 B per connection at 1 M instead of 4).
 * Far fewer become dirty within one poll round; a connection marked when the
 * list is full keeps its F_DIRTY flag and is found by a scan of the table.
 */
import { F_DIRTY, F_USED } from "./conn-table";
import { tcpOutput } from "./output";
import type { TcpLayer } from "./tcp-layer";

/** Slots of the dirty list for n connections. */
export function dirtySlots(n: number): number {
  return Math.min(n, 65536);
}

/**
 * The dirty list overflowed: run output for every marked connection, scanning
 * the table from t.dirtyScanFrom (a connection also on the list may be served
 * twice: harmless). A refused transmit stops the scan where it is; the next
 * flush goes on from there.
 */
export function flushOverflow(t: TcpLayer, nowUs: number): void {
  const flags = t.conns.flags;
  const refusedBefore = t.counters.txNoBuf;
  // Marks that overflow from here on (output re-marking a refused connection) set it again.
  t.dirtyOverflow = false;
  const cap = t.conns.capacity;
  let c = t.dirtyScanFrom;
  for (; c < cap; c++) {
    const f = flags[c]!;
    if ((f & (F_DIRTY | F_USED)) !== (F_DIRTY | F_USED)) continue;
    flags[c] = f & ~F_DIRTY;
    tcpOutput(t, c, nowUs);
    if (t.counters.txNoBuf !== refusedBefore) {
      c++;
      break;
    }
  }
  if (c < cap) {
    t.dirtyScanFrom = c;
    t.dirtyOverflow = true;
  } else {
    // Marks that overflowed behind the scan set dirtyOverflow again: the next flush starts over.
    t.dirtyScanFrom = 0;
  }
}
