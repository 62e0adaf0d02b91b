//===- ChatTemplateParse.cpp - the Jinja subset's parser -----------------===//
//
// The source is cut into text, {{ expressions }} and {% statements %} with
// Jinja2's whitespace rules (trim_blocks, lstrip_blocks, `-` markers, one
// trailing newline dropped), then statements and expressions are parsed
// into a tree. Anything outside the subset is an error naming it.
//
//===----------------------------------------------------------------------===//

#include "ChatTemplateInternal.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <initializer_list>

namespace tern::rt::jinja {
namespace {

const std::set<std::string> kFilters = {
    "trim",  "tojson",     "length",  "count", "upper", "lower",
    "title", "capitalize", "default", "d",     "join",  "first",
    "last",  "list",       "string",  "int",   "float", "replace",
    "items", "reverse",    "safe",    "abs"};
const std::set<std::string> kTests = {
    "defined", "undefined", "none",     "string",      "number",   "integer",
    "float",   "mapping",   "iterable", "sequence",    "boolean",  "true",
    "false",   "odd",       "even",     "divisibleby", "callable", "in",
    "equalto", "eq",        "ne",       "lt",          "le",       "gt",
    "ge",      "sameas"};

/// Expression tokens.
struct Tok {
  enum Kind { Name, String, Int, Float, Op, End } kind;
  std::string text;
  int64_t i = 0;
  double f = 0;
};

class Parser {
public:
  Parser(std::string &error) : error(error) {}

  /// Splits the template into text and tags, then parses it.
  bool parse(std::string source, std::vector<Node> &out);

private:
  struct Tag {
    enum Kind { Text, Expr, Stmt } kind;
    std::string text;
    int line;
  };

  bool fail(int line, const std::string &what) {
    if (error.empty())
      error = "line " + std::to_string(line) + ": " + what;
    return false;
  }
  bool lex(const std::string &src, std::vector<Tag> &tags);
  bool tokenize(const std::string &src, int line, std::vector<Tok> &out);
  bool parseBody(std::vector<Node> &out, const std::vector<std::string> &ends,
                 std::string &endTag);

  // Expressions over `toks` from `pos`.
  ExprP expression();
  ExprP conditional();
  /// `next (op next)*` for the operators `ops`, grouped from the left.
  ExprP leftAssociative(ExprP (Parser::*next)(),
                        std::initializer_list<const char *> ops);
  ExprP orExpr();
  ExprP andExpr();
  ExprP notExpr();
  ExprP compare();
  ExprP concat();
  ExprP additive();
  ExprP multiplicative();
  ExprP unary();
  ExprP postfix();
  ExprP primary();
  bool callArgs(Expr &call);
  const Tok &peek(size_t ahead = 0) const {
    return toks[std::min(pos + ahead, toks.size() - 1)];
  }
  bool isOp(const char *op, size_t ahead = 0) const {
    return peek(ahead).kind == Tok::Op && peek(ahead).text == op;
  }
  bool isName(const char *name, size_t ahead = 0) const {
    return peek(ahead).kind == Tok::Name && peek(ahead).text == name;
  }
  bool expectOp(const char *op) {
    if (!isOp(op))
      return fail(line, std::string("expected '") + op + "', found '" +
                            describe(peek()) + "'");
    ++pos;
    return true;
  }
  static std::string describe(const Tok &t) {
    return t.kind == Tok::End ? "end of tag" : t.text;
  }
  ExprP make(Expr::Kind k) {
    auto e = std::make_unique<Expr>();
    e->kind = k;
    e->line = line;
    return e;
  }
  bool startExpr(const std::string &src, int atLine) {
    toks.clear();
    pos = 0;
    line = atLine;
    return tokenize(src, atLine, toks);
  }

