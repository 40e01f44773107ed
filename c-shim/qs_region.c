/*
 * qstack_shim: zeroed memory regions for the TypeScript mempools (connection
 * tables, slabs, timer wheels). They are never handed to a NIC, so they need
 * no IOVA: plain mmap, with 2 MB hugetlb pages when asked and available, and
 * transparent huge pages advised otherwise. Works with or without EAL.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "qstack_shim.h"

int qs_fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define QS_MAX_REGIONS 256
#define QS_HUGE_2MB ((size_t)2 << 20)

struct qs_region {
  void *addr;
  size_t len;
  int huge;
  char name[32];
};

static struct qs_region qs_regions[QS_MAX_REGIONS];
static pthread_mutex_t qs_regions_lock = PTHREAD_MUTEX_INITIALIZER;

void *qs_region_alloc(const char *name, double bytes, int flags) {
  if (!(bytes > 0) || bytes > 1e15) {
    qs_fail(EINVAL, "qs_region_alloc(%s): bad size %.0f", name ? name : "?", bytes);
    return NULL;
  }
  size_t want = (size_t)bytes;
  void *addr = MAP_FAILED;
  size_t len = 0;
  int huge = 0;
  if (flags & QS_REGION_TRY_HUGE) {
    len = (want + QS_HUGE_2MB - 1) & ~(QS_HUGE_2MB - 1);
    /* Without MAP_NORESERVE the kernel reserves the pages now, so a later touch cannot SIGBUS. */
    addr = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
    huge = addr != MAP_FAILED;
  }
  if (addr == MAP_FAILED) {
    len = (want + 4095) & ~(size_t)4095;
    addr = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (addr == MAP_FAILED) {
      int e = errno;
      qs_fail(e, "qs_region_alloc(%s, %zu bytes): %s", name ? name : "?", want, strerror(e));
      return NULL;
    }
    if (len >= QS_HUGE_2MB) madvise(addr, len, MADV_HUGEPAGE);
  }
  pthread_mutex_lock(&qs_regions_lock);
  int slot = -1;
  for (int i = 0; i < QS_MAX_REGIONS; i++)
    if (qs_regions[i].addr == NULL) { slot = i; break; }
  if (slot >= 0) {
    qs_regions[slot].addr = addr;
    qs_regions[slot].len = len;
    qs_regions[slot].huge = huge;
    snprintf(qs_regions[slot].name, sizeof(qs_regions[slot].name), "%s", name ? name : "");
  }
  pthread_mutex_unlock(&qs_regions_lock);
  if (slot < 0) {
    munmap(addr, len);
    qs_fail(ENOSPC, "qs_region_alloc(%s): more than %d regions", name ? name : "?", QS_MAX_REGIONS);
    return NULL;
  }
  return addr;
}

int qs_region_free(void *addr) {
  int ret = -ENOENT;
  pthread_mutex_lock(&qs_regions_lock);
  for (int i = 0; i < QS_MAX_REGIONS; i++) {
    if (addr != NULL && qs_regions[i].addr == addr) {
      munmap(addr, qs_regions[i].len);
      memset(&qs_regions[i], 0, sizeof(qs_regions[i]));
      ret = 0;
      break;
    }
  }
  pthread_mutex_unlock(&qs_regions_lock);
  return ret == 0 ? 0 : qs_fail(ENOENT, "qs_region_free: %p is not a region", addr);
}

int qs_region_is_huge(void *addr) {
  int ret = -1;
  pthread_mutex_lock(&qs_regions_lock);
  for (int i = 0; i < QS_MAX_REGIONS; i++)
    if (addr != NULL && qs_regions[i].addr == addr) { ret = qs_regions[i].huge; break; }
  pthread_mutex_unlock(&qs_regions_lock);
  return ret;
}
