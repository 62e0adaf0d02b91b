//===- Server.cpp - the executable's OpenAI-compatible HTTP server --------===//
//
// Boost.Beast (HTTP/1.1 over Asio) reads and writes HTTP and nlohmann::json
// the bodies: both header-only Debian packages, so the executable stays one
// file. (Debian builds cpp-httplib as a shared library, which a standalone
// executable cannot carry.) Each connection has a thread of its own, up to
// a bound; its handler checks a request, tokenizes it and hands it to the
// Engine (Engine.h), whose one thread runs the model for every request in
// flight, then waits for the text or streams it as server-sent events. A
// request the server cannot answer gets an OpenAI-style error object with
// the fitting status; none stops the server. SIGTERM and SIGINT drain: new
// requests get 503, those in flight finish, then the process exits 0.
//
//===----------------------------------------------------------------------===//

#include "tern/Runtime/Server.h"

#include "tern/Runtime/ChatTemplate.h"
#include "tern/Runtime/Engine.h"
#include "tern/Runtime/Parallel.h"
#include "tern/Runtime/Requests.h"
#include "tern/Runtime/Tokenizer.h"
#include "tern/Runtime/tern_model.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include <csignal>
#include <cstdio>
#include <ctime>
#include <optional>
#include <pthread.h>
#include <random>
#include <set>
#include <sstream>
#include <sys/socket.h>

// Generic graph executables do not define it (and never serve).
#pragma weak tern_is_eos

using namespace tern::rt;
using json = nlohmann::json;
namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace net = boost::asio;
using tcp = boost::asio::ip::tcp;

