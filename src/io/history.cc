#include "nnet/history.h"

#include <cmath>
#include <fstream>
#include <iomanip>
#include <sstream>

#include "io/history_json.h"
#include "io/json_value.h"
#include "nnet/fileio.h"

namespace nnet {

namespace {

using nlohmann::json;

constexpr size_t kMaxHistoryBytes = size_t{64} << 20;
constexpr size_t kMaxEpochs = 1000000;

// A figure that was not monitored is written as null, so readers never mistake it for a value.
json figure(double v, bool present) { return present ? json(v) : json(nullptr); }
json count(long v) { return v >= 0 ? json(v) : json(nullptr); }

bool read_number(const json& j, const char* key, double* out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return true;
  if (!it->is_number()) return false;
  *out = it->get<double>();
  return std::isfinite(*out);
}

bool read_count(const json& j, const char* key, long* out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return true;
  if (!it->is_number_integer()) return false;
  *out = it->get<long>();
  return *out >= 0;
}

bool read_vector(const json& j, const char* key, std::vector<double>* out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return true;
  if (!it->is_array() || it->size() > 10000) return false;
  for (const json& v : *it) {
    if (!v.is_number()) return false;
    out->push_back(v.get<double>());
  }
  return true;
}

// NaN (a share that does not apply) is written as null.
json share(double v) { return std::isnan(v) ? json(nullptr) : json(v); }
json shares(const std::vector<double>& v) {
  json a = json::array();
  for (double x : v) a.push_back(share(x));
  return a;
}

json health_json(const EpochHealth& h) {
  json j;
  j["sample"] = h.sample;
  j["output_saturation"] = share(h.output_saturation);
  j["sample_cost"] = share(h.sample_cost);
  j["sample_cost_se"] = share(h.sample_cost_se);
  j["sample_accuracy"] = share(h.sample_accuracy);
  j["top_class"] = h.top_class;
  j["top_class_share"] = share(h.top_class_share);
  j["dead_share"] = shares(h.dead_share);
  j["saturated_share"] = shares(h.saturated_share);
  j["bias_grad_norm"] = shares(h.bias_grad_norm);
  j["seconds"] = h.seconds;
  return j;
}

bool read_share(const json& j, const char* key, double* out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return true;
  if (!it->is_number()) return false;
  *out = it->get<double>();
  return std::isfinite(*out);
}

bool read_shares(const json& j, const char* key, std::vector<double>* out) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return true;
  if (!it->is_array() || it->size() > 10000) return false;
  for (const json& v : *it) {
    if (v.is_null()) {
      out->push_back(EpochHealth::kNone);
      continue;
    }
    if (!v.is_number() || !std::isfinite(v.get<double>())) return false;
    out->push_back(v.get<double>());
  }
  return true;
}

Status health_from_json(const json& j, const std::string& where, EpochHealth* h) {
  auto bad = [&](const char* key) {
    return DataError(where + ".health." + key + ": expected a finite number or null");
  };
  if (!j.is_object()) return DataError(where + ".health: expected an object");
  auto s = j.find("sample");
  if (s == j.end() || !s->is_number_integer() || s->get<long>() < 0 || s->get<long>() > 1 << 30)
    return bad("sample");
  h->sample = s->get<int>();
  auto tc = j.find("top_class");
  if (tc != j.end() && !tc->is_null()) {
    if (!tc->is_number_integer() || tc->get<long>() < -1 || tc->get<long>() > 1 << 20)
      return bad("top_class");
    h->top_class = tc->get<int>();
  }
  if (!read_share(j, "output_saturation", &h->output_saturation)) return bad("output_saturation");
  if (!read_share(j, "sample_cost", &h->sample_cost)) return bad("sample_cost");
  if (!read_share(j, "sample_cost_se", &h->sample_cost_se)) return bad("sample_cost_se");
  if (!read_share(j, "sample_accuracy", &h->sample_accuracy)) return bad("sample_accuracy");
  if (!read_share(j, "top_class_share", &h->top_class_share)) return bad("top_class_share");
  if (!read_share(j, "seconds", &h->seconds)) return bad("seconds");
  if (!read_shares(j, "dead_share", &h->dead_share)) return bad("dead_share");
  if (!read_shares(j, "saturated_share", &h->saturated_share)) return bad("saturated_share");
  if (!read_shares(j, "bias_grad_norm", &h->bias_grad_norm)) return bad("bias_grad_norm");
  return Status::Ok();
}

}  // namespace

json epoch_to_json(const EpochReport& r) {
  json j;
  j["epoch"] = r.epoch;
  j["eta"] = r.eta;
  j["training_cost"] = figure(r.training_cost, r.training_cost >= 0);
  j["training_correct"] = count(r.training_correct);
  j["training_total"] = r.training_total;
  j["evaluation_cost"] = figure(r.evaluation_cost, r.evaluation_cost >= 0);
  j["evaluation_correct"] = count(r.evaluation_correct);
  j["evaluation_total"] = r.evaluation_total;
  j["train_seconds"] = r.train_seconds;
  j["eval_seconds"] = r.eval_seconds;
  if (r.train_cpu_seconds > 0) j["train_cpu_seconds"] = r.train_cpu_seconds;
  if (!r.bias_grad_norm.empty()) j["bias_grad_norm"] = r.bias_grad_norm;
  if (!r.weight_grad_norm.empty()) j["weight_grad_norm"] = r.weight_grad_norm;
  if (r.health.measured()) j["health"] = health_json(r.health);
  return j;
}

