// `nnet serve`: the draw-a-digit page and the JSON API over HTTP. The requests are answered by
// nnet::ServeApp (include/nnet/serve.h); this file only wires it to cpp-httplib with the limits:
// loopback by default, a bounded worker pool, read/write timeouts, a body cap counted on the
// decoded bytes, and a clean stop on SIGINT/SIGTERM.
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <functional>
#include <mutex>
#include <thread>

#include "commands.h"
#include "common.h"
#include "interrupt.h"
#include "nnet/data.h"
#include "nnet/model_io.h"
#include "nnet/serve.h"
#include "nnet/train.h"

// Last: it pulls in <resolv.h>, whose `_res` macro breaks Eigen headers included after it.
#include <httplib.h>

namespace nnet::app {

namespace {

struct ServeFlags {
  std::vector<std::string> models;
  std::string host = "127.0.0.1";
  int port = 8080;
  int threads = 4;
  size_t max_body = size_t{8} << 20;
  double timeout = 5;
  std::string data;  // optional: measure each model's test accuracy at start
};

// httplib's own ThreadPool (0.11) queues accepted sockets without bound. This one holds at most
// `capacity` waiting connections: when it is full, the accepting thread waits, so further clients
// stay in the kernel's listen backlog instead of in our memory.
class BoundedPool : public httplib::TaskQueue {
 public:
  BoundedPool(size_t threads, size_t capacity) : capacity_(capacity) {
    for (size_t i = 0; i < threads; ++i) workers_.emplace_back([this] { work(); });
  }
  ~BoundedPool() override { shutdown(); }

  void enqueue(std::function<void()> fn) override {
    std::unique_lock<std::mutex> lock(mu_);
    not_full_.wait(lock, [&] { return queue_.size() < capacity_ || stop_; });
    if (stop_) return;
    queue_.push_back(std::move(fn));
    not_empty_.notify_one();
  }

  void shutdown() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_ && workers_.empty()) return;
      stop_ = true;
    }
    not_empty_.notify_all();
    not_full_.notify_all();
    for (std::thread& t : workers_) t.join();
    workers_.clear();
  }

 private:
  void work() {
    for (;;) {
      std::function<void()> fn;
      {
        std::unique_lock<std::mutex> lock(mu_);
        not_empty_.wait(lock, [&] { return !queue_.empty() || stop_; });
        if (queue_.empty()) return;  // stopping, and every accepted socket has been served
        fn = std::move(queue_.front());
        queue_.pop_front();
      }
      not_full_.notify_one();
      fn();  // httplib's: serve the connection, then close the socket
    }
  }

  const size_t capacity_;
  std::mutex mu_;
  std::condition_variable not_empty_, not_full_;
  std::deque<std::function<void()>> queue_;
  std::vector<std::thread> workers_;
  bool stop_ = false;
};

void send(const ServeResponse& r, httplib::Response& res) {
  res.status = r.status;
  if (!r.allow.empty()) res.set_header("Allow", r.allow);
  res.set_header("Cache-Control", "no-store");
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_content(r.body, r.content_type.c_str());
}

ServeRequest to_request(const httplib::Request& req) {
  return {req.method, req.path, req.get_header_value("Content-Type"), ""};
}

Status load_models(const ServeFlags& f, std::vector<ServedModel>* out) {
  for (const std::string& path : f.models) {
    ServedModel sm;
    sm.name = std::filesystem::path(path).filename().string();
    // Names tell the models apart in the API: the same file name twice gets " (2)", ...
    int same = 1;
    for (const ServedModel& o : *out) same += o.name.rfind(sm.name, 0) == 0;
    if (same > 1) sm.name += " (" + std::to_string(same) + ")";
    NNET_RETURN_IF_ERROR(load_model(path, &sm.model));
    out->push_back(std::move(sm));
  }
  if (f.data.empty()) return Status::Ok();
  DataFlags df;
  df.data = f.data;
  DataSplits d;
  std::string used;
  NNET_RETURN_IF_ERROR(load_cli_data(df, &d, &used));
  if (d.test.size() == 0) return Status::Ok();
  for (ServedModel& sm : *out) {
    if (sm.model.net.inputs() != 784) continue;  // ServeApp::Create reports it
    EvalResult r = evaluate(sm.model.net, d.test, false);
    sm.test_accuracy = static_cast<double>(r.correct) / std::max(1L, r.total);
    // The data set's name, not where it lives: the page is for whoever can reach the server.
    sm.accuracy_data =
        "test split of " + data_set_name(used) + " (" + std::to_string(r.total) + " images)";
  }
  return Status::Ok();
}

