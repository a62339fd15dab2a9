// nnet serve: the request handler in process (ServeApp), then the real `nnet serve` binary over
// loopback sockets: every endpoint, wrong methods and content types, oversized, truncated,
// compressed and stalled bodies, concurrency, and a clean SIGTERM.
#include "nnet/serve.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "nnet/layers.h"
#include "nnet/train.h"
#include "synthetic_data.h"
#include "test_util.h"

namespace nnet {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

// A 784-20-10 sigmoid net with fixed pseudo-random weights: distinct outputs for distinct inputs.
Model test_model(uint32_t seed) {
  Model m;
  m.net = Network(sigmoid_architecture({784, 20, 10}, Cost::kCrossEntropy));
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.0f, 0.3f);
  for (float& p : m.net.params()) p = g(rng);
  m.init = "default";
  m.training = testing::json_value(R"({"epochs": 1, "eta": 0.5})");
  return m;
}

// A white-on-black "1"-like stroke with a bend, as a PNG.
std::string digit_png(int w = 60, int h = 80) {
  Image img(w, h, 3, 0);
  for (int y = h / 5; y < h - h / 5; ++y)
    for (int x = w / 2 - 4; x < w / 2 + 4; ++x)
      std::memset(img.at(x + (y - h / 5) / 10, y), 255, 3);
  std::string png;
  EXPECT_TRUE(encode_png(img, &png).ok());
  return png;
}

uint32_t crc32(const unsigned char* p, size_t n) {
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i < n; ++i) {
    c ^= p[i];
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
  }
  return ~c;
}

// `png` with its IHDR claiming width x height (CRC fixed, so only the limits can refuse it).
std::string with_dimensions(std::string png, uint32_t width, uint32_t height) {
  auto put = [&](size_t at, uint32_t v) {
    for (int i = 0; i < 4; ++i) png[at + i] = static_cast<char>((v >> (24 - 8 * i)) & 0xff);
  };
  put(16, width);
  put(20, height);
  put(29, crc32(reinterpret_cast<const unsigned char*>(png.data()) + 12, 17));
  return png;
}

std::string pixels_json(const std::vector<float>& x) {
  return json{{"pixels", std::vector<double>(x.begin(), x.end())}}.dump();
}

std::unique_ptr<ServeApp> make_app(int models = 1) {
  std::vector<ServedModel> v;
  for (int i = 0; i < models; ++i)
    v.push_back({"m" + std::to_string(i), test_model(7 + i), {}, ""});
  v[0].test_accuracy = 0.5;
  v[0].accuracy_data = "made up";
  std::unique_ptr<ServeApp> app;
  EXPECT_TRUE(ServeApp::Create(std::move(v), ServeLimits{}, &app).ok());
  return app;
}

void expect_json_error(const ServeResponse& r, int status) {
  EXPECT_EQ(r.status, status) << r.body;
  EXPECT_EQ(r.content_type, "application/json");
  ASSERT_FALSE(r.body.empty());
  EXPECT_EQ(r.body.find('\n'), r.body.size() - 1) << "one line: " << r.body;
  json j = json::parse(r.body, nullptr, false);
  ASSERT_TRUE(j.is_object()) << r.body;
  EXPECT_TRUE(j["error"].is_string()) << r.body;
}

TEST(ServeApp, PixelsPredictAsTheLibraryDoes) {
  auto app = make_app(2);
  std::vector<float> x(784);
  for (int i = 0; i < 784; ++i) x[i] = static_cast<float>((i * 37 % 101) / 100.0);
  ServeResponse r = app->handle({"POST", "/api/predict", "application/json", pixels_json(x)});
  ASSERT_EQ(r.status, 200) << r.body;
  json j = json::parse(r.body);
  ASSERT_EQ(j["models"].size(), 2u);
  for (int m = 0; m < 2; ++m) {
    Model ref = test_model(7 + m);
    Eigen::MatrixXf out;
    predict(ref.net, x.data(), 1, &out);
    Eigen::Index k;
    out.col(0).maxCoeff(&k);
    const json& pm = j["models"][m];
    EXPECT_EQ(pm["name"], "m" + std::to_string(m));
    EXPECT_EQ(pm["class"], static_cast<int>(k));
    ASSERT_EQ(pm["probabilities"].size(), 10u);
    for (int i = 0; i < 10; ++i)
      EXPECT_NEAR(pm["probabilities"][i].get<double>(), out(i, 0), 1e-5 * (1 + out(i, 0)));
  }
  EXPECT_EQ(j["class"], j["models"][0]["class"]);
  EXPECT_EQ(j["probabilities"], j["models"][0]["probabilities"]);
  ASSERT_EQ(j["input"].size(), 784u);
  for (int i = 0; i < 784; ++i) EXPECT_NEAR(j["input"][i].get<double>(), x[i], 1e-5);
}

