// An allowlist-only pickle reader for the book's mnist.pkl.gz: a small stack machine over exactly
// the opcodes that Python 2 cPickle protocol 2 and Python 3 protocols 2-5 (numpy 1.x and 2.x)
// emit for a tuple of tuples of numpy arrays. It never executes anything: the few allowlisted
// globals are interpreted by name (numpy array/dtype reconstruction, latin1 bytes), everything
// else is refused with the opcode's offset. Lists and dicts are refused too: no numpy stream uses
// them, and without mutable containers no reference cycle can be built.
// It reads while the file inflates (a ByteStream), and string arguments land in float-aligned
// buffers that move into Dataset::images, so a float32 image array exists once, not three times.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "data/data_internal.h"
#include "nnet/data.h"

namespace nnet {
namespace {

static_assert(std::endian::native == std::endian::little,
              "the loaders assume a little-endian host");

// Fixed caps, far above what any numpy stream needs (the real file: stack <= 10, memo ~60).
constexpr size_t kMaxStack = 4096;       // values on the stack
constexpr size_t kMaxMarks = 64;         // open MARKs
constexpr size_t kMaxMemo = 1 << 16;     // memo entries
constexpr size_t kMaxObjects = 1 << 20;  // values created in total
constexpr int kMaxDepth = 16;            // nesting of tuples (also bounds destructor recursion)
constexpr size_t kMaxGlobalName = 256;   // GLOBAL module/name line length
constexpr size_t kMaxDims = 8;           // array rank

// String arguments are read in slices of this size (and trailing bytes counted with it).
constexpr size_t kChunk = size_t{1} << 20;

// kSpent: a large text whose buffer _codecs.encode reused for its bytes; it matches no argument.
enum class Kind {
  kNone,
  kBool,
  kInt,
  kBytes,
  kUnicode,
  kTuple,
  kGlobal,
  kDtype,
  kArray,
  kPending,
  kSpent
};
enum class Fn { kReconstruct, kNdarray, kDtype, kFrombuffer, kCodecsEncode, kBytes };

// One string argument's bytes, in float-aligned storage so that a float32 array's data can become
// Dataset::images without a copy.
struct Payload {
  std::vector<float> buf;  // (ceil(bytes / 4)) raw bytes
  bool moved = false;  // buf went to a Dataset; views stay valid (a vector move keeps its block)
};

struct Obj {
  Kind kind = Kind::kNone;
  int depth = 1;
  int64_t i = 0;         // kBool, kInt
  std::string_view str;  // kBytes, kUnicode (UTF-8); view into `owned`
  std::shared_ptr<Payload> owned;
  std::vector<std::shared_ptr<Obj>> items;  // kTuple
  Fn fn = Fn::kReconstruct;                 // kGlobal
  // kDtype
  char type_char = 0;  // 'f', 'i', 'u'
  int itemsize = 0;
  char byteorder = '=';
  // kArray
  std::vector<int64_t> shape;
  std::shared_ptr<Obj> dtype;
  std::string_view data;
  std::shared_ptr<Payload> data_owner;
};
using Ref = std::shared_ptr<Obj>;

const char* opcode_name(uint8_t op) {
  switch (op) {
    case 0x80:
      return "PROTO";
    case 0x95:
      return "FRAME";
    case 'c':
      return "GLOBAL";
    case 0x93:
      return "STACK_GLOBAL";
    case 0x8c:
      return "SHORT_BINUNICODE";
    case 'X':
      return "BINUNICODE";
    case 'U':
      return "SHORT_BINSTRING";
    case 'T':
      return "BINSTRING";
    case 'B':
      return "BINBYTES";
    case 'C':
      return "SHORT_BINBYTES";
    case 0x8e:
      return "BINBYTES8";
    case 0x96:
      return "BYTEARRAY8";
    case 'J':
      return "BININT";
    case 'K':
      return "BININT1";
    case 'M':
      return "BININT2";
    case 0x8a:
      return "LONG1";
    case 0x88:
      return "NEWTRUE";
    case 0x89:
      return "NEWFALSE";
    case 'N':
      return "NONE";
    case '(':
      return "MARK";
    case 't':
      return "TUPLE";
    case 0x85:
      return "TUPLE1";
    case 0x86:
      return "TUPLE2";
    case 0x87:
      return "TUPLE3";
    case ')':
      return "EMPTY_TUPLE";
    case 'R':
      return "REDUCE";
    case 'b':
      return "BUILD";
    case 'q':
      return "BINPUT";
    case 'r':
      return "LONG_BINPUT";
    case 0x94:
      return "MEMOIZE";
    case 'h':
      return "BINGET";
    case 'j':
      return "LONG_BINGET";
    case '.':
      return "STOP";
    default:
      return nullptr;
  }
}

std::string printable(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 100)) {
    if (c >= 0x20 && c < 0x7f && c != '\'') {
      out += c;
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned char>(c));
      out += buf;
    }
  }
  if (s.size() > 100) out += "...";
  return out;
}

