/**
 * The echo application as a split-mode app thread handler: bytes go back on the
 * connection they came from, the peer's FIN is answered with ours, and a closed
 * connection's id is given back. Used by apps/echo.ts --layout split:... (in
 * Workers, through app-worker.ts) and by the tests (in-process).
 */
import type { SplitApp, SplitAppHandler } from "./app-end";

export interface EchoCounts {
  opened: number;
  closed: number;
  echoedBytes: number;
}

export function createEchoHandler(counts: EchoCounts = { opened: 0, closed: 0, echoedBytes: 0 }): SplitAppHandler & { counts: EchoCounts } {
  return {
    counts,
    open() {
      counts.opened++;
    },
    data(app: SplitApp, conn: number, bytesShared: Uint8Array, off: number, len: number, cls: number) {
      if (!app.trySend(conn, bytesShared, off, len, cls)) return false;
      counts.echoedBytes += len;
      return true;
    },
    peerFin(app: SplitApp, conn: number) {
      return app.shutdown(conn);
    },
    closed(app: SplitApp, conn: number) {
      if (!app.close(conn)) return false;
      counts.closed++;
      return true;
    },
  };
}

/** The factory app-worker.ts calls in each app thread (`export: "echoApp"`). */
export function echoApp(_index: number): SplitAppHandler & { counts: EchoCounts } {
  return createEchoHandler();
}
