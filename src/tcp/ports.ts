/**
 * Ephemeral port selection, RFC 6056 3.3.4 "Algorithm 4: Double-Hash Port
 * Selection Algorithm":
 *
 *   offset = F(local_IP, remote_IP, remote_port, secret_key1)
 *   index  = G(local_IP, remote_IP, remote_port, secret_key2)
 *   do { port = min + (offset + table[index]) mod num_ephemeral; table[index]++;
 *        if (port is suitable) return port } while (--count > 0)
 *
 * Successive connections to one destination get successive ports (no reuse of a
 * recent 4-tuple), while the starting point per destination is secret, and the
 * table of counters keeps one destination's activity from revealing another's
 * (RFC 6056 3.3.4). F and G are SipHash-2-4 under the 128-bit secret with
 * distinct domain words (src/tcp/hash.ts); the table (1024 counters) starts at
 * secret-derived values, as RFC 6056 initializes it with random values.
 *
 * The caller says whether a port is free through `table.taken(...)`, a plain
 * method on an object it owns (RFC 6056 check_suitable_port()): no closure per
 * call, nothing allocated.
 */

import { keyedHash } from "./hash";

/** Anything that knows which 4-tuples are in use (the flow table, listeners, TIME-WAIT). */
export interface PortTable {
  taken(localIp: number, localPort: number, remoteIp: number, remotePort: number): boolean;
}

export interface EphemeralPortsOptions {
  /** Lowest ephemeral port (default 32768, as Linux). */
  lo?: number;
  /** Highest ephemeral port, inclusive (default 60999, as Linux). */
  hi?: number;
  /** At least 4 random words (128 bits) from the injected RNG. */
  secret: Uint32Array;
  /** Counters in the table, a power of two (default 1024). */
  tableSize?: number;
}

const DOMAIN_OFFSET = 0x504f5231; // "POR1": F
const DOMAIN_INDEX = 0x504f5232; // "POR2": G
const DOMAIN_TABLE = 0x504f5233; // "POR3": initial counters

export class EphemeralPorts {
  readonly lo: number;
  readonly hi: number;
  private readonly key: Uint32Array;
  private readonly table: Uint32Array;
  private readonly mask: number;

  constructor(opts: EphemeralPortsOptions) {
    this.lo = opts.lo ?? 32768;
    this.hi = opts.hi ?? 60999;
    if (!(Number.isInteger(this.lo) && Number.isInteger(this.hi) && this.lo >= 1 && this.lo <= this.hi && this.hi <= 65535)) {
      throw new RangeError("EphemeralPorts: need 1 <= lo <= hi <= 65535");
    }
    if (opts.secret.length < 4) throw new RangeError("EphemeralPorts: the secret needs 4 words (128 bits)");
    const size = opts.tableSize ?? 1024;
    if (!(size > 0 && (size & (size - 1)) === 0)) throw new RangeError("EphemeralPorts: tableSize must be a power of two");
    this.key = new Uint32Array(4);
    for (let i = 0; i < 4; i++) this.key[i] = opts.secret[i]!;
    this.table = new Uint32Array(size);
    this.mask = size - 1;
    for (let i = 0; i < size; i++) this.table[i] = keyedHash(this.key, i, 0, 0, DOMAIN_TABLE) & 0xffff;
  }

  /** Number of ports in the range. */
  get size(): number {
    return this.hi - this.lo + 1;
  }

  /**
   * A free local port for a connection from localIp to remoteIp:remotePort, or
   * -1 when every port in the range is taken for that destination.
   */
  pick(localIp: number, remoteIp: number, remotePort: number, table: PortTable): number {
    const num = this.hi - this.lo + 1;
    const rp = remotePort & 0xffff;
    const offset = keyedHash(this.key, localIp, remoteIp, rp, DOMAIN_OFFSET);
    const index = keyedHash(this.key, localIp, remoteIp, rp, DOMAIN_INDEX) & this.mask;
    const counters = this.table;
    for (let count = num; count > 0; count--) {
      const port = this.lo + ((offset + counters[index]!) % num);
      counters[index] = (counters[index]! + 1) >>> 0;
      if (!table.taken(localIp, port, remoteIp, rp)) return port;
    }
    return -1;
  }
}
