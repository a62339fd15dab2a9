#include "nnet/checkpoint.h"

#include <unistd.h>
#include <zlib.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

#include "io/history_json.h"
#include "io/json_value.h"
#include "nnet/fileio.h"
#include "nnet/history.h"
#include "nnet/pyrandom.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace nnet {

static_assert(std::endian::native == std::endian::little,
              "checkpoints are little-endian; a big-endian port needs byte swaps here");

namespace {

constexpr char kMagic[8] = {'N', 'N', 'E', 'T', 'C', 'K', 'P', 'T'};
constexpr size_t kMaxFileBytes = size_t{8} << 30;

uint32_t crc32_bytes(const void* p, size_t n, uint32_t crc) {
  const auto* b = static_cast<const Bytef*>(p);
  // zlib's crc32 takes a uInt length: feed it in pieces so > 4 GiB buffers are fine too.
  while (n > 0) {
    const uInt piece = static_cast<uInt>(std::min<size_t>(n, 1u << 30));
    crc = static_cast<uint32_t>(::crc32(crc, b, piece));
    b += piece;
    n -= piece;
  }
  return crc;
}

void put_u32(std::string* out, uint32_t v) { out->append(reinterpret_cast<const char*>(&v), 4); }
void put_u64(std::string* out, uint64_t v) { out->append(reinterpret_cast<const char*>(&v), 8); }

template <class T>
void put_array(std::string* out, const std::vector<T>& v) {
  static_assert(sizeof(T) == 4);
  put_u64(out, v.size());
  out->append(reinterpret_cast<const char*>(v.data()), v.size() * 4);
}

// Reads fixed-size fields from the bytes, never past the end.
class Reader {
 public:
  Reader(const std::string& b, size_t end, const std::string& name)
      : b_(b), end_(end), name_(name) {}
  size_t pos() const { return pos_; }
  size_t left() const { return end_ - pos_; }
  Status u32(const char* what, uint32_t* v) { return raw(what, v, 4); }
  Status u64(const char* what, uint64_t* v) { return raw(what, v, 8); }
  Status text(const char* what, size_t n, std::string* out) {
    if (n > left()) return short_read(what, n);
    out->assign(b_, pos_, n);
    pos_ += n;
    return Status::Ok();
  }
  template <class T>
  Status array(const char* what, std::vector<T>* out) {
    static_assert(sizeof(T) == 4);
    uint64_t count = 0;
    NNET_RETURN_IF_ERROR(u64(what, &count));
    if (count > kMaxCheckpointItems)
      return DataError(name_ + ": " + what + " at offset " + std::to_string(pos_ - 8) +
                       ": expected at most " + std::to_string(kMaxCheckpointItems) +
                       " items, found " + std::to_string(count));
    if (count * 4 > left()) return short_read(what, static_cast<size_t>(count * 4));
    out->resize(static_cast<size_t>(count));
    // memcpy from/to an empty vector's null data() is UB even for 0 bytes (UBSan, fuzzer).
    if (count > 0) std::memcpy(out->data(), b_.data() + pos_, static_cast<size_t>(count) * 4);
    pos_ += static_cast<size_t>(count) * 4;
    return Status::Ok();
  }

 private:
  Status raw(const char* what, void* v, size_t n) {
    if (n > left()) return short_read(what, n);
    std::memcpy(v, b_.data() + pos_, n);
    pos_ += n;
    return Status::Ok();
  }
  Status short_read(const char* what, size_t n) {
    return DataError(name_ + ": " + what + " at offset " + std::to_string(pos_) + ": expected " +
                     std::to_string(n) + " bytes, found " + std::to_string(left()) +
                     " (truncated checkpoint)");
  }
  const std::string& b_;
  size_t end_;
  const std::string& name_;
  size_t pos_ = 0;
};

json state_json(const TrainState& s) {
  json j;
  j["epoch"] = s.epoch;
  j["batch_pos"] = s.batch_pos;
  j["eta"] = s.eta;
  j["best_accuracy"] = s.best_accuracy;
  j["best_epoch"] = s.best_epoch;
  j["epochs_since_best"] = s.epochs_since_best;
  j["finished"] = s.finished;
  j["stop_reason"] = s.stop_reason;
  j["grad_norm_sums"] = s.grad_norm_sums;
  j["history"] = json::array();
  for (const EpochReport& r : s.history) j["history"].push_back(epoch_to_json(r));
  return j;
}

// Reads an integer member within [lo, hi].
template <class T>
Status get_int(const json& j, const std::string& where, const char* key, long long lo, long long hi,
               T* out) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number_integer())
    return DataError(where + "." + key + ": expected an integer, found " +
                     (it == j.end() ? std::string("nothing") : std::string(it->type_name())));
  const long long v = it->is_number_unsigned()
                          ? static_cast<long long>(std::min<uint64_t>(
                                it->get<uint64_t>(), std::numeric_limits<long long>::max()))
                          : it->get<long long>();
  if (v < lo || v > hi)
    return DataError(where + "." + key + ": expected " + std::to_string(lo) + ".." +
                     std::to_string(hi) + ", found " + std::to_string(v));
  *out = static_cast<T>(v);
  return Status::Ok();
}

