/**
 * TCP interop (issue 3, Tests): curl in a Linux network namespace downloads a
 * 64 MiB file from `bun run httpd` over net_af_packet on a veth and over
 * net_tap, offloads off on the kernel side; the sha256 must match.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { removeAllVethNs } from "./helpers/netns";
import { curlDownload } from "./helpers/tcp-scenarios";
import { interopSkipReason, LINK_KINDS, rateLine, removeTestFiles, testFiles } from "./helpers/tcp-link";

const skip = interopSkipReason();
if (skip) console.log(`skip dpdk/tcp-curl: ${skip}`);

afterAll(() => {
  removeAllVethNs();
  removeTestFiles();
});

describe.skipIf(skip !== null)("curl downloads 64 MiB from httpd", () => {
  LINK_KINDS.forEach((kind, i) => {
    test(`over ${kind}: sha256 matches`, async () => {
      const f = testFiles();
      const r = await curlDownload(kind, 221 + i);
      console.log(rateLine(`tcp-curl ${kind}`, r.bytes, r.ms));
      if (r.sha256 !== f.bigSha256) console.log(r.log);
      expect(r.peerCode).toBe(0);
      expect(r.httpCode).toBe("200");
      expect(r.bytes).toBe(f.bigBytes);
      expect(r.sha256).toBe(f.bigSha256);
      expect(r.appCode).toBe(0);
    }, 180_000);
  });
});
