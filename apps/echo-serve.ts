/**
 * The TCP echo service of apps/echo.ts, shared by its run-to-completion mode
 * and by each stack thread of --layout stack=N (echoStackThread runs in the
 * Workers of src/sched/multi/stack-threads.ts).
 */
import type { ParsedArgs } from "../src/api/cli";
import type { TcpSockets } from "../src/api/tcp-sockets";
import type { StackThreadApp } from "../src/sched/multi/stack-threads";
import { keepActiveOpensHome } from "../src/sched/multi/segment-forward";
import { startStack } from "./common";

export interface EchoCounts {
  accepted: number;
  echoedBytes: number;
}

/** Listen on `port` and echo every byte back, with backpressure. */
export function serveEcho(sockets: TcpSockets, port: number, counts: EchoCounts): void {
  const pending = new Map<number, Uint8Array>();
  sockets.listen({
    port,
    backlog: 1024,
    socket: {
      open() {
        counts.accepted++;
      },
      data(s, data) {
        // Echo back with backpressure: what the send buffer cannot take waits,
        // and reading pauses (TCP's window closes) until the peer drains it.
        const n = Math.max(0, s.write(data));
        counts.echoedBytes += n;
        if (n < data.length) {
          pending.set(s.id, data.subarray(n));
          s.pause();
        }
      },
      drain(s) {
        const rest = pending.get(s.id);
        if (rest === undefined) return;
        const n = Math.max(0, s.write(rest));
        counts.echoedBytes += n;
        if (n < rest.length) {
          pending.set(s.id, rest.subarray(n));
        } else {
          pending.delete(s.id);
          s.resume();
        }
      },
      end(s) {
        s.end();
      },
      close(s) {
        pending.delete(s.id);
      },
    },
  });
}

export interface EchoThreadArgs {
  values: ParsedArgs["values"];
  port: number;
}

/** What one stack thread reports when it stops. */
export interface EchoThreadCounts extends EchoCounts {
  rxFrames: number;
  icmpEchoReplies: number;
  arpRepliesSent: number;
  drops: number;
  /** RSTs this thread's TCP sent (a segment reaching a thread that does not know its connection gets one). */
  rstsSent: number;
  /** Segments for a connection this thread does not know, dropped without a RST (TcpConfig.strayRst). */
  strayDropped: number;
  /** Segments with no connection here handed to the thread owning their port (segment-forward.ts). */
  strayForwarded: number;
}

/** Stack thread i >= 1 of --layout stack=N: its own stack on its queue, its own echo. */
export const echoStackThread: StackThreadApp = async (ctx) => {
  const a = ctx.args as EchoThreadArgs;
  const rs = await startStack(a.values, { strayRst: false }, { openDevice: () => Promise.resolve(ctx.device) });
  keepActiveOpensHome(rs.tcp, ctx.device);
  const counts: EchoCounts = { accepted: 0, echoedBytes: 0 };
  serveEcho(rs.sockets, a.port, counts);
  ctx.ready();
  await ctx.stopped;
  await rs.shutdown("stop");
  const c = rs.stack.netif.counters;
  const out: EchoThreadCounts = {
    ...counts, rxFrames: c.rxFrames, icmpEchoReplies: c.icmpEchoReplies, arpRepliesSent: c.arpRepliesSent, drops: c.totalDrops(),
    rstsSent: rs.tcp.counters.rstsSent,
    strayDropped: rs.tcp.counters.strayDropped,
    strayForwarded: rs.tcp.counters.strayForwarded,
  };
  return out;
};
