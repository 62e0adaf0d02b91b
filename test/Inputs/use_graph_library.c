/* A C program running a generic graph from a library written by
 * `ternc mlp.onnx --emit=lib -o libmlp.a` (onnx-graph.test): x [rows, 64]
 * in, y [rows, 32] out; prints the signature and y's first row. */
#include "libmlp.h"
#include <stdio.h>

int main(void) {
  enum { rows = 3 };
  static float x[rows * 64], y[rows * 32];
  for (int i = 0; i < rows * 64; ++i)
    x[i] = (float)((i * 37) % 17 - 8) / 8.0f;
  tern_bytes in = {x, x, 0, {sizeof x}, {1}};
  tern_bytes out = {y, y, 0, {sizeof y}, {1}};
  _mlir_ciface_tern_graph(&in, &out);
  printf("%s", tern_graph_signature);
  for (int j = 0; j < 4; ++j)
    printf("%.4f ", y[j]);
  printf("\n");
  return 0;
}