// A conv model (chapter 6 layers) is served like a dense one: the same probabilities as predict().
TEST(ServeApp, ConvModelsPredictAsTheLibraryDoes) {
  Architecture a;
  a.cost = Cost::kLogLikelihood;
  ASSERT_TRUE(parse_layers("conv:4:5,maxpool:2,dropout:0.5,fc:12,softmax:10", {Activation::kRelu},
                           &a.layers)
                  .ok());
  Model conv;
  conv.net = Network(a);
  std::mt19937 rng(3);
  std::normal_distribution<float> g(0.0f, 0.2f);
  for (float& p : conv.net.params()) p = g(rng);
  const Model ref = conv;
  std::vector<ServedModel> v;
  v.push_back({"conv", std::move(conv), {}, ""});
  std::unique_ptr<ServeApp> app;
  ASSERT_TRUE(ServeApp::Create(std::move(v), ServeLimits{}, &app).ok());
  std::vector<float> x(784);
  for (int i = 0; i < 784; ++i) x[i] = static_cast<float>((i * 53 % 97) / 96.0);
  ServeResponse r = app->handle({"POST", "/api/predict", "application/json", pixels_json(x)});
  ASSERT_EQ(r.status, 200) << r.body;
  json j = json::parse(r.body);
  Eigen::MatrixXf out;
  predict(ref.net, x.data(), 1, &out);
  Eigen::Index k;
  out.col(0).maxCoeff(&k);
  EXPECT_EQ(j["class"], static_cast<int>(k));
  ASSERT_EQ(j["probabilities"].size(), 10u);
  for (int i = 0; i < 10; ++i)
    EXPECT_NEAR(j["probabilities"][i].get<double>(), out(i, 0), 1e-5 * (1 + out(i, 0)));
  r = app->handle({"GET", "/api/model", "", ""});
  ASSERT_EQ(r.status, 200) << r.body;
  const json m = json::parse(r.body)["models"][0];
  EXPECT_EQ(m["layers"], "conv:4:5,maxpool:2,dropout:0.5,fc:12,softmax:10");
  // Layer by layer, each with the shape it hands on (`sizes` would say 2304 for the conv layer,
  // its output before pooling).
  EXPECT_EQ(m["layer_shapes"], json::parse(R"([
      {"layer": "input", "shape": [1, 28, 28]}, {"layer": "conv:4:5", "shape": [4, 24, 24]},
      {"layer": "maxpool:2", "shape": [4, 12, 12]}, {"layer": "dropout:0.5", "shape": [4, 12, 12]},
      {"layer": "fc:12", "shape": [12]}, {"layer": "softmax:10", "shape": [10]}])"))
      << r.body;
}

