/*
 * qstack_shim: EAL start, the mbuf pool, errors and the layout table.
 * Ports and bursts are in qs_port.c, hugepage regions in qs_region.c, the
 * benchmark loops in qs_bench.c. See qstack_shim.h for the ABI rules.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_common.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_mbuf_pool_ops.h>

#include "qs_internal.h"

struct qs_pool qs_pools[QS_MAX_POOLS];
struct qs_port qs_ports[RTE_MAX_ETHPORTS];

static __thread char qs_err[512];

int qs_fail(int err, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(qs_err, sizeof(qs_err), fmt, ap);
  va_end(ap);
  return err > 0 ? -err : (err < 0 ? err : -EINVAL);
}

int qs_last_error(char *buf, int len) {
  if (buf == NULL || len <= 0) return 0;
  int n = (int)strnlen(qs_err, sizeof(qs_err));
  if (n >= len) n = len - 1;
  memcpy(buf, qs_err, (size_t)n);
  buf[n] = 0;
  return n;
}

int qs_layout(int32_t *out, int n) {
  int32_t t[QS_LAYOUT_N];
  t[QS_L_ABI] = QS_ABI_VERSION;
  t[QS_L_MBUF_SIZE] = (int32_t)sizeof(struct rte_mbuf);
  t[QS_L_BUF_ADDR] = (int32_t)offsetof(struct rte_mbuf, buf_addr);
  t[QS_L_DATA_OFF] = (int32_t)offsetof(struct rte_mbuf, data_off);
  t[QS_L_PKT_LEN] = (int32_t)offsetof(struct rte_mbuf, pkt_len);
  t[QS_L_DATA_LEN] = (int32_t)offsetof(struct rte_mbuf, data_len);
  t[QS_L_NEXT] = (int32_t)offsetof(struct rte_mbuf, next);
  t[QS_L_NB_SEGS] = (int32_t)offsetof(struct rte_mbuf, nb_segs);
  t[QS_L_PORT] = (int32_t)offsetof(struct rte_mbuf, port);
  t[QS_L_HEADROOM] = RTE_PKTMBUF_HEADROOM;
  t[QS_L_BUF_LEN] = (int32_t)offsetof(struct rte_mbuf, buf_len);
  t[QS_L_REFCNT] = (int32_t)offsetof(struct rte_mbuf, refcnt);
  t[QS_L_POOL] = (int32_t)offsetof(struct rte_mbuf, pool);
  t[QS_L_STATS_N] = QS_STATS_N;
  t[QS_L_MAX_BURST] = QS_MAX_BURST;
  int k = n < QS_LAYOUT_N ? n : QS_LAYOUT_N;
  if (out != NULL && k > 0) memcpy(out, t, (size_t)k * sizeof(int32_t));
  return QS_LAYOUT_N;
}

/* ---------------------------------------------------------------- EAL */

static int qs_eal_done;

int qs_eal_init(const char *args, int argc, int flags) {
  if (qs_eal_done) return qs_fail(EALREADY, "EAL is already initialised in this process");
  if (args == NULL || argc <= 0 || argc > 256) return qs_fail(EINVAL, "qs_eal_init: bad argument vector");
  /* EAL may keep pointers into argv: copy it into memory that lives as long as the process. */
  char **argv = calloc((size_t)argc + 1, sizeof(char *));
  if (argv == NULL) return qs_fail(ENOMEM, "qs_eal_init: out of memory");
  const char *p = args;
  for (int i = 0; i < argc; i++) {
    argv[i] = strdup(p);
    if (argv[i] == NULL) return qs_fail(ENOMEM, "qs_eal_init: out of memory");
    p += strlen(p) + 1;
  }
  /* Before rte_eal_init: the PMD plugins it loads must bind to the guard's wrappers. */
  if (!(flags & QS_EAL_NO_GUARD) && qs_guard_install() != 0)
    fprintf(stderr, "qstack_shim: burst guard not installed; a vanishing memif peer may crash this process\n");
  cpu_set_t before;
  int have_mask = sched_getaffinity(0, sizeof(before), &before) == 0;
  int ret = rte_eal_init(argc, argv);
  if (ret < 0) {
    int e = rte_errno;
    return qs_fail(e ? e : EINVAL, "rte_eal_init failed: %s", rte_strerror(e));
  }
  qs_eal_done = 1;
  /* EAL pinned this thread to its main lcore; threads created later (JIT, GC,
   * Workers) would inherit that one CPU. Give the thread back its mask. */
  if (!(flags & QS_EAL_KEEP_AFFINITY) && have_mask) sched_setaffinity(0, sizeof(before), &before);
  return ret;
}

int qs_eal_cleanup(void) {
  if (!qs_eal_done) return 0;
  int ret = rte_eal_cleanup();
  if (ret < 0) return qs_fail(-ret, "rte_eal_cleanup failed: %s", rte_strerror(-ret));
  qs_eal_done = 0;
  return 0;
}

