//===- ChatTemplateInternal.h - Jinja values and syntax ---------*- C++ -*-===//
//
// What ChatTemplate's three files share: values with Python's semantics
// (ChatTemplateValues.cpp), the parsed template (ChatTemplateParse.cpp),
// and the renderer that walks it (ChatTemplateRender.cpp).
//
//===----------------------------------------------------------------------===//

#ifndef TERN_RUNTIME_CHATTEMPLATEINTERNAL_H
#define TERN_RUNTIME_CHATTEMPLATEINTERNAL_H

#include "tern/Runtime/ChatTemplate.h"

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace tern::rt::jinja {

struct Value;
using List = std::vector<Value>;
using Dict = std::vector<std::pair<std::string, Value>>; // insertion order

struct Value {
  enum Kind { Undefined, None, Bool, Int, Float, Str, ListV, DictV, Func };
  Kind kind = Undefined;
  bool b = false;
  int64_t i = 0;
  double f = 0;
  std::string s;               ///< Str; Func: the function's name
  std::shared_ptr<List> list;  ///< ListV
  std::shared_ptr<Dict> dict;  ///< DictV (namespaces too: shared, mutable)
  std::shared_ptr<Value> self; ///< Func: a bound method's object
  bool isNamespace = false;

  static Value none() { return make(None); }
  static Value boolean(bool v) {
    Value r = make(Bool);
    r.b = v;
    return r;
  }
  static Value integer(int64_t v) {
    Value r = make(Int);
    r.i = v;
    return r;
  }
  static Value real(double v) {
    Value r = make(Float);
    r.f = v;
    return r;
  }
  static Value str(std::string v) {
    Value r = make(Str);
    r.s = std::move(v);
    return r;
  }
  static Value listOf(List v) {
    Value r = make(ListV);
    r.list = std::make_shared<List>(std::move(v));
    return r;
  }
  static Value dictOf(Dict v) {
    Value r = make(DictV);
    r.dict = std::make_shared<Dict>(std::move(v));
    return r;
  }
  static Value func(std::string name, std::shared_ptr<Value> self = nullptr) {
    Value r = make(Func);
    r.s = std::move(name);
    r.self = std::move(self);
    return r;
  }
  static Value make(Kind k) {
    Value r;
    r.kind = k;
    return r;
  }
  bool isNumber() const { return kind == Int || kind == Float || kind == Bool; }
  double number() const {
    return kind == Float ? f : kind == Int ? double(i) : double(b);
  }
  const Value *get(const std::string &key) const {
    if (kind != DictV)
      return nullptr;
    for (auto &[k, v] : *dict)
      if (k == key)
        return &v;
    return nullptr;
  }
};

bool truthy(const Value &v);
/// Python's str() and repr().
std::string toString(const Value &v);
std::string repr(const Value &v);
/// json.dumps(v, ensure_ascii=False, indent=indent) (indent < 0: none).
void toJson(const Value &v, int indent, int depth, std::string &out);
bool equal(const Value &a, const Value &b);
bool isSpace(char c);
/// Python's str.strip/lstrip/rstrip (`chars` null: whitespace).
std::string strip(const std::string &s, const char *chars, bool left,
                  bool right);

/// An expression of the parsed template.
struct Expr {
  enum Kind {
    Literal,
    Name,
    Attr,
    Item,
    Slice,
    Call,
    Filter,
    Test,
    Unary,
    Binary,
    Cond,
    ListLit,
    DictLit
  };
  Kind kind;
  Value value;          ///< Literal
  std::string name, op; ///< Name, Attr, Filter, Test, Unary, Binary
  std::vector<std::unique_ptr<Expr>> args;
  std::vector<std::string> keywords; ///< Call/Filter/Test: keyword names
                                     ///< of the last args
  bool negated = false;              ///< Test: `is not`
  int line = 0;
};
using ExprP = std::unique_ptr<Expr>;

/// A statement (or text, or {{ output }}) of the parsed template.
struct Node {
  enum Kind { Text, Output, If, For, Set, SetBlock, Break, Continue, Block };
  Kind kind = Text;
  std::string text;                 ///< Text
  ExprP expr;                       ///< Output, Set value, For iterable
  std::vector<std::string> targets; ///< For/Set names (a.b: "a.b")
  std::vector<std::pair<ExprP, std::vector<Node>>> branches; ///< If
  std::vector<Node> body, orelse; ///< For, SetBlock, Block; For else
  ExprP filter;                   ///< For ... if
  int line = 0;
};

/// Parses `source` into `out`; false with `error` ("line N: what").
bool parseTemplate(const std::string &source, std::vector<Node> &out,
                   std::string &error);

} // namespace tern::rt::jinja

#endif // TERN_RUNTIME_CHATTEMPLATEINTERNAL_H