std::optional<Fn> allowed_global(std::string_view module, std::string_view name) {
  if ((module == "numpy.core.multiarray" || module == "numpy._core.multiarray") &&
      name == "_reconstruct") {
    return Fn::kReconstruct;
  }
  if ((module == "numpy.core.numeric" || module == "numpy._core.numeric") &&
      name == "_frombuffer") {
    return Fn::kFrombuffer;
  }
  if (module == "numpy" && name == "ndarray") return Fn::kNdarray;
  if (module == "numpy" && name == "dtype") return Fn::kDtype;
  // Python 3 protocol 2 spells bytes as _codecs.encode(latin1_text, 'latin1'), and b'' as bytes().
  if (module == "_codecs" && name == "encode") return Fn::kCodecsEncode;
  if ((module == "__builtin__" || module == "builtins") && name == "bytes") return Fn::kBytes;
  return std::nullopt;
}

// A small buffered reader over a ByteStream that counts offsets in the decompressed stream; large
// reads bypass the buffer.
class Reader {
 public:
  explicit Reader(internal::ByteStream* src) : src_(src), buf_(new char[kBuf]) {}

  uint64_t pos() const { return pos_; }
  // The next min(n, what is left) bytes, not consumed; valid until the next call (n <= kBuf).
  Status Peek(size_t n, std::string_view* out) {
    NNET_RETURN_IF_ERROR(Fill(n));
    *out = std::string_view(buf_.get() + begin_, std::min(n, end_ - begin_));
    return Status::Ok();
  }
  void Skip(size_t n) {  // n <= what Peek returned
    begin_ += n;
    pos_ += n;
  }
  // Copies n bytes to dst; *got < n only at the end of the stream.
  Status Read(char* dst, size_t n, size_t* got) {
    *got = 0;
    while (*got < n) {
      if (begin_ == end_) {
        if (eof_) break;
        if (n - *got >= kBuf) {
          size_t g = 0;
          NNET_RETURN_IF_ERROR(src_->Read(dst + *got, n - *got, &g));
          if (g == 0) eof_ = true;
          *got += g;
          pos_ += g;
          continue;
        }
        NNET_RETURN_IF_ERROR(Fill(1));
        if (begin_ == end_) break;
      }
      const size_t k = std::min(n - *got, end_ - begin_);
      std::memcpy(dst + *got, buf_.get() + begin_, k);
      Skip(k);
      *got += k;
    }
    return Status::Ok();
  }
  // At most this many bytes follow; exactly this many when exact().
  uint64_t max_left() const { return (end_ - begin_) + (eof_ ? 0 : src_->MaxLeft()); }
  bool exact() const { return eof_ || src_->Exact(); }

 private:
  static constexpr size_t kBuf = size_t{1} << 16;
  Status Fill(size_t n) {
    if (end_ - begin_ >= n) return Status::Ok();
    std::memmove(buf_.get(), buf_.get() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
    while (end_ < n && !eof_) {
      size_t g = 0;
      NNET_RETURN_IF_ERROR(src_->Read(buf_.get() + end_, kBuf - end_, &g));
      if (g == 0) eof_ = true;
      end_ += g;
    }
    return Status::Ok();
  }

  internal::ByteStream* src_;
  std::unique_ptr<char[]> buf_;
  size_t begin_ = 0, end_ = 0;  // buffered bytes are buf_[begin_, end_)
  uint64_t pos_ = 0;            // stream offset of buf_[begin_]
  bool eof_ = false;
};

class Parser {
 public:
  Parser(internal::ByteStream* in, const std::string& name) : in_(in), name_(name) {}

  Status Run(Ref* result);

