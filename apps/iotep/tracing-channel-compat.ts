/**
 * Bun (1.4) gives node:diagnostics_channel's TracingChannel no
 * `hasSubscribers` getter. ioredis (5.11, tracing.js) decides per command
 * whether to trace it by `channel.hasSubscribers !== false`, so under Bun it
 * traces every command with nobody listening: a context object with every
 * argument turned into a string (sanitizeArgs) and a wrapping promise chain
 * per command, all garbage for the collector to sweep.
 *
 * This adds the getter as Node defines it (true when any of the five channels
 * has a subscriber), so a subscriber still gets its traces. Nothing changes
 * where the getter exists (Node, a later Bun). Measured (Bun 1.4.5, 200
 * batch calls and 2,000 single script calls one after another, against a
 * local redis-server): 397 -> 273 ms, 122 -> 82 us of CPU per call.
 */
import dc from "node:diagnostics_channel";

interface ChannelLike {
  hasSubscribers: boolean;
}
interface TracingChannelLike {
  start: ChannelLike;
  end: ChannelLike;
  asyncStart: ChannelLike;
  asyncEnd: ChannelLike;
  error: ChannelLike;
}

/** Install the getter when the runtime lacks it; returns whether it was installed. */
export function installTracingChannelHasSubscribers(): boolean {
  if (typeof dc.tracingChannel !== "function") return false;
  const proto = Object.getPrototypeOf(dc.tracingChannel("qstack:probe")) as object | null;
  if (proto === null || "hasSubscribers" in proto) return false;
  Object.defineProperty(proto, "hasSubscribers", {
    configurable: true,
    get(this: TracingChannelLike): boolean {
      return this.start.hasSubscribers || this.end.hasSubscribers || this.asyncStart.hasSubscribers || this.asyncEnd.hasSubscribers || this.error.hasSubscribers;
    },
  });
  return true;
}

installTracingChannelHasSubscribers();