// /api/model shows the data set's name, never the paths of the machine that trained or serves
// the model, and says "all" for a run that trained on every image (train_size -1).
TEST(ServeApp, ModelDescriptionShowsNamesNotPaths) {
  Model m = test_model(7);
  m.training = testing::json_value(R"({"data": "/home/alice/private/mnist-first10k/mnist.pkl.gz",
                                       "init_from": "/home/alice/private/start.json",
                                       "train_size": -1, "epochs": 3})");
  Model part = test_model(8);
  part.training =
      testing::json_value(R"({"data": "/home/alice/private/fashion-mnist/", "train_size": 1000})");
  std::vector<ServedModel> v;
  v.push_back({"a.json", std::move(m), 0.9, "test split of mnist-first10k (10000 images)"});
  v.push_back({"b.json", std::move(part), {}, ""});
  std::unique_ptr<ServeApp> app;
  ASSERT_TRUE(ServeApp::Create(std::move(v), ServeLimits{}, &app).ok());
  const ServeResponse r = app->handle({"GET", "/api/model", "", ""});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body.find("alice"), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find("private"), std::string::npos) << r.body;
  const json models = json::parse(r.body)["models"];
  EXPECT_EQ(models[0]["training"]["data"], "mnist.pkl.gz");
  EXPECT_EQ(models[0]["training"]["init_from"], "start.json");
  EXPECT_EQ(models[0]["training"]["train_size"], "all");
  EXPECT_EQ(models[0]["training"]["epochs"], 3);
  EXPECT_EQ(models[0]["layer_shapes"], nullptr);  // a dense net: `sizes` is layer by layer
  EXPECT_EQ(models[1]["training"]["data"], "fashion-mnist");
  EXPECT_EQ(models[1]["training"]["train_size"], 1000);
}

TEST(ServeApp, PngIsFramedAsNnetPredictFramesIt) {
  auto app = make_app();
  const std::string png = digit_png();
  ServeResponse r = app->handle({"POST", "/api/predict", "image/png", png});
  ASSERT_EQ(r.status, 200) << r.body;
  Image img;
  ASSERT_TRUE(decode_image(png, "t", ImageLimits{}, &img).ok());
  std::vector<float> x;
  ASSERT_TRUE(preprocess_digit(img, DigitFraming{}, &x).ok());
  json j = json::parse(r.body);
  for (int i = 0; i < 784; ++i) ASSERT_NEAR(j["input"][i].get<double>(), x[i], 1e-5) << i;
  Eigen::MatrixXf out;
  predict(test_model(7).net, x.data(), 1, &out);
  Eigen::Index k;
  out.col(0).maxCoeff(&k);
  EXPECT_EQ(j["class"], static_cast<int>(k));
  // Parameters after the media type and upper case are fine.
  EXPECT_EQ(app->handle({"POST", "/api/predict", "Image/PNG; foo=bar", png}).status, 200);
}

TEST(ServeApp, BadBodiesGetOneLineJsonErrors) {
  auto app = make_app();
  const std::string png = digit_png();
  auto post = [&](const std::string& type, const std::string& body) {
    return app->handle({"POST", "/api/predict", type, body});
  };
  expect_json_error(post("text/plain", "hello"), 415);
  expect_json_error(post("", "hello"), 415);
  expect_json_error(post("image/gif", "GIF89a"), 415);
  expect_json_error(post("image/png", "not a png at all"), 400);
  expect_json_error(post("image/jpeg", png), 400);  // a PNG labelled JPEG
  expect_json_error(post("image/png", ""), 400);
  expect_json_error(post("image/png", png.substr(0, png.size() / 2)), 422);  // truncated
  expect_json_error(post("image/jpeg", std::string("\xff\xd8\xff\xe0garbage", 11)), 422);
  expect_json_error(post("image/png", with_dimensions(png, 100000, 100000)), 422);
  expect_json_error(post("image/png", with_dimensions(png, 8193, 10)), 422);
  Image blank(40, 40, 1, 0);
  std::string blank_png;
  ASSERT_TRUE(encode_png(blank, &blank_png).ok());
  expect_json_error(post("image/png", blank_png), 422);  // no ink
  expect_json_error(post("application/json", "{\"pixels\": [1, 2"), 400);
  expect_json_error(post("application/json", std::string(100000, '[')), 400);
  expect_json_error(post("application/json", "[1,2,3]"), 422);
  expect_json_error(post("application/json", "{\"pixels\": [0.5]}"), 422);
  expect_json_error(post("application/json", "{\"pixels\": \"abc\"}"), 422);
  std::vector<float> x(784, 0.5f);
  std::string ok = pixels_json(x);
  EXPECT_EQ(post("application/json", ok).status, 200);
  x[3] = 1.5f;
  expect_json_error(post("application/json", pixels_json(x)), 422);
  x[3] = -0.1f;
  expect_json_error(post("application/json", pixels_json(x)), 422);
  std::string s = ok;
  s.replace(s.find("0.5"), 3, "\"a\"");
  expect_json_error(post("application/json", s), 422);
  expect_json_error(post("application/json", std::string(ServeLimits{}.max_body + 1, ' ')), 413);
}

