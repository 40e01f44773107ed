import { expect, test } from "bun:test";
import { ConfigError } from "../../../src/api/errors";
import { checkMultiQueueDevargs } from "../../../src/sched/multi/multi-device";

test("net_af_packet must have qpairs equal to the stack thread count", () => {
  expect(() => checkMultiQueueDevargs("net_af_packet0,iface=v0,qpairs=2", 2)).not.toThrow();
  expect(() => checkMultiQueueDevargs("net_af_packet0,iface=v0", 1)).not.toThrow();
  expect(() => checkMultiQueueDevargs("net_af_packet0,iface=v0", 2)).toThrow(/needs qpairs=2/);
  // More sockets than threads would leave a fanout member nobody polls.
  expect(() => checkMultiQueueDevargs("net_af_packet0,iface=v0,qpairs=2", 1)).toThrow(ConfigError);
});

test("devices that do not spread flows are refused for several threads", () => {
  expect(() => checkMultiQueueDevargs("net_memif0,role=server", 2)).toThrow(/does not spread flows/);
  expect(() => checkMultiQueueDevargs("net_memif0,role=server", 1)).not.toThrow();
  expect(() => checkMultiQueueDevargs("net_tap0,iface=t0", 2)).not.toThrow();
});