Status state_from_json(const json& j, const std::string& where, TrainState* s) {
  if (!j.is_object()) return DataError(where + ": expected an object");
  constexpr long long kIntMax = std::numeric_limits<int>::max();
  NNET_RETURN_IF_ERROR(get_int(j, where, "epoch", 0, kIntMax, &s->epoch));
  NNET_RETURN_IF_ERROR(get_int(j, where, "batch_pos", 0, kIntMax, &s->batch_pos));
  NNET_RETURN_IF_ERROR(
      get_int(j, where, "best_accuracy", -1, std::numeric_limits<long>::max(), &s->best_accuracy));
  NNET_RETURN_IF_ERROR(get_int(j, where, "best_epoch", -1, kIntMax, &s->best_epoch));
  NNET_RETURN_IF_ERROR(get_int(j, where, "epochs_since_best", 0, kIntMax, &s->epochs_since_best));
  auto eta = j.find("eta");
  if (eta == j.end() || !eta->is_number() || !std::isfinite(eta->get<double>()) ||
      !(eta->get<double>() > 0))
    return DataError(where + ".eta: expected a finite number > 0");
  s->eta = eta->get<double>();
  auto fin = j.find("finished");
  if (fin == j.end() || !fin->is_boolean()) return DataError(where + ".finished: expected a bool");
  s->finished = fin->get<bool>();
  auto why = j.find("stop_reason");
  if (why == j.end() || !why->is_string())
    return DataError(where + ".stop_reason: expected a string");
  s->stop_reason = why->get<std::string>();
  auto sums = j.find("grad_norm_sums");
  if (sums == j.end() || !sums->is_array() || sums->size() > 2 * 4096)
    return DataError(where + ".grad_norm_sums: expected an array of at most 8192 numbers");
  s->grad_norm_sums.clear();
  for (const json& v : *sums) {
    if (!v.is_number() || !std::isfinite(v.get<double>()))
      return DataError(where + ".grad_norm_sums: expected finite numbers");
    s->grad_norm_sums.push_back(v.get<double>());
  }
  auto hist = j.find("history");
  if (hist == j.end() || !hist->is_array() || hist->size() != static_cast<size_t>(s->epoch))
    return DataError(where + ".history: expected an array of " + std::to_string(s->epoch) +
                     " epochs (one per completed epoch)");
  s->history.clear();
  for (size_t i = 0; i < hist->size(); ++i) {
    EpochReport r;
    NNET_RETURN_IF_ERROR(
        epoch_from_json((*hist)[i], where + ".history[" + std::to_string(i) + "]", &r));
    s->history.push_back(std::move(r));
  }
  return Status::Ok();
}

}  // namespace

std::string checkpoint_file(const std::string& dir) {
  return (fs::path(dir) / "checkpoint.bin").string();
}

uint32_t dataset_crc32(const Dataset& d, uint32_t crc) {
  crc = crc32_bytes(d.images.data(), d.images.size() * sizeof(float), crc);
  return crc32_bytes(d.labels.data(), d.labels.size(), crc);
}

Value data_identity(const std::string& path, const Dataset& training, const Dataset* evaluation) {
  Value j;
  j["path"] = path;
  j["pixels"] = training.pixels();
  j["training_images"] = training.size();
  j["training_crc32"] = dataset_crc32(training);
  j["evaluation_images"] = evaluation ? evaluation->size() : 0;
  j["evaluation_crc32"] = evaluation ? dataset_crc32(*evaluation) : 0;
  return j;
}

std::string serialize_checkpoint(const Checkpoint& c) {
  json h;
  h["format"] = "nnet-checkpoint";
  h["version"] = kCheckpointVersion;
  h["options"] = json_of(c.options);
  h["data"] = json_of(c.data);
  h["state"] = state_json(c.state);
  const std::string header = h.dump();
  std::string out(kMagic, sizeof kMagic);
  put_u32(&out, kCheckpointVersion);
  put_u64(&out, header.size());
  out += header;
  put_array(&out, c.params);
  put_array(&out, c.state.velocity);
  put_array(&out, c.state.best_params);
  put_array(&out, c.state.order);
  put_array(&out, c.state.shuffle_rng);
  put_array(&out, c.state.dropout_rng);
  put_u32(&out, crc32_bytes(out.data(), out.size(), 0));
  return out;
}

