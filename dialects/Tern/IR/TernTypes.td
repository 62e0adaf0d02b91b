//===- TernTypes.td - Tern types ---------------------------*- tablegen -*-===//

#ifndef TERN_TYPES
#define TERN_TYPES

include "TernDialect.td"
include "mlir/IR/BuiltinTypeInterfaces.td"

def Tern_TritType : TypeDef<Tern_Dialect, "Trit"> {
  let mnemonic = "trit";
  let summary = "a ternary value: -1, 0 or +1";
  let description = [{
    The element type of ternary weight tensors, e.g.
    `tensor<2560x2560x!tern.trit>`. Unpacked, one trit is stored as one signed
    byte; a `#tern.packed<...>` tensor encoding says how trits are packed into
    bytes instead.
  }];
}

#endif // TERN_TYPES
