/**
 * A stand-in stack thread for the Worker test: produces `messages` Data events
 * (lengths 1..3000, a pattern per message, over 7 connection ids) on the event
 * lane and checks that every Send command coming back is the same message, in
 * order, byte for byte; then sends Stop and reports.
 */
import { ByteRing, Lane, RecordWriter, REC_WORDS, SplitCommand, SplitEvent, type LaneShare } from "../../../../src/sched/split/channel";

declare const self: Worker;

const lenOf = (m: number) => 1 + ((m * 37) % 3000);
const byteOf = (m: number, j: number) => (m * 31 + j * 7) & 0xff;

self.onmessage = (e: MessageEvent<{ events: LaneShare; commands: LaneShare; messages: number }>) => {
  const ev = Lane.attach(e.data.events);
  const cmd = Lane.attach(e.data.commands);
  const total = e.data.messages;
  const w = new RecordWriter(ev.records, 32);
  const buf = new Uint32Array(64 * REC_WORDS);
  let produced = 0;
  let checked = 0;
  let bad = 0;
  let laneFull = 0;
  let sendBytes = 0;
  const consume = (bytes: ByteRing): number => {
    const n = cmd.records.popBatch(buf, buf.length) / REC_WORDS;
    let end = 0;
    for (let i = 0; i < n; i++) {
      const k = i * REC_WORDS;
      if ((buf[k]! & 0xff) !== SplitCommand.Send) continue;
      const conn = buf[k + 1]!;
      const pos = buf[k + 2]! | 0;
      const len = buf[k + 3]!;
      const m = checked++;
      if (conn !== m % 7 || len !== lenOf(m)) bad++;
      else for (let j = 0; j < len; j++) if (bytes.u8[(pos + j) & bytes.mask] !== byteOf(m, j)) { bad++; break; }
      sendBytes += len;
      end = (pos + len) | 0;
    }
    if (n > 0) bytes.release(end);
    return n;
  };
  const t0 = performance.now();
  while (checked < total) {
    while (produced < total) {
      const len = lenOf(produced);
      if (!w.hasRoom()) { laneFull++; break; }
      const pos = ev.bytes.reserve(len);
      if (pos < 0) { laneFull++; break; }
      const at = pos & ev.bytes.mask;
      for (let j = 0; j < len; j++) ev.bytes.u8[at + j] = byteOf(produced, j);
      ev.bytes.commit(pos, len);
      w.put(SplitEvent.Data, 0, 0, produced % 7, pos, len);
      produced++;
    }
    w.flush();
    if (consume(cmd.bytes) === 0) cmd.records.waitNotEmpty(5);
  }
  while (!w.hasRoom()) cmd.records.waitNotEmpty(1);
  w.put(SplitEvent.Stop, 0, 0, 0, 0, 0);
  w.flush();
  postMessage({ produced, checked, bad, laneFull, sendBytes, ms: performance.now() - t0 });
};
