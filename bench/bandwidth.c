/* Read-bandwidth probe for bench/run.py: sums a buffer much larger than the
 * caches with wide loads, on one thread, and prints the best GB/s of a few
 * passes. The decode roofline is this bandwidth over the bytes a token
 * reads. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
  size_t bytes = (argc > 1 ? strtoull(argv[1], 0, 10) : 1024) << 20;
  uint64_t *a = aligned_alloc(64, bytes);
  if (!a)
    return 1;
  memset(a, 1, bytes);
  double best = 0;
  uint64_t sink = 0;
  /* 64-byte vectors, four independent sums: loads, not adds, limit it. */
  typedef int64_t v8 __attribute__((vector_size(64)));
  const v8 *v = (const v8 *)a;
  size_t vn = bytes / sizeof(v8);
  for (int pass = 0; pass < 5; ++pass) {
    double t0 = now();
    v8 s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0};
    for (size_t i = 0; i + 4 <= vn; i += 4) {
      s0 += v[i];
      s1 += v[i + 1];
      s2 += v[i + 2];
      s3 += v[i + 3];
    }
    double gbs = bytes / (now() - t0) / 1e9;
    v8 s = s0 + s1 + s2 + s3;
    for (int j = 0; j < 8; ++j)
      sink += (uint64_t)s[j];
    if (gbs > best)
      best = gbs;
  }
  printf("%.2f\n", best);
  return sink == 42; /* keep the sums */
}