Status epoch_from_json(const json& j, const std::string& where, EpochReport* r) {
  if (!j.is_object())
    return DataError(where + ": expected an object, found " + std::string(j.type_name()));
  auto bad = [&](const char* key) {
    return DataError(where + "." + key + ": expected a finite non-negative number");
  };
  auto e = j.find("epoch");
  if (e == j.end() || !e->is_number_integer() || e->get<long>() < 0) return bad("epoch");
  r->epoch = e->get<int>();
  if (!read_number(j, "eta", &r->eta)) return bad("eta");
  if (!read_number(j, "training_cost", &r->training_cost)) return bad("training_cost");
  if (!read_count(j, "training_correct", &r->training_correct)) return bad("training_correct");
  if (!read_count(j, "training_total", &r->training_total)) return bad("training_total");
  if (!read_number(j, "evaluation_cost", &r->evaluation_cost)) return bad("evaluation_cost");
  if (!read_count(j, "evaluation_correct", &r->evaluation_correct))
    return bad("evaluation_correct");
  if (!read_count(j, "evaluation_total", &r->evaluation_total)) return bad("evaluation_total");
  if (!read_number(j, "train_seconds", &r->train_seconds)) return bad("train_seconds");
  if (!read_number(j, "eval_seconds", &r->eval_seconds)) return bad("eval_seconds");
  if (j.contains("train_cpu_seconds") &&
      !read_number(j, "train_cpu_seconds", &r->train_cpu_seconds))
    return bad("train_cpu_seconds");
  if (!read_vector(j, "bias_grad_norm", &r->bias_grad_norm)) return bad("bias_grad_norm");
  if (!read_vector(j, "weight_grad_norm", &r->weight_grad_norm)) return bad("weight_grad_norm");
  if (auto h = j.find("health"); h != j.end() && !h->is_null())
    NNET_RETURN_IF_ERROR(health_from_json(*h, where, &r->health));
  return Status::Ok();
}

Value epoch_value(const EpochReport& r) {
  Value v;
  value_of(epoch_to_json(r), &v);  // two levels deep: always converts
  return v;
}

Status save_history(const std::string& path, const History& h) {
  const bool csv = path.size() >= 4 && path.compare(path.size() - 4, 4, ".csv") == 0;
  std::ostringstream out;
  if (csv) {
    out.precision(17);
    out << "epoch,eta,training_cost,training_correct,training_total,evaluation_cost,"
           "evaluation_correct,evaluation_total,train_seconds,eval_seconds\n";
    for (const EpochReport& r : h.epochs) {
      auto num = [&](double v) {
        return v >= 0 ? (std::ostringstream() << std::setprecision(17) << v).str() : "";
      };
      auto cnt = [&](long v) { return v >= 0 ? std::to_string(v) : ""; };
      out << r.epoch << ',' << r.eta << ',' << num(r.training_cost) << ','
          << cnt(r.training_correct) << ',' << r.training_total << ',' << num(r.evaluation_cost)
          << ',' << cnt(r.evaluation_correct) << ',' << r.evaluation_total << ',' << r.train_seconds
          << ',' << r.eval_seconds << '\n';
    }
  } else {
    json j;
    j["format"] = "nnet-history";
    j["version"] = 1;
    j["options"] = json_of(h.options);
    j["epochs"] = json::array();
    for (const EpochReport& r : h.epochs) j["epochs"].push_back(epoch_to_json(r));
    out << j.dump(1) << '\n';
  }
  return write_file_atomic(path, out.str());
}

Status load_history(const std::string& path, History* h) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NoInput("cannot open history " + path);
  std::string bytes;
  char buf[65536];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    bytes.append(buf, static_cast<size_t>(in.gcount()));
    if (bytes.size() > kMaxHistoryBytes)
      return DataError(path + ": history larger than " + std::to_string(kMaxHistoryBytes >> 20) +
                       " MiB");
  }
  return parse_history(bytes, path, h);
}

Status parse_history(const std::string& bytes, const std::string& path, History* h) {
  if (bytes.size() > kMaxHistoryBytes)
    return DataError(path + ": history larger than " + std::to_string(kMaxHistoryBytes >> 20) +
                     " MiB");
  json j = json::parse(bytes, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded())
    return DataError(path + ": expected a JSON history written by nnet, found invalid JSON");
  // Never j.value(): it throws when the stored type differs, and a hostile file must not crash us.
  const auto fmt = j.is_object() ? j.find("format") : j.end();
  if (!j.is_object() || fmt == j.end() || !fmt->is_string() || *fmt != "nnet-history")
    return DataError(path + ": expected \"format\": \"nnet-history\", found something else");
  auto eps = j.find("epochs");
  if (eps == j.end() || !eps->is_array() || eps->size() > kMaxEpochs)
    return DataError(path + ": expected an \"epochs\" array");
  auto opts = j.find("options");
  h->options = Value::object();
  if (opts != j.end() && opts->is_object() && !value_of(*opts, &h->options))
    return DataError(path + ": options: expected at most " + std::to_string(kMaxValueDepth) +
                     " levels of nesting");
  h->epochs.clear();
  for (size_t i = 0; i < eps->size(); ++i) {
    EpochReport r;
    NNET_RETURN_IF_ERROR(
        epoch_from_json((*eps)[i], path + ": epochs[" + std::to_string(i) + "]", &r));
    h->epochs.push_back(std::move(r));
  }
  return Status::Ok();
}

}  // namespace nnet
