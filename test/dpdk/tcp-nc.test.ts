/**
 * TCP interop (issue 3, Tests): `bun run nc HOST PORT` sends 64 MiB from a file
 * on stdin to a kernel `nc -l` in a namespace, and a kernel `nc -N` sends 64 MiB
 * to `bun run nc -l -p PORT` whose stdin is empty (so the stack half-closes
 * first and receives everything in FIN-WAIT-2), over net_af_packet on a veth
 * and over net_tap. sha256 of what arrived must match; both ends exit 0.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { removeAllVethNs } from "./helpers/netns";
import { ncKernelToStack, ncStackToKernel } from "./helpers/tcp-scenarios";
import { interopSkipReason, LINK_KINDS, rateLine, removeTestFiles, testFiles } from "./helpers/tcp-link";

const skip = interopSkipReason();
if (skip) console.log(`skip dpdk/tcp-nc: ${skip}`);

afterAll(() => {
  removeAllVethNs();
  removeTestFiles();
});

describe.skipIf(skip !== null)("nc moves 64 MiB between the stack and the kernel", () => {
  LINK_KINDS.forEach((kind, i) => {
    test(`over ${kind}: stack nc -> kernel nc -l, sha256 matches`, async () => {
      const f = testFiles();
      const r = await ncStackToKernel(kind, 223 + i);
      console.log(rateLine(`tcp-nc stack->kernel ${kind}`, r.bytes, r.ms));
      if (r.sha256 !== f.bigSha256 || r.appCode !== 0) console.log(r.log);
      expect(r.appCode).toBe(0);
      expect(r.peerCode).toBe(0);
      expect(r.bytes).toBe(f.bigBytes);
      expect(r.sha256).toBe(f.bigSha256);
    }, 180_000);

    test(`over ${kind}: kernel nc -> stack nc -l after the stack's half-close, sha256 matches`, async () => {
      const f = testFiles();
      const r = await ncKernelToStack(kind, 225 + i);
      console.log(rateLine(`tcp-nc kernel->stack ${kind}`, r.bytes, r.ms));
      if (r.sha256 !== f.bigSha256 || r.appCode !== 0) console.log(r.log);
      expect(r.appCode).toBe(0);
      expect(r.peerCode).toBe(0);
      expect(r.bytes).toBe(f.bigBytes);
      expect(r.sha256).toBe(f.bigSha256);
    }, 180_000);
  });
});
