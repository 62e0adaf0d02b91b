//===- tern-opt.cpp - Tern's mlir-opt -------------------------------------===//
//
// The only file that includes MLIR's InitAll*.h (costly to compile).
//
//===----------------------------------------------------------------------===//

#include "tern/Pipeline/Pipeline.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::registerAllPasses();
  mlir::tern::registerAllTernPasses();
  mlir::DialectRegistry registry;
  mlir::registerAllDialects(registry);
  mlir::tern::registerAllTernDialects(registry);
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "Tern optimizer driver\n", registry));
}
