/**
 * Opens the device a StackConfig names: initialises DPDK's EAL once per
 * process and opens the first --vdev or --pci port, wrapped in a PcapDevice
 * when --pcap is given. The ffi/ import is dynamic so that code paths without
 * DPDK (unit tests, PairDevice simulations) never load bun:ffi.
 */
import type { Device } from "../net/device";
import { PcapDevice, PcapWriter } from "../net/pcap-writer";
import { wallUs } from "./clock";
import type { StackConfig } from "./stack-config";

export interface OpenDeviceOptions {
  /** mbufs in the pool. */
  nbufs?: number;
}

export async function openDevice(cfg: StackConfig, opts: OpenDeviceOptions = {}): Promise<Device> {
  const { initEal } = await import("../../ffi/eal");
  const { DpdkDevice } = await import("../../ffi/dpdk-device");
  initEal({ vdevs: cfg.vdevs, pci: cfg.pci, extra: cfg.eal, noHuge: cfg.noHuge });
  const devargs = cfg.vdevs.length > 0 ? cfg.vdevs[0]! : cfg.pci[0]!;
  let dev: Device = DpdkDevice.open({ devargs, queues: cfg.queues, nbufs: opts.nbufs, mac: cfg.mac ?? undefined, mtu: cfg.mtu });
  // Microsecond wall-clock stamps (Date.now() would round wire latencies to 1 ms).
  if (cfg.pcap !== null) dev = new PcapDevice(dev, new PcapWriter(cfg.pcap, { maxBytes: cfg.pcapMaxBytes }), wallUs);
  return dev;
}
