/*
 * qstack_shim: the C side of bench/pps. qs_bench_reflect is the baseline the
 * TypeScript receive path is compared with, so it does the same work: rx
 * burst, check Ethernet (RFC 894 framing, EtherType 0x0800) and IPv4
 * (RFC 791: version 4, IHL >= 5, IHL*4 <= total length <= frame), demux on
 * protocol (UDP only), swap MACs and IPv4 addresses (the header checksum is
 * unchanged by a swap), tx burst. qs_bench_send floods copies of one frame.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "qs_internal.h"

#define QS_BENCH_BURST 32

static inline int qs_reflect_one(struct rte_mbuf *b) {
  uint8_t *f = rte_pktmbuf_mtod(b, uint8_t *);
  uint32_t len = b->data_len;
  if (len < 14 + 20 || f[12] != 0x08 || f[13] != 0x00) return 0;
  uint8_t *ip = f + 14;
  uint32_t ihl = (uint32_t)(ip[0] & 15) * 4;
  uint32_t total = ((uint32_t)ip[2] << 8) | ip[3];
  if ((ip[0] >> 4) != 4 || ihl < 20 || total < ihl || total > len - 14) return 0;
  if (ip[9] != 17) return 0;
  uint8_t mac[6];
  memcpy(mac, f, 6);
  memcpy(f, f + 6, 6);
  memcpy(f + 6, mac, 6);
  uint32_t a, d;
  memcpy(&a, ip + 12, 4);
  memcpy(&d, ip + 16, 4);
  memcpy(ip + 12, &d, 4);
  memcpy(ip + 16, &a, 4);
  return 1;
}

int qs_bench_reflect(int port, int queue, double seconds, double *out) {
  if ((unsigned)port >= RTE_MAX_ETHPORTS || qs_ports[port].mp == NULL || out == NULL || !(seconds > 0))
    return qs_fail(EINVAL, "qs_bench_reflect: bad arguments");
  uint64_t hz = rte_get_tsc_hz();
  uint64_t t0 = rte_rdtsc();
  uint64_t end = t0 + (uint64_t)(seconds * (double)hz);
  uint64_t rx = 0, tx = 0, drop = 0, now = t0;
  struct rte_mbuf *m[QS_BENCH_BURST];
  struct rte_mbuf *keep[QS_BENCH_BURST];
  int guard = qs_ports[port].guard;
  while ((now = rte_rdtsc()) < end) {
    int g = guard ? qs_guard_enter() : -1;
    uint16_t n = rte_eth_rx_burst((uint16_t)port, (uint16_t)queue, m, QS_BENCH_BURST);
    if (g >= 0) qs_guard_exit(g);
    if (n == 0) continue;
    rx += n;
    int k = 0;
    for (uint16_t i = 0; i < n; i++) {
      if (likely(m[i]->nb_segs == 1 && qs_reflect_one(m[i]))) {
        keep[k++] = m[i];
      } else {
        rte_pktmbuf_free(m[i]);
        drop++;
      }
    }
    int sent = qs_tx_mbufs(port, queue, keep, k);
    tx += (uint64_t)sent;
    drop += (uint64_t)(k - sent);
  }
  out[QS_B_RX] = (double)rx;
  out[QS_B_TX] = (double)tx;
  out[QS_B_DROP] = (double)drop;
  out[QS_B_SECONDS] = (double)(now - t0) / (double)hz;
  return 0;
}

int qs_bench_reflect_burst(int port, int queue) {
  if ((unsigned)port >= RTE_MAX_ETHPORTS || qs_ports[port].mp == NULL) return qs_fail(EINVAL, "qs_bench_reflect_burst: bad port");
  struct rte_mbuf *m[QS_BENCH_BURST];
  struct rte_mbuf *keep[QS_BENCH_BURST];
  int g = qs_ports[port].guard ? qs_guard_enter() : -1;
  uint16_t n = rte_eth_rx_burst((uint16_t)port, (uint16_t)queue, m, QS_BENCH_BURST);
  if (g >= 0) qs_guard_exit(g);
  int k = 0;
  for (uint16_t i = 0; i < n; i++) {
    if (likely(m[i]->nb_segs == 1 && qs_reflect_one(m[i]))) keep[k++] = m[i];
    else rte_pktmbuf_free(m[i]);
  }
  if (k > 0) qs_tx_mbufs(port, queue, keep, k);
  return n;
}

/* One sender iteration for single-process loops: top up to a burst of copies
 * of `frame`, transmit, free what came back. out: [tx, rx] accumulated. */
