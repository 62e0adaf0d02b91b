//===- GpuLayer.cpp - the whole model on an NVIDIA GPU --------------------===//
//
// Device mode of the kernel lowering (families gpu-host and
// gpu-device-emulation). The forward function becomes host code that
//   - uploads the token ids and positions, and RoPE's cos/sin tables, which
//     it computes from the positions as the CPU kernels do (cos and sin are
//     libm's, so the angles are the CPU's bit for bit);
//   - asks the runtime for the device copies of the weights and the KV
//     cache (made once per run);
//   - launches one kernel per op on device buffers (gpu.launch_func);
//   - copies the logits back.
// So a token step's activations never leave the device. This file builds
// the kernels and their launches; GpuAttention.cpp the attention's, and
// GpuHost.cpp the host-side operations.
//
// Kernels (gpu.func in gpu.module @tern_gpu, one per name and signature):
//   row ops (embedding, RMSNorm, act_quant, norm_quant, RoPE, GLU, add):
//     grid (1, tokens), a block of kRowThreads threads per token row;
//     reductions over the row are trees over shared memory (GpuThreads.h).
//   ternary matmuls: GpuW2.h's kernels, grid (ceil(N / 128), tokens / tile).
//   attention: the new keys and values are appended to the cache by one
//     kernel (grid (1, tokens)), then grid (heads, tokens): the block's
//     threads take positions in turn for the scores (into a device scratch
//     row) and their max and sum, then output dimensions for the weighted
//     sum of V (consecutive threads, consecutive addresses).
//   LM head: a thread per vocabulary row, grid (ceil(V / 128), rows).
// Float math is IEEE (no fast-math, no FMA contraction, exp as the CPU's
// polynomial), so the emulation computes what the GPU does; the reductions'
// order differs from the CPU kernels', so logits agree closely, not bit for
// bit.
//
//===----------------------------------------------------------------------===//

#include "GpuKernelEmitter.h"
#include "GpuThreads.h"
#include "tern/Conversion/Numerics.h"
#include "tern/Target/NVPTX/GpuW2.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "llvm/ADT/TypeSwitch.h"

#include <cmath>

using namespace mlir;
using namespace mlir::tern;
using namespace mlir::tern::kernels;

namespace {
constexpr int64_t kVocabThreads = 128;
} // namespace

Value GpuKernelEmitter::blockRmsInverse(BlockThreads &threads, int64_t d,
                                        Value epsilon,
                                        function_ref<Value(Value)> element) {
  Value ss = threads.reduce(/*max=*/false, [&](Value tid) {
    return threads.stridedFold(tid, idx(d), f32(0), [&](Value j, Value acc) {
      Value v = element(j);
      return b.create<arith::AddFOp>(acc, b.create<arith::MulFOp>(v, v));
    });
  });
  // 1 / sqrt(x), as math.rsqrt is lowered on the CPU.
  Value x = b.create<arith::AddFOp>(b.create<arith::DivFOp>(ss, f32(float(d))),
                                    epsilon);
  return b.create<arith::DivFOp>(f32(1), intrinsicF32("llvm.sqrt.f32", x));
}

void GpuKernelEmitter::blockQuantizeRow(BlockThreads &threads, int64_t k,
                                        Value t, Value q, Value s,
                                        function_ref<Value(Value)> element) {
  Value amax = threads.reduce(/*max=*/true, [&](Value tid) {
    return threads.stridedFold(tid, idx(k), f32(0), [&](Value j, Value m) {
      return b.create<arith::MaximumFOp>(
          m, intrinsicF32("llvm.fabs.f32", element(j)));
    });
  });
  Value scale = actQuantScale(b, b.getLoc(), amax);
  // Every thread stores the same value.
  b.create<memref::StoreOp>(scale, s, ValueRange{t});
  threads.each([&](Value tid) {
    threads.strided(tid, idx(k), [&](Value j) {
      b.create<memref::StoreOp>(actQuantize(b, b.getLoc(), element(j), scale),
                                q, ValueRange{t, j});
    });
  });
}