 private:
  Status Fail(const std::string& what) const { return DataError(name_ + ": pickle " + what); }
  Status FailAt(const std::string& what) const {
    return Fail(std::string(opcode_name(op_)) + " at offset " + std::to_string(op_pos_) + ": " +
                what);
  }
  Status Truncated(uint64_t n, uint64_t left) const {
    return Fail("truncated: " + std::string(opcode_name(op_)) + " at offset " +
                std::to_string(op_pos_) + " needs " + std::to_string(n) + " bytes, only " +
                std::to_string(left) + " remain");
  }
  Status TakeUint(int width, uint64_t* v) {
    unsigned char b[8];
    size_t got = 0;
    NNET_RETURN_IF_ERROR(in_.Read(reinterpret_cast<char*>(b), static_cast<size_t>(width), &got));
    if (got < static_cast<size_t>(width)) return Truncated(static_cast<uint64_t>(width), got);
    *v = 0;
    for (int k = width - 1; k >= 0; --k) *v = (*v << 8) | b[k];
    return Status::Ok();
  }
  // Reads an n-byte string argument into a fresh Payload, checking n against what can follow
  // before reserving (the reservation is only touched as bytes arrive).
  Status TakeString(uint64_t n, std::shared_ptr<Payload>* out, std::string_view* view) {
    const uint64_t left = in_.max_left();
    if (n > left) {
      if (in_.exact()) return Truncated(n, left);
      return FailAt("needs " + std::to_string(n) + " bytes, more than the " + std::to_string(left) +
                    " the decompressed-size cap leaves");
    }
    auto p = std::make_shared<Payload>();
    p->buf.reserve(static_cast<size_t>((n + 3) / 4));
    for (uint64_t off = 0; off < n;) {
      const size_t want = static_cast<size_t>(std::min<uint64_t>(kChunk, n - off));
      p->buf.resize(static_cast<size_t>((off + want + 3) / 4));  // within the reservation
      size_t got = 0;
      NNET_RETURN_IF_ERROR(in_.Read(reinterpret_cast<char*>(p->buf.data()) + off, want, &got));
      if (got < want) return Truncated(n, off + got);
      off += want;
    }
    *view = std::string_view(reinterpret_cast<const char*>(p->buf.data()), static_cast<size_t>(n));
    *out = std::move(p);
    return Status::Ok();
  }
  Status New(Kind kind, Ref* out) {
    if (++objects_ > kMaxObjects)
      return FailAt("more than " + std::to_string(kMaxObjects) + " objects");
    *out = std::make_shared<Obj>();
    (*out)->kind = kind;
    return Status::Ok();
  }
  Status Push(Ref r) {
    if (stack_.size() >= kMaxStack) {
      return FailAt("stack deeper than " + std::to_string(kMaxStack) + " values");
    }
    stack_.push_back(std::move(r));
    return Status::Ok();
  }
  Status Pop(Ref* out) {
    const size_t floor = marks_.empty() ? 0 : marks_.back();
    if (stack_.size() <= floor) return FailAt("stack underflow");
    *out = std::move(stack_.back());
    stack_.pop_back();
    return Status::Ok();
  }
  Status PushString(Kind kind, uint64_t n) {
    Ref r;
    NNET_RETURN_IF_ERROR(New(kind, &r));
    NNET_RETURN_IF_ERROR(TakeString(n, &r->owned, &r->str));
    return Push(std::move(r));
  }
  Status PushInt(Kind kind, int64_t v) {
    Ref r;
    NNET_RETURN_IF_ERROR(New(kind, &r));
    r->i = v;
    return Push(std::move(r));
  }
  Status MakeTuple(std::vector<Ref> items) {
    Ref r;
    NNET_RETURN_IF_ERROR(New(Kind::kTuple, &r));
    int depth = 0;
    for (const Ref& it : items) depth = std::max(depth, it->depth);
    r->depth = depth + 1;
    if (r->depth > kMaxDepth) {
      return FailAt("tuples nested deeper than " + std::to_string(kMaxDepth));
    }
    r->items = std::move(items);
    return Push(std::move(r));
  }
  Status PopN(size_t n, std::vector<Ref>* items) {
    const size_t floor = marks_.empty() ? 0 : marks_.back();
    if (stack_.size() < floor + n) return FailAt("stack underflow");
    items->assign(std::make_move_iterator(stack_.end() - static_cast<std::ptrdiff_t>(n)),
                  std::make_move_iterator(stack_.end()));
    stack_.resize(stack_.size() - n);
    return Status::Ok();
  }
  Status Memo(uint64_t index) {
    if (stack_.empty()) return FailAt("memo put with an empty stack");
    if (memo_.size() >= kMaxMemo && !memo_.count(index)) {
      return FailAt("more than " + std::to_string(kMaxMemo) + " memo entries");
    }
    memo_[index] = stack_.back();
    return Status::Ok();
  }
  Status Get(uint64_t index) {
    auto it = memo_.find(index);
    if (it == memo_.end()) return FailAt("memo index " + std::to_string(index) + " was never put");
    return Push(it->second);
  }
  Status Global(std::string_view module, std::string_view name) {
    std::optional<Fn> fn = allowed_global(module, name);
    if (!fn) {
      return Fail("global '" + printable(module) + "." + printable(name) + "' at offset " +
                  std::to_string(op_pos_) + " is not allowed (only numpy array reconstruction is)");
    }
    Ref r;
    NNET_RETURN_IF_ERROR(New(Kind::kGlobal, &r));
    r->fn = *fn;
    return Push(std::move(r));
  }
  Status ReadLine(std::string* line) {
    std::string_view ahead;
    NNET_RETURN_IF_ERROR(in_.Peek(kMaxGlobalName + 1, &ahead));
    const size_t end = ahead.find('\n');
    if (end == std::string_view::npos) {
      if (ahead.size() <= kMaxGlobalName) {
        return Fail("truncated: GLOBAL at offset " + std::to_string(op_pos_) +
                    " has no end of line");
      }
      return FailAt("name longer than " + std::to_string(kMaxGlobalName) + " bytes");
    }
    line->assign(ahead.substr(0, end));
    in_.Skip(end + 1);
    return Status::Ok();
  }
  Status Reduce();
  Status Build();
  Status MakeDtype(const Ref& args, Ref* out);
  Status CheckArray(Obj* a);

