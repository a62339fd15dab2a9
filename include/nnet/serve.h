// `nnet serve`'s request handling, independent of the HTTP transport: routing, the JSON API
// (/api/predict, /api/model, /healthz), the embedded page, and one-line JSON errors. The transport
// (cpp-httplib, in app/cmd_serve.cc) only moves bytes; everything a request can do is here and
// testable without sockets. The API is documented in docs/serve.md.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nnet/image.h"
#include "nnet/model_io.h"
#include "nnet/status.h"

namespace nnet {

// One model to serve, and what is known about it.
struct ServedModel {
  std::string name;                     // shown in the page and the API (usually the file name)
  Model model;                          // must take 28x28 = 784 inputs
  std::optional<double> test_accuracy;  // fraction 0..1 on `accuracy_data`, when measured
  std::string accuracy_data;            // what the accuracy was measured on ("test, 10000 images")
};

// Caps on what a request may carry.
struct ServeLimits {
  size_t max_body = size_t{8} << 20;  // request body bytes (checked by the transport too)
  ImageLimits image{size_t{8} << 20, 4L << 20, 8192};  // 4 Mpx, sides <= 8192, before decoding
};

// A request as the transport saw it: method and path as sent, Content-Type header (or ""), body.
struct ServeRequest {
  std::string method;
  std::string path;
  std::string content_type;
  std::string body;
};

// The answer: status, Content-Type, body, and the Allow header for 405s ("" otherwise).
struct ServeResponse {
  int status = 200;
  std::string content_type;
  std::string body;
  std::string allow;
};

// The body of every error answer: {"error": message} on one line, newline-terminated.
std::string serve_error_body(const std::string& message);

// An error response with `status` and the JSON error body.
ServeResponse serve_error(int status, const std::string& message);

// True when `host` names a loopback address (127.0.0.0/8, ::1, "localhost").
bool is_loopback_host(const std::string& host);

// The request handler. Immutable after creation; handle() may be called from many threads at once.
class ServeApp {
 public:
  // Checks that there is at least one model and that every model takes 784 inputs and has at
  // least 10 outputs (kUsage / kDataError otherwise).
  static Status Create(std::vector<ServedModel> models, const ServeLimits& limits,
                       std::unique_ptr<ServeApp>* out);
  ~ServeApp();

  // Answers one request. Never throws: malformed requests get 4xx with serve_error_body.
  //   GET  /, /app.js, /style.css  the embedded page (nothing else from any file system)
  //   GET  /healthz                {"status":"ok","models":N}
  //   GET  /api/model              {"models":[{name, sizes, activations, cost, layers, ...}]}
  //   POST /api/predict            body image/png, image/jpeg, or application/json
  //                                {"pixels":[784 numbers 0..1]} -> {"class", "probabilities",
  //                                "input", "models":[{"name","class","probabilities"}]}
  // HEAD is answered like GET. Known paths with another method -> 405 (with `allow`).
  ServeResponse handle(const ServeRequest& req) const;

  // The JSON of GET /api/model.
  std::string model_json() const;

  const ServeLimits& limits() const { return limits_; }
  size_t num_models() const;

 private:
  struct Impl;
  ServeApp(std::unique_ptr<Impl> impl, const ServeLimits& limits);
  ServeResponse predict(const ServeRequest& req) const;
  std::unique_ptr<Impl> impl_;
  ServeLimits limits_;
};

}  // namespace nnet
