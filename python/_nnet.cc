// The compiled half of the Python module `nnet`: datasets (owned by nnet or viewing numpy memory),
// networks whose parameters numpy sees in place, and training through the library's train() with
// the GIL released. The Python half (nnet/__init__.py) gives it the book's API.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "nnet/data.h"
#include "nnet/expand.h"
#include "nnet/health.h"
#include "nnet/history.h"
#include "nnet/image.h"
#include "nnet/model_io.h"
#include "nnet/network.h"
#include "nnet/plot.h"
#include "nnet/reference.h"
#include "nnet/render.h"
#include "nnet/report.h"
#include "nnet/run.h"
#include "nnet/train.h"

namespace py = pybind11;
using namespace nnet;

namespace {

// A failed Status becomes the Python exception that fits its code, with the same one line.
[[noreturn]] void raise(const Status& s) {
  PyObject* type = PyExc_ValueError;  // usage and data errors
  switch (s.code()) {
    case Code::kNoInput:
      type = PyExc_FileNotFoundError;
      break;
    case Code::kCantCreate:
    case Code::kIoError:
      type = PyExc_OSError;
      break;
    case Code::kDiverged:
      type = PyExc_FloatingPointError;
      break;
    case Code::kInterrupted:
      type = PyExc_KeyboardInterrupt;
      break;
    case Code::kSoftware:
    case Code::kUnavailable:  // device="cuda" without a usable GPU
      type = PyExc_RuntimeError;
      break;
    default:
      break;
  }
  PyErr_SetString(type, s.message().c_str());
  throw py::error_already_set();
}

void check(const Status& s) {
  if (!s.ok()) raise(s);
}

// A dataset: owned by nnet (load_data, converted tuples) or viewing a numpy array (`keep`).
struct PyData {
  Dataset d;
  py::object keep;  // the array `d.external` points into, kept alive with the dataset
  size_t size() const { return d.size(); }
};

void set_shape(Dataset& d, size_t px) {
  if (px == 784) {
    d.rows = d.cols = 28;
  } else {
    d.rows = 1;
    d.cols = static_cast<int>(px);
  }
}

// Index of the first NaN or infinity in p[0..n), or n: integer tests on the exponent bits over
// blocks, so the loop vectorizes (std::isfinite per value does not).
size_t first_non_finite(const float* p, size_t n) {
  for (size_t k = 0; k < n; k += 4096) {
    const size_t e = std::min(n, k + 4096);
    uint32_t bad = 0;
    for (size_t j = k; j < e; ++j) {
      uint32_t b;
      std::memcpy(&b, p + j, sizeof b);
      bad |= static_cast<uint32_t>((b & 0x7f800000u) == 0x7f800000u);
    }
    if (bad)
      for (size_t j = k; j < e; ++j)
        if (!std::isfinite(p[j])) return j;
  }
  return n;
}

// A C-contiguous float32/float64 numpy array read in place (no new objects): its data, its kind
// (4 or 8 bytes) and size; false for anything else (then the slow path converts it).
bool numpy_floats(PyObject* o, const void** data, int* bytes, size_t* n) {
  if (!py::isinstance<py::array>(o)) return false;
  auto* a = py::detail::array_proxy(o);
  const auto* descr = py::detail::array_descriptor_proxy(a->descr);
  if (descr->byteorder == '>') return false;  // not native on this (little-endian) machine
  const int type = descr->type_num;
  if (type != py::detail::npy_api::NPY_FLOAT_ && type != py::detail::npy_api::NPY_DOUBLE_)
    return false;
  if (!(a->flags & py::detail::npy_api::NPY_ARRAY_C_CONTIGUOUS_)) return false;
  size_t size = 1;
  for (int d = 0; d < a->nd; ++d) size *= static_cast<size_t>(a->dimensions[d]);
  *data = a->data;
  *bytes = type == py::detail::npy_api::NPY_FLOAT_ ? 4 : 8;
  *n = size;
  return true;
}

// The notebook's format: an iterable of (x, y) with x any array of `pixels` values and y either
// an int label or a one-hot column (its argmax is the label). Converted once, to float32; numpy
// float arrays and int labels are read in place (about 1 us per tuple).
PyData from_tuples(py::iterable items) {
  PyData out;
  size_t px = 0, i = 0;
  for (py::handle item : items) {
    auto bad_item = [&](const std::string& what) {
      return py::value_error("data item " + std::to_string(i) + ": " + what);
    };
    py::object x_obj, y_obj;
    if (PyTuple_Check(item.ptr()) && PyTuple_GET_SIZE(item.ptr()) == 2) {
      x_obj = py::reinterpret_borrow<py::object>(PyTuple_GET_ITEM(item.ptr(), 0));
      y_obj = py::reinterpret_borrow<py::object>(PyTuple_GET_ITEM(item.ptr(), 1));
    } else {
      py::tuple t;
      try {
        t = py::reinterpret_borrow<py::object>(item).cast<py::tuple>();
      } catch (const py::cast_error&) {
        throw bad_item("expected an (x, y) tuple, found " +
                       std::string(py::str(py::type::of(item))));
      }
      if (t.size() != 2)
        throw bad_item("expected an (x, y) tuple, found " + std::to_string(t.size()) + " elements");
      x_obj = t[0];
      y_obj = t[1];
    }
    // x: float32 values (copied from float32/float64 numpy memory, else converted).
    const void* xd = nullptr;
    int xb = 0;
    size_t xn = 0;
    py::object x_keep;
    if (!numpy_floats(x_obj.ptr(), &xd, &xb, &xn)) {
      auto x = py::array_t<float, py::array::c_style | py::array::forcecast>::ensure(x_obj);
      if (!x) {
        PyErr_Clear();
        throw bad_item("x is not a numeric array");
      }
      xd = x.data();
      xb = 4;
      xn = static_cast<size_t>(x.size());
      x_keep = x;
    }
    if (i == 0) {
      px = xn;
      if (px == 0) throw py::value_error("data item 0: x is empty");
      set_shape(out.d, px);
      // One allocation for a list/tuple (no regrowth copies of a 28 MB buffer).
      const Py_ssize_t hint = PyObject_LengthHint(items.ptr(), 0);
      if (hint > 0) {
        out.d.images.reserve(static_cast<size_t>(hint) * px);
        out.d.labels.reserve(static_cast<size_t>(hint));
      } else if (hint < 0) {
        PyErr_Clear();
      }
    }
    if (xn != px)
      throw bad_item("x has " + std::to_string(xn) + " values, expected " + std::to_string(px) +
                     " like item 0");
    const size_t at = out.d.images.size();
    out.d.images.resize(at + px);
    float* dst = out.d.images.data() + at;
    if (xb == 4) {
      std::copy_n(static_cast<const float*>(xd), px, dst);
    } else {
      const double* src = static_cast<const double*>(xd);
      for (size_t k = 0; k < px; ++k) dst[k] = static_cast<float>(src[k]);
    }
    if (const size_t k = first_non_finite(dst, px); k != px)
      throw bad_item("x[" + std::to_string(k) + "] is not finite");
    // y: an int (Python or numpy), or a one-hot array whose argmax is the label.
    long label = -1;
    const void* yd = nullptr;
    int yb = 0;
    size_t yn = 0;
    if (PyLong_Check(y_obj.ptr()) ||
        (PyIndex_Check(y_obj.ptr()) && !py::isinstance<py::array>(y_obj))) {
      const Py_ssize_t v = PyNumber_AsSsize_t(y_obj.ptr(), nullptr);
      if (v == -1 && PyErr_Occurred()) PyErr_Clear();  // overflow: refused just below
      if (v < 0 || v > 255)
        throw bad_item("expected an int label 0..255, found " + std::to_string(v));
      label = static_cast<long>(v);
    } else if (numpy_floats(y_obj.ptr(), &yd, &yb, &yn) && yn > 1) {
      if (yb == 8) {
        const double* q = static_cast<const double*>(yd);
        label = std::max_element(q, q + yn) - q;
      } else {
        const float* q = static_cast<const float*>(yd);
        label = std::max_element(q, q + yn) - q;
      }
    } else {
      auto y = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(y_obj);
      if (!y || y.size() == 0) {
        PyErr_Clear();
        throw bad_item("y is neither an int label nor a one-hot array");
      }
      if (y.size() == 1) {
        const double v = *y.data();
        if (v != static_cast<long>(v) || v < 0 || v > 255)
          throw bad_item("expected an int label 0..255, found " + std::to_string(v));
        label = static_cast<long>(v);
      } else {
        label = std::max_element(y.data(), y.data() + y.size()) - y.data();
      }
    }
    out.d.labels.push_back(static_cast<uint8_t>(label));
    ++i;
  }
  if (i == 0) throw py::value_error("data: expected at least one (x, y) tuple, found none");
  out.d.source = "Python list";
  return out;
}

// (n, pixels) C-contiguous float32 images used in place; labels (n) ints copied to bytes.
PyData from_arrays(py::array_t<float> x, py::array_t<long, py::array::forcecast> y) {
  if (x.ndim() != 2) throw py::value_error("X: expected a 2-d (n, pixels) array");
  if (!(x.flags() & py::array::c_style)) throw py::value_error("X: expected C-contiguous float32");
  if (y.ndim() != 1 || y.shape(0) != x.shape(0))
    throw py::value_error("y: expected " + std::to_string(x.shape(0)) + " labels, found shape " +
                          std::to_string(y.ndim() ? y.shape(0) : 0));
  const float* px = x.data();
  const size_t n = static_cast<size_t>(x.size());
  size_t bad;
  {
    py::gil_scoped_release nogil;
    bad = first_non_finite(px, n);
  }
  if (bad != n)
    throw py::value_error("expected finite values, found NaN or infinity at [" +
                          std::to_string(bad / static_cast<size_t>(x.shape(1))) + ", " +
                          std::to_string(bad % static_cast<size_t>(x.shape(1))) + "]");
  PyData out;
  set_shape(out.d, static_cast<size_t>(x.shape(1)));
  out.d.external = x.data();
  out.keep = x;
  out.d.labels.resize(static_cast<size_t>(y.shape(0)));
  auto yl = y.unchecked<1>();
  for (py::ssize_t i = 0; i < y.shape(0); ++i) {
    if (yl(i) < 0 || yl(i) > 255)
      throw py::value_error("y[" + std::to_string(i) + "]: expected a label 0..255, found " +
                            std::to_string(yl(i)));
    out.d.labels[i] = static_cast<uint8_t>(yl(i));
  }
  out.d.source = "numpy array";
  return out;
}

const float* images_of(const PyData& p) { return p.d.external ? p.d.external : p.d.images.data(); }

struct PyNet {
  Model m;
  uint32_t seed = 1;            // numpy seed of the construction draws
  std::vector<float> pristine;  // params as constructed; empty once trained or loaded
  // reference=True: the float64 network of the last reference run and the float params it left,
  // so a following reference run continues in float64 while nobody touched the weights.
  std::shared_ptr<ReferenceNetwork> ref;
  std::vector<float> ref_sync;
};

// A library message names the option it is about; Python names its keyword (lambda: lmbda).
Status as_keywords(const Status& s) {
  return respell_option(
      s, [](const OptionInfo& o) { return o.keyword ? std::string(o.keyword) : std::string(); });
}

// Network(...): dense `sizes`, or a chapter-6 stack ("conv:20:5,maxpool:2,fc:100,softmax:10") on
// a 1x28x28 input or (channels, height, width) `input_shape`; `hidden` names the hidden (conv/fc)
// activations. Built by make_architecture, as the CLI builds its nets.
PyNet make_net(const std::vector<int>& sizes, const std::vector<std::string>& hidden,
               const std::string& cost, const std::string& init, uint32_t seed,
               const std::string& layers, const std::vector<int>& input_shape,
               bool inverted_dropout) {
  RunOptions o;
  o.sizes = sizes;
  o.activation = hidden;
  o.cost = cost;
  o.init = init;
  o.seed = seed;
  o.layers = layers;
  o.input_shape = input_shape;
  // Network(sizes, inverted_dropout=True) has always built the dense net (only stacks have
  // dropout layers); the CLI refuses the combination.
  o.inverted_dropout = inverted_dropout && !layers.empty();
  Shape input{sizes.empty() ? 0 : sizes[0], 1, 1};
  int classes = sizes.empty() ? 1 : std::min(sizes.back(), 10);
  if (!layers.empty()) {
    const std::vector<int>& s = input_shape;
    input = s.size() == 3 ? Shape{s[0], s[1], s[2]} : Shape{1, 28, 28};
    classes = 1;
  }
  Architecture a;
  check(as_keywords(make_architecture(o, input, classes, &a)));
  Init in;
  parse_init(init, &in);
  PyNet p;
  p.m.net = Network(a);
  p.m.init = init;
  init_params(p.m.net, in, seed);
  p.seed = seed;
  if (layers.empty()) p.pristine = p.m.net.params();
  return p;
}

// numpy views of the parameters, in place: W_l (rows, cols) column-major, b_l (rows, 1).
py::array weight_view(py::object self, int l) {
  PyNet& p = self.cast<PyNet&>();
  Network& n = p.m.net;
  if (l < 0 || l >= n.layers()) throw py::index_error("layer out of range");
  return py::array_t<float>({n.rows(l), n.cols(l)},
                            {sizeof(float), sizeof(float) * static_cast<size_t>(n.rows(l))},
                            n.params().data() + n.weight_offset(l), self);
}

py::array bias_view(py::object self, int l) {
  PyNet& p = self.cast<PyNet&>();
  Network& n = p.m.net;
  if (l < 0 || l >= n.layers()) throw py::index_error("layer out of range");
  return py::array_t<float>({n.rows(l), 1}, {sizeof(float), sizeof(float)},
                            n.params().data() + n.bias_offset(l), self);
}

py::dict report_dict(const EpochReport& r) {
  py::dict d;
  d["epoch"] = r.epoch;
  d["eta"] = r.eta;
  d["training_cost"] = r.training_cost;
  d["training_correct"] = r.training_correct;
  d["training_total"] = r.training_total;
  d["evaluation_cost"] = r.evaluation_cost;
  d["evaluation_correct"] = r.evaluation_correct;
  d["evaluation_total"] = r.evaluation_total;
  d["train_seconds"] = r.train_seconds;
  d["eval_seconds"] = r.eval_seconds;
  if (!r.bias_grad_norm.empty()) {  // record_gradients=True: --history's lists
    d["bias_grad_norm"] = r.bias_grad_norm;
    d["weight_grad_norm"] = r.weight_grad_norm;
  }
  if (r.health.measured())  // --history's "health" block itself: the same keys, null as None
    d["health"] = py::module_::import("json").attr("loads")(epoch_value(r).find("health")->dump());
  return d;
}

void check_labels(const PyData& d, const Network& net, const char* what) {
  if (d.d.pixels() != net.inputs())
    raise(UsageError(std::string(what) + ": expected images of " + std::to_string(net.inputs()) +
                     " pixels, found " + std::to_string(d.d.pixels())));
  for (size_t i = 0; i < d.d.size(); ++i)
    if (d.d.labels[i] >= net.outputs())
      raise(DataError(std::string(what) + ": label " + std::to_string(d.d.labels[i]) +
                      " at index " + std::to_string(i) + " is out of range for " +
                      std::to_string(net.outputs()) + " outputs"));
}

// Sets the option whose Python keyword is `k` (run_options(): those with kKeyword) from `v`, cast
// to the option's type; an unknown keyword is a TypeError.
void set_keyword(RunOptions* opts, const std::string& k, py::handle v) {
  const OptionInfo* o = find_option(k, /*keyword=*/true);
  if (!o || !(o->uses & kKeyword)) throw py::type_error("train: unknown option '" + k + "'");
  std::visit([&](auto RunOptions::*f) {
    opts->*f = v.cast<std::remove_reference_t<decltype(opts->*f)>>();
  }, o->field);
}

// Runs train(); `write` gets each epoch's lines (exactly the CLI's), `callback` a report dict and
// stops training by returning True, `on_hint` each hint (options["hints"] turns the probe on) as
// a dict (kind, epoch, message). Ctrl-C raises KeyboardInterrupt after the current mini-batch.
py::list train_net(PyNet& p, const PyData& training, const PyData* evaluation, py::dict kw,
                   py::object write, py::object callback, py::object on_hint) {
  RunOptions ro;
  for (auto item : kw) set_keyword(&ro, py::str(item.first), item.second);
  TrainOptions o;
  check(as_keywords(train_options(ro, &o)));
  check(as_keywords(device_status(o.device)));
  Network& net = p.m.net;
  check_labels(training, net, "training_data");
  if (evaluation) check_labels(*evaluation, net, "test_data");
  if (training.size() == 0) raise(UsageError("training_data: expected at least one example"));
  const Dataset* eval = evaluation && evaluation->size() > 0 ? &evaluation->d : nullptr;
  TrainState st = initial_state(net, training.size(), o);
  bool stop_asked = false, py_error = false;
  TrainCallbacks cb;
  cb.on_epoch = [&](const EpochReport& r) {
    py::gil_scoped_acquire gil;
    if (py_error) return;
    try {
      if (!write.is_none()) write(format_epoch(r, o, eval != nullptr));
      if (!callback.is_none()) {
        py::object res = callback(report_dict(r));
        if (res.is(py::bool_(true))) stop_asked = true;
      }
    } catch (py::error_already_set& e) {
      e.restore();
      py_error = true;
    }
  };
  cb.on_hint = [&](const Hint& h) {
    py::gil_scoped_acquire gil;
    if (py_error || on_hint.is_none()) return;
    try {
      py::dict d;
      d["kind"] = name(h.kind);
      d["epoch"] = h.epoch;  // -1: the data hints, before training
      d["message"] = h.message;
      on_hint(d);
    } catch (py::error_already_set& e) {
      e.restore();
      py_error = true;
    }
  };
  cb.should_stop = [&] {
    if (py_error || stop_asked) return true;
    py::gil_scoped_acquire gil;
    if (PyErr_CheckSignals() != 0) py_error = true;  // e.g. KeyboardInterrupt, now pending
    return py_error;
  };
  Status s;
  {
    py::gil_scoped_release nogil;
    s = train(net, training.d, eval, o, cb, &st);
  }
  p.pristine.clear();
  if (py_error) throw py::error_already_set();
  if (!s.ok() && !(s.code() == Code::kInterrupted && stop_asked)) raise(as_keywords(s));
  py::list hist;
  for (const EpochReport& r : st.history) hist.append(report_dict(r));
  return hist;
}

// reference=True: the book's own code in float64 (reference.h), printing its lines. Starts from
// the book's draws (numpy seed = the network's seed) while the weights are as constructed, from
// the float64 state of the previous reference run while they are as it left them, else from the
// current float weights. The float weights get the result.
py::list train_reference(PyNet& p, const PyData& training, const PyData* evaluation, py::dict kw,
                         const std::string& init, py::object write, py::object callback) {
  ReferenceOptions ro;
  ro.numpy_seed = p.seed;
  bool seed_given = false;
  // The options network.py/network2.py know; the others must keep their defaults.
  static const std::set<std::string> kBook = {
      "epochs", "batch", "eta", "lmbda", "monitor_training_cost", "monitor_training_accuracy",
      "monitor_evaluation_cost", "monitor_evaluation_accuracy", "threads"};
  static const std::set<std::string> kZero = {"dropout", "momentum", "l1", "early_stop"};
  RunOptions run;
  for (auto item : kw) {
    const std::string k = py::str(item.first);
    py::handle v = item.second;
    if (k == "seed") {  // Python's random.seed takes more than the 32 bits of `seed`
      ro.python_seed = v.cast<uint64_t>();
      seed_given = true;
    } else if (k == "python2_shuffle") {
      ro.python2_shuffle = v.cast<bool>();
    } else if (kBook.count(k) > 0 || kZero.count(k) > 0) {
      set_keyword(&run, k, v);
    } else {
      throw py::type_error("train: unknown option '" + k + "'");
    }
  }
  for (const std::string& k : kZero) {
    const OptionInfo& opt = *find_option(k, /*keyword=*/true);
    if (get_option(run, opt) != get_option(RunOptions(), opt))
      raise(UsageError("reference: " + k +
                       " is not in the book's network.py/network2.py (drop it, or drop "
                       "reference=True)"));
  }
  ro.epochs = run.epochs;
  ro.batch = run.batch;
  ro.eta = run.eta;
  ro.lambda = run.lambda;
  TrainOptions o;  // only for the network2-style test
  o.monitor_training_cost = run.monitor_training_cost;
  o.monitor_training_accuracy = run.monitor_training_accuracy;
  o.monitor_evaluation_cost = run.monitor_evaluation_cost;
  o.monitor_evaluation_accuracy = run.monitor_evaluation_accuracy;
  if (!seed_given) ro.python_seed = p.seed;
  Network& net = p.m.net;
  if (!spelled_layers(net.arch()).empty())  // the float64 reference runs --sizes nets
    raise(UsageError("reference: conv layer stacks are not in the book's network.py/network2.py"));
  check_labels(training, net, "training_data");
  if (evaluation) check_labels(*evaluation, net, "test_data");
  if (training.size() == 0) raise(UsageError("training_data: expected at least one example"));
  const Dataset* eval = evaluation && evaluation->size() > 0 ? &evaluation->d : nullptr;
  ro.network2 = net.arch().cost != Cost::kQuadratic || ro.lambda != 0 ||
                network2_style(o) || init == "default";
  ro.init = ro.network2 ? Init::kDefault : Init::kLarge;
  if (!init.empty() && !parse_init(init, &ro.init))
    raise(UsageError("init: expected large or default with reference=True, found '" + init + "'"));
  ro.monitor_training_cost = o.monitor_training_cost;
  ro.monitor_training_accuracy = o.monitor_training_accuracy;
  ro.monitor_evaluation_cost = o.monitor_evaluation_cost && eval;
  ro.monitor_evaluation_accuracy = o.monitor_evaluation_accuracy && eval;
  check(as_keywords(validate_reference(net.arch(), ro)));

  auto start = std::make_shared<ReferenceNetwork>();
  if (p.ref && net.params() == p.ref_sync) {
    *start = *p.ref;
  } else if (!p.pristine.empty() && net.params() == p.pristine) {
    check(reference_init(net.arch(), ro, start.get()));
  } else {
    start->arch = net.arch();
    for (int l = 0; l < net.layers(); ++l) {
      start->weights.push_back(net.weight(l).cast<double>());
      start->biases.push_back(net.bias(l).cast<double>());
    }
  }
  bool stop_asked = false, py_error = false;
  TrainCallbacks cb;
  cb.on_epoch = [&](const EpochReport& r) {
    py::gil_scoped_acquire gil;
    if (py_error) return;
    try {
      if (!write.is_none()) {
        std::string text;
        for (const std::string& line : reference_epoch_lines(r, ro)) text += line + "\n";
        write(text);
      }
      if (!callback.is_none()) {
        py::object res = callback(report_dict(r));
        if (res.is(py::bool_(true))) stop_asked = true;
      }
    } catch (py::error_already_set& e) {
      e.restore();
      py_error = true;
    }
  };
  cb.should_stop = [&] {
    if (py_error || stop_asked) return true;
    py::gil_scoped_acquire gil;
    if (PyErr_CheckSignals() != 0) py_error = true;
    return py_error;
  };
  // The reference engine reads owned images only: numpy-backed data is copied once here.
  auto owned = [](const Dataset& d) {
    Dataset c = d;
    if (c.external) {
      c.images.assign(c.external, c.external + c.size() * static_cast<size_t>(c.pixels()));
      c.external = nullptr;
    }
    return c;
  };
  const Dataset train_d = training.d.external ? owned(training.d) : Dataset();
  const Dataset eval_d = eval && eval->external ? owned(*eval) : Dataset();
  const Dataset& tr = training.d.external ? train_d : training.d;
  if (eval && eval->external) eval = &eval_d;
  std::vector<EpochReport> history;
  Status s;
  {
    py::gil_scoped_release nogil;
    s = reference_sgd(*start, tr, eval, ro, cb, &history);
  }
  net.params() = to_network(*start).params();
  p.ref = start;
  p.ref_sync = net.params();
  p.pristine.clear();
  if (py_error) throw py::error_already_set();
  if (!s.ok() && !(s.code() == Code::kInterrupted && stop_asked)) raise(s);
  py::list hist;
  for (const EpochReport& r : history) hist.append(report_dict(r));
  return hist;
}

py::array_t<float> predict_net(const PyNet& p, py::array_t<float> x) {
  const Network& net = p.m.net;
  if (x.ndim() != 2 || x.shape(1) != net.inputs() || !(x.flags() & py::array::c_style))
    throw py::value_error("X: expected a C-contiguous float32 (n, " + std::to_string(net.inputs()) +
                          ") array");
  const size_t n = static_cast<size_t>(x.shape(0));
  Eigen::MatrixXf out;  // (outputs, n)
  {
    py::gil_scoped_release nogil;
    if (n > 0) predict(net, x.data(), n, &out);
  }
  py::array_t<float> r({static_cast<py::ssize_t>(n), static_cast<py::ssize_t>(net.outputs())});
  if (n > 0) std::copy_n(out.data(), out.size(), r.mutable_data());
  return r;
}

py::tuple evaluate_net(const PyNet& p, const PyData& d) {
  check_labels(d, p.m.net, "test_data");
  EvalResult r;
  {
    py::gil_scoped_release nogil;
    r = evaluate(p.m.net, d.d, false);
  }
  return py::make_tuple(r.correct, r.total);
}

// A picture for Python's Picture: (PNG bytes, (height, width, channels) uint8 pixels).
py::tuple png_and_pixels(const Image& img) {
  std::string png;
  check(encode_png(img, &png));
  py::array_t<uint8_t> rgb({img.height, img.width, img.channels});
  std::copy(img.pixels.begin(), img.pixels.end(), rgb.mutable_data());
  return py::make_tuple(py::bytes(png), rgb);
}

// A labelled digit grid, as png_and_pixels.
py::tuple digits_png(py::array_t<float, py::array::c_style | py::array::forcecast> images,
                     std::vector<std::string> captions, std::vector<bool> highlight, int rows,
                     int cols, int scale, int columns, const std::string& title) {
  if (images.ndim() != 2 || images.shape(1) != static_cast<py::ssize_t>(rows) * cols)
    throw py::value_error("images: expected (n, " + std::to_string(rows * cols) + ")");
  std::vector<DigitTile> tiles(static_cast<size_t>(images.shape(0)));
  for (size_t i = 0; i < tiles.size(); ++i) {
    tiles[i].pixels = images.data() + i * rows * cols;
    if (i < captions.size()) tiles[i].caption = captions[i];
    if (i < highlight.size()) tiles[i].highlight = highlight[i];
  }
  GridStyle st;
  st.rows = rows;
  st.cols = cols;
  st.scale = scale;
  st.columns = columns;
  st.title = title;
  Image img;
  check(render_digit_grid(tiles, st, &img));
  return png_and_pixels(img);
}

// Weight layer `layer` (1 = the first) as render_layer_weights draws it, as png_and_pixels.
py::tuple weights_png(const PyNet& p, int layer) {
  Image img;
  check(render_layer_weights(p.m.net, layer, "net", &img));
  return png_and_pixels(img);
}

// network2's four monitor curves (nnet plot's 2x2 figure) for runs given as (label, [report
// dicts]); drawn to `path` (a scratch PNG file, left for the caller), returned as RGBA pixels.

py::array_t<uint8_t> curves_png(py::list runs, const std::string& path) {
  std::vector<PlotRun> pr;
  for (py::handle run : runs) {
    py::tuple t = run.cast<py::tuple>();
    PlotRun r;
    r.label = t[0].cast<std::string>();
    for (py::handle h : t[1].cast<py::list>()) {
      py::dict d = h.cast<py::dict>();
      EpochReport e;
      e.epoch = d["epoch"].cast<int>();
      e.training_cost = d["training_cost"].cast<double>();
      e.training_correct = d["training_correct"].cast<long>();
      e.training_total = d["training_total"].cast<long>();
      e.evaluation_cost = d["evaluation_cost"].cast<double>();
      e.evaluation_correct = d["evaluation_correct"].cast<long>();
      e.evaluation_total = d["evaluation_total"].cast<long>();
      r.history.epochs.push_back(e);
    }
    pr.push_back(std::move(r));
  }
  Status s;
  Image img;
  {
    py::gil_scoped_release nogil;
    s = plot_curves(pr, path);
    if (s.ok()) s = read_image(path, ImageLimits(), &img);
  }
  check(s);
  py::array_t<uint8_t> px({img.height, img.width, img.channels});
  std::copy(img.pixels.begin(), img.pixels.end(), px.mutable_data());
  return px;
}

}  // namespace