LogicalResult GpuKernelEmitter::lower(Operation *op) {
  // Weights become the runtime's device copies (placeWeight); every other
  // op is launched.
  if (auto weight = dyn_cast<WeightOp>(op))
    if (getPackedBF16Encoding(weight.getType()))
      return op->emitOpError()
             << "weight '" << weight.getName()
             << "' is a #tern.packed_bf16 table, which only CPU kernels "
                "read (ternc packs the head only for them)";
  if (isa<WeightOp, BitLinearOp>(op))
    return KernelEmitter::lower(op);
  if (failed(checkStaticFeatures(op)))
    return failure();
  return launch(op);
}

LogicalResult GpuKernelEmitter::launch(Operation *op) {
  // Weights are gpu_w2 (checkWeightLayouts, TernToKernels.cpp).
  // Output buffers in device memory: [tokens, ...].
  for (Value result : op->getResults()) {
    if (Value direct = outputs.lookup(result)) {
      map.map(result, direct);
      continue;
    }
    MemRefType type = storageType(result.getType());
    SmallVector<Value> sizes;
    if (type.isDynamicDim(0))
      sizes.push_back(tokens);
    map.map(result, deviceAlloc(type, sizes));
  }
  auto arg = [&](Value v) { return map.lookup(v); };
  auto width = [&](Value v) {
    return cast<MemRefType>(arg(v).getType()).getDimSize(1);
  };
  auto rows = [&](Value v) { return dim(arg(v), 0); };
  auto name = [&](StringRef kind, int64_t n) {
    return (kind + "_" + Twine(n)).str();
  };

  TypeSwitch<Operation *>(op)
      .Case([&](EmbeddingOp o) {
        Value out = arg(o.getResult());
        int64_t d = cast<MemRefType>(out.getType()).getDimSize(1);
        launchKernel(name("embedding", d),
                     {arg(o.getTable()), arg(o.getIds()), out}, idx(1),
                     rows(o.getIds()), kRowThreads,
                     [&](BlockThreads &th, Value, Value t, ValueRange a) {
                       Value row = b.create<arith::IndexCastOp>(
                           b.getIndexType(),
                           b.create<memref::LoadOp>(a[1], ValueRange{t}));
                       th.each([&](Value tid) {
                         th.strided(tid, idx(d), [&](Value j) {
                           Value v = elementToF32(b.create<memref::LoadOp>(
                               a[0], ValueRange{row, j}));
                           b.create<memref::StoreOp>(v, a[2], ValueRange{t, j});
                         });
                       });
                     });
      })
      .Case([&](RMSNormOp o) {
        int64_t d = width(o.getInput());
        float eps = o.getEpsilon().convertToFloat();
        launchKernel(
            name("rms_norm", d),
            {arg(o.getInput()), arg(o.getGamma()), arg(o.getResult()),
             f32(eps)},
            idx(1), rows(o.getInput()), kRowThreads,
            [&](BlockThreads &th, Value, Value t, ValueRange a) {
              Value inv = blockRmsInverse(th, d, a[3], [&](Value j) -> Value {
                return b.create<memref::LoadOp>(a[0], ValueRange{t, j});
              });
              th.each([&](Value tid) {
                th.strided(tid, idx(d), [&](Value j) {
                  Value x = b.create<memref::LoadOp>(a[0], ValueRange{t, j});
                  Value y = b.create<arith::MulFOp>(
                      b.create<arith::MulFOp>(x, inv),
                      b.create<memref::LoadOp>(a[1], ValueRange{j}));
                  b.create<memref::StoreOp>(y, a[2], ValueRange{t, j});
                });
              });
            });
      })
      .Case([&](ActQuantOp o) {
        int64_t k = width(o.getInput());
        launchKernel(
            name("act_quant", k),
            {arg(o.getInput()), arg(o.getQuantized()), arg(o.getScale())},
            idx(1), rows(o.getInput()), kRowThreads,
            [&](BlockThreads &th, Value, Value t, ValueRange a) {
              blockQuantizeRow(th, k, t, a[1], a[2], [&](Value j) {
                return b.create<memref::LoadOp>(a[0], ValueRange{t, j});
              });
            });
      })
      .Case([&](NormQuantOp o) {
        Value x = o.getInputs()[0];
        bool glu = o.getInputs().size() == 2;
        int64_t d = width(x);
        float eps = o.getEpsilon().convertToFloat();
        SmallVector<Value> args = {arg(x)};
        if (glu)
          args.push_back(arg(o.getInputs()[1]));
        args.append({arg(o.getGamma()), arg(o.getQuantized()),
                     arg(o.getScale()), f32(eps)});
        std::string kind = "norm_quant";
        if (glu)
          kind +=
              o.getActivation() == GluActivation::Relu2 ? "_relu2" : "_silu";
        launchKernel(
            name(kind, d), args, idx(1), rows(x), kRowThreads,
            [&](BlockThreads &th, Value, Value t, ValueRange a) {
              unsigned g = glu ? 2 : 1;
              auto row = [&](Value j) -> Value {
                Value v = b.create<memref::LoadOp>(a[0], ValueRange{t, j});
                if (!glu)
                  return v;
                return gluValue(
                    v, b.create<memref::LoadOp>(a[1], ValueRange{t, j}),
                    *o.getActivation(), 1);
              };
              Value inv = blockRmsInverse(th, d, a[g + 3], row);
              blockQuantizeRow(th, d, t, a[g + 1], a[g + 2], [&](Value j) {
                Value y = b.create<arith::MulFOp>(row(j), inv);
                return b.create<arith::MulFOp>(
                    y, b.create<memref::LoadOp>(a[g], ValueRange{j}));
              });
            });
      })
      .Case([&](GluOp o) {
        int64_t n = width(o.getGate());
        GluActivation act = o.getActivation();
        launchKernel(
            name(act == GluActivation::Relu2 ? "glu_relu2" : "glu_silu", n),
            {arg(o.getGate()), arg(o.getUp()), arg(o.getResult())}, idx(1),
            rows(o.getGate()), kRowThreads,
            [&](BlockThreads &th, Value, Value t, ValueRange a) {
              th.each([&](Value tid) {
                th.strided(tid, idx(n), [&](Value j) {
                  Value y = gluValue(
                      b.create<memref::LoadOp>(a[0], ValueRange{t, j}),
                      b.create<memref::LoadOp>(a[1], ValueRange{t, j}), act, 1);
                  b.create<memref::StoreOp>(y, a[2], ValueRange{t, j});
                });
              });
            });
      })
      .Case([&](AddOp o) {
        int64_t n = width(o.getLhs());
        launchKernel(
            name("add", n),
            {arg(o.getLhs()), arg(o.getRhs()), arg(o.getResult())}, idx(1),
            rows(o.getLhs()), kRowThreads,
            [&](BlockThreads &th, Value, Value t, ValueRange a) {
              th.each([&](Value tid) {
                th.strided(tid, idx(n), [&](Value j) {
                  Value y = b.create<arith::AddFOp>(
                      b.create<memref::LoadOp>(a[0], ValueRange{t, j}),
                      b.create<memref::LoadOp>(a[1], ValueRange{t, j}));
                  b.create<memref::StoreOp>(y, a[2], ValueRange{t, j});
                });
              });
            });
      })
      .Case([&](UnaryOp o) {
        int64_t n = width(o.getInput());
        UnaryFn fn = o.getFn();
        launchKernel(
            name(("unary_" + stringifyUnaryFn(fn)).str(), n),
            {arg(o.getInput()), arg(o.getResult())}, idx(1), rows(o.getInput()),
            kRowThreads, [&](BlockThreads &th, Value, Value t, ValueRange a) {
              th.each([&](Value tid) {
                th.strided(tid, idx(n), [&](Value j) {
                  Value x = b.create<memref::LoadOp>(a[0], ValueRange{t, j});
                  b.create<memref::StoreOp>(unaryValue(fn, x, 1), a[1],
                                            ValueRange{t, j});
                });
              });
            });
      })
      .Case([&](BinaryOp o) {
        Value out = arg(o.getResult());
        int64_t n = cast<MemRefType>(out.getType()).getDimSize(1);
        BinaryFn fn = o.getFn();
        launchKernel(
            name(("binary_" + stringifyBinaryFn(fn)).str(), n),
            {arg(o.getLhs()), arg(o.getRhs()), out}, idx(1), dim(out, 0),
            kRowThreads, [&](BlockThreads &th, Value, Value t, ValueRange a) {
              th.each([&](Value tid) {
                th.strided(tid, idx(n), [&](Value j) {
                  Value z = binaryValue(fn, binaryOperand(a[0], n, t, j, 1),
                                        binaryOperand(a[1], n, t, j, 1));
                  b.create<memref::StoreOp>(z, a[2], ValueRange{t, j});
                });
              });
            });
      })
      .Case([&](ReduceOp o) {
        int64_t n = width(o.getInput());
        ReduceFn fn = o.getFn();
        bool max = fn == ReduceFn::Max;
        launchKernel(
            name(("reduce_" + stringifyReduceFn(fn)).str(), n),
            {arg(o.getInput()), arg(o.getResult())}, idx(1), rows(o.getInput()),
            kRowThreads, [&](BlockThreads &th, Value, Value t, ValueRange a) {
              Value y = th.reduce(max, [&](Value tid) {
                return th.stridedFold(
                    tid, idx(n), f32(max ? -INFINITY : 0.0f),
                    [&](Value j, Value acc) -> Value {
                      Value x =
                          b.create<memref::LoadOp>(a[0], ValueRange{t, j});
                      if (max)
                        return b.create<arith::MaximumFOp>(acc, x);
                      return b.create<arith::AddFOp>(acc, x);
                    });
              });
              if (fn == ReduceFn::Mean)
                y = b.create<arith::DivFOp>(y, f32(float(n)));
              // Every thread stores the same value.
              b.create<memref::StoreOp>(y, a[1], ValueRange{t, idx(0)});
            });
      })
      .Case([&](TernaryMatmulOp o) { launchTernaryMatmul(o); })
      .Case([&](RopeOp o) { launchRope(o); })
      .Case([&](AttentionOp o) { launchAttention(o); })
      .Case([&](LMHeadOp o) {
        // The LM head that writes the caller's logits computes only the
        // rows asked for.
        launchFloatMatmul(arg(o.getInput()), arg(o.getTable()),
                          arg(o.getResult()),
                          o.getScales() ? arg(o.getScales()) : Value(),
                          outputs.count(o.getResult()) ? logitRows : Value());
      })
      .Case([&](LinearOp o) {
        launchFloatMatmul(arg(o.getInput()), arg(o.getWeight()),
                          arg(o.getResult()), Value(), Value());
      });
  return success();
}

