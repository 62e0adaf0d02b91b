//===- KernelEmitter.h - tern ops -> kernel functions -----------*- C++ -*-===//
//
// The kernel lowering's emitter: TernToKernels.cpp walks the model and emits
// one kernel function per op signature; the op families' bodies live in
// their own files (lib/Conversion/Kernels: TernaryMatmul.cpp, the
// tile loop every CPU family shares, Attention.cpp, Elementwise.cpp, ...).
// The NVIDIA target derives its own emitter (lib/Target/NVPTX:
// GpuKernelEmitter), which turns every op into device kernels and launches
// through the virtual hooks below.
//
//===----------------------------------------------------------------------===//

#ifndef TERN_CONVERSION_KERNELEMITTER_H
#define TERN_CONVERSION_KERNELEMITTER_H

#include "Tern/IR/PackedLayouts.h"
#include "Tern/IR/TernOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/IR/TypeUtilities.h"
#include "tern/Target/KernelFamilies.h"
#include "tern/Target/TernaryDot.h"
#include "llvm/ADT/StringMap.h"

#include <functional>

namespace mlir::tern::kernels {

/// The byte dot product of a CPU family's ternary matmul tiles: the
/// target's (lib/Target/<Target>/TernaryDot.cpp), else portable code.
const TernaryDot &ternaryDotFor(const KernelFamily &family);

/// RoPE's inv_freq[i] = 1 / theta^(2i / head_dim), i < head_dim / 2, in f32
/// as Hugging Face computes them.
SmallVector<float> ropeInverseFrequencies(RopeOp op);

/// The memref type a tern tensor value is stored in.
inline MemRefType storageType(Type type) {
  auto tensor = cast<RankedTensorType>(type);
  auto i8 = IntegerType::get(type.getContext(), 8);
  if (PackedAttr packed = getPackedEncoding(tensor))
    return MemRefType::get(
        {packed.getNumBytes(tensor.getDimSize(0), tensor.getDimSize(1))}, i8);
  if (PackedBF16Attr packed = getPackedBF16Encoding(tensor))
    return MemRefType::get(
        {packed.getNumBytes(tensor.getDimSize(0), tensor.getDimSize(1))}, i8);
  Type element = isa<TritType>(tensor.getElementType())
                     ? Type(i8)
                     : tensor.getElementType();
  return MemRefType::get(tensor.getShape(), element);
}

/// Emits the kernels of one model function.
class KernelEmitter {
public:
  /// Weight globals and kernel functions are created, in order, just before
  /// `forward` (the function being built).
  KernelEmitter(ImplicitLocOpBuilder &b, ModuleOp module, Operation *forward,
                const KernelFamily &family)
      : b(b), forward(forward), symbols(module), family(family),
        dot(ternaryDotFor(family)) {}
  virtual ~KernelEmitter() = default;

  /// The forward function's KV pool argument, the number of layers it holds
  /// and the width of one layer's K (or V) row; the token count that sizes
  /// every activation buffer.
  void setup(Value cache, int64_t layers, int64_t width, Value tokenCount) {
    kvCache = cache;
    kvLayers = layers;
    kvWidth = width;
    tokens = tokenCount;
  }
  /// A model's batch arguments: each token's sequence slot in the KV pool,
  /// the positions one slot holds, and the token rows whose logits the
  /// caller asked for.
  void setupBatch(Value slots, Value context, Value rows) {
    kvSlots = slots;
    kvContext = context;
    logitRows = rows;
  }

  /// Starts emitting the forward function `fn` (a model has one per KV
  /// pool type): kernel functions and weights made for the one before are
  /// shared.
  void beginFunction(Operation *fn) {
    forward = fn;
    map.clear();
    outputs.clear();
    buffers.clear();
  }

  /// Emits `op`: CPU families call its kernel function.
  virtual LogicalResult lower(Operation *op);
  /// Fails, naming `op`, when a result has a dynamic dimension besides the
  /// tokens: buffers are sized by the token count alone.
  LogicalResult checkStaticFeatures(Operation *op);
  /// Frees the buffers the forward function allocated.
  virtual void freeBuffers();

