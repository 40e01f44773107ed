import { expect, test } from "bun:test";
import { describeConn, flagNames } from "../../../src/tcp/describe";
import { F_PERSIST, F_USED } from "../../../src/tcp/conn-table";
import { ACK, established, pattern } from "../../helpers/tcp-fixtures";

test("describeConn: a connection probing a zero window, as bench/conns prints it", () => {
  const k = established();
  k.peer.send(ACK, undefined, {}, { wnd: 0 });
  k.h.tcp.send(k.c, pattern(32), 0, 32);
  k.h.flush();
  k.h.runToNextTimer(); // the first probe
  const d = describeConn(k.h.tcp, k.c, k.h.now);
  expect(d.state).toBe("Established");
  expect(String(d.flags).split("|")).toContain("PERSIST");
  expect(d.sndWnd).toBe(0);
  expect(d.sndMax).toBe(1); // one probe byte out
  expect(d.sndQueued).toBe(32);
  expect(d.mainTimerInUs as number).toBeGreaterThan(0);
  expect(flagNames(F_USED | F_PERSIST)).toBe("PERSIST|USED");
  expect(describeConn(k.h.tcp, 63, k.h.now)).toEqual({ id: 63, used: false });
});