void GpuKernelEmitter::launchTernaryMatmul(TernaryMatmulOp op) {
  Value q = map.lookup(op.getInput()), s = map.lookup(op.getScale());
  Value count = dim(q, 0);
  for (auto [i, weight] : llvm::enumerate(op.getWeights())) {
    auto type = cast<RankedTensorType>(weight.getType());
    int64_t n = type.getDimSize(0), k = type.getDimSize(1);
    int64_t words = n * llvm::divideCeil(k, 16);
    Value w =
        b.create<memref::ViewOp>(MemRefType::get({words}, b.getI32Type()),
                                 map.lookup(weight), idx(0), ValueRange{});
    SmallVector<Value> args = {q, s, w, map.lookup(op.getResult(i)),
                               f32(op.getScales()[i])};
    bool residual = bool(op.getResidual());
    if (residual)
      args.push_back(map.lookup(op.getResidual()));
    // The decode kernel for one token, else the prefill kernel.
    auto grid = [&](int64_t tile) {
      Value tiles = b.create<arith::DivUIOp>(
          b.create<arith::AddIOp>(count, idx(tile - 1)), idx(tile));
      std::string name = gpuW2KernelName(k, n, residual, tile);
      Dp4a dp4a = onGpu() ? Dp4a(dp4aPTX) : Dp4a(dp4aArith);
      launchKernel(StringRef(name).drop_front(strlen("tern_gpu_")), args,
                   idx(llvm::divideCeil(n, kW2Threads)), tiles, kW2Threads,
                   [&](BlockThreads &th, Value bx, Value by, ValueRange a) {
                     th.each([&](Value tid) {
                       gpuW2Thread(b, b.getLoc(), bx, by, tid, a, k, n, tile,
                                   dp4a);
                     });
                   });
    };
    // Decode: K split among thread rows (GpuW2.h's gpuW2Splits), the int32
    // partial sums added by a second kernel, exactly: the same results as
    // one thread per row.
    auto splitDecode = [&]() {
      int64_t splits = gpuW2Splits(k, n);
      if (splits == 1)
        return grid(1);
      int64_t blocks = llvm::divideCeil(k, 16);
      int64_t per = llvm::divideCeil(blocks, splits);
      Dp4a dp4a = onGpu() ? Dp4a(dp4aPTX) : Dp4a(dp4aArith);
      Value partial = deviceAlloc(
          MemRefType::get({ShapedType::kDynamic, n}, b.getI32Type()),
          ValueRange{b.create<arith::MulIOp>(count, idx(splits))},
          /*freeAtEnd=*/false);
      Value rowBlocks = idx(llvm::divideCeil(n, kW2Threads));
      auto forRow = [&](Value bx, Value tid, function_ref<void(Value)> body) {
        Value row = b.create<arith::AddIOp>(
            b.create<arith::MulIOp>(bx, idx(kW2Threads)), tid);
        ifBelow(row, idx(n), [&] { body(row); });
      };
      std::string tag = "_k" + std::to_string(k) + "_n" + std::to_string(n) +
                        "_s" + std::to_string(splits);
      launchKernel(
          "w2a8" + tag + "_t1", {q, w, partial}, rowBlocks,
          b.create<arith::MulIOp>(count, idx(splits)), kW2Threads,
          [&](BlockThreads &th, Value bx, Value by, ValueRange a) {
            Value t = b.create<arith::DivUIOp>(by, idx(splits));
            Value part = b.create<arith::RemUIOp>(by, idx(splits));
            Value lo = b.create<arith::MinUIOp>(
                b.create<arith::MulIOp>(part, idx(per)), idx(blocks));
            Value hi = b.create<arith::MinUIOp>(
                b.create<arith::AddIOp>(lo, idx(per)), idx(blocks));
            th.each([&](Value tid) {
              forRow(bx, tid, [&](Value row) {
                SmallVector<Value> dots =
                    gpuW2Dot(b, b.getLoc(), a[0], a[1], t, dim(a[0], 0), 1, row,
                             k, n, dp4a, lo, hi);
                b.create<memref::StoreOp>(dots[0], a[2], ValueRange{by, row});
              });
            });
          });
      SmallVector<Value> sumArgs = {partial, s, args[3], args[4]};
      if (residual)
        sumArgs.push_back(args[5]);
      launchKernel(
          "w2a8_sum_n" + std::to_string(n) + "_s" + std::to_string(splits) +
              (residual ? "_residual" : ""),
          sumArgs, rowBlocks, count, kW2Threads,
          [&](BlockThreads &th, Value bx, Value t, ValueRange a) {
            th.each([&](Value tid) {
              forRow(bx, tid, [&](Value row) {
                Value first = b.create<arith::MulIOp>(t, idx(splits));
                Value acc = i32(0);
                for (int64_t j = 0; j < splits; ++j)
                  acc = b.create<arith::AddIOp>(
                      acc, b.create<memref::LoadOp>(
                               a[0], ValueRange{
                                         b.create<arith::AddIOp>(first, idx(j)),
                                         row}));
                gpuW2Store(b, b.getLoc(), {acc}, t, dim(a[2], 0), row, a[1],
                           a[3], a[2], a.size() > 4 ? a[4] : Value());
              });
            });
          });
      deviceFree(partial);
    };
    auto decode = b.create<scf::IfOp>(
        b.create<arith::CmpIOp>(arith::CmpIPredicate::eq, count, idx(1)),
        /*else=*/true);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(&decode.getThenRegion().front());
    splitDecode();
    b.setInsertionPointToStart(&decode.getElseRegion().front());
    grid(kPrefillTile);
  }
}

