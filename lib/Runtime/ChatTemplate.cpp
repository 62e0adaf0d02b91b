//===- ChatTemplate.cpp - rendering the Jinja subset of chat templates ---===//
//
// ChatTemplate's API: parse (ChatTemplateParse.cpp), then render by walking
// the tree with Python's semantics for values (ChatTemplateValues.cpp), as
// transformers' Jinja2 does. Errors are values, not exceptions (the
// runtime is built without them).
//
//===----------------------------------------------------------------------===//

#include "ChatTemplateInternal.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <ctime>
#include <map>

using namespace tern::rt;
using namespace tern::rt::jinja;

namespace {

class Renderer {
public:
  Renderer(std::string &out, std::string &error) : out(out), error(error) {
    scopes.emplace_back();
  }

  void define(const std::string &name, Value v) {
    scopes.back()[name] = std::move(v);
  }
  bool run(const std::vector<Node> &nodes);

private:
  enum class Flow { Normal, Break, Continue, Error };
  Flow exec(const std::vector<Node> &nodes);
  bool eval(const Expr &e, Value &v);
  bool fail(int line, const std::string &what) {
    if (error.empty())
      error = (line ? "line " + std::to_string(line) + ": " : "") + what;
    return false;
  }
  Value lookup(const std::string &name) const {
    for (auto it = scopes.rbegin(); it != scopes.rend(); ++it)
      if (auto f = it->find(name); f != it->end())
        return f->second;
    static const std::set<std::string> builtins = {
        "raise_exception", "namespace", "range", "strftime_now", "dict"};
    if (builtins.count(name))
      return Value::func(name);
    return Value();
  }
  bool attribute(const Value &obj, const std::string &name, Value &v, int line);
  bool item(const Value &obj, const Value &key, Value &v, int line);
  bool call(const Value &f, std::vector<Value> &args,
            const std::vector<std::string> &kw, Value &v, int line);
  bool filter(const std::string &name, std::vector<Value> &args,
              const std::vector<std::string> &kw, Value &v, int line);
  bool test(const std::string &name, const std::vector<Value> &args,
            bool &result, int line);
  bool binary(const std::string &op, const Value &a, const Value &b, Value &v,
              int line);
  bool iterate(const Value &v, List &items, int line);