  Reader in_;
  const std::string& name_;
  uint64_t op_pos_ = 0;
  uint8_t op_ = 0;
  size_t objects_ = 0;
  std::vector<Ref> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, Ref> memo_;
};

bool is_text(const Ref& r) { return r->kind == Kind::kBytes || r->kind == Kind::kUnicode; }
bool is_int(const Ref& r) { return r->kind == Kind::kInt || r->kind == Kind::kBool; }

// A tuple of non-negative ints, as numpy writes shapes.
bool read_shape(const Ref& r, std::vector<int64_t>* shape) {
  if (r->kind != Kind::kTuple || r->items.size() > kMaxDims) return false;
  shape->clear();
  for (const Ref& d : r->items) {
    if (d->kind != Kind::kInt || d->i < 0) return false;
    shape->push_back(d->i);
  }
  return true;
}

Status Parser::MakeDtype(const Ref& args, Ref* out) {
  // numpy.dtype('f4', False, True): type code, align, copy.
  if (args->items.size() != 3 || !is_text(args->items[0])) {
    return FailAt("numpy.dtype expects (typecode, align, copy)");
  }
  std::string_view code = args->items[0]->str;
  Ref d;
  NNET_RETURN_IF_ERROR(New(Kind::kDtype, &d));
  if (code == "f4" || code == "f8" || code == "i4" || code == "i8" || code == "u1" ||
      code == "i1") {
    d->type_char = code[0];
    d->itemsize = code[1] - '0';
  } else {
    return FailAt("dtype '" + printable(code) + "' is not supported (f4, f8, i1, i4, i8, u1 are)");
  }
  *out = std::move(d);
  return Status::Ok();
}

Status Parser::Reduce() {
  Ref args, callable;
  NNET_RETURN_IF_ERROR(Pop(&args));
  NNET_RETURN_IF_ERROR(Pop(&callable));
  if (callable->kind != Kind::kGlobal) return FailAt("callable is not an allowlisted global");
  if (args->kind != Kind::kTuple) return FailAt("arguments are not a tuple");
  const auto& a = args->items;
  Ref r;
  switch (callable->fn) {
    case Fn::kReconstruct:
      // _reconstruct(numpy.ndarray, (0,), b'b'): an empty array that BUILD fills in.
      if (a.size() != 3 || a[0]->kind != Kind::kGlobal || a[0]->fn != Fn::kNdarray) {
        return FailAt("_reconstruct expects (numpy.ndarray, shape, typecode)");
      }
      NNET_RETURN_IF_ERROR(New(Kind::kPending, &r));
      break;
    case Fn::kDtype:
      NNET_RETURN_IF_ERROR(MakeDtype(args, &r));
      break;
    case Fn::kFrombuffer: {
      // _frombuffer(buffer, dtype, shape, order), numpy's protocol-5 form.
      if (a.size() != 4 || a[0]->kind != Kind::kBytes || a[1]->kind != Kind::kDtype ||
          !is_text(a[3])) {
        return FailAt("_frombuffer expects (buffer, dtype, shape, order)");
      }
      NNET_RETURN_IF_ERROR(New(Kind::kArray, &r));
      if (!read_shape(a[2], &r->shape)) return FailAt("array shape is not a tuple of sizes");
      if (a[3]->str != "C") {
        return FailAt("array order '" + printable(a[3]->str) +
                      "' is not supported (Fortran order is refused; only 'C')");
      }
      r->dtype = a[1];
      r->data = a[0]->str;
      r->data_owner = a[0]->owned;
      NNET_RETURN_IF_ERROR(CheckArray(r.get()));
      break;
    }
    case Fn::kCodecsEncode: {
      // _codecs.encode(text, 'latin1'): text holds one code point (<= 255) per byte.
      if (a.size() != 2 || a[0]->kind != Kind::kUnicode || a[1]->kind != Kind::kUnicode ||
          a[1]->str != "latin1") {
        return FailAt("_codecs.encode expects (text, 'latin1')");
      }
      std::string_view s = a[0]->str;
      // A large text (numpy data, as Python 3 protocol 2 writes it) is decoded in place: the
      // output never outruns the input, and the text is then spent, so the array's bytes do not
      // exist twice. Python never pickles that text object again; a stream that reuses it fails.
      const bool in_place = s.size() >= kChunk && a[0]->owned && a[0] != a[1];
      std::shared_ptr<Payload> bytes = in_place ? a[0]->owned : std::make_shared<Payload>();
      if (!in_place) bytes->buf.resize((s.size() + 3) / 4);
      char* dst = reinterpret_cast<char*>(bytes->buf.data());
      size_t len = 0;
      for (size_t k = 0; k < s.size();) {
        const auto c = static_cast<unsigned char>(s[k]);
        if (c < 0x80) {
          dst[len++] = static_cast<char>(c);
          k += 1;
        } else if ((c == 0xc2 || c == 0xc3) && k + 1 < s.size() &&
                   (static_cast<unsigned char>(s[k + 1]) & 0xc0) == 0x80) {
          dst[len++] = static_cast<char>(((c & 0x03) << 6) | (s[k + 1] & 0x3f));
          k += 2;
        } else {
          return FailAt("latin1 text holds a character above U+00FF or bad UTF-8 at byte " +
                        std::to_string(k));
        }
      }
      bytes->buf.resize((len + 3) / 4);  // so float32 data still moves whole
      if (in_place) {
        a[0]->kind = Kind::kSpent;
        a[0]->str = {};
        a[0]->owned.reset();
      }
      NNET_RETURN_IF_ERROR(New(Kind::kBytes, &r));
      r->str = std::string_view(dst, len);
      r->owned = std::move(bytes);
      break;
    }
    case Fn::kBytes:
      if (!a.empty()) return FailAt("bytes() is only allowed with no arguments");
      NNET_RETURN_IF_ERROR(New(Kind::kBytes, &r));
      break;
    case Fn::kNdarray:
      return FailAt("numpy.ndarray may only be passed to _reconstruct");
  }
  return Push(std::move(r));
}

Status Parser::CheckArray(Obj* a) {
  const Obj& d = *a->dtype;
  if (d.byteorder == '>') return FailAt("big-endian arrays are not supported");
  uint64_t n = static_cast<uint64_t>(d.itemsize);
  for (int64_t dim : a->shape) {
    if (dim != 0 && n > UINT64_MAX / static_cast<uint64_t>(dim)) {
      return FailAt("array shape overflows 64 bits");
    }
    n *= static_cast<uint64_t>(dim);
  }
  if (n != a->data.size()) {
    std::string shape;
    for (int64_t dim : a->shape) {
      if (!shape.empty()) shape += "x";
      shape += std::to_string(dim);
    }
    return FailAt("array of shape (" + shape + ") and itemsize " + std::to_string(d.itemsize) +
                  " needs " + std::to_string(n) + " bytes, found " +
                  std::to_string(a->data.size()));
  }
  return Status::Ok();
}

Status Parser::Build() {
  Ref state, target;
  NNET_RETURN_IF_ERROR(Pop(&state));
  NNET_RETURN_IF_ERROR(Pop(&target));
  if (state->kind != Kind::kTuple) return FailAt("state is not a tuple");
  const auto& s = state->items;
  if (target->kind == Kind::kDtype) {
    // (version 3|4, byteorder, subarray, names, fields, elsize, alignment, flags[, metadata])
    if ((s.size() != 8 && s.size() != 9) || s[0]->kind != Kind::kInt ||
        (s[0]->i != 3 && s[0]->i != 4) || !is_text(s[1]) || s[1]->str.size() != 1) {
      return FailAt("dtype state is not numpy's (version, byteorder, ...) tuple");
    }
    if (s[2]->kind != Kind::kNone || s[3]->kind != Kind::kNone || s[4]->kind != Kind::kNone) {
      return FailAt("structured or sub-array dtypes are not supported");
    }
    const char bo = s[1]->str[0];
    if (bo != '<' && bo != '>' && bo != '|' && bo != '=') {
      return FailAt("dtype byte order '" + printable(s[1]->str) + "' is not one of < > | =");
    }
    if (bo == '>') return FailAt("big-endian dtypes are not supported");
    target->byteorder = bo;
  } else if (target->kind == Kind::kPending) {
    // (version 1, shape, dtype, is_fortran, raw bytes)
    if (s.size() != 5 || s[0]->kind != Kind::kInt || s[0]->i != 1 || s[2]->kind != Kind::kDtype ||
        !is_int(s[3])) {
      return FailAt("array state is not numpy's (1, shape, dtype, is_fortran, data) tuple");
    }
    if (!read_shape(s[1], &target->shape)) return FailAt("array shape is not a tuple of sizes");
    if (s[3]->i != 0 && target->shape.size() > 1) {
      return FailAt("Fortran-order arrays are not supported");
    }
    if (s[4]->kind != Kind::kBytes) {
      return FailAt("array data is not a byte string (object arrays are not supported)");
    }
    target->kind = Kind::kArray;
    target->dtype = s[2];
    target->data = s[4]->str;
    target->data_owner = s[4]->owned;
    NNET_RETURN_IF_ERROR(CheckArray(target.get()));
  } else {
    return FailAt("BUILD applies only to numpy arrays and dtypes");
  }
  return Push(std::move(target));
}

Status Parser::Run(Ref* result) {
  std::string_view head;
  NNET_RETURN_IF_ERROR(in_.Peek(8, &head));
  if (head.size() < 2 || static_cast<unsigned char>(head[0]) != 0x80 ||
      static_cast<unsigned char>(head[1]) < 2 || static_cast<unsigned char>(head[1]) > 5) {
    return DataError(name_ + ": not a pickle of protocol 2-5: expected 80 02..80 05 at offset 0, " +
                     "found " + internal::describe_bytes(std::string(head), 8));
  }
  in_.Skip(2);
  while (true) {
    op_pos_ = in_.pos();
    size_t got = 0;
    NNET_RETURN_IF_ERROR(in_.Read(reinterpret_cast<char*>(&op_), 1, &got));
    if (got == 0) {
      return Fail("truncated: stream ends at offset " + std::to_string(op_pos_) + " without STOP");
    }
    if (!opcode_name(op_) || op_ == 0x80) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02x", op_);
      return Fail(std::string("opcode ") + hex + " at offset " + std::to_string(op_pos_) +
                  " not allowed");
    }
    uint64_t v = 0;
    switch (op_) {
      case 0x95:  // FRAME: a length prefix for buffering; the frame must fit in what is left.
        NNET_RETURN_IF_ERROR(TakeUint(8, &v));
        // Checkable up front only when the rest is known; otherwise a short stream fails later.
        if (v > in_.max_left() && in_.exact()) {
          return Fail("truncated: FRAME at offset " + std::to_string(op_pos_) + " declares " +
                      std::to_string(v) + " bytes, only " + std::to_string(in_.max_left()) +
                      " remain");
        }
        break;
      case 'c': {
        std::string module, name;
        NNET_RETURN_IF_ERROR(ReadLine(&module));
        NNET_RETURN_IF_ERROR(ReadLine(&name));
        NNET_RETURN_IF_ERROR(Global(module, name));
        break;
      }
      case 0x93: {
        Ref name, module;
        NNET_RETURN_IF_ERROR(Pop(&name));
        NNET_RETURN_IF_ERROR(Pop(&module));
        if (module->kind != Kind::kUnicode || name->kind != Kind::kUnicode) {
          return FailAt("module and name are not strings");
        }
        NNET_RETURN_IF_ERROR(Global(module->str, name->str));
        break;
      }
      case 0x8c:
      case 'X':
        NNET_RETURN_IF_ERROR(TakeUint(op_ == 'X' ? 4 : 1, &v));
        NNET_RETURN_IF_ERROR(PushString(Kind::kUnicode, v));
        break;
      case 'U':
      case 'C':
      case 'B':
      case 'T':
      case 0x8e:
      case 0x96: {
        const int width = (op_ == 'U' || op_ == 'C') ? 1 : (op_ == 'B' || op_ == 'T') ? 4 : 8;
        NNET_RETURN_IF_ERROR(TakeUint(width, &v));
        if (op_ == 'T' && v > INT32_MAX) {
          return FailAt("negative length " + std::to_string(static_cast<int32_t>(v)));
        }
        NNET_RETURN_IF_ERROR(PushString(Kind::kBytes, v));  // py2 str, bytes, bytearray alike
        break;
      }
      case 'J':
        NNET_RETURN_IF_ERROR(TakeUint(4, &v));
        NNET_RETURN_IF_ERROR(PushInt(Kind::kInt, static_cast<int32_t>(static_cast<uint32_t>(v))));
        break;
      case 'K':
      case 'M':
        NNET_RETURN_IF_ERROR(TakeUint(op_ == 'K' ? 1 : 2, &v));
        NNET_RETURN_IF_ERROR(PushInt(Kind::kInt, static_cast<int64_t>(v)));
        break;
      case 0x8a: {  // LONG1: n-byte little-endian two's complement
        NNET_RETURN_IF_ERROR(TakeUint(1, &v));
        if (v > 8) return FailAt(std::to_string(v) + "-byte integer is too large (8 at most)");
        const int n = static_cast<int>(v);
        NNET_RETURN_IF_ERROR(TakeUint(n, &v));
        if (n > 0 && n < 8 && (v >> (8 * n - 1)) & 1) v |= ~uint64_t{0} << (8 * n);
        NNET_RETURN_IF_ERROR(PushInt(Kind::kInt, static_cast<int64_t>(v)));
        break;
      }
      case 0x88:
      case 0x89:
        NNET_RETURN_IF_ERROR(PushInt(Kind::kBool, op_ == 0x88 ? 1 : 0));
        break;
      case 'N': {
        Ref r;
        NNET_RETURN_IF_ERROR(New(Kind::kNone, &r));
        NNET_RETURN_IF_ERROR(Push(std::move(r)));
        break;
      }
      case '(':
        if (marks_.size() >= kMaxMarks) {
          return FailAt("more than " + std::to_string(kMaxMarks) + " open marks");
        }
        marks_.push_back(stack_.size());
        break;
      case 't': {
        if (marks_.empty()) return FailAt("no MARK to close");
        std::vector<Ref> items;
        NNET_RETURN_IF_ERROR(PopN(stack_.size() - marks_.back(), &items));
        marks_.pop_back();
        NNET_RETURN_IF_ERROR(MakeTuple(std::move(items)));
        break;
      }
      case ')':
      case 0x85:
      case 0x86:
      case 0x87: {
        std::vector<Ref> items;
        NNET_RETURN_IF_ERROR(PopN(op_ == ')' ? 0 : op_ - 0x84, &items));
        NNET_RETURN_IF_ERROR(MakeTuple(std::move(items)));
        break;
      }
      case 'R':
        NNET_RETURN_IF_ERROR(Reduce());
        break;
      case 'b':
        NNET_RETURN_IF_ERROR(Build());
        break;
      case 'q':
      case 'r':
        NNET_RETURN_IF_ERROR(TakeUint(op_ == 'q' ? 1 : 4, &v));
        NNET_RETURN_IF_ERROR(Memo(v));
        break;
      case 0x94:
        NNET_RETURN_IF_ERROR(Memo(memo_.size()));
        break;
      case 'h':
      case 'j':
        NNET_RETURN_IF_ERROR(TakeUint(op_ == 'h' ? 1 : 4, &v));
        NNET_RETURN_IF_ERROR(Get(v));
        break;
      case '.':
        if (!marks_.empty() || stack_.size() != 1) {
          return FailAt("expected exactly one value and no open MARK, found " +
                        std::to_string(stack_.size()) + " values and " +
                        std::to_string(marks_.size()) + " marks");
        }
        {
          // Read to the end: counts trailing bytes, and lets a gzip stream check its CRC/length.
          uint64_t trailing = 0;
          auto scratch = std::make_unique<char[]>(kChunk);
          size_t got_now = 0;
          do {
            NNET_RETURN_IF_ERROR(in_.Read(scratch.get(), kChunk, &got_now));
            trailing += got_now;
          } while (got_now > 0);
          if (trailing != 0) {
            return Fail(std::to_string(trailing) + " bytes of trailing data after STOP at " +
                        "offset " + std::to_string(op_pos_));
          }
        }
        *result = std::move(stack_.back());
        stack_.clear();
        return Status::Ok();
      default:
        return Status::Error(Code::kSoftware, name_ + ": pickle opcode table out of sync");
    }
  }
}