namespace {

json errorBody(const Refusal &r) {
  json e = {{"message", r.message}, {"type", r.type}, {"code", nullptr}};
  e["param"] = r.param.empty() ? json(nullptr) : json(r.param);
  return {{"error", e}};
}

/// JSON text; invalid UTF-8 in generated text becomes U+FFFD.
std::string dump(const json &j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

/// A whole response.
struct Reply {
  int status = 200;
  std::string body;
  std::string contentType = "application/json";
};

Reply jsonReply(int status, const json &body) { return {status, dump(body)}; }

Reply refusal(const Refusal &r) { return jsonReply(r.status, errorBody(r)); }

/// One client connection, on its own thread: Beast's reads and writes,
/// each bounded by a deadline (a slow or silent client is dropped after
/// --timeout seconds without finishing a read or write).
class Connection {
public:
  explicit Connection(int timeoutSeconds) : timeout(timeoutSeconds) {}

  tcp::socket &socket() { return stream.socket(); }

  /// The next request; false at the end of the connection (after answering
  /// a malformed or oversized request with its status).
  bool read(http::request<http::string_body> &out) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(kMaxBody);
    parser.header_limit(64 << 10);
    beast::error_code ec = run([&](auto done) {
      http::async_read(stream, buffer, parser, std::move(done));
    });
    if (ec == http::error::body_limit)
      write(refusal({413, "the body exceeds " + std::to_string(kMaxBody >> 20) +
                              " MiB"}),
            false);
    else if (ec &&
             ec.category() ==
                 http::make_error_code(http::error::end_of_stream).category() &&
             ec != http::error::end_of_stream &&
             ec != http::error::partial_message)
      write(refusal({400, "malformed HTTP request: " + ec.message()}), false);
    if (ec)
      return false;
    out = parser.release();
    version = out.version();
    keepAlive = out.keep_alive();
    return true;
  }

  bool write(const Reply &reply, bool keep) {
    http::response<http::string_body> res{http::status(reply.status), version};
    res.set(http::field::content_type, reply.contentType);
    if (reply.status == 503)
      res.set(http::field::retry_after, "1");
    res.keep_alive(keep && keepAlive);
    res.body() = reply.body;
    res.prepare_payload();
    return !run(
        [&](auto done) { http::async_write(stream, res, std::move(done)); });
  }

  /// Server-sent events: the header, then chunks, then the last chunk.
  bool startStream() {
    http::response<http::empty_body> res{http::status::ok, version};
    res.set(http::field::content_type, "text/event-stream");
    res.set(http::field::cache_control, "no-cache");
    res.keep_alive(keepAlive);
    res.chunked(true);
    http::response_serializer<http::empty_body> serializer{res};
    return !run([&](auto done) {
      http::async_write_header(stream, serializer, std::move(done));
    });
  }
  bool chunk(const std::string &data) {
    return !run([&](auto done) {
      net::async_write(stream, http::make_chunk(net::buffer(data)),
                       std::move(done));
    });
  }
  bool endStream() {
    return !run([&](auto done) {
      net::async_write(stream, http::make_chunk_last(), std::move(done));
    });
  }

  /// Whether the client closed its end (checked while a request waits).
  bool peerClosed() {
    char c;
    ssize_t n =
        ::recv(stream.socket().native_handle(), &c, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
  }

  bool keepAlive = false;
  /// Set while a request is being answered (not while waiting for one).
  std::atomic<bool> busy{false};

private:
  static constexpr size_t kMaxBody = size_t(16) << 20;

  /// Starts an asynchronous operation and runs it to its end or deadline.
  template <typename Start> beast::error_code run(Start start) {
    beast::error_code result;
    stream.expires_after(std::chrono::seconds(timeout));
    start([&](beast::error_code ec, size_t) { result = ec; });
    io.restart();
    io.run();
    return result;
  }

  int timeout;
  net::io_context io;
  beast::tcp_stream stream{io};
  beast::flat_buffer buffer;
  unsigned version = 11;
};

struct Server {
  const Tokenizer &tok;
  std::string model;
  Engine engine;
  RequestReader requests;
  std::atomic<int64_t> nextId{0};

  Server(const Tokenizer &tok, int64_t vocab, int64_t context,
         std::string model, Engine::Config cfg)
      : tok(tok), model(std::move(model)),
        engine(cfg, &tok, vocab, [](int32_t id) { return tern_is_eos(id); }),
        requests(tok, vocab, context) {}

  /// Answers a completion request on `conn`: a Reply to write, or
  /// nothing when the answer was streamed (or the client went away).
  std::optional<Reply> complete(const std::string &text, bool chat,
                                Connection &conn) {
    CompletionRequest p;
    if (auto r = requests.read(text, chat, p))
      return refusal(*r);
    auto req = std::make_shared<Request>();
    req->prompt = std::move(p.prompt);
    auto promptTokens = int64_t(req->prompt.size());
    req->maxTokens = p.maxTokens;
    req->sampling = p.sampling;
    req->seed = p.seed ? *p.seed : std::random_device()();
    req->stop = p.stop;
    req->ignoreEos = p.ignoreEos;
    if (chat)
      req->stopIds = tok.endOfTurnIds();
    if (engine.isDraining())
      return refusal({503, "the server is shutting down", "", "server_error"});
    if (!engine.submit(req))
      return refusal({503,
                      "the server is busy: every slot and queue place is "
                      "taken; retry later",
                      "", "server_error"});

    std::string id =
        (chat ? "chatcmpl-" : "cmpl-") + std::to_string(nextId.fetch_add(1));
    auto created = int64_t(std::time(nullptr));
    auto usage = [promptTokens](int64_t generated) {
      return json{{"prompt_tokens", promptTokens},
                  {"completion_tokens", generated},
                  {"total_tokens", promptTokens + generated}};
    };
    auto head = [&](const char *object) {
      return json{{"id", id},
                  {"object", object},
                  {"created", created},
                  {"model", model}};
    };
    // Waits for text or the end; false (and the request cancelled) when
    // the client has gone.
    auto wait = [&](bool forText) {
      while (true) {
        {
          std::unique_lock<std::mutex> lock(req->mutex);
          if (req->changed.wait_for(lock, std::chrono::milliseconds(250), [&] {
                return req->finished || (forText && !req->text.empty());
              }))
            return true;
        }
        if (conn.peerClosed()) {
          req->cancelled = true;
          return false;
        }
      }
    };
    std::string out, reason;
    int64_t generated = 0;
    if (!p.stream) {
      if (!wait(/*forText=*/false))
        return std::nullopt;
      req->take(out, reason, generated);
      json answer = head(chat ? "chat.completion" : "text_completion");
      json choice = {{"index", 0}, {"finish_reason", reason}};
      if (chat)
        choice["message"] = {{"role", "assistant"}, {"content", out}};
      else
        choice["text"] = out, choice["logprobs"] = nullptr;
      answer["choices"] = json::array({choice});
      answer["usage"] = usage(generated);
      return jsonReply(200, answer);
    }

    // Server-sent events: a chunk per piece of text as the engine releases
    // it, the finish reason, usage if asked, then [DONE].
    const char *object = chat ? "chat.completion.chunk" : "text_completion";
    bool sentRole = false;
    auto send = [&](const json &j) {
      return conn.chunk("data: " + dump(j) + "\n\n");
    };
    auto chunk = [&](const std::string &piece, const json &why) {
      json event = head(object);
      json choice = {{"index", 0}, {"finish_reason", why}};
      if (chat) {
        choice["delta"] = json::object();
        if (!sentRole)
          choice["delta"]["role"] = "assistant";
        if (!piece.empty() || !sentRole)
          choice["delta"]["content"] = piece;
        sentRole = true;
      } else {
        choice["text"] = piece, choice["logprobs"] = nullptr;
      }
      event["choices"] = json::array({choice});
      return send(event);
    };
    auto abandon = [&] {
      req->cancelled = true;
      return std::nullopt;
    };
    if (!conn.startStream())
      return abandon();
    while (true) {
      if (!wait(/*forText=*/true))
        return std::nullopt;
      bool finished = req->take(out, reason, generated);
      if (!out.empty() && !chunk(out, nullptr))
        return abandon();
      if (finished)
        break;
    }
    if (!chunk("", reason))
      return std::nullopt;
    if (p.includeUsage) {
      json event = head(object);
      event["choices"] = json::array();
      event["usage"] = usage(generated);
      if (!send(event))
        return std::nullopt;
    }
    if (conn.chunk("data: [DONE]\n\n"))
      conn.endStream();
    return std::nullopt;
  }

  std::string metricsText() {
    std::ostringstream os;
    EngineMetrics &m = engine.metrics;
    auto counter = [&](const char *name, const char *help, int64_t v) {
      os << "# HELP tern_" << name << " " << help << "\n# TYPE tern_" << name
         << " counter\ntern_" << name << " " << v << "\n";
    };
    auto gauge = [&](const char *name, const char *help, double v) {
      os << "# HELP tern_" << name << " " << help << "\n# TYPE tern_" << name
         << " gauge\ntern_" << name << " " << v << "\n";
    };
    auto histogram = [&](const char *name, const char *help,
                         EngineMetrics::Histogram &h) {
      os << "# HELP tern_" << name << " " << help << "\n# TYPE tern_" << name
         << " histogram\n";
      int64_t total = 0;
      for (int b = 0; b < EngineMetrics::kNumBuckets; ++b) {
        total += h.counts[b];
        os << "tern_" << name << "_bucket{le=\"";
        if (b + 1 < EngineMetrics::kNumBuckets)
          os << EngineMetrics::kBuckets[b];
        else
          os << "+Inf";
        os << "\"} " << total << "\n";
      }
      os << "tern_" << name << "_sum " << double(h.micros) / 1e6 << "\n"
         << "tern_" << name << "_count " << total << "\n";
    };
    counter("requests_total", "Requests accepted.", m.requests);
    counter("requests_rejected_total",
            "Requests refused because the queue was full or the server "
            "was draining.",
            m.rejected);
    counter("prompt_tokens_total", "Prompt tokens processed.", m.promptTokens);
    counter("generated_tokens_total", "Tokens generated.", m.generatedTokens);
    counter("steps_total", "Batched forward steps.", m.steps);
    counter("step_tokens_total", "Tokens in all steps.", m.stepTokens);
    gauge("slots_busy", "Sequence slots in use.", engine.busySlots());
    gauge("slots_total", "Sequence slots (--parallel).", engine.config().slots);
    gauge("queue_depth", "Requests waiting for a slot.", engine.queued());
    histogram("time_to_first_token_seconds",
              "From arrival to the first generated token.", m.timeToFirstToken);
    histogram("inter_token_latency_seconds",
              "Between consecutive tokens of a request.", m.interToken);
    histogram("step_seconds",
              "Each batched forward step (every running sequence waits for "
              "it).",
              m.stepDuration);
    return os.str();
  }
};

/// Reads and answers the requests of one connection until it closes or
/// the server stops.
void session(Server &server, Connection &conn,
             const std::atomic<bool> &stopping) {
  http::request<http::string_body> q;
  while (!stopping && conn.read(q)) {
    conn.busy = true;
    if (server.engine.isDraining())
      conn.keepAlive = false;
    std::string path(q.target());
    path = path.substr(0, path.find('?'));
    bool post = q.method() == http::verb::post,
         get = q.method() == http::verb::get;
    std::optional<Reply> reply;
    auto only = [&](bool ok, const char *method) {
      if (!ok)
        reply = refusal({405, path + " takes " + method + ", not " +
                                  std::string(q.method_string())});
      return ok;
    };
    if (path == "/v1/completions" || path == "/v1/chat/completions") {
      if (only(post, "POST")) {
        reply = server.complete(q.body(), path == "/v1/chat/completions", conn);
        if (!reply && !conn.keepAlive) // streamed, or the client went away
          break;
      }
    } else if (path == "/v1/models") {
      if (only(get, "GET"))
        reply =
            jsonReply(200, {{"object", "list"},
                            {"data", json::array({{{"id", server.model},
                                                   {"object", "model"},
                                                   {"created", 0},
                                                   {"owned_by", "tern"}}})}});
    } else if (path == "/health") {
      if (only(get, "GET"))
        reply = server.engine.isDraining()
                    ? refusal({503, "the server is shutting down", "",
                               "server_error"})
                    : jsonReply(200, {{"status", "ok"}});
    } else if (path == "/metrics") {
      if (only(get, "GET"))
        reply = Reply{200, server.metricsText(), "text/plain; version=0.0.4"};
    } else {
      reply = refusal(
          {404, "no endpoint " + std::string(q.method_string()) + " " + path});
    }
    if (reply && (!conn.write(*reply, true) || !conn.keepAlive))
      break;
    conn.busy = false;
  }
  beast::error_code ignored;
  conn.socket().shutdown(tcp::socket::shutdown_both, ignored);
}

} // namespace

int tern::rt::serve(const Options &o, const Tokenizer &tok, int64_t vocab,
                    int64_t context, const char *modelName) {
  // SIGTERM and SIGINT are blocked in every thread (the mask is inherited)
  // and taken by sigwait below; a client that goes away mid-write must not
  // kill the process.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  setNumThreads(numThreads()); // the kernels' team, started again with it

  net::io_context io;
  tcp::acceptor acceptor(io);
  beast::error_code ec;
  tcp::endpoint endpoint(net::ip::make_address(o.host, ec),
                         (unsigned short)o.port);
  if (ec) {
    std::fprintf(stderr, "error: --host '%s' is not an IP address\n",
                 o.host.c_str());
    return 1;
  }
  acceptor.open(endpoint.protocol(), ec);
  if (!ec)
    acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec)
    acceptor.bind(endpoint, ec);
  if (!ec)
    acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    std::fprintf(stderr, "error: cannot listen on %s:%d: %s\n", o.host.c_str(),
                 o.port, ec.message().c_str());
    return 1;
  }

  Engine::Config cfg;
  cfg.slots = o.parallel;
  cfg.context = context;
  cfg.batchTokens = o.batchSize;
  cfg.prefillChunk = o.prefillChunk;
  cfg.queue = o.queue;
  cfg.kvF16 = o.kvF16;
  Server server(tok, vocab, context, modelName, cfg);
  double gib = double(server.engine.poolBytes()) / (1 << 30);
  std::fprintf(stderr,
               "server: %s on http://%s:%d, %d slots of %lld positions, KV "
               "pool %.2f GiB (%s, %.0f MiB per slot), %d thread%s\n",
               modelName, o.host.c_str(), int(acceptor.local_endpoint().port()),
               o.parallel, (long long)context, gib, o.kvF16 ? "f16" : "f32",
               gib * 1024 / o.parallel, numThreads(),
               numThreads() == 1 ? "" : "s");

  // Connections: a thread each, up to `limit` (every slot's stream, the
  // queue, and some for /health and /metrics); beyond it, 503.
  const int limit = o.parallel + o.queue + 16;
  std::mutex mutex;
  std::condition_variable ended;
  std::set<Connection *> connections;
  int open = 0;
  std::atomic<bool> stopping{false};
  std::thread waiter([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    std::fprintf(stderr, "server: %s: finishing the requests in flight\n",
                 sig == SIGTERM ? "SIGTERM" : "SIGINT");
    server.engine.drain();
    server.engine.waitIdle();
    stopping = true;
    ::shutdown(acceptor.native_handle(), SHUT_RDWR); // wakes accept()
  });
  while (!stopping) {
    auto conn = std::make_unique<Connection>(o.timeout);
    acceptor.accept(conn->socket(), ec);
    if (ec) {
      if (stopping)
        break;
      continue; // e.g. a client that reset before accept, or EMFILE
    }
    std::lock_guard<std::mutex> lock(mutex);
    bool over = open >= limit;
    ++open;
    connections.insert(conn.get());
    std::thread([&, over, c = std::move(conn)] {
      if (over)
        c->write(refusal({503, "too many open connections; retry later", "",
                          "server_error"}),
                 false);
      else
        session(server, *c, stopping);
      std::lock_guard<std::mutex> done(mutex);
      connections.erase(c.get());
      --open;
      ended.notify_all();
    }).detach();
  }
  waiter.join();
  // Every answer is made: end the connections waiting for another request;
  // the others end once their answer is written.
  {
    std::unique_lock<std::mutex> lock(mutex);
    for (Connection *c : connections)
      if (!c->busy)
        ::shutdown(c->socket().native_handle(), SHUT_RDWR);
    ended.wait(lock, [&] { return open == 0; });
  }
  server.engine.stop();
  std::fprintf(stderr, "server: stopped\n");
  return 0;
}