int qs_iova_mode_va(void) { return rte_eal_iova_mode() == RTE_IOVA_VA; }
int qs_has_hugepages(void) { return rte_eal_has_hugepages(); }

int qs_thread_register(void) {
  if (rte_thread_register() < 0) {
    int e = rte_errno;
    return qs_fail(e ? e : EINVAL, "rte_thread_register failed: %s", rte_strerror(e));
  }
  return (int)rte_lcore_id();
}

int qs_thread_unregister(void) {
  rte_thread_unregister();
  return 0;
}

int qs_lcore_id(void) {
  unsigned id = rte_lcore_id();
  return id == LCORE_ID_ANY ? -1 : (int)id;
}

double qs_tsc_hz(void) { return (double)rte_get_tsc_hz(); }

/* ---------------------------------------------------------------- pool */

static void qs_mz_free_cb(struct rte_mempool_memhdr *memhdr, void *opaque) {
  (void)memhdr;
  (void)opaque; /* the memzone is freed by qs_pool_free after the pool */
}

/*
 * An mbuf pool whose objects all live in one memzone, so TypeScript can view
 * every packet through one Uint8Array. This follows rte_pktmbuf_pool_create,
 * except that the memory comes from a single memzone populated with
 * rte_mempool_populate_virt. Without hugepages the pool is flagged
 * NO_IOVA_CONTIG, otherwise every mbuf would take a whole 4 KiB page.
 */
int qs_pool_create(const char *name, int nbufs, int cache, int dataroom) {
  if (name == NULL || nbufs <= 0 || cache < 0 || dataroom <= RTE_PKTMBUF_HEADROOM || dataroom > UINT16_MAX)
    return qs_fail(EINVAL, "qs_pool_create: bad arguments");
  int idx = -1;
  for (int i = 0; i < QS_MAX_POOLS; i++)
    if (qs_pools[i].mp == NULL) { idx = i; break; }
  if (idx < 0) return qs_fail(ENOSPC, "qs_pool_create: more than %d pools", QS_MAX_POOLS);

  unsigned flags = rte_eal_has_hugepages() ? 0 : RTE_MEMPOOL_F_NO_IOVA_CONTIG;
  struct rte_pktmbuf_pool_private priv = { .mbuf_data_room_size = (uint16_t)dataroom, .mbuf_priv_size = 0, .flags = 0 };
  unsigned elt = (unsigned)(sizeof(struct rte_mbuf) + (unsigned)dataroom);
  struct rte_mempool *mp = rte_mempool_create_empty(name, (unsigned)nbufs, elt, (unsigned)cache,
                                                    sizeof(struct rte_pktmbuf_pool_private), SOCKET_ID_ANY, flags);
  if (mp == NULL) {
    int e = rte_errno;
    return qs_fail(e, "rte_mempool_create_empty(%s, %d): %s", name, nbufs, rte_strerror(e));
  }
  int ret = rte_mempool_set_ops_byname(mp, rte_mbuf_best_mempool_ops(), NULL);
  if (ret != 0) {
    rte_mempool_free(mp);
    return qs_fail(-ret, "rte_mempool_set_ops_byname: %s", rte_strerror(-ret));
  }
  rte_pktmbuf_pool_init(mp, &priv);

  size_t pg_sz = 0;
  if (rte_mempool_get_page_size(mp, &pg_sz) < 0) {
    rte_mempool_free(mp);
    return qs_fail(EINVAL, "rte_mempool_get_page_size failed");
  }
  uint32_t pg_shift = pg_sz ? (uint32_t)rte_bsf64(pg_sz) : 0;
  size_t min_chunk = 0, align = 0;
  ssize_t need = rte_mempool_op_calc_mem_size_helper(mp, (uint32_t)nbufs, pg_shift, 0, &min_chunk, &align);
  if (need < 0) {
    rte_mempool_free(mp);
    return qs_fail((int)-need, "rte_mempool_op_calc_mem_size_helper failed");
  }
  size_t page = pg_sz ? pg_sz : 4096;
  size_t len = RTE_ALIGN_CEIL((size_t)need + page, page); /* one page of slack for alignment */
  char mzname[RTE_MEMZONE_NAMESIZE];
  snprintf(mzname, sizeof(mzname), "qsmz_%s", name);
  const struct rte_memzone *mz = rte_memzone_reserve_aligned(mzname, len, SOCKET_ID_ANY, 0, page > align ? page : align);
  if (mz == NULL) {
    int e = rte_errno;
    rte_mempool_free(mp);
    return qs_fail(e ? e : ENOMEM,
                   "no memory for %d mbufs (%zu bytes): %s; reserve more hugepages, or use --no-huge with a larger -m",
                   nbufs, len, rte_strerror(e));
  }
  ret = rte_mempool_populate_virt(mp, mz->addr, len, page, qs_mz_free_cb, NULL);
  if (ret < 0 || mp->populated_size != mp->size) {
    unsigned got = mp->populated_size;
    rte_mempool_free(mp);
    rte_memzone_free(mz);
    if (ret < 0) return qs_fail(-ret, "rte_mempool_populate_virt: %s", rte_strerror(-ret));
    return qs_fail(ENOMEM, "rte_mempool_populate_virt placed %u of %d mbufs", got, nbufs);
  }
  rte_mempool_obj_iter(mp, rte_pktmbuf_init, NULL);

  qs_pools[idx].mp = mp;
  qs_pools[idx].mz = mz;
  qs_pools[idx].base = mz->addr;
  qs_pools[idx].span = len;
  return idx;
}