// Converts one (images, labels) pair into `out`, checking shapes, dtypes, labels and finiteness.
Status to_dataset(const Ref& pair, const std::string& name, const std::string& split,
                  Dataset* out) {
  const std::string where = name + ": " + split + " split: ";
  if (pair->kind != Kind::kTuple || pair->items.size() != 2 ||
      pair->items[0]->kind != Kind::kArray || pair->items[1]->kind != Kind::kArray) {
    return DataError(where + "expected a tuple (images array, labels array)");
  }
  Obj& im = *pair->items[0];
  const Obj& lb = *pair->items[1];
  const bool flat = im.shape.size() == 2 && im.shape[1] == 784;
  const bool square = im.shape.size() == 3 && im.shape[1] == 28 && im.shape[2] == 28;
  if (!flat && !square) {
    std::string shape;
    for (int64_t dim : im.shape) {
      if (!shape.empty()) shape += ", ";
      shape += std::to_string(dim);
    }
    return DataError(where + "images must have shape (n, 784) or (n, 28, 28), found (" + shape +
                     ")");
  }
  if (im.dtype->type_char != 'f') {
    return DataError(where + "images must be float32 or float64 arrays");
  }
  if (lb.shape.size() != 1 || lb.dtype->type_char == 'f') {
    return DataError(where + "labels must be a 1-d integer array");
  }
  const auto n = static_cast<size_t>(im.shape[0]);
  if (static_cast<size_t>(lb.shape[0]) != n) {
    return DataError(where + std::to_string(n) + " images but " + std::to_string(lb.shape[0]) +
                     " labels");
  }
  out->rows = 28;
  out->cols = 28;
  Payload* p = im.data_owner.get();
  if (im.dtype->itemsize == 4 && p && !p->moved && p->buf.size() == n * 784 &&
      im.data.data() == reinterpret_cast<const char*>(p->buf.data())) {
    // The whole payload is this array: take it. `im.data` still views the same block, now owned
    // by out->images, for any other array of the same bytes.
    out->images = std::move(p->buf);
    p->moved = true;
  } else if (im.dtype->itemsize == 4) {
    out->images.resize(n * 784);
    std::memcpy(out->images.data(), im.data.data(), n * 784 * sizeof(float));
  } else {
    out->images.resize(n * 784);
    for (size_t k = 0; k < n * 784; ++k) {
      double x;
      std::memcpy(&x, im.data.data() + k * 8, 8);
      out->images[k] = static_cast<float>(x);
    }
  }
  for (size_t k = 0; k < out->images.size(); ++k) {
    if (!std::isfinite(out->images[k])) {
      return DataError(where + "image " + std::to_string(k / 784) + " pixel " +
                       std::to_string(k % 784) + " is not finite (as float32)");
    }
  }
  out->labels.resize(n);
  const int w = lb.dtype->itemsize;
  const bool is_signed = lb.dtype->type_char == 'i';
  for (size_t k = 0; k < n; ++k) {
    uint64_t u = 0;
    std::memcpy(&u, lb.data.data() + k * static_cast<size_t>(w), static_cast<size_t>(w));
    int64_t v = static_cast<int64_t>(u);
    if (is_signed && w < 8 && (u >> (8 * w - 1)) & 1)
      v = static_cast<int64_t>(u | (~uint64_t{0} << (8 * w)));
    if (v < 0 || v > 9) {
      return DataError(where + "label " + std::to_string(k) + " is " + std::to_string(v) +
                       ", expected 0..9");
    }
    out->labels[k] = static_cast<uint8_t>(v);
  }
  out->source = name + " (" + split + ")";
  out->scaling = "stored floats (pixel/256)";
  return Status::Ok();
}