  // --- where buffers live (the NVIDIA emitter overrides these) ---
  /// The buffer kernels read for a host input of the forward function.
  virtual Value bindInput(Value host, Value rows) { return host; }
  /// The buffer kernels use for the host's KV cache.
  virtual FailureOr<Value> bindKVCache(Value host) { return host; }
  /// The buffer the last op writes for a host output.
  virtual Value bindOutput(Value host) { return host; }
  /// Copies a result into the host output it was bound to (if it is not
  /// that buffer already).
  virtual void writeOutput(Value result, Value host) {
    if (result != host)
      b.create<memref::CopyOp>(result, host);
  }
  /// The weight data kernels read, from its global.
  virtual FailureOr<Value> placeWeight(Value data) { return data; }

  /// The positions argument as the host has it (device code computes RoPE's
  /// tables on the host).
  Value hostPositions;

  /// Values of the forward function.
  IRMapping map;
  /// Results written directly into an output argument.
  DenseMap<Value, Value> outputs;

protected:
  /// NVIDIA kernels (family gpu-host) or their CPU emulation: device code,
  /// where exp, log and pow are IEEE polynomials, as NVPTX has no
  /// instructions for them.
  bool deviceCode() const { return family.isDeviceCode(); }
  /// The NVIDIA kernels themselves (not their emulation).
  bool onGpu() const { return family.mode == KernelMode::GPU; }

  // --- small builders ---
  Value idx(int64_t v) { return b.create<arith::ConstantIndexOp>(v); }
  Value f32(float v) {
    return b.create<arith::ConstantFloatOp>(APFloat(v), b.getF32Type());
  }
  Value i32(int32_t v) { return b.create<arith::ConstantIntOp>(v, 32); }
  Value dim(Value memref, int64_t d) {
    return b.createOrFold<memref::DimOp>(memref, d);
  }
  /// A float or signed-integer scalar or vector as f32.
  Value toF32(Value v) {
    Type element = getElementTypeOrSelf(v);
    if (element.isF32())
      return v;
    Type f32 = b.getF32Type();
    if (auto vector = dyn_cast<VectorType>(v.getType()))
      f32 = vector.clone(f32);
    if (isa<IntegerType>(element))
      return b.create<arith::SIToFPOp>(f32, v);
    return b.create<arith::ExtFOp>(f32, v);
  }

  /// Decode kernels read each weight once, in order. Prefetching this far
  /// ahead keeps more lines in flight than the hardware prefetcher alone
  /// (2B4T shape, 1 thread: generation 21 -> 25.7 tokens/s). Only inside
  /// loops of more than one iteration: prefetch declares no memory effects,
  /// so one left directly in a parallel body (a folded loop) keeps the
  /// memref.alloca_scope that scf-to-openmp wraps it in from being inlined,
  /// and scf-to-cf then fails on that scope.
  static constexpr int64_t kPrefetchBytes = 4096;
  /// The module's #tern.target cpu (LLVM's name), or "" without one.
  StringRef targetCpu();
  /// The ternary decode tiles' distance: on an Intel Xeon (AVX2, 2B4T, 1
  /// thread) 1-2 KB decoded ~1.17x faster than 4 KB; on Zen 4 the distance
  /// (even none) made no difference beyond noise.
  static constexpr int64_t kDecodePrefetchBytes = 2048;
  void prefetch(Value memref, ValueRange indices, uint32_t locality = 3) {
    b.create<memref::PrefetchOp>(memref, indices, /*isWrite=*/false,
                                 /*localityHint=*/locality,
                                 /*isDataCache=*/true);
  }