Status parse_checkpoint(const std::string& bytes, const std::string& name, Checkpoint* out) {
  const size_t min_size = sizeof kMagic + 4 + 8 + 6 * 8 + 4;
  if (bytes.size() < min_size)
    return DataError(name + ": expected a checkpoint of at least " + std::to_string(min_size) +
                     " bytes, found " + std::to_string(bytes.size()) + " (truncated?)");
  if (std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0)
    return DataError(name +
                     ": offset 0: expected the magic \"NNETCKPT\", found other bytes "
                     "(not an nnet checkpoint)");
  uint32_t version = 0;
  std::memcpy(&version, bytes.data() + sizeof kMagic, 4);
  if (version != kCheckpointVersion)
    return DataError(name + ": offset 8: expected checkpoint version " +
                     std::to_string(kCheckpointVersion) + ", found " + std::to_string(version));
  // The CRC first: a flipped byte anywhere is reported as corruption, not as some odd field.
  const size_t body = bytes.size() - 4;
  uint32_t stored = 0;
  std::memcpy(&stored, bytes.data() + body, 4);
  const uint32_t actual = crc32_bytes(bytes.data(), body, 0);
  if (stored != actual) {
    char buf[96];
    std::snprintf(buf, sizeof buf, "expected CRC-32 %08x, found %08x", stored, actual);
    return DataError(name + ": " + buf + " (corrupted or truncated checkpoint)");
  }
  Reader r(bytes, body, name);
  uint32_t skip = 0;
  NNET_RETURN_IF_ERROR(r.u32("magic", &skip));
  NNET_RETURN_IF_ERROR(r.u32("magic", &skip));
  NNET_RETURN_IF_ERROR(r.u32("version", &skip));
  uint64_t header_len = 0;
  NNET_RETURN_IF_ERROR(r.u64("header length", &header_len));
  if (header_len > kMaxCheckpointHeader || header_len > r.left())
    return DataError(name + ": header length at offset 12: expected at most " +
                     std::to_string(std::min(kMaxCheckpointHeader, r.left())) + " bytes, found " +
                     std::to_string(header_len));
  std::string header;
  NNET_RETURN_IF_ERROR(r.text("header", static_cast<size_t>(header_len), &header));
  Checkpoint c;
  NNET_RETURN_IF_ERROR(r.array("params", &c.params));
  NNET_RETURN_IF_ERROR(r.array("velocity", &c.state.velocity));
  NNET_RETURN_IF_ERROR(r.array("best_params", &c.state.best_params));
  NNET_RETURN_IF_ERROR(r.array("order", &c.state.order));
  NNET_RETURN_IF_ERROR(r.array("shuffle_rng", &c.state.shuffle_rng));
  NNET_RETURN_IF_ERROR(r.array("dropout_rng", &c.state.dropout_rng));
  if (r.left() != 0)
    return DataError(name + ": offset " + std::to_string(r.pos()) + ": expected the CRC, found " +
                     std::to_string(r.left()) + " extra bytes");

  json h = json::parse(header, nullptr, /*allow_exceptions=*/false);
  if (h.is_discarded() || !h.is_object())
    return DataError(name + ": header at offset 20: expected a JSON object, found invalid JSON");
  auto fmt = h.find("format");
  if (fmt == h.end() || !fmt->is_string() || fmt->get<std::string>() != "nnet-checkpoint")
    return DataError(name + ": header: expected \"format\": \"nnet-checkpoint\"");
  auto opts = h.find("options"), data = h.find("data"), state = h.find("state");
  if (opts == h.end() || !opts->is_object() || data == h.end() || !data->is_object() ||
      state == h.end())
    return DataError(name + ": header: expected \"options\", \"data\" and \"state\" objects");
  if (!value_of(*opts, &c.options) || !value_of(*data, &c.data))
    return DataError(name + ": header: expected \"options\" and \"data\" at most " +
                     std::to_string(kMaxValueDepth) + " levels deep");
  NNET_RETURN_IF_ERROR(state_from_json(*state, name + ": state", &c.state));

  // Cross-checks: what train() indexes with must be in range.
  const size_t n = c.state.order.size(), np = c.params.size();
  if (np == 0) return DataError(name + ": params: expected at least 1 parameter, found 0");
  for (const float v : c.params)
    if (!std::isfinite(v))
      return DataError(name + ": params: expected finite values, found " + std::to_string(v));
  if (!c.state.velocity.empty() && c.state.velocity.size() != np)
    return DataError(name + ": velocity: expected 0 or " + std::to_string(np) + " values, found " +
                     std::to_string(c.state.velocity.size()));
  if (!c.state.best_params.empty() && c.state.best_params.size() != np)
    return DataError(name + ": best_params: expected 0 or " + std::to_string(np) +
                     " values, found " + std::to_string(c.state.best_params.size()));
  std::vector<bool> seen(n, false);
  for (const uint32_t i : c.state.order) {
    if (i >= n || seen[i])
      return DataError(name + ": order: expected a permutation of 0.." + std::to_string(n) +
                       ", found " + std::to_string(i) + (i >= n ? " (out of range)" : " twice"));
    seen[i] = true;
  }
  if (n == 0) return DataError(name + ": order: expected at least 1 training index, found 0");
  if (c.state.batch_pos >= n)
    return DataError(name + ": state.batch_pos: expected < " + std::to_string(n) + ", found " +
                     std::to_string(c.state.batch_pos));
  Mt19937 probe;
  if (!probe.set_state(c.state.shuffle_rng))
    return DataError(name + ": shuffle_rng: expected 624 MT19937 words and a position <= 624");
  if (!probe.set_state(c.state.dropout_rng))
    return DataError(name + ": dropout_rng: expected 624 MT19937 words and a position <= 624");
  *out = std::move(c);
  return Status::Ok();
}

