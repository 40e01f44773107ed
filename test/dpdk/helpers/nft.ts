/**
 * nftables fault injection on the kernel side of a test link (FACTS: netem is
 * not in this kernel). Everything lives inside the test's network namespace and
 * is removed by remove() (deleting the namespace removes it too).
 *
 *   const f = applyKernelFaults(env.prefix, { dev: env.nsIf, lossPct: 3, dupPct: 1 });
 *   ... transfer ...
 *   const c = f.counters();   // { lossIn, lossOut, dup } packets hit so far
 *   f.remove();
 *
 * What each rule does, and why it is where it is:
 * - loss of what the stack sends: an inet `input` chain, `numgen random mod 100 < P drop`.
 *   The kernel never sees the segment: a real loss for the stack's sender.
 * - loss of what the kernel sends: a netdev `egress` chain on the device that
 *   forwards the chosen packets to a black hole (a veth pair left down in the
 *   namespace): `numgen random mod 100 < P fwd to <blackhole>`. A plain `drop`
 *   in an output or egress hook is reported back to Linux TCP as a local
 *   transmit failure (-EPERM / NET_XMIT_DROP), which it treats as local
 *   congestion and retries instead of losing the segment; a stolen packet is
 *   reported as sent, so the stack really has to recover it.
 * - duplication: the same netdev egress chain, `numgen random mod 100 < P dup to <dev>`
 *   (before the loss rule, so a duplicate can also be lost).
 * Only TCP is touched, so ARP keeps working.
 *
 * Linux TCP always builds GSO packets (since 4.19, whatever ethtool says) and
 * they are cut into wire-sized frames only after the egress hook; a rule there
 * would drop or duplicate a whole burst of up to 64 KB at once. So the device's
 * gso_max_segs is set to 1 while the faults are on: every packet the egress
 * chain sees is one frame on the wire.
 */
import { randomBytes } from "node:crypto";
import { must, run } from "./netns";

export interface KernelFaultOptions {
  /** The kernel's interface facing the stack (inside the namespace). */
  dev: string;
  /** Percent of TCP packets dropped in each direction (0 for none). */
  lossPct: number;
  /** Percent of the kernel's outgoing TCP packets duplicated (0 for none). */
  dupPct: number;
}

export interface KernelFaultCounters {
  /** Packets from the stack dropped at the kernel's input. */
  lossIn: number;
  /** Packets from the kernel dropped on egress. */
  lossOut: number;
  /** Packets from the kernel duplicated on egress. */
  dup: number;
}

export interface KernelFaults {
  /** Names of the two nftables tables (inet and netdev) in the namespace. */
  readonly tables: { inet: string; netdev: string };
  counters(): KernelFaultCounters;
  /** Delete the tables and the black-hole interface. Idempotent. */
  remove(): void;
}

function pct(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 0 || v > 100) throw new RangeError(`${name} must be an integer percentage 0..100, got ${v}`);
  return v;
}

/** The nft script for `opts`, with the given table and black-hole names (exported for tests). */
export function faultRuleset(opts: KernelFaultOptions, inet: string, netdev: string, blackhole: string): string {
  const loss = pct("lossPct", opts.lossPct);
  const dup = pct("dupPct", opts.dupPct);
  const egress: string[] = [];
  if (dup > 0) egress.push(`meta protocol ip ip protocol tcp numgen random mod 100 < ${dup} counter dup to "${opts.dev}" comment "dup"`);
  if (loss > 0) egress.push(`meta protocol ip ip protocol tcp numgen random mod 100 < ${loss} counter fwd to "${blackhole}" comment "loss-out"`);
  const input = loss > 0 ? [`meta l4proto tcp numgen random mod 100 < ${loss} counter drop comment "loss-in"`] : [];
  return [
    `table inet ${inet} {`,
    `  chain input { type filter hook input priority 0; policy accept;`,
    ...input.map((r) => `    ${r};`),
    `  }`,
    `}`,
    `table netdev ${netdev} {`,
    `  chain egress { type filter hook egress device "${opts.dev}" priority 0; policy accept;`,
    ...egress.map((r) => `    ${r};`),
    `  }`,
    `}`,
    "",
  ].join("\n");
}

/** Install loss and duplication rules in the namespace that `prefix` enters (e.g. ["ip","netns","exec",ns]). */
export function applyKernelFaults(prefix: string[], opts: KernelFaultOptions): KernelFaults {
  const sfx = randomBytes(3).toString("hex");
  const inet = `qsloss${sfx}`;
  const netdev = `qsfault${sfx}`;
  const blackhole = `qsbh${sfx}`;
  const gsoSegs = /gso_max_segs (\d+)/.exec(must([...prefix, "ip", "-d", "link", "show", opts.dev]))?.[1] ?? "65535";
  must([...prefix, "ip", "link", "set", "dev", opts.dev, "gso_max_segs", "1"]);
  must([...prefix, "ip", "link", "add", blackhole, "type", "veth", "peer", "name", `${blackhole}p`]);
  const r = run([...prefix, "nft", "-f", "-"], { input: faultRuleset(opts, inet, netdev, blackhole) });
  if (r.code !== 0) {
    run([...prefix, "ip", "link", "del", blackhole]);
    run([...prefix, "ip", "link", "set", "dev", opts.dev, "gso_max_segs", gsoSegs]);
    throw new Error(`nft failed (${r.code}): ${r.stderr.trim()}`);
  }
  let removed = false;
  return {
    tables: { inet, netdev },
    counters() {
      const out = must([...prefix, "nft", "-j", "list", "ruleset"]);
      const c: KernelFaultCounters = { lossIn: 0, lossOut: 0, dup: 0 };
      const doc = JSON.parse(out) as { nftables: Record<string, unknown>[] };
      for (const item of doc.nftables) {
        const rule = item["rule"] as { table: string; comment?: string; expr: Record<string, unknown>[] } | undefined;
        if (rule === undefined || (rule.table !== inet && rule.table !== netdev)) continue;
        let packets = 0;
        for (const e of rule.expr) {
          const ctr = e["counter"] as { packets: number } | undefined;
          if (ctr !== undefined) packets = ctr.packets;
        }
        if (rule.comment === "loss-in") c.lossIn += packets;
        else if (rule.comment === "loss-out") c.lossOut += packets;
        else if (rule.comment === "dup") c.dup += packets;
      }
      return c;
    },
    remove() {
      if (removed) return;
      removed = true;
      run([...prefix, "nft", "delete", "table", "inet", inet]);
      run([...prefix, "nft", "delete", "table", "netdev", netdev]);
      run([...prefix, "ip", "link", "del", blackhole]);
      run([...prefix, "ip", "link", "set", "dev", opts.dev, "gso_max_segs", gsoSegs]);
    },
  };
}
