/**
 * TCP interop (issue 3, Tests): wrk in a Linux namespace runs 10 s with 100
 * connections against `bun run httpd` over net_af_packet on a veth and over
 * net_tap, and reports no socket errors and no error responses. The wrk-output
 * parser the verdict relies on is checked first on canned output (runs anywhere).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { removeAllVethNs } from "./helpers/netns";
import { execAsync, interopSkipReason, LINK_KINDS, makeLink, removeTestFiles, startApp, testFiles } from "./helpers/tcp-link";
import { parseWrk } from "./helpers/tool-output";

const skip = interopSkipReason() ?? (Bun.which("wrk") === null ? "wrk not installed (run npm run setup)" : null);
if (skip) console.log(`skip dpdk/tcp-wrk (against httpd): ${skip}`);

afterAll(() => {
  removeAllVethNs();
  removeTestFiles();
});

describe("wrk output parser", () => {
  test("reads requests, socket errors and non-2xx/3xx counts; absent lines are zero", () => {
    const clean = "Running 10s test @ http://10.0.0.1:8080/\n  2 threads and 100 connections\n  81234 requests in 10.01s, 20.00MB read\nRequests/sec:   8115.28\nTransfer/sec:      2.00MB\n";
    const bad = clean.replace("read\n", "read\n  Socket errors: connect 0, read 3, write 0, timeout 12\n  Non-2xx or 3xx responses: 7\n");
    expect(parseWrk(clean)).toEqual({ requests: 81234, seconds: 10.01, socketErrors: { connect: 0, read: 0, write: 0, timeout: 0 }, non2xx3xx: 0, requestsPerSec: 8115.28 });
    const b = parseWrk(bad)!;
    expect(b.socketErrors).toEqual({ connect: 0, read: 3, write: 0, timeout: 12 });
    expect(b.non2xx3xx).toBe(7);
    expect(parseWrk("unable to connect to 10.0.0.1:8080 Connection refused")).toBeNull();
  });
});

describe.skipIf(skip !== null)("wrk against httpd: 10 s, 100 connections", () => {
  LINK_KINDS.forEach((kind, i) => {
    test(`over ${kind}: no socket errors, no error responses`, async () => {
      const f = testFiles();
      const link = makeLink(kind, 241 + i);
      const app = startApp("httpd", [...link.stackArgs, "--root", f.dir, "--port", "8080"]);
      try {
        await app.waitFor(/httpd: serving/);
        link.attach();
        const r = await execAsync([...link.env.prefix, "wrk", "-t2", "-c100", "-d10s", `http://${link.stackIp}:8080/hello.txt`], 40_000);
        console.log(`tcp-wrk ${kind}:\n${r.stdout.trim()}`);
        const w = parseWrk(r.stdout);
        if (w === null) console.log(`wrk failed (${r.code}): ${r.stderr}\nhttpd: ${app.stdout}\n${app.stderr}`);
        expect(r.code).toBe(0);
        expect(w).not.toBeNull();
        expect(w!.requests).toBeGreaterThan(1000);
        expect(w!.socketErrors).toEqual({ connect: 0, read: 0, write: 0, timeout: 0 });
        expect(w!.non2xx3xx).toBe(0);
        expect(await app.stop()).toBe(0);
        expect(app.stdout).toMatch(/httpd: stopping \(SIGTERM\) after \d+ requests/);
      } finally {
        await app.stop();
        link.remove();
      }
    }, 90_000);
  });
});
