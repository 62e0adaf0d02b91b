//===- Npy.cpp - Writing .npy files ---------------------------------------===//

#include "tern/Runtime/Npy.h"

#include <cerrno>
#include <cstdio>
#include <cstring>

bool tern::rt::writeNpyF32(const std::string &path, const float *data,
                           int64_t rows, int64_t cols, std::string &error) {
  return writeNpyF32(path, data, {rows, cols}, error);
}

bool tern::rt::writeNpyF32(const std::string &path, const float *data,
                           const std::vector<int64_t> &shape,
                           std::string &error) {
  std::string dims;
  size_t n = 1;
  for (int64_t d : shape) {
    dims += std::to_string(d) + (shape.size() == 1 ? "," : ", ");
    n *= size_t(d);
  }
  if (shape.size() > 1)
    dims.resize(dims.size() - 2);
  std::string header =
      "{'descr': '<f4', 'fortran_order': False, 'shape': (" + dims + "), }";
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

bool tern::rt::readNpyF32(const std::string &path, std::vector<int64_t> &shape,
                          std::vector<float> &data, std::string &error) {
  FILE *f = std::fopen(path.c_str(), "rb");
  if (!f) {
    error = "'" + path + "': " + std::strerror(errno);
    return false;
  }
  std::string bytes;
  char buffer[1 << 16];
  for (size_t got; (got = std::fread(buffer, 1, sizeof buffer, f)) > 0;)
    bytes.append(buffer, got);
  std::fclose(f);
  return parseNpyF32(bytes, path, shape, data, error);
}

bool tern::rt::parseNpyF32(const std::string &bytes, const std::string &name,
                           std::vector<int64_t> &shape,
                           std::vector<float> &data, std::string &error) {
  auto bad = [&](const std::string &why) {
    error = "'" + name + "': " + why;
    return false;
  };
  if (bytes.size() < 10 || bytes.compare(0, 6, "\x93NUMPY") != 0)
    return bad("not a .npy file");
  int major = uint8_t(bytes[6]);
  size_t lenBytes = major == 1 ? 2 : 4, start = 8 + lenBytes;
  if (major < 1 || major > 3 || bytes.size() < start)
    return bad("unknown .npy version " + std::to_string(major));
  size_t len = 0;
  for (size_t k = 0; k < lenBytes; ++k)
    len |= size_t(uint8_t(bytes[8 + k])) << (8 * k);
  if (bytes.size() - start < len)
    return bad("truncated header");
  std::string header = bytes.substr(start, len);
  auto field = [&](const std::string &key) -> std::string {
    size_t at = header.find("'" + key + "'");
    if (at == std::string::npos)
      return "";
    at = header.find(':', at);
    if (at == std::string::npos)
      return "";
    size_t end =
        key == "shape" ? header.find(')', at) : header.find_first_of(",}", at);
    if (end == std::string::npos)
      return "";
    if (key == "shape")
      ++end;
    std::string v = header.substr(at + 1, end - at - 1);
    v.erase(0, v.find_first_not_of(' '));
    return v;
  };
  std::string descr = field("descr");
  if (descr != "'<f4'")
    return bad("holds " + (descr.empty() ? "no dtype" : descr) +
               " elements; Tern reads float32 ('<f4'): convert with "
               "numpy's astype(np.float32)");
  if (field("fortran_order") != "False")
    return bad("is in Fortran order; save a C-order array");
  std::string dims = field("shape");
  shape.clear();
  // The data's size bounds every dimension and their product.
  size_t limit = (bytes.size() - start - len) / 4, count = 1;
  for (size_t at = dims.find_first_of("0123456789"); at != std::string::npos;
       at = dims.find_first_of("0123456789", at)) {
    size_t end = dims.find_first_not_of("0123456789", at);
    std::string digits = dims.substr(at, end - at);
    size_t dim = 0;
    for (char c : digits) {
      dim = dim * 10 + size_t(c - '0');
      if (dim > limit)
        break;
    }
    if (dim > limit || (dim && count > limit / dim))
      return bad("its shape " + dims + " needs more data than the file holds");
    shape.push_back(int64_t(dim));
    count *= dim;
    at = end;
  }
  if (bytes.size() - start - len != count * 4)
    return bad("holds " + std::to_string(bytes.size() - start - len) +
               " bytes of data for " + std::to_string(count) + " floats");
  data.resize(count);
  if (count)
    std::memcpy(data.data(), bytes.data() + start + len, count * 4);
  return true;
}