TEST(ServeApp, RoutesMethodsAndPages) {
  auto app = make_app();
  ServeResponse r = app->handle({"GET", "/healthz", "", ""});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(json::parse(r.body)["status"], "ok");
  r = app->handle({"GET", "/api/model", "", ""});
  ASSERT_EQ(r.status, 200);
  json m = json::parse(r.body)["models"][0];
  EXPECT_EQ(m["sizes"], json({784, 20, 10}));
  EXPECT_EQ(m["activations"], json({"sigmoid", "sigmoid"}));
  EXPECT_EQ(m["cost"], "cross-entropy");
  EXPECT_EQ(m["init"], "default");
  EXPECT_EQ(m["training"]["epochs"], 1);
  EXPECT_EQ(m["parameters"], 784 * 20 + 20 + 20 * 10 + 10);
  EXPECT_DOUBLE_EQ(m["test_accuracy"].get<double>(), 0.5);
  for (const char* page : {"/", "/index.html", "/app.js", "/style.css", "/?x=1"}) {
    r = app->handle({"GET", page, "", ""});
    EXPECT_EQ(r.status, 200) << page;
    EXPECT_FALSE(r.body.empty()) << page;
    EXPECT_NE(r.content_type.find("charset=utf-8"), std::string::npos) << page;
  }
  EXPECT_NE(app->handle({"GET", "/", "", ""}).body.find("<canvas"), std::string::npos);
  r = app->handle({"HEAD", "/healthz", "", ""});
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.body.empty());
  for (const char* path : {"/etc/passwd", "/../CMakeLists.txt", "/web/index.html", "/api"})
    expect_json_error(app->handle({"GET", path, "", ""}), 404);
  r = app->handle({"GET", "/api/predict", "", ""});
  expect_json_error(r, 405);
  EXPECT_EQ(r.allow, "POST");
  for (const char* method : {"POST", "PUT", "DELETE", "PATCH", "OPTIONS"}) {
    r = app->handle({method, "/healthz", "", ""});
    expect_json_error(r, 405);
    EXPECT_EQ(r.allow, "GET, HEAD");
    expect_json_error(app->handle({method, "/api/model", "", ""}), 405);
    expect_json_error(app->handle({method, "/", "", ""}), 405);
  }
  expect_json_error(app->handle({"PUT", "/api/predict", "application/json", "{}"}), 405);
}

TEST(ServeApp, CreateChecksTheModels) {
  std::unique_ptr<ServeApp> app;
  EXPECT_EQ(ServeApp::Create({}, ServeLimits{}, &app).code(), Code::kUsage);
  Model small;
  small.net = Network(sigmoid_architecture({100, 10}));
  EXPECT_EQ(ServeApp::Create({{"small", small, {}, ""}}, ServeLimits{}, &app).code(),
            Code::kDataError);
  EXPECT_FALSE(app);
}

TEST(ServeApp, LoopbackHosts) {
  for (const char* h : {"127.0.0.1", "127.1.2.3", "localhost", "::1", "LOCALHOST"})
    EXPECT_TRUE(is_loopback_host(h)) << h;
  for (const char* h : {"0.0.0.0", "::", "192.168.1.2", "128.0.0.1", "127.0.0.1.evil", "", "x"})
    EXPECT_FALSE(is_loopback_host(h)) << h;
}

// ---- The real server over loopback sockets. ----

struct Reply {
  int status = 0;  // 0: no answer (connection closed or timed out first)
  std::string head, body;
};