int qs_bench_send_burst(int port, int queue, int pool, const uint8_t *frame, int len, double *out) {
  if ((unsigned)port >= RTE_MAX_ETHPORTS || qs_ports[port].mp == NULL || pool < 0 || pool >= QS_MAX_POOLS ||
      qs_pools[pool].mp == NULL || frame == NULL || len < 14 || len > 1514 || out == NULL)
    return qs_fail(EINVAL, "qs_bench_send_burst: bad arguments");
  struct rte_mbuf *m[QS_BENCH_BURST];
  if (rte_pktmbuf_alloc_bulk(qs_pools[pool].mp, m, QS_BENCH_BURST) != 0) return 0;
  for (int i = 0; i < QS_BENCH_BURST; i++) {
    memcpy(rte_pktmbuf_mtod(m[i], uint8_t *), frame, (size_t)len);
    m[i]->data_len = (uint16_t)len;
    m[i]->pkt_len = (uint32_t)len;
  }
  int g = qs_ports[port].guard ? qs_guard_enter() : -1;
  uint16_t sent = rte_eth_tx_burst((uint16_t)port, (uint16_t)queue, m, QS_BENCH_BURST);
  struct rte_mbuf *back[QS_BENCH_BURST];
  uint16_t n = rte_eth_rx_burst((uint16_t)port, (uint16_t)queue, back, QS_BENCH_BURST);
  if (g >= 0) qs_guard_exit(g);
  if (sent < QS_BENCH_BURST) rte_pktmbuf_free_bulk(m + sent, QS_BENCH_BURST - sent);
  if (n > 0) rte_pktmbuf_free_bulk(back, n);
  out[0] += sent;
  out[1] += n;
  return sent;
}

int qs_bench_send(int port, int queue, int pool, double seconds, const uint8_t *frame, int len, double *out) {
  if ((unsigned)port >= RTE_MAX_ETHPORTS || qs_ports[port].mp == NULL || out == NULL || !(seconds > 0) ||
      pool < 0 || pool >= QS_MAX_POOLS || qs_pools[pool].mp == NULL || frame == NULL || len < 14 || len > 1514)
    return qs_fail(EINVAL, "qs_bench_send: bad arguments");
  struct rte_mempool *mp = qs_pools[pool].mp;
  int guard = qs_ports[port].guard;
  uint64_t hz = rte_get_tsc_hz();
  uint64_t t0 = rte_rdtsc();
  uint64_t end = t0 + (uint64_t)(seconds * (double)hz);
  uint64_t rx = 0, tx = 0, nobuf = 0, now = t0;
  struct rte_mbuf *pend[QS_BENCH_BURST];
  struct rte_mbuf *back[QS_BENCH_BURST];
  int npend = 0;
  while ((now = rte_rdtsc()) < end) {
    int want = QS_BENCH_BURST - npend;
    if (want > 0) {
      if (rte_pktmbuf_alloc_bulk(mp, pend + npend, (unsigned)want) == 0) {
        for (int i = npend; i < QS_BENCH_BURST; i++) {
          struct rte_mbuf *b = pend[i];
          memcpy(rte_pktmbuf_mtod(b, uint8_t *), frame, (size_t)len);
          b->data_len = (uint16_t)len;
          b->pkt_len = (uint32_t)len;
        }
        npend = QS_BENCH_BURST;
      } else {
        nobuf++;
      }
    }
    /* Unsent frames stay pending: the sender runs at the rate the peer drains. */
    int g = guard ? qs_guard_enter() : -1;
    uint16_t sent = rte_eth_tx_burst((uint16_t)port, (uint16_t)queue, pend, (uint16_t)npend);
    uint16_t n = rte_eth_rx_burst((uint16_t)port, (uint16_t)queue, back, QS_BENCH_BURST);
    if (g >= 0) qs_guard_exit(g);
    if (sent > 0) {
      tx += sent;
      npend -= sent;
      if (npend > 0) memmove(pend, pend + sent, (size_t)npend * sizeof(pend[0]));
    }
    if (n > 0) {
      rx += n;
      rte_pktmbuf_free_bulk(back, n);
    }
  }
  if (npend > 0) rte_pktmbuf_free_bulk(pend, (unsigned)npend);
  out[QS_B_RX] = (double)rx;
  out[QS_B_TX] = (double)tx;
  out[QS_B_DROP] = (double)nobuf;
  out[QS_B_SECONDS] = (double)(now - t0) / (double)hz;
  return 0;
}