void GpuKernelEmitter::launchRope(RopeOp op) {
  int64_t headDim = op.getHeadDim(), half = headDim / 2;
  float theta = op.getTheta().convertToFloat();
  auto &[cosTable, sinTable] =
      ropeTables[{theta, headDim, op.getScalingAttr().getAsOpaquePointer(),
                  op.getFreqFactorsAttr().getAsOpaquePointer()}];
  if (!cosTable) {
    // cos and sin of p * inv_freq[i], on the host with the CPU kernels'
    // operations.
    SmallVector<float> invFreq = ropeInverseFrequencies(op);
    auto freqType = MemRefType::get({half}, b.getF32Type());
    memref::GlobalOp global;
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPoint(forward);
      global = b.create<memref::GlobalOp>(
          "tern_rope_inv_freq", b.getStringAttr("private"), freqType,
          DenseElementsAttr::get(RankedTensorType::get({half}, b.getF32Type()),
                                 ArrayRef<float>(invFreq)),
          /*constant=*/true, IntegerAttr());
      symbols.insert(global);
    }
    Value freqs = b.create<memref::GetGlobalOp>(freqType, global.getSymName());
    auto tableType =
        MemRefType::get({ShapedType::kDynamic, half}, b.getF32Type());
    Value hostCos = b.create<memref::AllocOp>(tableType, ValueRange{tokens});
    Value hostSin = b.create<memref::AllocOp>(tableType, ValueRange{tokens});
    hostBuffers.append({hostCos, hostSin});
    forEach(tokens, [&](Value t) {
      Value p = b.create<arith::SIToFPOp>(
          b.getF32Type(),
          b.create<memref::LoadOp>(hostPositions, ValueRange{t}));
      forEach(idx(half), [&](Value i) {
        Value angle = b.create<arith::MulFOp>(
            p, b.create<memref::LoadOp>(freqs, ValueRange{i}));
        b.create<memref::StoreOp>(b.create<math::CosOp>(angle), hostCos,
                                  ValueRange{t, i});
        b.create<memref::StoreOp>(b.create<math::SinOp>(angle), hostSin,
                                  ValueRange{t, i});
      });
    });
    cosTable = deviceAlloc(tableType, tokens);
    sinTable = deviceAlloc(tableType, tokens);
    copy(hostCos, cosTable);
    copy(hostSin, sinTable);
  }
  Value x = map.lookup(op.getInput());
  int64_t heads = cast<MemRefType>(x.getType()).getDimSize(1) / headDim;
  bool halfSplit = op.getStyle() == RopeStyle::HalfSplit;
  launchKernel(
      (Twine(halfSplit ? "rope_half_" : "rope_interleaved_") +
       Twine(heads * headDim) + "_d" + Twine(headDim))
          .str(),
      {x, cosTable, sinTable, map.lookup(op.getResult())}, idx(1), tokens,
      kRowThreads, [&](BlockThreads &th, Value, Value t, ValueRange a) {
        th.each([&](Value tid) {
          th.strided(tid, idx(heads * half), [&](Value pair) {
            Value h = b.create<arith::DivUIOp>(pair, idx(half));
            Value i = b.create<arith::RemUIOp>(pair, idx(half));
            Value base = b.create<arith::MulIOp>(h, idx(headDim));
            Value ia = halfSplit
                           ? b.create<arith::AddIOp>(base, i)
                           : b.create<arith::AddIOp>(
                                 base, b.create<arith::MulIOp>(i, idx(2)));
            Value ib = b.create<arith::AddIOp>(ia, idx(halfSplit ? half : 1));
            Value c = b.create<memref::LoadOp>(a[1], ValueRange{t, i});
            Value s = b.create<memref::LoadOp>(a[2], ValueRange{t, i});
            Value va = b.create<memref::LoadOp>(a[0], ValueRange{t, ia});
            Value vb = b.create<memref::LoadOp>(a[0], ValueRange{t, ib});
            Value ra = b.create<arith::SubFOp>(b.create<arith::MulFOp>(va, c),
                                               b.create<arith::MulFOp>(vb, s));
            Value rb = b.create<arith::AddFOp>(b.create<arith::MulFOp>(vb, c),
                                               b.create<arith::MulFOp>(va, s));
            b.create<memref::StoreOp>(ra, a[3], ValueRange{t, ia});
            b.create<memref::StoreOp>(rb, a[3], ValueRange{t, ib});
          });
        });
      });
}