int connect_to(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  timeval tv{10, 0};  // no test waits longer for an answer
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

bool send_all(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

// Reads until the server closes the connection (requests say Connection: close) or a timeout.
Reply read_reply(int fd) {
  std::string all;
  char buf[65536];
  for (;;) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    all.append(buf, static_cast<size_t>(n));
  }
  Reply r;
  // Skip interim 100 Continue answers.
  while (all.rfind("HTTP/1.1 100", 0) == 0) all.erase(0, all.find("\r\n\r\n") + 4);
  const size_t end = all.find("\r\n\r\n");
  if (all.size() < 12 || end == std::string::npos) return r;
  r.status = std::atoi(all.c_str() + 9);
  r.head = all.substr(0, end);
  r.body = all.substr(end + 4);
  return r;
}

Reply request(int port, const std::string& raw) {
  int fd = connect_to(port);
  if (fd < 0) return {};
  Reply r;
  if (send_all(fd, raw)) r = read_reply(fd);
  ::close(fd);
  return r;
}

std::string http(const std::string& method, const std::string& path, const std::string& type = "",
                 const std::string& body = "", const std::string& extra = "") {
  std::string s = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
  if (!type.empty()) s += "Content-Type: " + type + "\r\n";
  if (!body.empty() || method == "POST")
    s += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  return s + extra + "\r\n" + body;
}

class Server {
 public:
  explicit Server(const std::vector<std::string>& args) {
    int out[2], err[2];
    EXPECT_EQ(::pipe(out), 0);
    EXPECT_EQ(::pipe(err), 0);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(out[1], 1);
      ::dup2(err[1], 2);
      ::close(out[0]);
      ::close(err[0]);
      std::vector<std::string> all{NNET_BINARY, "serve", "--port", "0"};
      all.insert(all.end(), args.begin(), args.end());
      std::vector<char*> argv;
      for (std::string& a : all) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(NNET_BINARY, argv.data());
      ::_exit(127);
    }
    ::close(out[1]);
    ::close(err[1]);
    out_ = out[0];
    err_ = err[0];
    // The first line says where it listens.
    std::string line;
    char c;
    while (::read(out_, &c, 1) == 1 && c != '\n') line += c;
    first_line_ = line;
    const size_t p = line.find("http://127.0.0.1:");
    if (p != std::string::npos) port_ = std::atoi(line.c_str() + p + 17);
  }
  ~Server() {
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    ::close(out_);
    ::close(err_);
  }
  int port() const { return port_; }
  const std::string& first_line() const { return first_line_; }
  bool alive() { return ::waitpid(pid_, nullptr, WNOHANG) == 0; }
  // Sends `sig` and waits up to `limit` seconds; the exit status, or -1 if it did not exit.
  int stop(int sig, double limit, double* took) {
    const auto t0 = Clock::now();
    ::kill(pid_, sig);
    int st = 0;
    while (std::chrono::duration<double>(Clock::now() - t0).count() < limit) {
      if (::waitpid(pid_, &st, WNOHANG) == pid_) {
        reaped_ = true;
        *took = std::chrono::duration<double>(Clock::now() - t0).count();
        return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ::kill(pid_, SIGKILL);  // so that stderr_text() sees the end of the pipe
    ::waitpid(pid_, nullptr, 0);
    reaped_ = true;
    return -1;
  }
  // What it wrote on stderr; call after stop().
  std::string stderr_text() {
    std::string s;
    if (!reaped_) return s;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(err_, buf, sizeof buf)) > 0) s.append(buf, static_cast<size_t>(n));
    return s;
  }

 private:
  pid_t pid_ = -1;
  int out_ = -1, err_ = -1, port_ = 0;
  bool reaped_ = false;
  std::string first_line_;
};

class ServeHttp : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::make_temp_dir("nnet-serve");
    model_ = dir_ + "/model.json";
    ASSERT_TRUE(save_model(model_, test_model(7)).ok());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_, model_;
};

