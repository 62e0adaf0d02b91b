// RUN: tern-opt %s -split-input-file -tern-lower-to-kernels=variant=gpu-host -canonicalize -cse -verify-diagnostics | FileCheck %s
// RUN: tern-opt %s -split-input-file -tern-lower-to-kernels=variant=gpu-device-emulation -canonicalize -cse -verify-diagnostics | FileCheck %s --check-prefix=EMU

// Device mode: the host function uploads ids, positions, slots and logit
// rows, gets device copies of the weights (and the KV pool) from the
// runtime, launches one kernel per op on device buffers and copies the
// logits back. A ternary
// matmul on gpu_w2 weights gets a decode (_t1) and a prefill (_t4) kernel,
// chosen by the token count; 128 threads per block.
// CHECK: module attributes {gpu.container_module}
// CHECK: func.func @tern_forward_batch(%[[IDS:.*]]: memref<?xi32>, %[[POS:.*]]: memref<?xi32>, %[[SLOTS:.*]]: memref<?xi32>, %[[KV:.*]]: memref<?xf32>, %[[CTX:.*]]: index, %[[ROWS:.*]]: memref<?xi32>, %[[LOGITS:.*]]: memref<?x16xf32>)
// CHECK: gpu.alloc async
// CHECK: gpu.memcpy async [%{{.*}}] %{{.*}}, %[[IDS]]
// CHECK: call @tern_gpu_resident_f32(%[[KV]], %c0_i64)
// CHECK: gpu.launch_func  @tern_gpu::@tern_gpu_embedding_8 blocks in (%c1, %[[T:.*]], %c1) threads in (%c128, %c1, %c1)
// CHECK: gpu.launch_func  @tern_gpu::@tern_gpu_act_quant_8 blocks in (%c1, %[[T]], %c1) threads in (%c128, %c1, %c1)
// CHECK: call @tern_gpu_resident_i8(%{{.*}}, %c1_i64)
// CHECK: %[[DECODE:.*]] = arith.cmpi eq, %[[T]], %c1
// CHECK: scf.if %[[DECODE]]
// CHECK: gpu.launch_func  @tern_gpu::@tern_gpu_w2a8_k8_n16_t1 blocks in (%c1, %[[T]], %c1) threads in (%c128, %c1, %c1)
// CHECK: gpu.launch_func  @tern_gpu::@tern_gpu_w2a8_k8_n16_t4
// CHECK: gpu.launch_func  @tern_gpu::@tern_gpu_float_matmul_f32_n16_k8_rows blocks in (%c1, %{{.*}}, %c1) threads in (%c128, %c1, %c1)
// CHECK: gpu.memcpy async [%{{.*}}] %[[LOGITS]], %{{.*}} : memref<?x16xf32>, memref<?x16xf32>
// CHECK: gpu.dealloc async
// CHECK: gpu.module @tern_gpu
// CHECK: gpu.func @tern_gpu_act_quant_8(%arg0: memref<?x8xf32>, %arg1: memref<?x8xi8>, %arg2: memref<?xf32>) workgroup(%arg3 : memref<128xf32, #gpu.address_space<workgroup>>) kernel attributes {known_block_size = array<i32: 128, 1, 1>}
// CHECK: gpu.barrier
// CHECK: gpu.func @tern_gpu_w2a8_k8_n16_t1(%arg0: memref<?x8xi8>, %arg1: memref<?xf32>, %arg2: memref<16xi32>, %arg3: memref<?x16xf32>, %arg4: f32) kernel attributes {known_block_size = array<i32: 128, 1, 1>}
// CHECK: llvm.inline_asm "dp4a.u32.s32 $0, $1, $2, $3;"
// CHECK: gpu.func @tern_gpu_w2a8_k8_n16_t4(

// The emulation: the same launches as calls to CPU functions of the grid,
// each block's threads a loop per phase; dp4a in arith.
// EMU-NOT: gpu.
// EMU: func.func private @tern_emulated_act_quant_8(%arg0: index, %arg1: index, %arg2: memref<?x8xf32>, %arg3: memref<?x8xi8>, %arg4: memref<?xf32>)
// EMU: memref.alloca() : memref<128xf32>
// EMU: scf.for %[[BY:.*]] = %c0 to %arg1
// EMU: scf.for %[[BX:.*]] = %c0 to %arg0
// EMU: scf.for %[[TID:.*]] = %c0 to %c128
// EMU: func.func @tern_forward_batch
// EMU: call @tern_emulated_embedding_8(%c1, %[[TOKENS:.*]], %{{.*}}, %{{.*}}, %{{.*}})
// EMU: call @tern_emulated_act_quant_8(%c1, %[[TOKENS]],
// EMU: call @tern_emulated_w2a8_k8_n16_t1(%c1, %[[TOKENS]],
module {
  func.func @forward(%ids: tensor<?xi32>, %pos: tensor<?xi32>) -> tensor<?x16xf32> {
    %e = tern.weight "embed" = dense<0.5> : tensor<16x8xf32> -> tensor<16x8xf32>
    %h = tern.embedding %e[%ids] : tensor<16x8xf32>, tensor<?xi32> -> tensor<?x8xf32>
    %q, %s = tern.act_quant %h : tensor<?x8xf32> -> tensor<?x8xi8>, tensor<?xf32>
    %w = tern.weight "w" = dense<85> : tensor<64xi8> -> tensor<16x8x!tern.trit, #tern.packed<gpu_w2>>
    %y = tern.ternary_matmul %q, %s, %w {scales = array<f32: 0.5>} : tensor<?x8xi8>, tensor<?xf32>, tensor<16x8x!tern.trit, #tern.packed<gpu_w2>> -> tensor<?x16xf32>
    %z, %zs = tern.act_quant %y : tensor<?x16xf32> -> tensor<?x16xi8>, tensor<?xf32>
    %l = tern.lm_head %h, %e : tensor<?x8xf32>, tensor<16x8xf32> -> tensor<?x16xf32>
    return %l : tensor<?x16xf32>
  }
}

// -----

// Other layouts are not what the kernels read.
module {
  func.func @forward(%ids: tensor<?xi32>, %pos: tensor<?xi32>) -> tensor<?x8xf32> {
    %e = tern.weight "embed" = dense<0.5> : tensor<8x16xf32> -> tensor<8x16xf32>
    %h = tern.embedding %e[%ids] : tensor<8x16xf32>, tensor<?xi32> -> tensor<?x16xf32>
    %q, %s = tern.act_quant %h : tensor<?x16xf32> -> tensor<?x16xi8>, tensor<?xf32>
    %w = tern.weight "w" = dense<85> : tensor<32xi8> -> tensor<8x16x!tern.trit, #tern.packed<i2>>
    // expected-error @+1 {{has a weight of type 'tensor<8x16x!tern.trit, #tern.packed<i2>>'; NVIDIA kernels read #tern.packed<gpu_w2>}}
    %y = tern.ternary_matmul %q, %s, %w {scales = array<f32: 0.5>} : tensor<?x16xi8>, tensor<?xf32>, tensor<8x16x!tern.trit, #tern.packed<i2>> -> tensor<?x8xf32>
    return %y : tensor<?x8xf32>
  }
}
