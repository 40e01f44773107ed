/**
 * TCP interop (issue 3, Tests): tshark's expert analysis, with IP and TCP
 * checksum verification on, finds no Errors in captures (tcpdump on the
 * kernel's side of the link) of a 64 MiB curl download from httpd and of a
 * 64 MiB nc upload from the stack under 3 % loss and 1 % duplication. The
 * expert-table parser is checked first on canned output (runs anywhere).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { rmSync } from "node:fs";
import { removeAllVethNs } from "./helpers/netns";
import { curlDownload, ncStackToKernel, type TransferResult } from "./helpers/tcp-scenarios";
import { execAsync, fileSize, interopSkipReason, rateLine, removeTestFiles, testFiles } from "./helpers/tcp-link";
import { parseExpert } from "./helpers/tool-output";

const skip = interopSkipReason() ?? (Bun.which("tshark") === null || Bun.which("tcpdump") === null ? "tshark or tcpdump not installed (run npm run setup)" : null);
if (skip) console.log(`skip dpdk/tcp-tshark (captures): ${skip}`);

afterAll(() => {
  removeAllVethNs();
  removeTestFiles();
});

describe("tshark expert output parser", () => {
  test("counts Errors / Warns / Notes / Chats and lists the error rows", () => {
    const out = [
      "", "Errors (2)", "=============", "   Frequency      Group           Protocol  Summary",
      "           2   Checksum            TCP  Bad checksum [should be 0x1234]", "",
      "Warns (5)", "=============", "   Frequency      Group           Protocol  Summary",
      "           5   Sequence            TCP  Previous segment(s) not captured (common at capture start)", "",
      "Notes (9)", "=============", "Chats (3)", "=============", "",
    ].join("\n");
    const e = parseExpert(out)!;
    expect(e.errors).toBe(2);
    expect(e.warnings).toBe(5);
    expect(e.notes).toBe(9);
    expect(e.chats).toBe(3);
    expect(e.errorRows).toEqual(["2   Checksum            TCP  Bad checksum [should be 0x1234]"]);
    expect(parseExpert("Chats (3)\n=====\n")!.errors).toBe(0);
    expect(parseExpert("tshark: The file \"x\" doesn't exist.")).toBeNull();
  });
});

/**
 * tshark's expert summary of a capture. `dataPort`: decode that TCP port's
 * payload as plain data. nc carries random bytes, and on port 9000 Wireshark's
 * Thrift dissector would otherwise try to parse them and report a normal
 * retransmission (whose first copy tcpdump saw before nftables dropped it) as
 * "Malformed: New fragment overlaps old data". HTTP bodies are not reassembled
 * (reassembling 64 MiB takes tshark minutes); headers are still dissected.
 */
async function expertOf(pcap: string, dataPort?: number): Promise<ReturnType<typeof parseExpert> & {}> {
  const decode = dataPort !== undefined ? ["-d", `tcp.port==${dataPort},data`] : [];
  const r = await execAsync(["tshark", "-n", "-r", pcap, ...decode, "-o", "http.desegment_body:FALSE", "-o", "tcp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE", "-q", "-z", "expert"], 300_000);
  const e = parseExpert(r.stdout);
  console.log(`tshark expert on ${pcap} (${(fileSize(pcap) / 1e6).toFixed(0)} MB, ${(r.ms / 1000).toFixed(1)} s):\n${r.stdout.split("\n").filter((l) => /^\S.*\(\d+\)$|^\s+\d+\s/.test(l)).join("\n")}`);
  if (e === null) throw new Error(`tshark failed (${r.code}): ${r.stderr}`);
  if (e.errors > 0) console.log(r.stdout);
  return e;
}

function captured(r: TransferResult): number {
  return Number(/(\d+) packets? captured/.exec(r.capture?.summary ?? "")?.[1] ?? 0);
}

describe.skipIf(skip !== null)("tshark finds no Errors in captured transfers", () => {
  test("curl downloading 64 MiB from httpd over net_af_packet", async () => {
    const f = testFiles();
    const pcap = join(f.dir, "curl.pcap");
    try {
      const r = await curlDownload("af_packet", 251, { capture: pcap });
      console.log(`${rateLine("tcp-tshark curl (capturing)", r.bytes, r.ms)}; ${r.capture?.summary.split("\n").slice(-3).join("; ")}`);
      expect(r.sha256).toBe(f.bigSha256);
      expect(captured(r)).toBeGreaterThan(40_000);
      const e = await expertOf(pcap);
      expect(e.errorRows).toEqual([]);
      expect(e.errors).toBe(0);
    } finally {
      rmSync(pcap, { force: true });
    }
  }, 400_000);

  test("nc sending 64 MiB to the kernel under 3 % loss and 1 % duplication, over net_af_packet", async () => {
    const f = testFiles();
    const pcap = join(f.dir, "nc-loss.pcap");
    try {
      const r = await ncStackToKernel("af_packet", 252, { capture: pcap, faults: { lossPct: 3, dupPct: 1 }, timeoutMs: 240_000 });
      console.log(`${rateLine("tcp-tshark nc under loss (capturing)", r.bytes, r.ms)}; ${r.capture?.summary.split("\n").slice(-3).join("; ")}`);
      expect(r.sha256).toBe(f.bigSha256);
      expect(captured(r)).toBeGreaterThan(40_000);
      const e = await expertOf(pcap, 9000);
      expect(e.errorRows).toEqual([]);
      expect(e.errors).toBe(0);
    } finally {
      rmSync(pcap, { force: true });
    }
  }, 600_000);
});