TEST_F(ServeHttp, AnswersEveryEndpointAndRefusesBadRequests) {
  Server s({"--model", model_, "--model", model_, "--timeout", "1", "--max-body", "100000"});
  ASSERT_GT(s.port(), 0) << s.first_line();
  const int port = s.port();
  Reply r = request(port, http("GET", "/healthz"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(json::parse(r.body)["models"], 2);
  r = request(port, http("GET", "/api/model"));
  ASSERT_EQ(r.status, 200);
  json models = json::parse(r.body)["models"];
  ASSERT_EQ(models.size(), 2u);
  EXPECT_EQ(models[0]["name"], "model.json");
  EXPECT_EQ(models[1]["name"], "model.json (2)");
  r = request(port, http("GET", "/"));
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("<canvas"), std::string::npos);
  r = request(port, http("POST", "/api/predict", "image/png", digit_png()));
  ASSERT_EQ(r.status, 200) << r.body;
  json j = json::parse(r.body);
  EXPECT_EQ(j["models"].size(), 2u);
  EXPECT_EQ(j["input"].size(), 784u);

  auto expect_error = [&](const std::string& raw, int status, const char* what) {
    Reply e = request(port, raw);
    EXPECT_EQ(e.status, status) << what << ": " << e.head << "\n" << e.body;
    json ej = json::parse(e.body, nullptr, false);
    EXPECT_TRUE(ej.is_object() && ej.contains("error")) << what << ": " << e.body;
  };
  expect_error(http("GET", "/api/predict"), 405, "GET predict");
  expect_error(http("PUT", "/api/predict", "image/png", "x"), 405, "PUT predict");
  expect_error(http("DELETE", "/healthz"), 405, "DELETE healthz");
  expect_error(http("POST", "/api/model", "application/json", "{}"), 405, "POST model");
  expect_error(http("GET", "/nope"), 404, "unknown path");
  expect_error(http("GET", "/../../etc/passwd"), 404, "path outside");
  expect_error(http("POST", "/api/predict", "text/plain", "hello"), 415, "text/plain");
  expect_error(http("POST", "/api/predict", "image/png", "GIF89a......"), 400, "not a png");
  expect_error(
      http("POST", "/api/predict", "image/png", with_dimensions(digit_png(), 1u << 30, 1u << 30)),
      422, "huge dimensions");
  expect_error(http("POST", "/api/predict", "application/json", "{\"pixels\":[1,2,3]}"), 422,
               "short pixels");
  expect_error(
      http("POST", "/api/predict", "application/json", "{\"pix", "Content-Encoding: gzip\r\n"), 415,
      "compressed");
  // Over --max-body: declared, refused before the body is sent.
  expect_error(
      "POST /api/predict HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: "
      "image/png\r\nContent-Length: 100001\r\n\r\n",
      413, "declared too large");
  // Chunked with no declared length: counted as it arrives.
  std::string chunked =
      "POST /api/predict HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: "
      "application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
  const std::string chunk(20000, ' ');
  for (int i = 0; i < 8; ++i) chunked += "4e20\r\n" + chunk + "\r\n";
  chunked += "0\r\n\r\n";
  expect_error(chunked, 413, "chunked too large");
  expect_error("GARBAGE\r\n\r\n", 400, "garbage request line");
  expect_error("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX: " + std::string(20000, 'a') +
                   "\r\n\r\n",
               400, "header too long");

  // A body cut short: the client closes mid-body; the server carries on.
  {
    int fd = connect_to(port);
    ASSERT_GE(fd, 0);
    send_all(fd,
             "POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n"
             "Content-Length: 5000\r\n\r\n" +
                 digit_png().substr(0, 100));
    ::close(fd);
  }
  EXPECT_EQ(request(port, http("GET", "/healthz")).status, 200);
  EXPECT_TRUE(s.alive());
  double took = 0;
  EXPECT_EQ(s.stop(SIGTERM, 5, &took), 0);
}

TEST_F(ServeHttp, StalledClientsTimeOutWithoutBlockingOthers) {
  // Two stalled clients hold two of the four workers; the other two keep serving.
  Server s({"--model", model_, "--timeout", "2", "--threads", "4"});
  ASSERT_GT(s.port(), 0) << s.first_line();
  // One client sends headers and part of a body, another only half a request line: both stall.
  int a = connect_to(s.port());
  ASSERT_GE(a, 0);
  send_all(a,
           "POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
           "Content-Length: 1000\r\n\r\n{\"pix");
  int b = connect_to(s.port());
  ASSERT_GE(b, 0);
  send_all(b, "GET /heal");
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  // Others are served meanwhile: all five before the stalled ones time out (2 s).
  const auto t_others = Clock::now();
  for (int i = 0; i < 5; ++i) EXPECT_EQ(request(s.port(), http("GET", "/healthz")).status, 200);
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - t_others).count(), 1.5);
  // The stalled ones are cut off after --timeout, well before our 10 s receive limit.
  const auto t0 = Clock::now();
  Reply ra = read_reply(a);
  Reply rb = read_reply(b);
  const double waited = std::chrono::duration<double>(Clock::now() - t0).count();
  EXPECT_LT(waited, 6.0);
  EXPECT_NE(ra.status, 200);
  EXPECT_NE(rb.status, 200);
  ::close(a);
  ::close(b);
  EXPECT_EQ(request(s.port(), http("GET", "/healthz")).status, 200);
  double took = 0;
  EXPECT_EQ(s.stop(SIGINT, 5, &took), 0);
}