static struct qs_pool *qs_pool_get(int pool) {
  if (pool < 0 || pool >= QS_MAX_POOLS || qs_pools[pool].mp == NULL) return NULL;
  return &qs_pools[pool];
}

void *qs_pool_base(int pool) {
  struct qs_pool *p = qs_pool_get(pool);
  return p ? p->base : NULL;
}

double qs_pool_span(int pool) {
  struct qs_pool *p = qs_pool_get(pool);
  return p ? (double)p->span : -1.0;
}

int qs_pool_chunks(int pool) {
  struct qs_pool *p = qs_pool_get(pool);
  if (p == NULL) return qs_fail(EINVAL, "no pool %d", pool);
  /* Every chunk must lie inside [base, base + span): that is what makes one view work. */
  struct rte_mempool_memhdr *hdr;
  STAILQ_FOREACH(hdr, &p->mp->mem_list, next) {
    if ((char *)hdr->addr < p->base || (char *)hdr->addr + hdr->len > p->base + p->span)
      return qs_fail(EFAULT, "pool %d has a chunk outside its memzone", pool);
  }
  return (int)p->mp->nb_mem_chunks;
}

int qs_pool_avail(int pool) {
  struct qs_pool *p = qs_pool_get(pool);
  if (p == NULL) return qs_fail(EINVAL, "no pool %d", pool);
  return (int)rte_mempool_avail_count(p->mp);
}

int qs_pool_free(int pool) {
  struct qs_pool *p = qs_pool_get(pool);
  if (p == NULL) return qs_fail(EINVAL, "no pool %d", pool);
  for (int i = 0; i < RTE_MAX_ETHPORTS; i++)
    if (qs_ports[i].mp == p->mp) return qs_fail(EBUSY, "pool %d is still used by port %d", pool, i);
  rte_mempool_free(p->mp);
  rte_memzone_free(p->mz);
  memset(p, 0, sizeof(*p));
  return 0;
}

/* ---------------------------------------------------------------- alloc / free */

int qs_alloc_bulk(int pool, uint32_t *words, int capacity, int start, int n) {
  struct qs_pool *p = qs_pool_get(pool);
  if (p == NULL || words == NULL || start < 0 || n < 0) return qs_fail(EINVAL, "qs_alloc_bulk: bad arguments");
  if (n > capacity - start) n = capacity - start;
  if (n <= 0) return 0;
  struct rte_mbuf *m[QS_MAX_BURST];
  uint32_t *h = words + start, *o = words + capacity + start, *l = words + 2 * capacity + start;
  char *base = p->base;
  int done = 0;
  while (done < n) {
    int want = n - done > QS_MAX_BURST ? QS_MAX_BURST : n - done;
    int got = want;
    if (rte_pktmbuf_alloc_bulk(p->mp, m, (unsigned)want) != 0) {
      /* All-or-nothing failed: take what is left one by one. */
      for (got = 0; got < want; got++) {
        m[got] = rte_pktmbuf_alloc(p->mp);
        if (m[got] == NULL) break;
      }
    }
    for (int i = 0; i < got; i++) {
      h[done + i] = (uint32_t)((char *)m[i] - base);
      o[done + i] = (uint32_t)((char *)m[i]->buf_addr + m[i]->data_off - base);
      l[done + i] = 0;
    }
    done += got;
    if (got < want) break;
  }
  return done;
}

int qs_free_bulk(int pool, uint32_t *words, int capacity, int n) {
  struct qs_pool *p = qs_pool_get(pool);
  if (p == NULL || words == NULL || n < 0 || n > capacity) return qs_fail(EINVAL, "qs_free_bulk: bad arguments");
  struct rte_mbuf *m[QS_MAX_BURST];
  int freed = 0;
  for (int i = 0; i < n;) {
    int k = 0;
    for (; i < n && k < QS_MAX_BURST; i++) {
      uint32_t h = words[i];
      if (h < p->span) m[k++] = (struct rte_mbuf *)(p->base + h);
    }
    rte_pktmbuf_free_bulk(m, (unsigned)k);
    freed += k;
  }
  return freed;
}

int qs_free_one(int pool, uint32_t handle) {
  struct qs_pool *p = qs_pool_get(pool);
  if (p == NULL || handle >= p->span) return qs_fail(EINVAL, "qs_free_one: bad pool or handle");
  rte_pktmbuf_free((struct rte_mbuf *)(p->base + handle));
  return 0;
}
