/**
 * Device checks and set-up for stack thread 0 of --layout stack=N (see
 * stack-threads.ts): the port must be opened with N queue pairs, and vdevs
 * that take their queue count from their devargs must say N.
 */
import { ConfigError } from "../../api/errors";
import type { Device } from "../../net/device";
import { ArpMailboxEnd, type ArpMailboxShare } from "./arp-mailbox";
import { QueueDevice } from "./queue-device";
import { SegmentMailboxEnd, type SegmentMailboxShare } from "./segment-mailbox";

function devargValue(devargs: string, key: string): string | undefined {
  for (const part of devargs.split(",").slice(1)) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq) === key) return part.slice(eq + 1);
  }
  return undefined;
}

/**
 * One line naming the fix when `devargs` cannot give `threads` queue pairs:
 * net_af_packet needs qpairs=N (its sockets then join one PACKET_FANOUT_HASH group);
 * net_memif has one ring pair per queue and no spreading at all.
 */
export function checkMultiQueueDevargs(devargs: string, threads: number): void {
  const driver = devargs.split(",")[0]!;
  if (driver.startsWith("net_af_packet")) {
    // qpairs=Q > threads would leave queues nobody polls (the fanout still sends flows there).
    const q = devargValue(devargs, "qpairs") ?? "1";
    if (q !== String(threads)) {
      throw new ConfigError(`--layout stack=${threads}: ${driver} needs qpairs=${threads} in its devargs (--vdev ${devargs},qpairs=${threads}) so each stack thread gets a queue`);
    }
  } else if (threads > 1 && driver.startsWith("net_memif") || driver.startsWith("net_ring") || driver.startsWith("net_null")) {
    throw new ConfigError(`--layout stack=${threads}: ${driver} does not spread flows over queues; use net_af_packet (qpairs=${threads}), a multi-queue net_tap or a NIC with RSS`);
  }
}

/** The DPDK port id behind a device DpdkDevice opened, or -1 (a wrapper such as --pcap's). */
export function portOf(dev: Device): number {
  const p = (dev as { port?: unknown }).port;
  return typeof p === "number" ? p : -1;
}

/** Wrap stack thread 0's device (queue 0) with its end of the ARP exchange (and of the segment exchange, if given). */
export function threadZeroDevice(dev: Device, mailbox: ArpMailboxShare, segments: SegmentMailboxShare | null = null): QueueDevice {
  if (portOf(dev) < 0) throw new ConfigError("--layout stack=N: --pcap is not supported with several stack threads (it would record one queue)");
  const multi = mailbox.threads > 1;
  return new QueueDevice(dev, multi ? new ArpMailboxEnd(0, mailbox) : null, 0, multi && segments !== null ? new SegmentMailboxEnd(0, segments) : null);
}
