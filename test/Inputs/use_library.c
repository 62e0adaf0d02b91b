/* A C program using a library written by `ternc --emit=lib -o libtiny.a`:
 * it links with nothing else from Tern (phases.test). */
#include "libtiny.h"
#include <stdio.h>

int main(void) {
  tern_set_num_threads(2);
  printf("vocab %ld\n", (long)tern_vocab_size());
  return 0;
}