  /// body(i) for i = lb, lb + step, ... < ub.
  void forRange(Value lb, Value ub, int64_t step,
                function_ref<void(Value)> body) {
    auto loop = b.create<scf::ForOp>(lb, ub, idx(step));
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(loop.getBody()->getTerminator());
    body(loop.getInductionVar());
  }
  void forEach(Value ub, function_ref<void(Value)> body) {
    forRange(idx(0), ub, 1, body);
  }
  /// body() where index x < bound.
  void ifBelow(Value x, Value bound, function_ref<void()> body) {
    auto branch = b.create<scf::IfOp>(
        b.create<arith::CmpIOp>(arith::CmpIPredicate::ult, x, bound),
        /*withElseRegion=*/false);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(&branch.getThenRegion().front());
    body();
  }
  /// A loop whose iterations are independent: scf.parallel, run on the
  /// thread team (lib/Runtime/Parallel.cpp) once lowered to OpenMP.
  void parallelFor(Value lb, Value ub, Value step,
                   function_ref<void(Value)> body) {
    auto loop = b.create<scf::ParallelOp>(ValueRange{lb}, ValueRange{ub},
                                          ValueRange{step});
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(loop.getBody()->getTerminator());
    body(loop.getInductionVars()[0]);
  }
  /// The sum of an f32 vector of 16k lanes as a tree: foldTo16, then a
  /// reassociating reduction. (A plain vector.reduction keeps
  /// the sequential order: one dependent scalar add per lane.)
  Value sumF32(Value v);
  /// An f32 vector of 16k lanes folded to 16: its 16-lane chunks added as a
  /// tree.
  Value foldTo16(Value v);
  /// Lane i of the result is the sum of vectors[i]'s lanes (n vectors of n
  /// f32 or integer lanes), by pairwise shuffles and adds (Attention.cpp).
  Value transposeSum(ArrayRef<Value> vectors);
  /// exp of an f32 vector as a polynomial (Attention.cpp).
  Value expF32(Value x);
  /// init folded with body(i, acc) for i = lb, lb + step, ... < ub.
  Value reduceRange(Value lb, Value ub, int64_t step, Value init,
                    function_ref<Value(Value, Value)> body) {
    auto loop = b.create<scf::ForOp>(lb, ub, idx(step), ValueRange{init});
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    b.create<scf::YieldOp>(
        body(loop.getInductionVar(), loop.getRegionIterArg(0)));
    return loop.getResult(0);
  }
  Value reduce(Value ub, Value init, function_ref<Value(Value, Value)> body) {
    return reduceRange(idx(0), ub, 1, init, body);
  }

  // --- row helpers (Elementwise.cpp) ---
  /// body(t) for each of `count` token rows: on the thread team when there
  /// are several, inline for one.
  void forEachToken(Value count, function_ref<void(Value)> body);
  /// body(j, width) over [0, n): 16 lanes at a time (width 16), then one
  /// element at a time (width 1).
  void forEachLane(int64_t n, function_ref<void(Value, int64_t)> body);
  /// The ADD or MAXIMUMF reduction of init and body(j, width) over [0, n),
  /// in the lanes of forEachLane.
  Value reduceLanes(int64_t n, vector::CombiningKind kind, Value init,
                    function_ref<Value(Value, int64_t)> body);
  /// An element function of a row: (j, width) -> value(s) at [j, j+width).
  using RowFn = function_ref<Value(Value, int64_t)>;
  /// 1 / sqrt(mean(element^2) + epsilon) over a row of d elements.
  Value rmsInverse(int64_t d, float epsilon, RowFn element);
  /// act_quant of a row of k elements into q[t, :] and s[t].
  void quantizeRow(int64_t k, Value t, Value q, Value s, RowFn element);
  Value gluValue(Value gate, Value up, GluActivation activation, int64_t width);
  /// exp(x): the polynomial in device code (NVPTX has no exp), else
  /// math.exp.
  Value expValue(Value x);
  /// fn of a scalar (width 1) or of `width` lanes.
  Value unaryValue(UnaryFn fn, Value v, int64_t width);
  Value binaryValue(BinaryFn fn, Value x, Value y);
  /// log(x) for x > 0 and pow(x, y), scalars, from IEEE operations only
  /// (device code: NVPTX has neither, and Tern links no libdevice).
  Value logF32(Value x);
  Value powF32(Value x, Value y);
  /// An operand of tern.binary with output width n at row t, columns
  /// [j, j + width): a row's values, one value per row, one per column, or
  /// one for all.
  Value binaryOperand(Value v, int64_t n, Value t, Value j, int64_t width);
  /// A scalar (width 1) or a vector of `width` lanes.
  Value splat(Value scalar, int64_t width);
  Value load(Value memref, ValueRange indices, int64_t width);
  void store(Value value, Value memref, ValueRange indices);

