//===- ChatTemplateValues.cpp - Jinja values, as Python computes them ----===//
//
// Truth, str(), repr(), json.dumps and equality with Python's semantics,
// since that is what transformers' Jinja2 renders.
//
//===----------------------------------------------------------------------===//

#include "ChatTemplateInternal.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace tern::rt::jinja {

bool truthy(const Value &v) {
  switch (v.kind) {
  case Value::Undefined:
  case Value::None:
    return false;
  case Value::Bool:
    return v.b;
  case Value::Int:
    return v.i != 0;
  case Value::Float:
    return v.f != 0;
  case Value::Str:
    return !v.s.empty();
  case Value::ListV:
    return !v.list->empty();
  case Value::DictV:
    return v.isNamespace || !v.dict->empty();
  case Value::Func:
    return true;
  }
  return false;
}

/// Python's repr of a float: the shortest form that reads back.
std::string floatRepr(double d) {
  if (std::isnan(d))
    return "nan";
  if (std::isinf(d))
    return d > 0 ? "inf" : "-inf";
  char buf[32];
  for (int p = 1; p <= 17; ++p) {
    std::snprintf(buf, sizeof buf, "%.*g", p, d);
    if (std::strtod(buf, nullptr) == d)
      break;
  }
  std::string s = buf;
  if (s.find_first_of(".einn") == std::string::npos)
    s += ".0";
  return s;
}

std::string repr(const Value &v);

/// Python's str().
std::string toString(const Value &v) {
  switch (v.kind) {
  case Value::Undefined:
    return "";
  case Value::None:
    return "None";
  case Value::Bool:
    return v.b ? "True" : "False";
  case Value::Int:
    return std::to_string(v.i);
  case Value::Float:
    return floatRepr(v.f);
  case Value::Str:
    return v.s;
  case Value::Func:
    return "<function " + v.s + ">";
  default:
    return repr(v);
  }
}

/// Python's repr() (strings quoted; lists and dicts of reprs).
std::string repr(const Value &v) {
  if (v.kind == Value::Str) {
    bool dq = v.s.find('\'') != std::string::npos &&
              v.s.find('"') == std::string::npos;
    char q = dq ? '"' : '\'';
    std::string out(1, q);
    for (unsigned char c : v.s) {
      if (c == '\\' || c == q)
        out += '\\', out += char(c);
      else if (c == '\n')
        out += "\\n";
      else if (c == '\r')
        out += "\\r";
      else if (c == '\t')
        out += "\\t";
      else if (c < 0x20 || c == 0x7f) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\x%02x", c);
        out += buf;
      } else
        out += char(c);
    }
    return out + q;
  }
  if (v.kind == Value::ListV) {
    std::string out = "[";
    for (size_t k = 0; k < v.list->size(); ++k)
      out += (k ? ", " : "") + repr((*v.list)[k]);
    return out + "]";
  }
  if (v.kind == Value::DictV) {
    if (v.isNamespace)
      return "<Namespace>";
    std::string out = "{";
    bool first = true;
    for (auto &[k, x] : *v.dict) {
      out += (first ? "" : ", ") + repr(Value::str(k)) + ": " + repr(x);
      first = false;
    }
    return out + "}";
  }
  return toString(v);
}

/// json.dumps(v, ensure_ascii=False, indent=indent) as transformers' tojson.
void toJson(const Value &v, int indent, int depth, std::string &out) {
  auto newline = [&](int d) {
    if (indent < 0)
      return;
    out += '\n';
    out.append(size_t(indent * d), ' ');
  };
  switch (v.kind) {
  case Value::Undefined:
  case Value::None:
    out += "null";
    return;
  case Value::Bool:
    out += v.b ? "true" : "false";
    return;
  case Value::Int:
    out += std::to_string(v.i);
    return;
  case Value::Float:
    out += floatRepr(v.f) == "inf"    ? "Infinity"
           : floatRepr(v.f) == "-inf" ? "-Infinity"
           : floatRepr(v.f) == "nan"  ? "NaN"
                                      : floatRepr(v.f);
    return;
  case Value::Str:
  case Value::Func: {
    out += '"';
    for (unsigned char c : v.s) {
      switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += char(c);
        }
      }
    }
    out += '"';
    return;
  }
  case Value::ListV: {
    if (v.list->empty()) {
      out += "[]";
      return;
    }
    out += '[';
    for (size_t k = 0; k < v.list->size(); ++k) {
      if (k)
        out += indent < 0 ? ", " : ",";
      newline(depth + 1);
      toJson((*v.list)[k], indent, depth + 1, out);
    }
    newline(depth);
    out += ']';
    return;
  }
  case Value::DictV: {
    if (v.dict->empty()) {
      out += "{}";
      return;
    }
    out += '{';
    bool first = true;
    for (auto &[k, x] : *v.dict) {
      if (!first)
        out += indent < 0 ? ", " : ",";
      first = false;
      newline(depth + 1);
      toJson(Value::str(k), indent, depth + 1, out);
      out += ": ";
      toJson(x, indent, depth + 1, out);
    }
    newline(depth);
    out += '}';
    return;
  }
  }
}

bool equal(const Value &a, const Value &b) {
  if (a.isNumber() && b.isNumber())
    return a.number() == b.number();
  if (a.kind != b.kind)
    return false;
  switch (a.kind) {
  case Value::Undefined:
  case Value::None:
    return true;
  case Value::Str:
  case Value::Func:
    return a.s == b.s;
  case Value::ListV:
    if (a.list->size() != b.list->size())
      return false;
    for (size_t k = 0; k < a.list->size(); ++k)
      if (!equal((*a.list)[k], (*b.list)[k]))
        return false;
    return true;
  case Value::DictV:
    return a.dict == b.dict;
  default:
    return false;
  }
}

bool isSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
         c == '\v';
}

std::string strip(const std::string &s, const char *chars, bool left,
                  bool right) {
  auto in = [&](char c) {
    return chars ? std::strchr(chars, c) != nullptr : isSpace(c);
  };
  size_t b = 0, e = s.size();
  while (left && b < e && in(s[b]))
    ++b;
  while (right && e > b && in(s[e - 1]))
    --e;
  return s.substr(b, e - b);
}

} // namespace tern::rt::jinja
