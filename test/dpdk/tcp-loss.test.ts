/**
 * TCP interop under loss (issue 3, Tests): the curl and nc transfers of
 * tcp-curl / tcp-nc again, with nftables in the kernel's namespace dropping 3 %
 * of TCP packets in each direction and duplicating 1 % of the kernel's
 * (helpers/nft.ts), over net_af_packet on a veth and over net_tap. Data must
 * still arrive intact, and the fault counters show the faults happened.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { removeAllVethNs } from "./helpers/netns";
import { curlDownload, ncKernelToStack, ncStackToKernel, type TransferResult } from "./helpers/tcp-scenarios";
import { interopSkipReason, LINK_KINDS, rateLine, removeTestFiles, testFiles } from "./helpers/tcp-link";

const skip = interopSkipReason();
if (skip) console.log(`skip dpdk/tcp-loss: ${skip}`);

afterAll(() => {
  removeAllVethNs();
  removeTestFiles();
});

const FAULTS = { lossPct: 3, dupPct: 1 };

function check(name: string, r: TransferResult): void {
  const f = testFiles();
  console.log(`${rateLine(name, r.bytes, r.ms)}; kernel side dropped ${r.faults?.lossIn} in, ${r.faults?.lossOut} out, duplicated ${r.faults?.dup}`);
  if (r.sha256 !== f.bigSha256 || r.appCode !== 0) console.log(r.log);
  expect(r.appCode).toBe(0);
  expect(r.peerCode).toBe(0);
  expect(r.bytes).toBe(f.bigBytes);
  expect(r.sha256).toBe(f.bigSha256);
  // The faults really happened (tens of thousands of segments at 3 % / 1 %).
  expect(r.faults!.lossIn + r.faults!.lossOut).toBeGreaterThan(100);
  expect(r.faults!.dup).toBeGreaterThan(0);
}

describe.skipIf(skip !== null)("64 MiB transfers with 3 % loss and 1 % duplication on the kernel side", () => {
  LINK_KINDS.forEach((kind, i) => {
    test(`over ${kind}: curl downloads from httpd, sha256 matches`, async () => {
      const r = await curlDownload(kind, 231 + i, { faults: FAULTS, timeoutMs: 240_000 });
      expect(r.httpCode).toBe("200");
      check(`tcp-loss curl ${kind}`, r);
    }, 300_000);

    test(`over ${kind}: stack nc -> kernel nc -l, sha256 matches`, async () => {
      check(`tcp-loss nc stack->kernel ${kind}`, await ncStackToKernel(kind, 233 + i, { faults: FAULTS, timeoutMs: 240_000 }));
    }, 300_000);

    test(`over ${kind}: kernel nc -> stack nc -l (half-closed), sha256 matches`, async () => {
      check(`tcp-loss nc kernel->stack ${kind}`, await ncKernelToStack(kind, 235 + i, { faults: FAULTS, timeoutMs: 240_000 }));
    }, 300_000);
  });
});
