// RUN: tern-opt %s -split-input-file -tern-lower-to-gpu-kernels -verify-diagnostics | FileCheck %s
// RUN: tern-opt %s -split-input-file -tern-lower-to-gpu-kernels=keep-host -verify-diagnostics | FileCheck %s --check-prefix=HOST

// A ternary matmul on gpu_w2 weights: a decode (_t1) and a prefill (_t4)
// kernel for its shape in gpu.module @tern_gpu, 128 threads per block; the
// model function goes unless keep-host (executables) keeps it.
// CHECK: module attributes {gpu.container_module}
// CHECK-NOT: func.func @forward
// CHECK: gpu.module @tern_gpu
// CHECK: gpu.func @tern_gpu_w2a8_k16_n8_t1(%arg0: memref<?x16xi8>, %arg1: memref<?xf32>, %arg2: memref<8xi32>, %arg3: memref<?x8xf32>, %arg4: f32) kernel attributes {known_block_size = array<i32: 128, 1, 1>}
// CHECK: llvm.inline_asm "dp4a.u32.s32 $0, $1, $2, $3;"
// CHECK: gpu.func @tern_gpu_w2a8_k16_n8_t4(
// HOST: func.func @forward
// HOST: gpu.module @tern_gpu
func.func @forward(%q: tensor<?x16xi8>, %s: tensor<?xf32>) -> tensor<?x8xf32> {
  %w = tern.weight "w" = dense<85> : tensor<32xi8> -> tensor<8x16x!tern.trit, #tern.packed<gpu_w2>>
  %y = tern.ternary_matmul %q, %s, %w {scales = array<f32: 0.5>} : tensor<?x16xi8>, tensor<?xf32>, tensor<8x16x!tern.trit, #tern.packed<gpu_w2>> -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}

// -----

// Other layouts are not what the kernels read.
func.func @forward(%q: tensor<?x16xi8>, %s: tensor<?xf32>) -> tensor<?x8xf32> {
  %w = tern.weight "w" = dense<85> : tensor<32xi8> -> tensor<8x16x!tern.trit, #tern.packed<i2>>
  // expected-error @+1 {{has a weight of type 'tensor<8x16x!tern.trit, #tern.packed<i2>>'; NVIDIA kernels read #tern.packed<gpu_w2>}}
  %y = tern.ternary_matmul %q, %s, %w {scales = array<f32: 0.5>} : tensor<?x16xi8>, tensor<?xf32>, tensor<8x16x!tern.trit, #tern.packed<i2>> -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}
