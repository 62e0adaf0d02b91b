// RUN: tern-opt %s -tern-lower-to-kernels | FileCheck %s

// A generic graph (tern.graph) becomes tern_graph(inputs, outputs) on two
// byte buffers: each input and output is a memref.view of [rows, width]
// f32 at row offset rows * (widths before it); the rows follow from the
// input size. The signature string is a public global for the runtime.
module attributes {tern.graph = "in a 2 -1 8\0Ain b 2 -1 4\0Aout y 2 -1 8\0A"} {
  func.func @forward(%a: tensor<?x8xf32>, %b: tensor<?x4xf32>) -> tensor<?x8xf32> {
    %c = tern.weight "c" = dense<2.0> : tensor<1xf32> -> tensor<1xf32>
    %t = tern.unary %a {fn = #tern.unary<tanh>} : tensor<?x8xf32>
    %p = tern.binary %t, %c {fn = #tern.binary<pow>} : tensor<?x8xf32>, tensor<1xf32> -> tensor<?x8xf32>
    %m = tern.reduce %p {fn = #tern.reduce<mean>} : tensor<?x8xf32> -> tensor<?x1xf32>
    %y = tern.binary %p, %m {fn = #tern.binary<sub>} : tensor<?x8xf32>, tensor<?x1xf32> -> tensor<?x8xf32>
    return %y : tensor<?x8xf32>
  }
}
// tanh(x) = 1 - 2 / (exp(2x) + 1); a size-1 operand is one load, splat.
// CHECK-LABEL: func.func private @tern_kernel_unary
// CHECK: math.exp
// CHECK-LABEL: func.func private @tern_kernel_binary
// CHECK: memref.load %{{.*}}[%{{.*}}] : memref<1xf32>
// CHECK: math.powf
// mean: the row's sum divided by its length, into one column.
// CHECK-LABEL: func.func private @tern_kernel_reduce
// CHECK: arith.addf
// CHECK: arith.divf %{{.*}}, %cst{{.*}} : f32
// CHECK: memref.store %{{.*}}, %{{.*}}[%{{.*}}, %c0{{.*}}] : memref<?x1xf32>
// A one-column operand is one load per row.
// CHECK-LABEL: func.func private @tern_kernel_binary_0
// CHECK: memref.load %{{.*}}[%{{.*}}, %c0{{.*}}] : memref<?x1xf32>
// CHECK: arith.subf
// CHECK-LABEL: func.func @tern_graph(
// CHECK-SAME: %[[IN:.*]]: memref<?xi8>, %[[OUT:.*]]: memref<?xi8>) attributes {llvm.emit_c_interface}
// CHECK: %[[BYTES:.*]] = memref.dim %[[IN]], %c0
// CHECK: %[[ROWS:.*]] = arith.divui %[[BYTES]], %c48
// CHECK: memref.view %[[IN]][%{{.*}}][%[[ROWS]]] : memref<?xi8> to memref<?x8xf32>
// CHECK: memref.view %[[IN]][%{{.*}}][%[[ROWS]]] : memref<?xi8> to memref<?x4xf32>
// CHECK: call @tern_kernel_unary
// CHECK: call @tern_kernel_binary
// CHECK: call @tern_kernel_reduce
// CHECK: call @tern_kernel_binary_0
// CHECK: %[[Y:.*]] = memref.view %[[OUT]][%{{.*}}][%[[ROWS]]] : memref<?xi8> to memref<?x8xf32>
// CHECK: memref.copy %{{.*}}, %[[Y]]
// CHECK: memref.global "public" constant @tern_graph_signature : memref<38xi8> = dense<[105, 110, 32, 97,
