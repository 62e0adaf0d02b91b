//===- Npy.cpp - Writing .npy files ---------------------------------------===//

#include "tern/Runtime/Npy.h"

#include <cerrno>
#include <cstdio>
#include <cstring>

bool tern::rt::writeNpyF32(const std::string &path, const float *data,
                           int64_t rows, int64_t cols, std::string &error) {
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" +
                       std::to_string(rows) + ", " + std::to_string(cols) +
                       "), }";
  // Magic (6) + version (2) + length (2) + header, padded with spaces and a
  // final newline to a multiple of 64 bytes.
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::string tmp = path + ".partial";
  FILE *f = std::fopen(tmp.c_str(), "wb");
  if (!f) {
    error = "cannot write '" + path + "': " + std::strerror(errno);
    return false;
  }
  const unsigned char magic[8] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0};
  uint16_t len = uint16_t(header.size());
  unsigned char lenBytes[2] = {uint8_t(len & 0xff), uint8_t(len >> 8)};
  size_t n = size_t(rows) * size_t(cols);
  bool ok = std::fwrite(magic, 1, 8, f) == 8 &&
            std::fwrite(lenBytes, 1, 2, f) == 2 &&
            std::fwrite(header.data(), 1, header.size(), f) == header.size() &&
            std::fwrite(data, sizeof(float), n, f) == n;
  ok = (std::fclose(f) == 0) && ok;
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    error = "cannot write '" + path + "': " + std::strerror(errno);
    std::remove(tmp.c_str());
    return false;
  }
  return true;
}
