//===- Graph.h - main() of generic ONNX graph executables -------*- C++ -*-===//

#ifndef TERN_RUNTIME_GRAPH_H
#define TERN_RUNTIME_GRAPH_H

namespace tern::rt {

/// main() of an executable whose model is a generic graph, described by
/// its generated tern_graph_signature (lib/Runtime/GraphMain.cpp).
int runGraph(int argc, char **argv, const char *signature);

} // namespace tern::rt

#endif // TERN_RUNTIME_GRAPH_H