  std::string &out;
  std::string &error;
  std::vector<std::map<std::string, Value>> scopes;
};

bool Renderer::run(const std::vector<Node> &nodes) {
  Flow f = exec(nodes);
  return f != Flow::Error;
}

bool Renderer::iterate(const Value &v, List &items, int line) {
  if (v.kind == Value::ListV) {
    items = *v.list;
    return true;
  }
  if (v.kind == Value::DictV && !v.isNamespace) { // keys
    for (auto &[k, x] : *v.dict)
      items.push_back(Value::str(k));
    return true;
  }
  if (v.kind == Value::Str) {
    for (size_t k = 0; k < v.s.size();) {
      size_t n = 1;
      unsigned char c = v.s[k];
      if (c >= 0xf0)
        n = 4;
      else if (c >= 0xe0)
        n = 3;
      else if (c >= 0xc0)
        n = 2;
      items.push_back(Value::str(v.s.substr(k, n)));
      k += n;
    }
    return true;
  }
  if (v.kind == Value::Undefined)
    return true; // Jinja2 iterates an undefined value as empty
  return fail(line, "cannot iterate over " + repr(v));
}

Renderer::Flow Renderer::exec(const std::vector<Node> &nodes) {
  for (const Node &n : nodes) {
    switch (n.kind) {
    case Node::Text:
      out += n.text;
      break;
    case Node::Output: {
      Value v;
      if (!eval(*n.expr, v))
        return Flow::Error;
      out += toString(v);
      break;
    }
    case Node::If:
      for (auto &[cond, body] : n.branches) {
        Value c = Value::boolean(true);
        if (cond && !eval(*cond, c))
          return Flow::Error;
        if (truthy(c)) {
          Flow f = exec(body);
          if (f != Flow::Normal)
            return f;
          break;
        }
      }
      break;
    case Node::For: {
      Value seq;
      List items;
      if (!eval(*n.expr, seq) || !iterate(seq, items, n.line))
        return Flow::Error;
      auto bind = [&](const Value &x) {
        if (n.targets.size() == 1) {
          define(n.targets[0], x);
          return true;
        }
        List parts;
        if (!iterate(x, parts, n.line) || parts.size() != n.targets.size())
          return fail(n.line, "cannot unpack " + repr(x) + " into " +
                                  std::to_string(n.targets.size()) + " names");
        for (size_t k = 0; k < parts.size(); ++k)
          define(n.targets[k], parts[k]);
        return true;
      };
      if (n.filter) {
        List kept;
        for (const Value &x : items) {
          scopes.emplace_back();
          Value keep;
          bool ok = bind(x) && eval(*n.filter, keep);
          scopes.pop_back();
          if (!ok)
            return Flow::Error;
          if (truthy(keep))
            kept.push_back(x);
        }
        items = std::move(kept);
      }
      if (items.empty()) {
        Flow f = exec(n.orelse);
        if (f != Flow::Normal)
          return f;
        break;
      }
      int64_t count = int64_t(items.size());
      for (int64_t k = 0; k < count; ++k) {
        scopes.emplace_back();
        Dict loop = {{"index", Value::integer(k + 1)},
                     {"index0", Value::integer(k)},
                     {"revindex", Value::integer(count - k)},
                     {"revindex0", Value::integer(count - k - 1)},
                     {"first", Value::boolean(k == 0)},
                     {"last", Value::boolean(k == count - 1)},
                     {"length", Value::integer(count)},
                     {"previtem", k > 0 ? items[k - 1] : Value()},
                     {"nextitem", k + 1 < count ? items[k + 1] : Value()}};
        define("loop", Value::dictOf(std::move(loop)));
        if (!bind(items[k])) {
          scopes.pop_back();
          return Flow::Error;
        }
        Flow f = exec(n.body);
        scopes.pop_back();
        if (f == Flow::Error)
          return f;
        if (f == Flow::Break)
          break;
      }
      break;
    }
    case Node::Set:
    case Node::SetBlock: {
      Value v;
      if (n.kind == Node::Set) {
        if (!eval(*n.expr, v))
          return Flow::Error;
      } else {
        std::string captured;
        std::swap(captured, out);
        Flow f = exec(n.body);
        std::swap(captured, out);
        if (f == Flow::Error)
          return f;
        v = Value::str(captured);
      }
      List parts;
      if (n.targets.size() > 1 &&
          (!iterate(v, parts, n.line) || parts.size() != n.targets.size())) {
        fail(n.line, "cannot unpack " + repr(v));
        return Flow::Error;
      }
      for (size_t k = 0; k < n.targets.size(); ++k) {
        const std::string &t = n.targets[k];
        Value x = n.targets.size() > 1 ? parts[k] : v;
        size_t dot = t.find('.');
        if (dot == std::string::npos) {
          define(t, std::move(x));
          continue;
        }
        Value ns = lookup(t.substr(0, dot));
        if (ns.kind != Value::DictV || !ns.isNamespace) {
          fail(n.line, "cannot set an attribute of '" + t.substr(0, dot) +
                           "', which is not a namespace");
          return Flow::Error;
        }
        std::string attr = t.substr(dot + 1);
        bool found = false;
        for (auto &[key, old] : *ns.dict)
          if (key == attr)
            old = x, found = true;
        if (!found)
          ns.dict->emplace_back(attr, x);
      }
      break;
    }
    case Node::Break:
      return Flow::Break;
    case Node::Continue:
      return Flow::Continue;
    case Node::Block: {
      Flow f = exec(n.body);
      if (f != Flow::Normal)
        return f;
      break;
    }
    }
  }
  return Flow::Normal;
}

bool Renderer::attribute(const Value &obj, const std::string &name, Value &v,
                         int line) {
  if (obj.kind == Value::Undefined)
    return fail(line, "'" + name + "' of an undefined value");
  if (obj.kind == Value::DictV) {
    if (const Value *x = obj.get(name)) {
      v = *x;
      return true;
    }
    static const std::set<std::string> methods = {"get", "items", "keys",
                                                  "values"};
    v = methods.count(name) && !obj.isNamespace
            ? Value::func("dict." + name, std::make_shared<Value>(obj))
            : Value();
    return true;
  }
  if (obj.kind == Value::Str) {
    static const std::set<std::string> methods = {
        "strip",   "lstrip",     "rstrip",     "upper",    "lower",
        "title",   "capitalize", "startswith", "endswith", "split",
        "replace", "find",       "count"};
    v = methods.count(name)
            ? Value::func("str." + name, std::make_shared<Value>(obj))
            : Value();
    return true;
  }
  v = Value();
  return true;
}

bool Renderer::item(const Value &obj, const Value &key, Value &v, int line) {
  if (obj.kind == Value::Undefined)
    return fail(line, "an item of an undefined value");
  if (obj.kind == Value::DictV && key.kind == Value::Str)
    return attribute(obj, key.s, v, line);
  if ((obj.kind == Value::ListV || obj.kind == Value::Str) &&
      (key.kind == Value::Int || key.kind == Value::Bool)) {
    int64_t n = obj.kind == Value::ListV ? int64_t(obj.list->size())
                                         : int64_t(obj.s.size());
    int64_t k = key.kind == Value::Int ? key.i : key.b;
    if (k < 0)
      k += n;
    if (k < 0 || k >= n) {
      v = Value();
      return true;
    }
    v = obj.kind == Value::ListV ? (*obj.list)[k]
                                 : Value::str(obj.s.substr(k, 1));
    return true;
  }
  v = Value();
  return true;
}

bool Renderer::test(const std::string &name, const std::vector<Value> &args,
                    bool &r, int line) {
  const Value &x = args[0];
  if (name == "defined")
    r = x.kind != Value::Undefined;
  else if (name == "undefined")
    r = x.kind == Value::Undefined;
  else if (name == "none")
    r = x.kind == Value::None;
  else if (name == "string")
    r = x.kind == Value::Str;
  else if (name == "number")
    r = x.kind == Value::Int || x.kind == Value::Float;
  else if (name == "integer")
    r = x.kind == Value::Int;
  else if (name == "float")
    r = x.kind == Value::Float;
  else if (name == "boolean")
    r = x.kind == Value::Bool;
  else if (name == "true" || name == "false")
    r = x.kind == Value::Bool && x.b == (name == "true");
  else if (name == "mapping")
    r = x.kind == Value::DictV;
  else if (name == "iterable")
    r = x.kind == Value::ListV || x.kind == Value::DictV ||
        x.kind == Value::Str;
  else if (name == "sequence")
    r = x.kind == Value::ListV || x.kind == Value::Str ||
        (x.kind == Value::DictV && !x.isNamespace);
  else if (name == "callable")
    r = x.kind == Value::Func;
  else if (name == "odd" || name == "even") {
    if (x.kind != Value::Int)
      return fail(line, "'" + name + "' of a non-integer");
    r = (x.i % 2 != 0) == (name == "odd");
  } else {
    if (args.size() < 2)
      return fail(line, "test '" + name + "' needs an argument");
    const Value &y = args[1];
    if (name == "divisibleby")
      r = y.isNumber() && y.number() != 0 &&
          std::fmod(x.number(), y.number()) == 0;
    else if (name == "in") {
      Value v;
      if (!binary("in", x, y, v, line))
        return false;
      r = v.b;
    } else if (name == "equalto" || name == "eq" || name == "sameas")
      r = equal(x, y);
    else if (name == "ne")
      r = !equal(x, y);
    else {
      Value v;
      const char *op = name == "lt"   ? "<"
                       : name == "le" ? "<="
                       : name == "gt" ? ">"
                                      : ">=";
      if (!binary(op, x, y, v, line))
        return false;
      r = v.b;
    }
  }
  return true;
}

bool Renderer::binary(const std::string &op, const Value &a, const Value &b,
                      Value &v, int line) {
  auto typeError = [&] {
    return fail(line, "unsupported operand types for " + op + ": " + repr(a) +
                          " and " + repr(b));
  };
  if (op == "~") {
    v = Value::str(toString(a) + toString(b));
    return true;
  }
  if (op == "==" || op == "!=") {
    v = Value::boolean(equal(a, b) == (op == "=="));
    return true;
  }
  if (op == "in" || op == "not in") {
    bool found = false;
    if (b.kind == Value::Str && a.kind == Value::Str)
      found = b.s.find(a.s) != std::string::npos;
    else if (b.kind == Value::ListV)
      found = std::any_of(b.list->begin(), b.list->end(),
                          [&](const Value &x) { return equal(a, x); });
    else if (b.kind == Value::DictV && a.kind == Value::Str)
      found = b.get(a.s) != nullptr;
    else if (b.kind == Value::Undefined)
      return fail(line, "'in' an undefined value");
    else
      return typeError();
    v = Value::boolean(found == (op == "in"));
    return true;
  }
  if (op == "<" || op == "<=" || op == ">" || op == ">=") {
    int c;
    if (a.isNumber() && b.isNumber())
      c = a.number() < b.number() ? -1 : a.number() > b.number();
    else if (a.kind == Value::Str && b.kind == Value::Str)
      c = a.s.compare(b.s) < 0 ? -1 : a.s.compare(b.s) > 0;
    else
      return typeError();
    v = Value::boolean(op == "<"    ? c < 0
                       : op == "<=" ? c <= 0
                       : op == ">"  ? c > 0
                                    : c >= 0);
    return true;
  }
  if (op == "+") {
    if (a.kind == Value::Str && b.kind == Value::Str) {
      v = Value::str(a.s + b.s);
      return true;
    }
    if (a.kind == Value::ListV && b.kind == Value::ListV) {
      List l = *a.list;
      l.insert(l.end(), b.list->begin(), b.list->end());
      v = Value::listOf(std::move(l));
      return true;
    }
  }
  if (op == "*" && a.kind == Value::Str && b.kind == Value::Int) {
    std::string s;
    for (int64_t k = 0; k < b.i; ++k)
      s += a.s;
    v = Value::str(s);
    return true;
  }
  if (!a.isNumber() || !b.isNumber())
    return typeError();
  bool ints = a.kind != Value::Float && b.kind != Value::Float;
  double x = a.number(), y = b.number();
  if (op == "/") {
    if (y == 0)
      return fail(line, "division by zero");
    v = Value::real(x / y);
    return true;
  }
  if ((op == "//" || op == "%") && y == 0)
    return fail(line, "division by zero");
  if (ints) {
    int64_t p = a.kind == Value::Int ? a.i : a.b,
            q = b.kind == Value::Int ? b.i : b.b;
    int64_t r = op == "+" ? p + q : op == "-" ? p - q : op == "*" ? p * q : 0;
    if (op == "//" || op == "%") { // Python floors
      int64_t d = p / q, m = p % q;
      if (m != 0 && ((m < 0) != (q < 0)))
        --d, m += q;
      r = op == "//" ? d : m;
    }
    v = Value::integer(r);
    return true;
  }
  double r = op == "+"    ? x + y
             : op == "-"  ? x - y
             : op == "*"  ? x * y
             : op == "//" ? std::floor(x / y)
                          : x - y * std::floor(x / y);
  v = Value::real(r);
  return true;
}

bool Renderer::call(const Value &f, std::vector<Value> &args,
                    const std::vector<std::string> &kw, Value &v, int line) {
  if (f.kind != Value::Func)
    return fail(line, repr(f) + " is not callable");
  size_t positional = args.size() - kw.size();
  const std::string &name = f.s;
  if (name == "raise_exception")
    return fail(0, positional ? toString(args[0]) : "raise_exception");
  if (name == "namespace" || name == "dict") {
    Dict d;
    for (size_t k = 0; k < kw.size(); ++k)
      d.emplace_back(kw[k], args[positional + k]);
    v = Value::dictOf(std::move(d));
    v.isNamespace = name == "namespace";
    return true;
  }
  if (name == "range") {
    int64_t a = 0, b = 0, step = 1;
    if (positional == 1)
      b = args[0].i;
    else if (positional >= 2)
      a = args[0].i, b = args[1].i, step = positional > 2 ? args[2].i : 1;
    if (step == 0)
      return fail(line, "range() step is 0");
    List l;
    for (int64_t k = a; step > 0 ? k < b : k > b; k += step)
      l.push_back(Value::integer(k));
    v = Value::listOf(std::move(l));
    return true;
  }
  if (name == "strftime_now") {
    std::time_t now = std::time(nullptr);
    std::tm tm{};
    localtime_r(&now, &tm);
    char buf[256];
    size_t n = std::strftime(buf, sizeof buf,
                             positional ? toString(args[0]).c_str() : "", &tm);
    v = Value::str(std::string(buf, n));
    return true;
  }
  const Value &self = *f.self;
  if (name == "dict.get") {
    const Value *x = positional ? self.get(toString(args[0])) : nullptr;
    v = x ? *x : positional > 1 ? args[1] : Value::none();
    return true;
  }
  if (name == "dict.items" || name == "dict.keys" || name == "dict.values") {
    List l;
    for (auto &[k, x] : *self.dict)
      l.push_back(name == "dict.keys"     ? Value::str(k)
                  : name == "dict.values" ? x
                                          : Value::listOf({Value::str(k), x}));
    v = Value::listOf(std::move(l));
    return true;
  }
  const std::string &s = self.s;
  auto arg = [&](size_t k) {
    return k < positional && args[k].kind == Value::Str ? args[k].s.c_str()
                                                        : nullptr;
  };
  if (name == "str.strip" || name == "str.lstrip" || name == "str.rstrip") {
    v = Value::str(
        strip(s, arg(0), name != "str.rstrip", name != "str.lstrip"));
    return true;
  }
  if (name == "str.upper" || name == "str.lower") {
    std::string r = s;
    for (char &c : r)
      c = char(name == "str.upper" ? std::toupper((unsigned char)c)
                                   : std::tolower((unsigned char)c));
    v = Value::str(r);
    return true;
  }
  if (name == "str.title" || name == "str.capitalize") {
    std::string r = s;
    bool start = true;
    for (size_t k = 0; k < r.size(); ++k) {
      unsigned char c = r[k];
      bool alpha = std::isalpha(c);
      if (name == "str.capitalize")
        r[k] = char(k == 0 ? std::toupper(c) : std::tolower(c));
      else
        r[k] = char(alpha ? (start ? std::toupper(c) : std::tolower(c)) : c);
      start = !alpha;
    }
    v = Value::str(r);
    return true;
  }
  if (name == "str.startswith" || name == "str.endswith") {
    const char *p = arg(0);
    if (!p)
      return fail(line, name.substr(4) + "() needs a string");
    size_t n = std::strlen(p);
    bool r = s.size() >= n &&
             (name == "str.startswith" ? s.compare(0, n, p) == 0
                                       : s.compare(s.size() - n, n, p) == 0);
    v = Value::boolean(r);
    return true;
  }
  if (name == "str.split") {
    List l;
    const char *sep = arg(0);
    if (!sep) {
      size_t k = 0;
      while (k < s.size()) {
        while (k < s.size() && isSpace(s[k]))
          ++k;
        size_t b = k;
        while (k < s.size() && !isSpace(s[k]))
          ++k;
        if (k > b)
          l.push_back(Value::str(s.substr(b, k - b)));
      }
    } else {
      std::string d = sep;
      if (d.empty())
        return fail(line, "split() with an empty separator");
      size_t b = 0, e;
      while ((e = s.find(d, b)) != std::string::npos) {
        l.push_back(Value::str(s.substr(b, e - b)));
        b = e + d.size();
      }
      l.push_back(Value::str(s.substr(b)));
    }
    v = Value::listOf(std::move(l));
    return true;
  }
  if (name == "str.replace") {
    const char *from = arg(0), *to = arg(1);
    if (!from || !to)
      return fail(line, "replace() needs two strings");
    std::string r, f2 = from;
    size_t b = 0, e;
    if (f2.empty()) {
      v = Value::str(s);
      return true;
    }
    while ((e = s.find(f2, b)) != std::string::npos) {
      r += s.substr(b, e - b) + to;
      b = e + f2.size();
    }
    v = Value::str(r + s.substr(b));
    return true;
  }
  if (name == "str.find" || name == "str.count") {
    const char *p = arg(0);
    if (!p)
      return fail(line, name.substr(4) + "() needs a string");
    if (name == "str.find") {
      size_t at = s.find(p);
      v = Value::integer(at == std::string::npos ? -1 : int64_t(at));
    } else {
      int64_t n = 0;
      std::string needle = p;
      for (size_t at = 0;
           !needle.empty() && (at = s.find(needle, at)) != std::string::npos;
           at += needle.size())
        ++n;
      v = Value::integer(n);
    }
    return true;
  }
  return fail(line, name + "() is not supported");
}

bool Renderer::filter(const std::string &name, std::vector<Value> &args,
                      const std::vector<std::string> &kw, Value &v, int line) {
  Value &x = args[0];
  size_t positional = args.size() - kw.size();
  auto keyword = [&](const char *key, size_t position) -> const Value * {
    for (size_t k = 0; k < kw.size(); ++k)
      if (kw[k] == key)
        return &args[positional + k];
    return position < positional ? &args[position] : nullptr;
  };
  if (name == "trim") {
    v = Value::str(strip(toString(x), nullptr, true, true));
  } else if (name == "tojson") {
    std::string s;
    const Value *indent = keyword("indent", 1);
    toJson(x, indent && indent->kind == Value::Int ? int(indent->i) : -1, 0, s);
    v = Value::str(s);
  } else if (name == "length" || name == "count") {
    if (x.kind == Value::ListV)
      v = Value::integer(int64_t(x.list->size()));
    else if (x.kind == Value::DictV)
      v = Value::integer(int64_t(x.dict->size()));
    else if (x.kind == Value::Str) {
      int64_t n = 0;
      for (unsigned char c : x.s)
        n += (c & 0xc0) != 0x80; // code points, as Python counts
      v = Value::integer(n);
    } else
      return fail(line, "length of " + repr(x));
  } else if (name == "upper" || name == "lower" || name == "title" ||
             name == "capitalize") {
    Value m = Value::func("str." + name,
                          std::make_shared<Value>(Value::str(toString(x))));
    std::vector<Value> none;
    return call(m, none, {}, v, line);
  } else if (name == "default" || name == "d") {
    const Value *fallback = keyword("default_value", 1);
    const Value *boolean = keyword("boolean", 2);
    bool useFallback = x.kind == Value::Undefined ||
                       (boolean && truthy(*boolean) && !truthy(x));
    v = useFallback ? (fallback ? *fallback : Value::str("")) : x;
  } else if (name == "join") {
    List items;
    if (!iterate(x, items, line))
      return false;
    const Value *sep = keyword("d", 1);
    std::string s, d = sep ? toString(*sep) : "";
    for (size_t k = 0; k < items.size(); ++k)
      s += (k ? d : "") + toString(items[k]);
    v = Value::str(s);
  } else if (name == "first" || name == "last") {
    List items;
    if (!iterate(x, items, line))
      return false;
    v = items.empty()     ? Value()
        : name == "first" ? items.front()
                          : items.back();
  } else if (name == "list") {
    List items;
    if (!iterate(x, items, line))
      return false;
    v = Value::listOf(std::move(items));
  } else if (name == "reverse") {
    if (x.kind == Value::Str) {
      List chars;
      iterate(x, chars, line);
      std::string s;
      for (auto it = chars.rbegin(); it != chars.rend(); ++it)
        s += it->s;
      v = Value::str(s);
    } else {
      List items;
      if (!iterate(x, items, line))
        return false;
      std::reverse(items.begin(), items.end());
      v = Value::listOf(std::move(items));
    }
  } else if (name == "string" || name == "safe") {
    v = Value::str(toString(x));
  } else if (name == "int") {
    v = Value::integer(x.kind == Value::Str
                           ? std::strtoll(x.s.c_str(), nullptr, 10)
                       : x.isNumber() ? int64_t(x.number())
                                      : 0);
  } else if (name == "float") {
    v = Value::real(x.kind == Value::Str ? std::strtod(x.s.c_str(), nullptr)
                    : x.isNumber()       ? x.number()
                                         : 0.0);
  } else if (name == "abs") {
    if (!x.isNumber())
      return fail(line, "abs of " + repr(x));
    v = x.kind == Value::Float ? Value::real(std::fabs(x.f))
                               : Value::integer(std::llabs(x.i));
  } else if (name == "replace") {
    Value m = Value::func("str.replace",
                          std::make_shared<Value>(Value::str(toString(x))));
    std::vector<Value> rest(args.begin() + 1, args.end());
    return call(m, rest, {}, v, line);
  } else if (name == "items") {
    if (x.kind != Value::DictV)
      return fail(line, "items of " + repr(x));
    Value m = Value::func("dict.items", std::make_shared<Value>(x));
    std::vector<Value> none;
    return call(m, none, {}, v, line);
  } else {
    return fail(line, "filter '" + name + "' is not supported yet");
  }
  return true;
}

bool Renderer::eval(const Expr &e, Value &v) {
  switch (e.kind) {
  case Expr::Literal:
    v = e.value;
    return true;
  case Expr::Name:
    v = lookup(e.name);
    return true;
  case Expr::Attr: {
    Value obj;
    return eval(*e.args[0], obj) && attribute(obj, e.name, v, e.line);
  }
  case Expr::Item: {
    Value obj, key;
    return eval(*e.args[0], obj) && eval(*e.args[1], key) &&
           item(obj, key, v, e.line);
  }
  case Expr::Slice: {
    Value obj, parts[3];
    if (!eval(*e.args[0], obj))
      return false;
    for (int k = 0; k < 3; ++k)
      if (e.args[k + 1] && !eval(*e.args[k + 1], parts[k]))
        return false;
    List items;
    bool str = obj.kind == Value::Str;
    if (str) {
      for (char c : obj.s)
        items.push_back(Value::str(std::string(1, c)));
    } else if (!iterate(obj, items, e.line)) {
      return false;
    }
    int64_t n = int64_t(items.size());
    int64_t step = parts[2].kind == Value::Int ? parts[2].i : 1;
    if (step == 0)
      return fail(e.line, "slice step is 0");
    auto clampIndex = [&](const Value &p, int64_t dflt) {
      if (p.kind != Value::Int)
        return dflt;
      int64_t k = p.i < 0 ? p.i + n : p.i;
      return step > 0 ? std::clamp<int64_t>(k, 0, n)
                      : std::clamp<int64_t>(k, -1, n - 1);
    };
    int64_t b = clampIndex(parts[0], step > 0 ? 0 : n - 1);
    int64_t end = clampIndex(parts[1], step > 0 ? n : -1);
    List out;
    for (int64_t k = b; step > 0 ? k < end : k > end; k += step)
      out.push_back(items[k]);
    if (str) {
      std::string s;
      for (const Value &c : out)
        s += c.s;
      v = Value::str(s);
    } else {
      v = Value::listOf(std::move(out));
    }
    return true;
  }
  case Expr::Call:
  case Expr::Filter:
  case Expr::Test: {
    std::vector<Value> args;
    size_t first = e.kind == Expr::Call ? 1 : 0;
    Value f;
    if (e.kind == Expr::Call && !eval(*e.args[0], f))
      return false;
    for (size_t k = first; k < e.args.size(); ++k) {
      args.emplace_back();
      if (!eval(*e.args[k], args.back()))
        return false;
    }
    if (e.kind == Expr::Call)
      return call(f, args, e.keywords, v, e.line);
    if (e.kind == Expr::Filter)
      return filter(e.name, args, e.keywords, v, e.line);
    bool r;
    if (!test(e.name, args, r, e.line))
      return false;
    v = Value::boolean(r != e.negated);
    return true;
  }
  case Expr::Unary: {
    Value x;
    if (!eval(*e.args[0], x))
      return false;
    if (e.op == "not") {
      v = Value::boolean(!truthy(x));
      return true;
    }
    if (!x.isNumber())
      return fail(e.line, "bad operand for unary " + e.op + ": " + repr(x));
    v = e.op == "+" ? x
        : x.kind == Value::Float
            ? Value::real(-x.f)
            : Value::integer(-(x.kind == Value::Int ? x.i : x.b));
    return true;
  }
  case Expr::Binary: {
    Value a;
    if (!eval(*e.args[0], a))
      return false;
    if (e.op == "and" || e.op == "or") { // Python: the deciding operand
      if (truthy(a) == (e.op == "or")) {
        v = a;
        return true;
      }
      return eval(*e.args[1], v);
    }
    Value b;
    return eval(*e.args[1], b) && binary(e.op, a, b, v, e.line);
  }
  case Expr::Cond: {
    Value c;
    if (!eval(*e.args[1], c))
      return false;
    if (truthy(c))
      return eval(*e.args[0], v);
    if (!e.args[2]) {
      v = Value();
      return true;
    }
    return eval(*e.args[2], v);
  }
  case Expr::ListLit: {
    List l;
    for (auto &x : e.args) {
      l.emplace_back();
      if (!eval(*x, l.back()))
        return false;
    }
    v = Value::listOf(std::move(l));
    return true;
  }
  case Expr::DictLit: {
    Dict d;
    for (size_t k = 0; k < e.args.size(); k += 2) {
      Value key, x;
      if (!eval(*e.args[k], key) || !eval(*e.args[k + 1], x))
        return false;
      d.emplace_back(toString(key), x);
    }
    v = Value::dictOf(std::move(d));
    return true;
  }
  }
  return false;
}

} // namespace

