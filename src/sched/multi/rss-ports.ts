/**
 * Active opens on one stack thread of --layout stack=N when the device's RSS
 * hash is known (a NIC reporting its Toeplitz key and redirection table: see
 * DpdkDevice.rssInfo and c-shim qs_port_rss): the ephemeral port must be one
 * whose returning segments (source = the peer, destination = us) hash to this
 * thread's queue, or the SYN-ACK would reach another thread that does not know
 * the connection.
 *
 * RssPortProbe extends TCP's port check (src/tcp/open.ts PortProbe, RFC 6056
 * check_suitable_port()): a port whose flow maps to another queue counts as
 * taken, so RFC 6056's algorithm moves on to its next candidate (with Q queues,
 * about one candidate in Q passes). A port the application names itself goes
 * through the same check (activeOpen asks the probe too): one whose flow maps to
 * another queue is refused with EADDRINUSE, since its segments would reach a
 * thread that does not know the connection. Where the hash is not known (net_af_packet: the kernel's fanout hash
 * is seeded per boot; net_tap: the kernel steers by its own flow table), ports
 * are partitioned by thread and stray segments forwarded instead
 * (segment-forward.ts keepActiveOpensHome, which picks one or the other).
 */
import { PortProbe } from "../../tcp/open";
import type { TcpLayer } from "../../tcp/tcp-layer";
import { rssQueue, toeplitzIpv4Ports } from "./toeplitz";

export interface RssInfo {
  key: Uint8Array;
  reta: ArrayLike<number>;
}

export class RssPortProbe extends PortProbe {
  /** Candidates refused because their flow would reach another queue. */
  otherQueue = 0;

  constructor(
    t: TcpLayer,
    private readonly rss: RssInfo,
    readonly queue: number,
  ) {
    super(t);
  }

  override taken(localIp: number, localPort: number, remoteIp: number, remotePort: number): boolean {
    // The segments that come back: source = remote, destination = local.
    const h = toeplitzIpv4Ports(this.rss.key, remoteIp, localIp, remotePort, localPort);
    if (rssQueue(h, this.rss.reta) !== this.queue) {
      this.otherQueue++;
      return true;
    }
    return super.taken(localIp, localPort, remoteIp, remotePort);
  }
}

/**
 * Make `tcp`'s ephemeral port choice keep to ports whose flows come back to
 * `queue` (TcpLayer.portProbe, replaced once at start).
 */
export function steerActiveOpens(tcp: TcpLayer, rss: RssInfo, queue: number): RssPortProbe {
  const p = new RssPortProbe(tcp, rss, queue);
  tcp.portProbe = p;
  return p;
}
