/**
 * Bring-up of our stack for the iotep apps when they drive TCP by connection
 * id (no JS object per connection): the device, the stack and the capacity
 * plan as apps/common.ts startStack does, but without TcpSockets, so the app
 * builds its own TCP front (TcpEpoll on the server, TcpLayer with an event
 * ring on the generator) and holds 1 M connections in typed arrays only.
 */
import { bringUpStack, drainConnections, type ShutdownReport } from "../common";
import type { ParsedArgs } from "../../src/api/cli";
import type { CapacityPlan } from "../../src/api/capacity";
import type { Stack } from "../../src/api/stack";
import type { StackConfig } from "../../src/api/stack-config";
import type { MemoryProvider } from "../../src/mem/carve";
import type { TcpConfig } from "../../src/tcp/config";
import type { TcpLayer } from "../../src/tcp/tcp-layer";

export interface IdStack {
  cfg: StackConfig;
  stack: Stack;
  plan: CapacityPlan;
  /** Memory for TcpLayer's tables and buffers (hugepage regions unless --no-huge). */
  memory: MemoryProvider;
  /** Start the poll loop (after the TCP front and the app stages are added). */
  run(): void;
  /** Drain or reset the connections (--shutdown), stop the loop, close the device (flushes the pcap). */
  shutdown(tcp: TcpLayer | null): Promise<ShutdownReport | null>;
}

export async function startIdStack(values: ParsedArgs["values"], tcp: Partial<TcpConfig>): Promise<IdStack> {
  const { cfg, plan, mem, stack, poller } = await bringUpStack(values, tcp);
  let loop: Promise<void> | null = null;
  let closing: Promise<ShutdownReport | null> | null = null;
  return {
    cfg,
    stack,
    plan,
    memory: mem.provider,
    run() {
      if (loop === null) loop = stack.run();
    },
    shutdown(t) {
      if (closing !== null) return closing;
      closing = (async () => {
        const rep = t !== null && loop !== null ? await drainConnections(t, cfg.ops.shutdown, cfg.ops.shutdownTimeoutMs) : null;
        await stack.stop();
        if (loop !== null) await loop;
        stack.close();
        await poller?.stop();
        return rep;
      })();
      return closing;
    },
  };
}