PYBIND11_MODULE(_nnet, m) {
  m.doc() = "nnet's C++ engine (use the `nnet` package)";
  py::class_<PyData>(m, "Data")
      .def("__len__", &PyData::size)
      .def_property_readonly("pixels", [](const PyData& p) { return p.d.pixels(); })
      .def_property_readonly("source", [](const PyData& p) { return p.d.source; })
      .def("images",
           [](py::object self) {
             const PyData& p = self.cast<const PyData&>();
             const size_t px = static_cast<size_t>(p.d.pixels());
             py::array_t<float> a(
                 {static_cast<py::ssize_t>(p.size()), static_cast<py::ssize_t>(px)},
                 {sizeof(float) * px, sizeof(float)}, images_of(p), self);
             py::detail::array_proxy(a.ptr())->flags &= ~py::detail::npy_api::NPY_ARRAY_WRITEABLE_;
             return a;
           })
      .def("labels", [](py::object self) {
        const PyData& p = self.cast<const PyData&>();
        py::array_t<uint8_t> a({static_cast<py::ssize_t>(p.size())}, {1}, p.d.labels.data(), self);
        py::detail::array_proxy(a.ptr())->flags &= ~py::detail::npy_api::NPY_ARRAY_WRITEABLE_;
        return a;
      });
  m.def("load_data", [](const std::string& path, size_t validation_size) {
    LoadOptions o;
    o.validation_size = validation_size;
    DataSplits s;
    {
      py::gil_scoped_release nogil;
      Status st = load_data(path, o, &s);
      if (!st.ok()) {
        py::gil_scoped_acquire gil;
        raise(st);
      }
    }
    PyData a, b, c;
    a.d = std::move(s.training);
    b.d = std::move(s.validation);
    c.d = std::move(s.test);
    return py::make_tuple(std::move(a), std::move(b), std::move(c));
  });
  m.def("from_tuples", &from_tuples);
  m.def("from_arrays", &from_arrays);
  m.def("head", [](const PyData& d, size_t n) {
    PyData out;
    out.d = head(d.d, n);  // a copy that owns its images
    return out;
  });

  // expand_mnist.py in memory (expand.h) on a copy: the caller's arrays stay as they are.
  m.def("expand", [](const PyData& d, uint64_t seed, bool shuffle) {
    PyData out;
    out.d = head(d.d, d.size());  // a copy that owns its images
    Status s;
    {
      py::gil_scoped_release nogil;
      s = expand_training(&out.d, seed, shuffle);
    }
    check(s);
    return out;
  });

  py::class_<PyNet>(m, "Net")
      .def(py::init(&make_net))
      .def_property_readonly("sizes", [](const PyNet& p) { return p.m.net.arch().sizes; })
      .def_property_readonly("layer_spec",
                             [](const PyNet& p) {
                               // "" for a --sizes net, as Network(layers=...) takes it
                               return spelled_layers(p.m.net.arch());
                             })
      .def_property_readonly("input_shape",
                             [](const PyNet& p) {
                               const Shape& s = p.m.net.arch().input;
                               return py::make_tuple(s.c, s.h, s.w);
                             })
      .def_property_readonly("layers", [](const PyNet& p) { return p.m.net.layers(); })
      .def_property_readonly("cost", [](const PyNet& p) { return name(p.m.net.arch().cost); })
      .def_property_readonly("init", [](const PyNet& p) { return p.m.init; })
      .def_property_readonly("activations",
                             [](const PyNet& p) {
                               std::vector<std::string> v;
                               for (Activation a : p.m.net.arch().activations) v.push_back(name(a));
                               return v;
                             })
      .def("weight", &weight_view)
      .def("bias", &bias_view)
      .def("params_ptr",
           [](const PyNet& p) { return reinterpret_cast<uintptr_t>(p.m.net.params().data()); })
      .def("train", &train_net, py::arg("training"), py::arg("evaluation").none(true),
           py::arg("options"), py::arg("write").none(true), py::arg("callback").none(true),
           py::arg("on_hint").none(true) = py::none())
      .def("train_reference", &train_reference, py::arg("training"),
           py::arg("evaluation").none(true), py::arg("options"), py::arg("init"),
           py::arg("write").none(true), py::arg("callback").none(true))
      .def("predict", &predict_net)
      .def("evaluate", &evaluate_net)
      .def("save",
           [](PyNet& p, const std::string& path, const std::string& training_json) {
             p.m.training = Value();
             if (!training_json.empty())
               check(Value::parse(training_json, "training", &p.m.training));
             check(save_model(path, p.m));
           })
      .def_static("load", [](const std::string& path) {
        PyNet p;
        Status s;
        {
          py::gil_scoped_release nogil;
          s = load_model(path, &p.m);
        }
        check(s);
        return p;
      });
  // The option table (nnet/run.h): what SGD/fit and Network(...) accept, with defaults and docs.
  m.def("options", [] {
    py::list out;
    const RunOptions defaults;
    for (const OptionInfo& o : run_options()) {
      py::dict d;
      d["name"] = o.name;
      d["keyword"] = o.keyword ? o.keyword : o.name;
      d["default"] = std::visit([](const auto& v) { return py::cast(v); }, get_option(defaults, o));
      d["doc"] = o.doc;
      d["train"] = (o.uses & kKeyword) != 0;
      d["network"] = (o.uses & kNetKeyword) != 0;
      d["flag"] = (o.uses & kFlag) ? py::cast(flag_spelling(o)) : py::none();
      out.append(d);
    }
    return out;
  });
  m.def("digits_png", &digits_png);
  m.def("weights_png", &weights_png);
  m.def("curves_png", &curves_png);
}
