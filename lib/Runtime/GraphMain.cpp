//===- GraphMain.cpp - executables of generic (row-wise) ONNX graphs ------===//
//
// A graph compiled by the ONNX frontend's generic path has no tokens: it
// maps float inputs [rows..., features] to outputs with the same rows. Its
// executable reads each input from a .npy file, runs the generated
// _mlir_ciface_tern_graph once over all rows, and writes each output.
// tern_graph_signature (generated) names the inputs and outputs, one per
// line: "in|out NAME RANK DIM...", -1 for a dimension left free.
//
//===----------------------------------------------------------------------===//

#include "tern/Runtime/Graph.h"
#include "tern/Runtime/Npy.h"
#include "tern/Runtime/Parallel.h"
#include "tern/Runtime/tern_model.h"

#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <sstream>
#include <string>
#include <vector>

using namespace tern::rt;

// Language model executables link this file too, without a graph.
#pragma weak _mlir_ciface_tern_graph

namespace {

struct Port {
  bool input = false;
  std::string name;
  std::vector<int64_t> dims;
  std::string file;
};

int fail(const std::string &message) {
  std::fprintf(stderr, "error: %s\n", message.c_str());
  return 1;
}

std::string shapeString(const std::vector<int64_t> &dims) {
  std::string s = "[";
  for (size_t d = 0; d < dims.size(); ++d)
    s += (d ? ", " : "") +
         (dims[d] < 0 ? std::string("?") : std::to_string(dims[d]));
  return s + "]";
}

std::string names(const std::vector<Port> &ports, bool input) {
  std::string s;
  for (const Port &p : ports)
    if (p.input == input)
      s += (s.empty() ? "" : ", ") + p.name + " " + shapeString(p.dims);
  return s;
}

const char *usage(const std::vector<Port> &ports) {
  static std::string text;
  text = "usage: MODEL --input NAME=FILE.npy ... --output NAME=FILE.npy ... "
         "[-t N] [-q]\n\n"
         "Runs the compiled graph once on float32 .npy inputs (C order) and "
         "writes\nits outputs as .npy files. Dimensions marked ? are free; "
         "every input has the\nsame ones, and so do the outputs.\n\n"
         "  inputs:  " +
         names(ports, true) + "\n  outputs: " + names(ports, false) +
         "\n  -t N     threads (default: the machine's cores)\n"
         "  -q       no timing line\n";
  return text.c_str();
}

} // namespace

int tern::rt::runGraph(int argc, char **argv, const char *signature) {
  std::vector<Port> ports;
  std::istringstream lines(signature);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream words(line);
    Port p;
    std::string kind;
    size_t rank = 0;
    words >> kind >> p.name >> rank;
    p.input = kind == "in";
    p.dims.resize(rank);
    for (int64_t &d : p.dims)
      words >> d;
    ports.push_back(p);
  }

  int threads = 0;
  bool quiet = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      std::fputs(usage(ports), stdout);
      return 0;
    }
    if (arg == "-q") {
      quiet = true;
      continue;
    }
    bool isInput = arg == "--input" || arg == "-i";
    if (isInput || arg == "--output" || arg == "-o" || arg == "-t") {
      if (i + 1 >= argc)
        return fail(arg + " needs a value");
      std::string value = argv[++i];
      if (arg == "-t") {
        char *end = nullptr;
        threads = int(std::strtol(value.c_str(), &end, 10));
        if (*end || threads < 1)
          return fail("-t '" + value + "' is not a positive number");
        continue;
      }
      size_t eq = value.find('=');
      if (eq == std::string::npos)
        return fail(arg + " '" + value + "' is not NAME=FILE.npy");
      std::string name = value.substr(0, eq);
      Port *port = nullptr;
      for (Port &p : ports)
        if (p.name == name && p.input == isInput)
          port = &p;
      if (!port)
        return fail("the graph has no " +
                    std::string(isInput ? "input" : "output") + " '" + name +
                    "' (" + (isInput ? "inputs" : "outputs") + ": " +
                    names(ports, isInput) + ")");
      port->file = value.substr(eq + 1);
      continue;
    }
    return fail("unknown argument '" + arg + "' (see --help)");
  }

  // Read every input; all share their leading dimensions.
  std::vector<float> in, out;
  std::vector<int64_t> lead;
  bool anyOutput = false;
  for (Port &p : ports) {
    if (!p.input) {
      anyOutput |= !p.file.empty();
      continue;
    }
    if (p.file.empty())
      return fail("no --input " + p.name +
                  "=FILE.npy (inputs: " + names(ports, true) + ")");
    std::vector<int64_t> shape;
    std::vector<float> data;
    std::string error;
    if (!readNpyF32(p.file, shape, data, error))
      return fail("--input " + p.name + ": " + error);
    bool fits = shape.size() == p.dims.size();
    for (size_t d = 0; fits && d < shape.size(); ++d)
      fits = p.dims[d] < 0 || p.dims[d] == shape[d];
    std::vector<int64_t> leading(shape.begin(),
                                 shape.end() - (shape.empty() ? 0 : 1));
    if (!fits)
      return fail("--input " + p.name + ": '" + p.file + "' has shape " +
                  shapeString(shape) + ", the graph takes " +
                  shapeString(p.dims));
    if (in.empty())
      lead = leading;
    else if (leading != lead)
      return fail("--input " + p.name + ": '" + p.file + "' has shape " +
                  shapeString(shape) + ", but the other inputs have rows " +
                  shapeString(lead));
    in.insert(in.end(), data.begin(), data.end());
  }
  if (!anyOutput)
    return fail("nothing to write: pass --output NAME=FILE.npy (outputs: " +
                names(ports, false) + ")");
  int64_t rows = 1;
  for (int64_t d : lead)
    rows *= d;
  int64_t outWidth = 0;
  for (const Port &p : ports)
    if (!p.input)
      outWidth += p.dims.back();
  out.assign(size_t(rows * outWidth), 0.0f);

  setNumThreads(threads ? threads : defaultThreads());
  auto start = std::chrono::steady_clock::now();
  tern_bytes inRef = {in.data(), in.data(), 0, {int64_t(in.size() * 4)}, {1}};
  tern_bytes outRef = {
      out.data(), out.data(), 0, {int64_t(out.size() * 4)}, {1}};
  if (rows)
    _mlir_ciface_tern_graph(&inRef, &outRef);
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();

  int64_t offset = 0;
  for (const Port &p : ports) {
    if (p.input)
      continue;
    int64_t width = p.dims.back();
    if (!p.file.empty()) {
      std::vector<int64_t> shape = lead;
      shape.push_back(width);
      std::string error;
      if (!writeNpyF32(p.file, out.data() + offset, shape, error))
        return fail("--output " + p.name + ": " + error);
    }
    offset += rows * width;
  }
  if (!quiet)
    std::fprintf(stderr, "ran %lld rows in %.3f ms\n", (long long)rows,
                 seconds * 1e3);
  return 0;
}
