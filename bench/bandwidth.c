/* Read-bandwidth probe for bench/run.py: THREADS threads each sum their
 * slice of a buffer much larger than the caches with 64-byte vector loads,
 * with and without software prefetch 4 KB ahead (as Tern's decode kernels
 * do: on some machines it reaches more bandwidth than the hardware
 * prefetcher alone); prints the best GB/s of five passes of each. The decode
 * roofline is this bandwidth over the bytes a token reads. usage: bandwidth MIB
 * THREADS */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef int64_t v8 __attribute__((vector_size(64)));

struct slice {
  const v8 *data;
  size_t count;
  int64_t sum;
  int prefetch;
};

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void *sum(void *arg) {
  struct slice *s = arg;
  v8 s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0}; /* independent: loads limit */
  for (size_t i = 0; i + 4 <= s->count; i += 4) {
    if (s->prefetch)
      for (int l = 0; l < 4; ++l)
        __builtin_prefetch((const char *)&s->data[i + l] + 4096, 0, 3);
    s0 += s->data[i];
    s1 += s->data[i + 1];
    s2 += s->data[i + 2];
    s3 += s->data[i + 3];
  }
  v8 t = s0 + s1 + s2 + s3;
  for (int j = 0; j < 8; ++j)
    s->sum += t[j];
  return 0;
}

int main(int argc, char **argv) {
  size_t bytes = (argc > 1 ? strtoull(argv[1], 0, 10) : 1024) << 20;
  int threads = argc > 2 ? atoi(argv[2]) : 1;
  if (threads < 1 || threads > 256)
    return 1;
  v8 *a = aligned_alloc(64, bytes);
  if (!a)
    return 1;
  memset(a, 1, bytes);
  size_t per = bytes / sizeof(v8) / threads;
  double best = 0;
  int64_t sink = 0;
  for (int pass = 0; pass < 10; ++pass) {
    pthread_t tid[256];
    struct slice s[256];
    double t0 = now();
    for (int i = 0; i < threads; ++i) {
      s[i] = (struct slice){a + i * per, per, 0, pass % 2};
      pthread_create(&tid[i], 0, sum, &s[i]);
    }
    for (int i = 0; i < threads; ++i) {
      pthread_join(tid[i], 0);
      sink += s[i].sum;
    }
    double gbs = per * threads * sizeof(v8) / (now() - t0) / 1e9;
    if (gbs > best)
      best = gbs;
  }
  printf("%.2f\n", best);
  return sink == 42; /* keep the sums */
}