  std::string &error;
  std::vector<Tag> tags;
  size_t tagPos = 0;
  std::vector<Tok> toks;
  size_t pos = 0;
  int line = 1;
};

bool Parser::lex(const std::string &input, std::vector<Tag> &out) {
  // Newlines normalized to \n, and one trailing newline dropped
  // (keep_trailing_newline=False).
  std::string src;
  for (size_t k = 0; k < input.size(); ++k) {
    if (input[k] == '\r') {
      src += '\n';
      if (k + 1 < input.size() && input[k + 1] == '\n')
        ++k;
    } else {
      src += input[k];
    }
  }
  if (!src.empty() && src.back() == '\n')
    src.pop_back();

  size_t at = 0;
  int lineNo = 1;
  bool lineStarting = true;
  std::string text;
  auto flushText = [&] {
    if (!text.empty())
      out.push_back({Tag::Text, text, lineNo});
    text.clear();
  };
  while (at < src.size()) {
    size_t open = src.find('{', at);
    while (open != std::string::npos && open + 1 < src.size() &&
           src[open + 1] != '{' && src[open + 1] != '%' && src[open + 1] != '#')
      open = src.find('{', open + 1);
    if (open == std::string::npos || open + 1 >= src.size()) {
      text += src.substr(at);
      break;
    }
    std::string before = src.substr(at, open - at);
    char type = src[open + 1];
    char sign = open + 2 < src.size() ? src[open + 2] : 0;
    if (sign == '-') {
      before = strip(before, nullptr, false, true);
    } else if (sign != '+' && type != '{') {
      // lstrip_blocks: whitespace from the line's start to a block or
      // comment tag goes.
      size_t nl = before.rfind('\n');
      size_t from = nl == std::string::npos ? 0 : nl + 1;
      if ((from > 0 || lineStarting) &&
          std::all_of(before.begin() + from, before.end(), isSpace))
        before.resize(from);
    }
    text += before;
    for (char c : src.substr(at, open - at))
      lineNo += c == '\n';
    const char *close = type == '{' ? "}}" : type == '%' ? "%}" : "#}";
    size_t bodyStart = open + 2 + (sign == '-' || sign == '+');
    // The tag ends at the first `close` outside a string literal.
    size_t end = std::string::npos;
    if (type == '#') {
      end = src.find(close, bodyStart);
    } else {
      char quote = 0;
      for (size_t k = bodyStart; k + 1 < src.size(); ++k) {
        char c = src[k];
        if (quote) {
          if (c == '\\')
            ++k;
          else if (c == quote)
            quote = 0;
        } else if (c == '\'' || c == '"') {
          quote = c;
        } else if (c == close[0] && src[k + 1] == close[1]) {
          end = k;
          break;
        }
      }
    }
    if (end == std::string::npos)
      return fail(lineNo, std::string("missing '") + close + "'");
    bool stripAfter = end > bodyStart && src[end - 1] == '-';
    bool keepAfter = end > bodyStart && src[end - 1] == '+';
    std::string body = src.substr(
        bodyStart, end - bodyStart - (stripAfter || keepAfter ? 1 : 0));
    int tagLine = lineNo;
    for (char c : src.substr(open, end + 2 - open))
      lineNo += c == '\n';
    at = end + 2;
    if (stripAfter) {
      while (at < src.size() && isSpace(src[at]))
        lineNo += src[at++] == '\n';
    } else if (!keepAfter && type != '{' && at < src.size() &&
               src[at] == '\n') { // trim_blocks
      ++at;
      ++lineNo;
    }
    lineStarting = at > 0 && src[at - 1] == '\n';
    if (type == '#')
      continue;
    flushText();
    out.push_back({type == '{' ? Tag::Expr : Tag::Stmt, body, tagLine});
  }
  flushText();
  return true;
}

bool Parser::tokenize(const std::string &s, int atLine, std::vector<Tok> &out) {
  size_t k = 0;
  while (k < s.size()) {
    char c = s[k];
    if (isSpace(c)) {
      ++k;
      continue;
    }
    if (std::isalpha((unsigned char)c) || c == '_') {
      size_t b = k;
      while (k < s.size() && (std::isalnum((unsigned char)s[k]) || s[k] == '_'))
        ++k;
      out.push_back({Tok::Name, s.substr(b, k - b)});
      continue;
    }
    if (std::isdigit((unsigned char)c)) {
      size_t b = k;
      bool real = false;
      while (k < s.size() && (std::isdigit((unsigned char)s[k]) ||
                              (s[k] == '.' && !real && k + 1 < s.size() &&
                               std::isdigit((unsigned char)s[k + 1])))) {
        real |= s[k] == '.';
        ++k;
      }
      Tok t{real ? Tok::Float : Tok::Int, s.substr(b, k - b)};
      if (real)
        t.f = std::strtod(t.text.c_str(), nullptr);
      else
        t.i = std::strtoll(t.text.c_str(), nullptr, 10);
      out.push_back(t);
      continue;
    }
    if (c == '\'' || c == '"') {
      std::string v;
      ++k;
      while (k < s.size() && s[k] != c) {
        if (s[k] == '\\' && k + 1 < s.size()) {
          char e = s[++k];
          switch (e) {
          case 'n':
            v += '\n';
            break;
          case 't':
            v += '\t';
            break;
          case 'r':
            v += '\r';
            break;
          case '\\':
          case '\'':
          case '"':
            v += e;
            break;
          default:
            v += '\\';
            v += e;
          }
          ++k;
          continue;
        }
        v += s[k++];
      }
      if (k >= s.size())
        return fail(atLine, "unterminated string");
      ++k;
      out.push_back({Tok::String, v});
      continue;
    }
    static const char *ops[] = {
        "//", "**", "==", "!=", "<=", ">=", "(", ")", "[", "]", "{", "}", ".",
        ",",  ":",  "|",  "~",  "+",  "-",  "*", "/", "%", "<", ">", "="};
    bool found = false;
    for (const char *op : ops)
      if (s.compare(k, std::strlen(op), op) == 0) {
        out.push_back({Tok::Op, op});
        k += std::strlen(op);
        found = true;
        break;
      }
    if (!found)
      return fail(atLine, std::string("unexpected character '") + c + "'");
  }
  out.push_back({Tok::End, ""});
  return true;
}

ExprP Parser::expression() { return conditional(); }

ExprP Parser::conditional() {
  ExprP e = orExpr();
  if (e && isName("if")) {
    ++pos;
    auto c = make(Expr::Cond);
    ExprP test = orExpr();
    ExprP other;
    if (isName("else")) {
      ++pos;
      other = conditional();
      if (!other)
        return nullptr;
    }
    if (!test)
      return nullptr;
    c->args.push_back(std::move(e));
    c->args.push_back(std::move(test));
    c->args.push_back(std::move(other));
    return c;
  }
  return e;
}

ExprP Parser::leftAssociative(ExprP (Parser::*next)(),
                              std::initializer_list<const char *> ops) {
  ExprP e = (this->*next)();
  while (e) {
    auto op = std::find_if(ops.begin(), ops.end(), [&](const char *o) {
      return std::isalpha((unsigned char)o[0]) ? isName(o) : isOp(o);
    });
    if (op == ops.end())
      break;
    ++pos;
    auto b = make(Expr::Binary);
    b->op = *op;
    b->args.push_back(std::move(e));
    if (!(e = (this->*next)()))
      return nullptr;
    b->args.push_back(std::move(e));
    e = std::move(b);
  }
  return e;
}

ExprP Parser::orExpr() { return leftAssociative(&Parser::andExpr, {"or"}); }

ExprP Parser::andExpr() { return leftAssociative(&Parser::notExpr, {"and"}); }

ExprP Parser::notExpr() {
  if (isName("not")) {
    ++pos;
    auto u = make(Expr::Unary);
    u->op = "not";
    ExprP x = notExpr();
    if (!x)
      return nullptr;
    u->args.push_back(std::move(x));
    return u;
  }
  return compare();
}

ExprP Parser::compare() {
  ExprP e = concat();
  while (e) {
    std::string op;
    if (isOp("==") || isOp("!=") || isOp("<") || isOp("<=") || isOp(">") ||
        isOp(">="))
      op = peek().text, ++pos;
    else if (isName("in"))
      op = "in", ++pos;
    else if (isName("not") && isName("in", 1))
      op = "not in", pos += 2;
    else if (isName("is")) {
      ++pos;
      auto t = make(Expr::Test);
      if (isName("not"))
        t->negated = true, ++pos;
      if (peek().kind != Tok::Name)
        return fail(line, "expected a test name after 'is'"), nullptr;
      t->name = peek().text;
      ++pos;
      if (!kTests.count(t->name))
        return fail(line, "test '" + t->name + "' is not supported"), nullptr;
      t->args.push_back(std::move(e));
      if (isOp("(")) {
        if (!callArgs(*t))
          return nullptr;
      } else if (peek().kind == Tok::String || peek().kind == Tok::Int ||
                 peek().kind == Tok::Float ||
                 (peek().kind == Tok::Name && !isName("and") && !isName("or") &&
                  !isName("else") && !isName("if"))) {
        ExprP arg = concat(); // `x is divisibleby 3`, `x is sameas none`
        if (!arg)
          return nullptr;
        t->args.push_back(std::move(arg));
      }
      e = std::move(t);
      continue;
    } else
      break;
    auto b = make(Expr::Binary);
    b->op = op;
    b->args.push_back(std::move(e));
    if (!(e = concat()))
      return nullptr;
    b->args.push_back(std::move(e));
    e = std::move(b);
  }
  return e;
}

ExprP Parser::concat() { return leftAssociative(&Parser::additive, {"~"}); }

ExprP Parser::additive() {
  return leftAssociative(&Parser::multiplicative, {"+", "-"});
}

ExprP Parser::multiplicative() {
  return leftAssociative(&Parser::unary, {"*", "/", "//", "%"});
}

ExprP Parser::unary() {
  if (isOp("-") || isOp("+")) {
    auto u = make(Expr::Unary);
    u->op = peek().text;
    ++pos;
    ExprP x = unary();
    if (!x)
      return nullptr;
    u->args.push_back(std::move(x));
    return u;
  }
  return postfix();
}

bool Parser::callArgs(Expr &call) {
  if (!expectOp("("))
    return false;
  while (!isOp(")")) {
    if (peek().kind == Tok::Name && isOp("=", 1)) {
      call.keywords.push_back(peek().text);
      pos += 2;
    } else if (!call.keywords.empty()) {
      return fail(line, "a positional argument after keyword arguments");
    }
    ExprP a = expression();
    if (!a)
      return false;
    call.args.push_back(std::move(a));
    if (!isOp(","))
      break;
    ++pos;
  }
  return expectOp(")");
}

ExprP Parser::postfix() {
  ExprP e = primary();
  while (e) {
    if (isOp(".")) {
      ++pos;
      if (peek().kind != Tok::Name && peek().kind != Tok::Int)
        return fail(line, "expected an attribute name after '.'"), nullptr;
      auto a = make(Expr::Attr);
      a->name = peek().text;
      ++pos;
      a->args.push_back(std::move(e));
      e = std::move(a);
    } else if (isOp("[")) {
      ++pos;
      ExprP parts[3];
      bool slice = false;
      for (int k = 0; k < 3; ++k) {
        if (!isOp(":") && !isOp("]")) {
          if (!(parts[k] = expression()))
            return nullptr;
        }
        if (!isOp(":"))
          break;
        slice = true;
        ++pos;
      }
      if (!expectOp("]"))
        return nullptr;
      auto s = make(slice ? Expr::Slice : Expr::Item);
      s->args.push_back(std::move(e));
      for (int k = 0; k < (slice ? 3 : 1); ++k)
        s->args.push_back(std::move(parts[k]));
      e = std::move(s);
    } else if (isOp("(")) {
      auto c = make(Expr::Call);
      c->args.push_back(std::move(e));
      if (!callArgs(*c))
        return nullptr;
      e = std::move(c);
    } else if (isOp("|")) {
      ++pos;
      if (peek().kind != Tok::Name)
        return fail(line, "expected a filter name after '|'"), nullptr;
      auto f = make(Expr::Filter);
      f->name = peek().text;
      ++pos;
      if (!kFilters.count(f->name))
        return fail(line, "filter '" + f->name + "' is not supported"), nullptr;
      f->args.push_back(std::move(e));
      if (isOp("(") && !callArgs(*f))
        return nullptr;
      e = std::move(f);
    } else {
      break;
    }
  }
  return e;
}

ExprP Parser::primary() {
  const Tok &t = peek();
  if (t.kind == Tok::String) {
    auto e = make(Expr::Literal);
    e->value = Value::str(t.text);
    ++pos;
    while (peek().kind == Tok::String) // adjacent literals join
      e->value.s += peek().text, ++pos;
    return e;
  }
  if (t.kind == Tok::Int || t.kind == Tok::Float) {
    auto e = make(Expr::Literal);
    e->value = t.kind == Tok::Int ? Value::integer(t.i) : Value::real(t.f);
    ++pos;
    return e;
  }
  if (t.kind == Tok::Name) {
    auto e = make(Expr::Literal);
    if (t.text == "true" || t.text == "True")
      e->value = Value::boolean(true);
    else if (t.text == "false" || t.text == "False")
      e->value = Value::boolean(false);
    else if (t.text == "none" || t.text == "None")
      e->value = Value::none();
    else {
      e->kind = Expr::Name;
      e->name = t.text;
    }
    ++pos;
    return e;
  }
  if (isOp("(")) {
    ++pos;
    ExprP e = expression();
    if (!e || !expectOp(")"))
      return nullptr;
    return e;
  }
  if (isOp("[")) {
    ++pos;
    auto l = make(Expr::ListLit);
    while (!isOp("]")) {
      ExprP x = expression();
      if (!x)
        return nullptr;
      l->args.push_back(std::move(x));
      if (!isOp(","))
        break;
      ++pos;
    }
    return expectOp("]") ? std::move(l) : nullptr;
  }
  if (isOp("{")) {
    ++pos;
    auto d = make(Expr::DictLit);
    while (!isOp("}")) {
      ExprP k = expression();
      if (!k || !expectOp(":"))
        return nullptr;
      ExprP v = expression();
      if (!v)
        return nullptr;
      d->args.push_back(std::move(k));
      d->args.push_back(std::move(v));
      if (!isOp(","))
        break;
      ++pos;
    }
    return expectOp("}") ? std::move(d) : nullptr;
  }
  fail(line, "unexpected '" + describe(t) + "' in an expression");
  return nullptr;
}

bool Parser::parse(std::string source, std::vector<Node> &out) {
  if (!lex(source, tags))
    return false;
  std::string end;
  if (!parseBody(out, {}, end))
    return false;
  return true;
}

/// Statement bodies up to one of `ends` (whose tag is left in `endTag`).
bool Parser::parseBody(std::vector<Node> &out,
                       const std::vector<std::string> &ends,
                       std::string &endTag) {
  while (tagPos < tags.size()) {
    const Tag &tag = tags[tagPos++];
    if (tag.kind == Tag::Text) {
      Node n;
      n.kind = Node::Text;
      n.text = tag.text;
      out.push_back(std::move(n));
      continue;
    }
    if (!startExpr(tag.text, tag.line))
      return false;
    if (tag.kind == Tag::Expr) {
      Node n;
      n.kind = Node::Output;
      n.line = tag.line;
      if (!(n.expr = expression()))
        return false;
      if (peek().kind != Tok::End)
        return fail(line, "unexpected '" + describe(peek()) + "' in {{ }}");
      out.push_back(std::move(n));
      continue;
    }
    if (peek().kind != Tok::Name)
      return fail(line, "expected a statement");
    std::string kw = peek().text;
    ++pos;
    if (std::find(ends.begin(), ends.end(), kw) != ends.end()) {
      endTag = kw;
      --tagPos; // the caller re-reads the tag (elif's condition)
      return true;
    }
    if (kw == "elif" || kw == "else" || kw.rfind("end", 0) == 0)
      return fail(line, "unexpected '" + kw + "'");
    Node n;
    n.kind = Node::Text;
    n.line = tag.line;
    auto endOfTag = [&] {
      if (peek().kind != Tok::End)
        return fail(line,
                    "unexpected '" + describe(peek()) + "' after '" + kw + "'");
      return true;
    };
    if (kw == "if") {
      n.kind = Node::If;
      ExprP cond = expression();
      if (!cond || !endOfTag())
        return false;
      while (true) {
        std::vector<Node> body;
        std::string stop;
        if (!parseBody(body, {"elif", "else", "endif"}, stop))
          return false;
        if (stop.empty())
          return fail(tag.line, "'if' without 'endif'");
        n.branches.emplace_back(std::move(cond), std::move(body));
        const Tag &endTagRef = tags[tagPos++];
        if (!startExpr(endTagRef.text, endTagRef.line))
          return false;
        ++pos;
        if (stop == "endif") {
          if (!endOfTag())
            return false;
          break;
        }
        if (stop == "else") {
          cond = nullptr;
        } else if (!(cond = expression())) {
          return false;
        }
        if (!endOfTag())
          return false;
        if (stop == "else") {
          std::vector<Node> body2;
          std::string stop2;
          if (!parseBody(body2, {"endif"}, stop2))
            return false;
          if (stop2.empty())
            return fail(tag.line, "'if' without 'endif'");
          ++tagPos;
          n.branches.emplace_back(nullptr, std::move(body2));
          break;
        }
      }
    } else if (kw == "for") {
      n.kind = Node::For;
      while (peek().kind == Tok::Name) {
        n.targets.push_back(peek().text);
        ++pos;
        if (!isOp(","))
          break;
        ++pos;
      }
      if (n.targets.empty() || !isName("in"))
        return fail(line, "expected 'for NAME[, NAME] in ...'");
      ++pos;
      if (!(n.expr = orExpr()))
        return false;
      if (isName("if")) {
        ++pos;
        if (!(n.filter = orExpr()))
          return false;
      }
      if (isName("recursive"))
        return fail(line, "recursive loops are not supported");
      if (!endOfTag())
        return false;
      std::string stop;
      if (!parseBody(n.body, {"else", "endfor"}, stop))
        return false;
      if (stop.empty())
        return fail(tag.line, "'for' without 'endfor'");
      ++tagPos;
      if (stop == "else") {
        if (!parseBody(n.orelse, {"endfor"}, stop) || stop != "endfor")
          return fail(tag.line, "'for' without 'endfor'");
        ++tagPos;
      }
    } else if (kw == "set") {
      while (peek().kind == Tok::Name) {
        std::string target = peek().text;
        ++pos;
        if (isOp(".")) {
          ++pos;
          if (peek().kind != Tok::Name)
            return fail(line, "expected an attribute name");
          target += "." + peek().text;
          ++pos;
        }
        n.targets.push_back(target);
        if (!isOp(","))
          break;
        ++pos;
      }
      if (n.targets.empty())
        return fail(line, "expected a name after 'set'");
      if (isOp("=")) {
        ++pos;
        n.kind = Node::Set;
        if (!(n.expr = expression()) || !endOfTag())
          return false;
      } else {
        n.kind = Node::SetBlock;
        if (!endOfTag())
          return false;
        std::string stop;
        if (!parseBody(n.body, {"endset"}, stop) || stop.empty())
          return fail(tag.line, "'set' without 'endset'");
        ++tagPos;
      }
    } else if (kw == "break" || kw == "continue") {
      n.kind = kw == "break" ? Node::Break : Node::Continue;
      if (!endOfTag())
        return false;
    } else if (kw == "generation") {
      // transformers' {% generation %}: marks the assistant's text only.
      n.kind = Node::Block;
      if (!endOfTag())
        return false;
      std::string stop;
      if (!parseBody(n.body, {"endgeneration"}, stop) || stop.empty())
        return fail(tag.line, "'generation' without 'endgeneration'");
      ++tagPos;
    } else {
      return fail(line, "statement '" + kw + "' is not supported");
    }
    out.push_back(std::move(n));
  }
  return true;
}

} // namespace

bool parseTemplate(const std::string &source, std::vector<Node> &out,
                   std::string &error) {
  Parser p(error);
  return p.parse(source, out);
}

} // namespace tern::rt::jinja