  /// Inside a kernel: the argument holding `v` (an operand of the op being
  /// lowered), the output argument of `result`, per-call scalars.
  Value in(Value v) { return local.lookup(v); }
  Value output(Value result) { return local.lookup(result); }
  Value extra(unsigned i) { return extras[i]; }

  /// Emits `op` as a call to its kernel, creating the kernel on first use.
  LogicalResult emitCall(Operation *op);

  /// f32 of a float or integer table element, scalar or vector (bf16 by its
  /// bits: portable, and NVPTX converts bf16 only on newer GPUs).
  Value elementToF32(Value v);
  /// llvm.sqrt.f32 or llvm.fabs.f32 of x: the intrinsic in NVIDIA device
  /// code (gpu-to-nvvm would call libdevice for math.sqrt and math.absf),
  /// else the math op.
  Value intrinsicF32(StringRef name, Value x);
  /// The kernel's body: the op's loops over its argument buffers.
  void lowerBody(Operation *op);

  // --- op lowerings ---
  LogicalResult lowerWeight(WeightOp op);
  void lowerEmbedding(EmbeddingOp op);
  void lowerRMSNorm(RMSNormOp op);
  void lowerActQuant(ActQuantOp op);
  void lowerNormQuant(NormQuantOp op);
  void lowerTernaryMatmul(TernaryMatmulOp op);
  /// SIMD kernels on i2_k64 weights (TernaryMatmul.cpp).
  void lowerTernaryMatmulK64(TernaryMatmulOp op);
  /// i1: more than `above` rows and the OS lends `tiles` (asked only then).
  Value tilesFor(const MatrixTiles &tiles, Value rows, int64_t above);
  /// Matrix tiles (MatrixTiles.cpp): 32 rows x 16 tokens of a tile pair.
  static constexpr int64_t kTileRows = 32, kTileTokens = 16;
  /// The last group of 16 tokens of q ([tokens, k]) into `padded`
  /// ([16 * k]), zeros past the last token.
  void padTileActivations(Value q, Value padded, Value tokens, int64_t k);
  /// Every token's sums of codes times activations over the full blocks of
  /// rows [0, rows) of `w` (a multiple of kTileRows), 16 rows at a time:
  /// store(token, first row, vector<16xi32>).
  void
  matrixTilePrefill(const MatrixTiles &tiles, Value w, Value q, Value padded,
                    Value tokens, int64_t rows, int64_t k,
                    function_ref<void(Value tk, Value n, Value totals)> store);
  /// The LM head on a bf16 table (plain or #tern.packed_bf16, d a multiple
  /// of 64) in matrix tiles (tdpbf16ps), for any row count.
  void bf16TileHead(const MatrixTiles &tiles, Value x, Value table, Value out,
                    Value rows, PackedBF16Attr packed);
  /// gpu_w2 weights: the NVIDIA kernel's arithmetic (GpuW2.h) on the CPU.
  void lowerTernaryMatmulGpuW2(TernaryMatmulOp op);
  /// Calls the LLVM intrinsic `name`.
  Value intrinsic(StringRef name, Type result, ValueRange args) {
    return callIntrinsic(b, name, result, args);
  }
  /// y, plus the op's residual at [t, n] if it has one.
  Value withResidual(TernaryMatmulOp op, Value y, Value t, Value n);
  Value sumAccumulator(Value acc);
  /// The sums of several accumulators (a tile's), as scalars.
  SmallVector<Value> sumAccumulators(ValueRange accs);
  /// VNNI accumulators with their lanes' 4^l scale undone.
  Value unscaleLanes(Value acc);
  void lowerRope(RopeOp op);
  /// Pool index of position p's row of kv head `kvh` in layer `layer`'s K
  /// (kv = 0) or V (kv = 1), in the slot that starts at `base`.
  Value kvRowIndex(Value base, Value layer, int64_t kv, Value kvh, Value p,
                   Value context, int64_t kvHeads, int64_t headDim);
  /// Steps of at least this many tokens attend a whole GQA group per
  /// parallel item (fewer: one head per item, to share out more items).
  static constexpr int64_t kGroupedTokens = 4;
  void lowerAttention(AttentionOp op);
  void lowerGlu(GluOp op);
  void lowerAdd(AddOp op);
  void lowerUnary(UnaryOp op);
  void lowerBinary(BinaryOp op);
  void lowerReduce(ReduceOp op);
  void lowerLMHead(LMHeadOp op);
  void lowerLinear(LinearOp op);
  /// out = x . table^T in f32 over a float table (LM head, float linear),
  /// or a bf16 table in #tern.packed_bf16 bytes (`packed`); an i8 table with
  /// per-row `scales` takes lowerInt8Matmul.
  /// With `rows` (i32), output row r is input row rows[r]; without, row r.
  void lowerFloatMatmul(Value x, Value table, Value out, Value scales = {},
                        Value rows = {}, PackedBF16Attr packed = {});
  /// lowerFloatMatmul's SIMD loop on a bf16 table for any row count but one,
  /// bit-identical, in fewer instructions and in tiles of headTileRows()
  /// table rows.
  void lowerBF16Matmul(Value x, Value table, Value out, Value rows,
                       PackedBF16Attr packed);
  int64_t headTileRows() const;
  /// How the head kernels decode a #tern.packed_bf16 block: the family's
  /// register width and byte lookup.
  layouts::packed_bf16::BlockDecoding headDecoding();
  /// Up to this many x rows stream a packed table once, each block decoded
  /// for all of them; more take the tiles over a decoded copy.
  int64_t streamRows() const;
  /// The int8 LM head (tern.lm_head over an i8 table): x rows quantized to
  /// i16, exact integer dot products, the integer products' epilogue.
  void lowerInt8Matmul(Value x, Value table, Value out, Value scales,
                       Value rows);
  /// The x row of output row r: rows[r] with `rows`, else r.
  Value inputRow(Value rows, Value r);
  /// acc + x[t, j] * table[v, j] for j = from .. d - 1, one at a time
  /// (nothing for from = d: packed tables are whole blocks).
  Value dotTail(Value x, Value t, Value table, Value v, int64_t from,
                Value acc);