// Bytes already in memory, as a stream.
class MemoryStream : public internal::ByteStream {
 public:
  explicit MemoryStream(std::string_view b) : b_(b) {}
  Status Read(char* dst, size_t n, size_t* got) override {
    *got = std::min(n, b_.size());
    std::memcpy(dst, b_.data(), *got);
    b_.remove_prefix(*got);
    return Status::Ok();
  }
  uint64_t MaxLeft() const override { return b_.size(); }
  bool Exact() const override { return true; }

 private:
  std::string_view b_;
};

Status parse_stream(internal::ByteStream* in, const std::string& name, DataSplits* out) {
  Ref top;
  {
    Parser p(in, name);  // its memo and stack go before the arrays are converted
    NNET_RETURN_IF_ERROR(p.Run(&top));
  }
  if (top->kind != Kind::kTuple || top->items.size() != 3) {
    return DataError(name + ": expected a tuple (training, validation, test) of 3 splits");
  }
  DataSplits splits;
  NNET_RETURN_IF_ERROR(to_dataset(top->items[0], name, "training", &splits.training));
  NNET_RETURN_IF_ERROR(to_dataset(top->items[1], name, "validation", &splits.validation));
  NNET_RETURN_IF_ERROR(to_dataset(top->items[2], name, "test", &splits.test));
  *out = std::move(splits);
  return Status::Ok();
}

}  // namespace