Status save_checkpoint(const std::string& path, const Checkpoint& c) {
  return write_file_atomic(path, serialize_checkpoint(c));
}

Status load_checkpoint(const std::string& path, Checkpoint* out) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec))
    return NoInput("no checkpoint at " + path +
                   " (expected the file a run with a checkpoint directory writes)");
  const auto size = fs::file_size(path, ec);
  if (ec) return NoInput(path + ": cannot stat the checkpoint: " + ec.message());
  if (size > kMaxFileBytes)
    return DataError(path + ": expected a checkpoint of at most 8 GiB, found " +
                     std::to_string(size) + " bytes");
  std::ifstream in(path, std::ios::binary);
  if (!in) return NoInput(path + ": cannot open the checkpoint");
  std::string bytes(static_cast<size_t>(size), '\0');
  in.read(bytes.data(), static_cast<std::streamsize>(size));
  if (static_cast<uintmax_t>(in.gcount()) != size)
    return IoError(path + ": expected " + std::to_string(size) + " bytes, read " +
                   std::to_string(in.gcount()));
  return parse_checkpoint(bytes, path, out);
}

Status compare_for_resume(const std::string& what, const Value& saved, const Value& now,
                          const std::vector<std::string>& ignore) {
  auto skipped = [&](const std::string& k) {
    return std::find(ignore.begin(), ignore.end(), k) != ignore.end();
  };
  static const Value::Object kNone;
  const Value::Object& now_members = now.is_object() ? now.as_object() : kNone;
  const Value::Object& saved_members = saved.is_object() ? saved.as_object() : kNone;
  for (const auto& [key, value] : now_members) {
    if (skipped(key)) continue;
    const Value* s = saved.find(key);
    if (!s)
      return UsageError(what + ": " + key + " is " + value.dump() +
                        " but the checkpoint has no such setting");
    if (*s != value)
      return UsageError(what + ": " + key + " is " + value.dump() + " but the checkpoint has " +
                        s->dump());
  }
  for (const auto& [key, value] : saved_members)
    if (!skipped(key) && !now.find(key))
      return UsageError(what + ": the checkpoint has " + key + " = " + value.dump() +
                        ", this run has no such setting");
  return Status::Ok();
}

Status prepare_checkpoint_dir(const std::string& flag, const std::string& dir,
                              const std::vector<std::string>& inputs) {
  if (dir.empty()) return UsageError(flag + ": expected a directory, found an empty string");
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_directory(dir, ec))
    return Status::Error(Code::kCantCreate,
                         flag + " " + dir + ": expected a directory, found a file");
  if (!fs::exists(dir, ec)) {
    const fs::path parent = fs::path(dir).has_parent_path() ? fs::path(dir).parent_path() : ".";
    if (!fs::is_directory(parent, ec))
      return Status::Error(Code::kCantCreate, flag + " " + dir + ": parent directory " +
                                                  parent.string() + " does not exist");
    if (!fs::create_directory(dir, ec) || ec)
      return Status::Error(Code::kCantCreate, flag + " " + dir + ": cannot create the directory: " +
                                                  (ec ? ec.message() : std::string("unknown")));
  }
  for (const std::string& in : inputs)
    if (!in.empty() && fs::exists(in, ec) && fs::equivalent(in, dir, ec))
      return Status::Error(Code::kCantCreate,
                           flag + " " + dir + ": refusing to write into the input " + in);
  // A run killed during a save (SIGKILL, a second Ctrl-C) leaves write_file_atomic's temp file.
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.path().filename().string().rfind(".checkpoint.bin.tmp-", 0) == 0)
      fs::remove(e.path(), ec);
  return check_output_path(flag, checkpoint_file(dir), inputs);
}

}  // namespace nnet
