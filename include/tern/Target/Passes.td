//===- Passes.td - Tern target passes ----------------------*- tablegen -*-===//

#ifndef TERN_TARGET_PASSES
#define TERN_TARGET_PASSES

include "mlir/Pass/PassBase.td"

def TernSetTarget : Pass<"tern-set-target", "ModuleOp"> {
  let summary = "Record the target and its kernel family on the module";
  let description = [{
    Attaches `tern.target = #tern.target<...>` to the module: the triple, CPU
    and features code is generated for, the kernel family, and the layout of
    ternary weights that family reads (from the registry of kernel families,
    `include/tern/Target/KernelFamilies.h`). ternc runs it first in the
    packed phase with what it resolved from `--target`, `--mcpu`, `--mattr`
    and `--kernels`; `tern-pack-weights` and `tern-lower-to-kernels` read the
    attribute. An unknown family, or one for another architecture than the
    triple's, is an error.
  }];
  let options = [
    Option<"triple", "triple", "std::string", /*default=*/"\"\"",
           "LLVM target triple (default: the host's)">,
    Option<"cpu", "cpu", "std::string", /*default=*/"\"\"",
           "LLVM CPU name, or the GPU architecture of NVIDIA targets">,
    Option<"features", "features", "std::string", /*default=*/"\"\"",
           "LLVM target features, +name,-name">,
    Option<"kernels", "kernels", "std::string", /*default=*/"\"scalar\"",
           "kernel family (ternc --list-targets lists them)">
  ];
  let dependentDialects = ["::mlir::tern::TernDialect"];
}

#endif // TERN_TARGET_PASSES