int run_serve(const ServeFlags& f) {
  if (f.threads < 1 || f.threads > 256) return fail(UsageError("--threads: expected 1..256"));
  if (f.port < 0 || f.port > 65535) return fail(UsageError("--port: expected 0..65535"));
  if (!(f.timeout > 0 && f.timeout <= 3600))
    return fail(UsageError("--timeout: expected seconds in (0, 3600]"));
  if (f.max_body < 1024) return fail(UsageError("--max-body: expected at least 1024 bytes"));
  // Before anything is printed: a signal right after the URL appears must stop us cleanly.
  install_interrupt_handlers();
  std::vector<ServedModel> models;
  if (Status s = load_models(f, &models); !s.ok()) return fail(s);
  ServeLimits limits;
  limits.max_body = f.max_body;
  std::unique_ptr<ServeApp> app;
  if (Status s = ServeApp::Create(std::move(models), limits, &app); !s.ok()) return fail(s);

  httplib::Server svr;
  const size_t threads = static_cast<size_t>(f.threads);
  svr.new_task_queue = [threads] { return new BoundedPool(threads, 4 * threads); };
  const auto t_sec = static_cast<time_t>(f.timeout);
  const auto t_usec = static_cast<time_t>((f.timeout - static_cast<double>(t_sec)) * 1e6);
  svr.set_read_timeout(t_sec, t_usec);
  svr.set_write_timeout(t_sec, t_usec);
  svr.set_keep_alive_timeout(std::max<time_t>(1, t_sec));
  svr.set_keep_alive_max_count(100);
  svr.set_payload_max_length(f.max_body);  // Content-Length bodies read by httplib itself
  svr.set_tcp_nodelay(true);

  // Compressed bodies would be inflated by httplib before our cap sees them: refused up front.
  svr.set_pre_routing_handler([](const httplib::Request& req, httplib::Response& res) {
    const std::string enc = req.get_header_value("Content-Encoding");
    if (!enc.empty() && enc != "identity") {
      send(serve_error(415, "Content-Encoding '" + enc + "' not accepted: send the body as is"),
           res);
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  auto plain = [&app](const httplib::Request& req, httplib::Response& res) {
    send(app->handle(to_request(req)), res);
  };
  // Bodies with a content reader: we read them, counting decoded bytes (chunked too).
  auto with_body = [&app, max = f.max_body](const httplib::Request& req, httplib::Response& res,
                                            const httplib::ContentReader& reader) {
    ServeRequest r = to_request(req);
    if (r.method == "POST" && r.path.substr(0, r.path.find('?')) == "/api/predict") {
      // A declared length over the cap is refused before a byte of the body is read.
      bool over = req.has_header("Content-Length") &&
                  req.get_header_value<uint64_t>("Content-Length") > max;
      const bool read = over || reader([&](const char* data, size_t n) {
                          if (r.body.size() + n > max) {
                            over = true;
                            return false;
                          }
                          r.body.append(data, n);
                          return true;
                        });
      if (over) {
        send(serve_error(413, "request body over " + std::to_string(max) + " bytes"), res);
        res.set_header("Connection", "close");
        return;
      }
      if (!read) {  // the client stalled past --timeout or closed mid-body
        send(serve_error(400, "request body incomplete (timed out or cut short)"), res);
        res.set_header("Connection", "close");
        return;
      }
    }
    send(app->handle(r), res);
  };
  svr.Get(".*", plain);
  svr.Options(".*", plain);
  svr.Post(".*", with_body);
  svr.Put(".*", with_body);
  svr.Patch(".*", with_body);
  svr.Delete(".*", with_body);
  // httplib's own refusals (400 malformed, 413 over --max-body, 414, 404 for odd methods...).
  svr.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return;
    const char* what = res.status == 413   ? "request body too large"
                       : res.status == 414 ? "request line too long"
                       : res.status == 400 ? "malformed request"
                       : res.status == 404 ? "not found"
                                           : "request refused";
    res.set_content(serve_error_body(what), "application/json");
  });
  svr.set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
        res.status = 500;
        res.set_content(serve_error_body("internal error"), "application/json");
      });

  int port = f.port;
  if (port == 0) {
    port = svr.bind_to_any_port(f.host);
    if (port < 0) port = 0;
  } else if (!svr.bind_to_port(f.host, port)) {
    port = 0;
  }
  if (port <= 0)
    return fail(Status::Error(Code::kCantCreate, "serve: cannot listen on " + f.host + ":" +
                                                     std::to_string(f.port) +
                                                     " (in use, or not an address of this host)"));
  if (!is_loopback_host(f.host))
    std::fprintf(stderr,
                 "nnet: WARNING: listening on %s, not loopback: anyone who can reach this host on "
                 "port %d can use the server (there is no authentication)\n",
                 f.host.c_str(), port);
  const bool v6 = f.host.find(':') != std::string::npos;
  std::printf("nnet: serving %zu model%s on http://%s%s%s:%d/ (Ctrl-C to stop)\n",
              app->num_models(), app->num_models() == 1 ? "" : "s", v6 ? "[" : "", f.host.c_str(),
              v6 ? "]" : "", port);
  std::fflush(stdout);

  // stop() only acts on a running server: wait for listen_after_bind to have started.
  std::atomic<bool> done{false};
  std::thread watcher([&] {
    while (!done.load()) {
      if (interrupt_requested() && svr.is_running()) {
        svr.stop();
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  const bool ok = svr.listen_after_bind();
  done = true;
  watcher.join();
  if (interrupt_requested()) {
    std::fprintf(stderr, "nnet: serve: stopped\n");
    return 0;
  }
  if (!ok) return fail(IoError("serve: the listening socket failed"));
  return 0;
}

}  // namespace

void add_serve_command(CLI::App& app, int* exit_code) {
  auto f = std::make_shared<ServeFlags>();
  CLI::App* cmd = app.add_subcommand(
      "serve", "draw a digit in the browser: the page and a JSON API (docs/serve.md)");
  cmd->add_option("--model", f->models, "model file (nnet train --save); repeat to compare")
      ->required();
  cmd->add_option("--host", f->host, "address to listen on (anything but loopback is public)")
      ->capture_default_str();
  cmd->add_option("--port", f->port, "port (0 = any free port)")->capture_default_str();
  cmd->add_option("--threads", f->threads, "worker threads (concurrent connections served)")
      ->capture_default_str();
  cmd->add_option("--max-body", f->max_body, "largest request body in bytes")
      ->capture_default_str();
  cmd->add_option("--timeout", f->timeout, "seconds a client may stall on a read or write")
      ->capture_default_str();
  cmd->add_option("--data", f->data,
                  "measure each model's accuracy on this data's test split at start (shown on "
                  "the page)");
  cmd->callback([f, exit_code] { *exit_code = run_serve(*f); });
}

}  // namespace nnet::app