void GpuKernelEmitter::launchFloatMatmul(Value x, Value table, Value out,
                                         Value scales, Value rows) {
  // out[r, v] = x[t, :] . table[v, :], t = rows[r] (the LM head computes
  // only the rows asked for), else t = r. A block computes 128 table rows, a
  // thread each, over chunks of kChunk columns: the block first copies the
  // chunk of its rows into shared memory (consecutive threads read consecutive
  // elements of a row: coalesced), then each thread adds its row's products, in
  // column order. An int8 table (`scales`) takes the int8 head's formula
  // (Numerics.h): the block reduces the x row's amax, each product is of
  // integers, and the i32 sums live in the shared f32 array by their bits.
  constexpr int64_t kChunk = 32, kStride = kChunk + 1; // no bank conflicts
  auto tableType = cast<MemRefType>(table.getType());
  int64_t vocab = tableType.getDimSize(0), d = tableType.getDimSize(1);
  SmallVector<Value> args = {x, table, out};
  if (rows)
    args.push_back(rows);
  if (scales)
    args.push_back(scales);
  std::string kind;
  llvm::raw_string_ostream(kind)
      << "float_matmul_" << tableType.getElementType() << "_n" << vocab << "_k"
      << d << (rows ? "_rows" : "") << (scales ? "_scaled" : "");
  launchKernel(
      kind, args, idx(llvm::divideCeil(vocab, kVocabThreads)), dim(out, 0),
      kVocabThreads, [&](BlockThreads &th, Value bx, Value r, ValueRange a) {
        Value t = rows ? Value(b.create<arith::IndexCastOp>(
                             b.getIndexType(),
                             b.create<memref::LoadOp>(a[3], ValueRange{r})))
                       : r;
        Value scaleArg = scales ? a.back() : Value();
        int64_t qmax = headQuantMax(d);
        Value xScale;
        if (scaleArg) {
          Value amax = th.reduce(/*max=*/true, [&](Value tid) {
            return th.stridedFold(tid, idx(d), f32(0), [&](Value j, Value m) {
              return b.create<arith::MaximumFOp>(
                  m,
                  intrinsicF32("llvm.fabs.f32", b.create<memref::LoadOp>(
                                                    a[0], ValueRange{t, j})));
            });
          });
          xScale = headQuantScale(b, b.getLoc(), amax, qmax);
        }
        auto asI32 = [&](Value f) -> Value {
          return b.create<arith::BitcastOp>(b.getI32Type(), f);
        };
        Value v0 = b.create<arith::MulIOp>(bx, idx(kVocabThreads));
        Value tile = th.shared(kVocabThreads * kStride);
        Value acc = th.shared(kVocabThreads);
        th.phase([&](Value tid) {
          b.create<memref::StoreOp>(f32(0), acc, ValueRange{tid});
        });
        forRange(idx(0), idx(d), kChunk, [&](Value c0) {
          th.phase([&](Value tid) {
            th.strided(tid, idx(kVocabThreads * kChunk), [&](Value l) {
              Value row = b.create<arith::DivUIOp>(l, idx(kChunk));
              Value col = b.create<arith::RemUIOp>(l, idx(kChunk));
              Value v = b.create<arith::AddIOp>(v0, row);
              Value j = b.create<arith::AddIOp>(c0, col);
              Value inside = b.create<arith::AndIOp>(
                  b.create<arith::CmpIOp>(arith::CmpIPredicate::ult, v,
                                          idx(vocab)),
                  b.create<arith::CmpIOp>(arith::CmpIPredicate::ult, j,
                                          idx(d)));
              auto load = b.create<scf::IfOp>(b.getF32Type(), inside,
                                              /*else=*/true);
              {
                OpBuilder::InsertionGuard guard(b);
                b.setInsertionPointToStart(&load.getThenRegion().front());
                b.create<scf::YieldOp>(elementToF32(
                    b.create<memref::LoadOp>(a[1], ValueRange{v, j})));
                b.setInsertionPointToStart(&load.getElseRegion().front());
                b.create<scf::YieldOp>(f32(0));
              }
              Value at = b.create<arith::AddIOp>(
                  b.create<arith::MulIOp>(row, idx(kStride)), col);
              b.create<memref::StoreOp>(load.getResult(0), tile,
                                        ValueRange{at});
            });
          });
          Value width = b.create<arith::MinUIOp>(
              idx(kChunk), b.create<arith::SubIOp>(idx(d), c0));
          th.phase([&](Value tid) {
            Value base = b.create<arith::MulIOp>(tid, idx(kStride));
            Value sum = b.create<memref::LoadOp>(acc, ValueRange{tid});
            if (xScale)
              sum = asI32(sum);
            sum = reduce(width, sum, [&](Value c, Value s) -> Value {
              Value e = b.create<memref::LoadOp>(
                  tile, ValueRange{b.create<arith::AddIOp>(base, c)});
              Value xv = b.create<memref::LoadOp>(
                  a[0], ValueRange{t, b.create<arith::AddIOp>(c0, c)});
              if (xScale) {
                Type i32 = b.getI32Type();
                Value xq = b.create<arith::ExtSIOp>(
                    i32, headQuantize(b, b.getLoc(), xv, xScale, qmax));
                Value ei = b.create<arith::FPToSIOp>(i32, e); // exact
                return b.create<arith::AddIOp>(s,
                                               b.create<arith::MulIOp>(xq, ei));
              }
              return b.create<arith::AddFOp>(s, b.create<arith::MulFOp>(xv, e));
            });
            if (xScale)
              sum = b.create<arith::BitcastOp>(b.getF32Type(), sum);
            b.create<memref::StoreOp>(sum, acc, ValueRange{tid});
          });
        });
        th.each([&](Value tid) {
          Value v = b.create<arith::AddIOp>(v0, tid);
          ifBelow(v, idx(vocab), [&] {
            Value y = b.create<memref::LoadOp>(acc, ValueRange{tid});
            if (scaleArg)
              y = dequantize(
                  b, b.getLoc(), asI32(y), [&] { return xScale; },
                  b.create<memref::LoadOp>(scaleArg, ValueRange{v}));
            b.create<memref::StoreOp>(y, a[2], ValueRange{r, v});
          });
        });
      });
}
