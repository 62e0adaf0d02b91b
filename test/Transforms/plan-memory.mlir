// RUN: tern-opt %s -tern-plan-memory -split-input-file | FileCheck %s

// %a dies when %c is born, so %c takes %a's place (offset 0): the
// token-sized arena is 2 x 64 bytes per row, not 3, with %b at n * 64.
// Static buffers get their own arena; deallocs of planned buffers go, the
// arenas' come at the end.
// CHECK-LABEL: func.func @reuse
// CHECK-SAME: (%[[N:.*]]: index
// CHECK: %[[STATIC:.*]] = memref.alloc() {alignment = 64 : i64} : memref<64xi8>
// CHECK: %[[C128:.*]] = arith.constant 128 : index
// CHECK: %[[BYTES:.*]] = arith.muli %[[N]], %[[C128]]
// CHECK: %[[ARENA:.*]] = memref.alloc(%[[BYTES]]) {alignment = 64 : i64} : memref<?xi8>
// CHECK: %[[ZERO:.*]] = arith.constant 0 : index
// CHECK: %[[A:.*]] = memref.view %[[ARENA]][%[[ZERO]]][%[[N]]] : memref<?xi8> to memref<?x16xf32>
// CHECK: %[[C64:.*]] = arith.constant 64 : index
// CHECK: %[[OFF:.*]] = arith.muli %[[N]], %[[C64]]
// CHECK: %[[B:.*]] = memref.view %[[ARENA]][%[[OFF]]][%[[N]]] : memref<?xi8> to memref<?x16xf32>
// CHECK: memref.copy %[[A]], %[[B]]
// CHECK: %[[C:.*]] = memref.view %[[ARENA]][%{{.*}}][%[[N]]] : memref<?xi8> to memref<?x16xf32>
// CHECK: memref.copy %[[B]], %[[C]]
// CHECK: memref.view %[[STATIC]]
// CHECK-NOT: memref.dealloc %[[A]]
// CHECK: memref.dealloc %[[ARENA]]
// CHECK: memref.dealloc %[[STATIC]]
// CHECK-NEXT: return
func.func @reuse(%n: index, %out: memref<?x16xf32>) {
  %a = memref.alloc(%n) {alignment = 64 : i64} : memref<?x16xf32>
  %b = memref.alloc(%n) {alignment = 64 : i64} : memref<?x16xf32>
  memref.copy %a, %b : memref<?x16xf32> to memref<?x16xf32>
  %c = memref.alloc(%n) {alignment = 64 : i64} : memref<?x16xf32>
  memref.copy %b, %c : memref<?x16xf32> to memref<?x16xf32>
  memref.copy %c, %out : memref<?x16xf32> to memref<?x16xf32>
  %s = memref.alloc() : memref<3xf32>
  memref.dealloc %a : memref<?x16xf32>
  memref.dealloc %b : memref<?x16xf32>
  memref.dealloc %c : memref<?x16xf32>
  memref.dealloc %s : memref<3xf32>
  return
}

// -----

// Kernel calls borrow buffers: %a is dead after the first call, so %c reuses
// its place and the arena holds two rows of 64 bytes per token.
// CHECK-LABEL: func.func @calls
// CHECK: %[[C128:.*]] = arith.constant 128 : index
// CHECK: %[[BYTES:.*]] = arith.muli %{{.*}}, %[[C128]]
// CHECK: memref.alloc(%[[BYTES]])
// CHECK-NOT: memref.alloc(
// CHECK: call @kernel
func.func private @kernel(memref<?x16xf32>, memref<?x16xf32>)
func.func @calls(%n: index, %out: memref<?x16xf32>) {
  %a = memref.alloc(%n) : memref<?x16xf32>
  %b = memref.alloc(%n) : memref<?x16xf32>
  call @kernel(%a, %b) : (memref<?x16xf32>, memref<?x16xf32>) -> ()
  %c = memref.alloc(%n) : memref<?x16xf32>
  call @kernel(%b, %c) : (memref<?x16xf32>, memref<?x16xf32>) -> ()
  call @kernel(%c, %out) : (memref<?x16xf32>, memref<?x16xf32>) -> ()
  memref.dealloc %a : memref<?x16xf32>
  memref.dealloc %b : memref<?x16xf32>
  memref.dealloc %c : memref<?x16xf32>
  return
}

// -----

// A buffer that is returned escapes: it keeps its own allocation.
// CHECK-LABEL: func.func @escapes
// CHECK: %[[R:.*]] = memref.alloc(%{{.*}}) : memref<?x4xf32>
// CHECK: return %[[R]]
func.func @escapes(%n: index) -> memref<?x4xf32> {
  %r = memref.alloc(%n) : memref<?x4xf32>
  return %r : memref<?x4xf32>
}