TEST_F(ServeHttp, ManyConcurrentClientsAllAnswered) {
  Server s({"--model", model_, "--threads", "3"});
  ASSERT_GT(s.port(), 0) << s.first_line();
  const std::string png = digit_png();
  std::atomic<int> ok{0}, bad{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < 24; ++c)
    clients.emplace_back([&, c] {
      for (int i = 0; i < 10; ++i) {
        Reply r = request(s.port(), (c + i) % 2 ? http("POST", "/api/predict", "image/png", png)
                                                : http("GET", "/api/model"));
        (r.status == 200 ? ok : bad)++;
      }
    });
  for (std::thread& t : clients) t.join();
  EXPECT_EQ(ok.load(), 240);
  EXPECT_EQ(bad.load(), 0);
  double took = 0;
  EXPECT_EQ(s.stop(SIGTERM, 5, &took), 0);
  EXPECT_LT(took, 2.0);
  EXPECT_NE(s.stderr_text().find("stopped"), std::string::npos);
}

// --data: the accuracy is said to be measured on the data set's name, not on a server path.
TEST_F(ServeHttp, AccuracyNamesTheDataSetNotTheServersPath) {
  const std::string data = dir_ + "/private-folder/digits-set";
  std::filesystem::create_directories(data);
  ASSERT_TRUE(testing::write_synthetic_idx(data, 50, 30));
  Server s({"--model", model_, "--data", data});
  ASSERT_GT(s.port(), 0) << s.first_line();
  Reply r = request(s.port(), http("GET", "/api/model"));
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body.find("private-folder"), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find(dir_), std::string::npos) << r.body;
  const json m = json::parse(r.body)["models"][0];
  EXPECT_EQ(m["accuracy_data"], "test split of digits-set (30 images)");
  EXPECT_TRUE(m["test_accuracy"].is_number()) << r.body;
  double took = 0;
  EXPECT_EQ(s.stop(SIGTERM, 5, &took), 0);
}

TEST_F(ServeHttp, PublicHostIsAnnouncedLoudly) {
  Server s({"--model", model_, "--host", "0.0.0.0"});
  EXPECT_NE(s.first_line().find("http://0.0.0.0:"), std::string::npos) << s.first_line();
  double took = 0;
  EXPECT_EQ(s.stop(SIGTERM, 5, &took), 0);
  EXPECT_NE(s.stderr_text().find("WARNING"), std::string::npos);
}

TEST_F(ServeHttp, BadFlagsAndModelsFailClearly) {
  testing::CommandResult r = testing::run_nnet("serve --model /nonexistent.json --port 0");
  EXPECT_EQ(r.exit_code, 66) << r.err;
  r = testing::run_nnet("serve --model '" + model_ + "' --threads 0");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  Model small;
  small.net = Network(sigmoid_architecture({100, 10}));
  ASSERT_TRUE(save_model(dir_ + "/small.json", small).ok());
  r = testing::run_nnet("serve --model '" + dir_ + "/small.json' --port 0");
  EXPECT_EQ(r.exit_code, 65) << r.err;
  EXPECT_NE(r.err.find("784"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace nnet
