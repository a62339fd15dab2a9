// Bounded load test for `nnet serve` (wrk is not on Debian's default install; this is the small
// client bench/serve_load.sh drives). C client threads, each on its own keep-alive connection, POST
// real MNIST test digits (as PNG, 280x280 like the page's pad, or as JSON pixels) to
// /api/predict for S seconds; prints throughput, latency percentiles and failures as one JSON line.
// Usage: serve_load PORT CLIENTS SECONDS MNIST_DATA [png|json]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "nnet/data.h"
#include "nnet/image.h"

namespace {

using Clock = std::chrono::steady_clock;

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
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

// One request/response on a keep-alive connection; the status, or 0 when the connection failed.
// *closed is set when the server said Connection: close.
int exchange(int fd, const std::string& req, bool* closed) {
  for (size_t off = 0; off < req.size();) {
    ssize_t n = ::send(fd, req.data() + off, req.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return 0;
    off += static_cast<size_t>(n);
  }
  std::string buf;
  char tmp[16384];
  size_t head_end;
  while ((head_end = buf.find("\r\n\r\n")) == std::string::npos) {
    ssize_t n = ::recv(fd, tmp, sizeof tmp, 0);
    if (n <= 0) return 0;
    buf.append(tmp, static_cast<size_t>(n));
  }
  std::string head = buf.substr(0, head_end);
  for (char& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const size_t cl = head.find("content-length:");
  const size_t len =
      cl == std::string::npos ? 0 : std::strtoul(head.c_str() + cl + 15, nullptr, 10);
  *closed = head.find("connection: close") != std::string::npos;
  while (buf.size() < head_end + 4 + len) {
    ssize_t n = ::recv(fd, tmp, sizeof tmp, 0);
    if (n <= 0) return 0;
    buf.append(tmp, static_cast<size_t>(n));
  }
  return std::atoi(buf.c_str() + 9);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr, "usage: serve_load PORT CLIENTS SECONDS MNIST_DATA [png|json]\n");
    return 2;
  }
  const int port = std::atoi(argv[1]);
  const int clients = std::atoi(argv[2]);
  const double seconds = std::atof(argv[3]);
  const std::string kind = argc > 5 ? argv[5] : "png";
  nnet::DataSplits d;
  if (nnet::Status s = nnet::load_data(argv[4], nnet::LoadOptions{}, &d); !s.ok()) {
    std::fprintf(stderr, "serve_load: %s\n", s.message().c_str());
    return 1;
  }
  // 100 request bodies from the first test digits: white ink on black, 10x up like the pad.
  std::vector<std::string> reqs;
  for (size_t i = 0; i < 100 && i < d.test.size(); ++i) {
    const float* px = d.test.image(i);
    std::string body, type;
    if (kind == "json") {
      body = "{\"pixels\":[";
      for (int p = 0; p < 784; ++p) body += (p ? "," : "") + std::to_string(px[p]);
      body += "]}";
      type = "application/json";
    } else {
      nnet::Image img(280, 280, 1);
      for (int y = 0; y < 280; ++y)
        for (int x = 0; x < 280; ++x)
          *img.at(x, y) = static_cast<uint8_t>(255 * px[(y / 10) * 28 + x / 10] + 0.5f);
      if (!nnet::encode_png(img, &body).ok()) return 1;
      type = "image/png";
    }
    reqs.push_back("POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: " + type +
                   "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
  }
  std::atomic<long> failures{0};
  std::vector<std::vector<float>> lat(clients);  // ms, per client
  const auto t0 = Clock::now();
  const auto deadline = t0 + std::chrono::duration<double>(seconds);
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c)
    threads.emplace_back([&, c] {
      int fd = -1;
      size_t i = static_cast<size_t>(c);
      while (Clock::now() < deadline) {
        if (fd < 0) fd = connect_to(port);
        if (fd < 0) {
          failures++;
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
          continue;
        }
        bool closed = false;
        const auto a = Clock::now();
        const int status = exchange(fd, reqs[i++ % reqs.size()], &closed);
        const auto b = Clock::now();
        if (status == 200)
          lat[c].push_back(std::chrono::duration<float, std::milli>(b - a).count());
        else
          failures++;
        if (status != 200 || closed) {
          ::close(fd);
          fd = -1;
        }
      }
      if (fd >= 0) ::close(fd);
    });
  for (std::thread& t : threads) t.join();
  const double wall = std::chrono::duration<double>(Clock::now() - t0).count();
  std::vector<float> all;
  for (auto& v : lat) all.insert(all.end(), v.begin(), v.end());
  std::sort(all.begin(), all.end());
  auto pct = [&](double p) {
    return all.empty() ? 0.0 : all[std::min(all.size() - 1, static_cast<size_t>(p * all.size()))];
  };
  std::printf(
      "{\"clients\": %d, \"seconds\": %.2f, \"body\": \"%s\", \"bytes_per_request\": %zu, "
      "\"requests\": %zu, \"failed\": %ld, \"requests_per_s\": %.1f, \"p50_ms\": %.3f, "
      "\"p99_ms\": %.3f, \"max_ms\": %.3f}\n",
      clients, wall, kind.c_str(), reqs.empty() ? 0 : reqs[0].size(), all.size(), failures.load(),
      all.size() / wall, pct(0.50), pct(0.99), all.empty() ? 0.0 : all.back());
  return failures.load() == 0 && !all.empty() ? 0 : 1;
}