  ImplicitLocOpBuilder &b;
  Operation *forward;
  SymbolTable symbols;
  const KernelFamily &family;
  /// The ternary matmul tiles' dot product (i2_k64 weights).
  const TernaryDot &dot;
  /// headDecoding's lookup, kept here: BlockDecoding holds a function_ref.
  std::function<Value(ArrayRef<int8_t>, Value)> byteLookup =
      [this](ArrayRef<int8_t> table, Value codes) {
        return dot.lookup16(b, table, codes);
      };
  /// SIMD row kernels (attention heads, the LM head): all but scalar.
  bool simd() const { return family.name != "scalar"; }

public:
  /// Brackets the block loop of each ternary matmul tile with
  /// "# LLVM-MCA-BEGIN/END tile<rows>x<tokens>" assembly comments, for
  /// bench/mca.sh.
  bool mcaMarkers = false;
  SmallVector<Value> buffers;
  Value kvCache, tokens;
  int64_t kvLayers = 0, kvWidth = 0;
  /// setupBatch's values (null in generic graphs).
  Value kvSlots, kvContext, logitRows;
  /// Kernel functions by signature.
  llvm::StringMap<func::FuncOp> kernels;
  /// Weight globals by tern.weight op.
  DenseMap<Operation *, memref::GlobalOp> weightGlobals;
  /// The kernel being built: op values -> its arguments, and its scalars.
  IRMapping local;
  SmallVector<Value> extras;
};

} // namespace mlir::tern::kernels

#endif // TERN_CONVERSION_KERNELEMITTER_H