Status parse_mnist_pickle(const std::string& bytes, const std::string& name, DataSplits* out) {
  MemoryStream in(bytes);
  return parse_stream(&in, name, out);
}

Status load_pickle(const std::string& path, const LoadOptions& opts, DataSplits* out) {
  std::unique_ptr<internal::ByteStream> in;
  NNET_RETURN_IF_ERROR(internal::open_stream(path, opts.max_bytes, &in));
  DataSplits splits;
  if (Status st = parse_stream(in.get(), path, &splits); !st.ok()) {
    if (in->Exact()) return st;  // plain bytes: nothing further to check
    // A damaged gzip file is the root cause of whatever the pickle parser met first: read on, so
    // that the gzip error (CRC, truncation, cap) is what gets reported, as when it was read whole.
    auto scratch = std::make_unique<char[]>(kChunk);
    size_t got = 0;
    do {
      NNET_RETURN_IF_ERROR(in->Read(scratch.get(), kChunk, &got));
    } while (got > 0);
    return st;
  }
  in.reset();
  if (opts.validation_size > 0 && splits.validation.empty()) {
    NNET_RETURN_IF_ERROR(internal::carve_validation(opts.validation_size, path, &splits));
  }
  *out = std::move(splits);
  return Status::Ok();
}

}  // namespace nnet