struct ChatTemplate::Impl {
  std::vector<Node> nodes;
};

ChatTemplate::ChatTemplate() : impl(std::make_unique<Impl>()) {}
ChatTemplate::~ChatTemplate() = default;
ChatTemplate::ChatTemplate(ChatTemplate &&) = default;
ChatTemplate &ChatTemplate::operator=(ChatTemplate &&) = default;

bool ChatTemplate::parse(const std::string &source, std::string &error) {
  error.clear();
  impl->nodes.clear();
  return parseTemplate(source, impl->nodes, error);
}

bool ChatTemplate::render(const std::vector<ChatMessage> &messages,
                          bool addGenerationPrompt, const std::string &bos,
                          const std::string &eos, std::string &out,
                          std::string &error) const {
  out.clear();
  error.clear();
  Renderer r(out, error);
  List list;
  for (const ChatMessage &m : messages)
    list.push_back(Value::dictOf(
        {{"role", Value::str(m.role)}, {"content", Value::str(m.content)}}));
  r.define("messages", Value::listOf(std::move(list)));
  r.define("add_generation_prompt", Value::boolean(addGenerationPrompt));
  r.define("bos_token", Value::str(bos));
  r.define("eos_token", Value::str(eos));
  r.define("tools", Value::none());
  r.define("documents", Value::none());
  return r.run(impl->nodes);
}
