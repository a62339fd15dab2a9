// read_file: whole-file reads with transparent, hardened gunzip (zlib); open_stream: the same
// checks while inflating piecewise, so a parser never needs the whole decompressed file at once.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "data/data_internal.h"
#include "nnet/data.h"

namespace nnet {
namespace {

// Deflate cannot expand better than ~1032:1, so a larger ISIZE hint is a lie.
constexpr uint64_t kMaxDeflateRatio = 1032;

// Opens `path` as a regular file no larger than max_bytes; *size is its length.
Status open_regular(const std::string& path, size_t max_bytes, int* fd_out, uint64_t* size) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return NoInput("cannot open " + path + ": " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    int err = S_ISDIR(st.st_mode) ? EISDIR : errno;
    ::close(fd);
    return NoInput("cannot read " + path + ": " +
                   (err ? std::strerror(err) : "not a regular file"));
  }
  // A gzip'd file may be up to max_bytes too; its inflated size is capped separately.
  if (static_cast<uint64_t>(st.st_size) > max_bytes) {
    ::close(fd);
    return DataError(path + ": file is " + std::to_string(st.st_size) +
                     " bytes, more than the cap of " + std::to_string(max_bytes));
  }
  *fd_out = fd;
  *size = static_cast<uint64_t>(st.st_size);
  return Status::Ok();
}

// Reads up to n bytes at the file's current position; *got < n only at (early) end of file.
Status read_fd(int fd, const std::string& path, uint64_t offset, char* dst, size_t n, size_t* got) {
  *got = 0;
  while (*got < n) {
    ssize_t r = ::read(fd, dst + *got, n - *got);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      return IoError("read error in " + path + " at byte offset " + std::to_string(offset + *got) +
                     ": " + std::strerror(errno));
    }
    if (r == 0) break;
    *got += static_cast<size_t>(r);
  }
  return Status::Ok();
}

Status read_raw(const std::string& path, size_t max_bytes, std::string* out) {
  int fd = -1;
  uint64_t size = 0;
  NNET_RETURN_IF_ERROR(open_regular(path, max_bytes, &fd, &size));
  out->clear();
  out->resize(static_cast<size_t>(size));
  size_t got = 0;
  Status st = read_fd(fd, path, 0, out->data(), out->size(), &got);
  ::close(fd);
  NNET_RETURN_IF_ERROR(st);
  if (got != out->size()) {  // file shrank while reading
    return IoError(path + ": file shrank while reading (expected " + std::to_string(out->size()) +
                   " bytes, got " + std::to_string(got) + ")");
  }
  return Status::Ok();
}

bool has_gzip_magic(std::string_view b, size_t at) {
  return b.size() >= at + 2 && static_cast<unsigned char>(b[at]) == 0x1f &&
         static_cast<unsigned char>(b[at + 1]) == 0x8b;
}

// The compressed side: all of it in memory, or a file read through a small window.
class RawInput {
 public:
  explicit RawInput(std::string_view mem) : win_(mem), size_(mem.size()), eof_(true) {}
  RawInput(int fd, uint64_t size, std::string path)
      : fd_(fd), size_(size), path_(std::move(path)), buf_(new char[kBuf]) {}
  ~RawInput() {
    if (fd_ >= 0) ::close(fd_);
  }
  RawInput(const RawInput&) = delete;
  RawInput& operator=(const RawInput&) = delete;

  // Tries to have n (<= kBuf) bytes in view; fewer only at the end of the input.
  Status Ensure(size_t n) {
    if (win_.size() >= n || eof_) return Status::Ok();
    if (!win_.empty()) std::memmove(buf_.get(), win_.data(), win_.size());
    const size_t have = win_.size();
    const uint64_t file_pos = offset_ + have;
    const size_t want = static_cast<size_t>(std::min<uint64_t>(kBuf - have, size_ - file_pos));
    size_t got = 0;
    NNET_RETURN_IF_ERROR(read_fd(fd_, path_, file_pos, buf_.get() + have, want, &got));
    if (got < want) {
      return IoError(path_ + ": file shrank while reading (expected " + std::to_string(size_) +
                     " bytes, got " + std::to_string(file_pos + got) + ")");
    }
    win_ = std::string_view(buf_.get(), have + got);
    eof_ = file_pos + got == size_;
    return Status::Ok();
  }
  std::string_view view() const { return win_; }
  void Consume(size_t n) {
    win_.remove_prefix(n);
    offset_ += n;
  }
  uint64_t offset() const { return offset_; }  // of view()[0] in the input
  bool exhausted() const { return eof_ && win_.empty(); }
  uint64_t left() const { return size_ - offset_; }

 private:
  static constexpr size_t kBuf = size_t{1} << 18;
  int fd_ = -1;
  std::string_view win_;
  uint64_t size_ = 0;
  uint64_t offset_ = 0;
  bool eof_ = false;
  std::string path_;
  std::unique_ptr<char[]> buf_;
};

// Plain bytes: the file itself.
class PlainStream : public internal::ByteStream {
 public:
  explicit PlainStream(std::unique_ptr<RawInput> in) : in_(std::move(in)) {}
  Status Read(char* dst, size_t n, size_t* got) override {
    *got = 0;
    if (!error_.ok()) return error_;
    while (*got < n && !in_->exhausted()) {
      error_ = in_->Ensure(1);
      if (!error_.ok()) return error_;
      const size_t k = std::min(n - *got, in_->view().size());
      std::memcpy(dst + *got, in_->view().data(), k);
      in_->Consume(k);
      *got += k;
    }
    return Status::Ok();
  }
  uint64_t MaxLeft() const override { return in_->left(); }
  bool Exact() const override { return true; }

 private:
  std::unique_ptr<RawInput> in_;
  Status error_ = Status::Ok();
};

// Inflates one or more concatenated gzip members, refusing truncation, corruption, bad CRC or
// length, trailing garbage and output beyond max_bytes.
class GzipStream : public internal::ByteStream {
 public:
  GzipStream(std::unique_ptr<RawInput> in, std::string name, size_t max_bytes)
      : in_(std::move(in)), name_(std::move(name)), max_bytes_(max_bytes) {}
  ~GzipStream() override {
    if (in_member_) inflateEnd(&zs_);
  }

  Status Read(char* dst, size_t n, size_t* got) override {
    *got = 0;
    if (!error_.ok()) return error_;
    error_ = Inflate(dst, n, got);
    return error_;
  }
  uint64_t MaxLeft() const override { return produced_ < max_bytes_ ? max_bytes_ - produced_ : 0; }
  bool Exact() const override { return false; }

 private:
  Status Inflate(char* dst, size_t n, size_t* got) {
    while (!done_) {
      if (!in_member_) {
        zs_ = z_stream{};
        // 15 + 32: a zlib or gzip header, detected.
        if (inflateInit2(&zs_, 15 + 32) != Z_OK) {
          return Status::Error(Code::kSoftware, name_ + ": zlib inflateInit2 failed");
        }
        in_member_ = true;
      }
      NNET_RETURN_IF_ERROR(in_->Ensure(1));
      // avail_in/avail_out are 32-bit: feed and fill in slices.
      const auto in_slice = static_cast<uInt>(std::min<size_t>(in_->view().size(), 1u << 30));
      const auto out_slice = static_cast<uInt>(std::min<size_t>(n, 1u << 30));
      zs_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in_->view().data()));
      zs_.avail_in = in_slice;
      zs_.next_out = reinterpret_cast<Bytef*>(dst);
      zs_.avail_out = out_slice;
      const int rc = inflate(&zs_, Z_NO_FLUSH);
      const size_t used = in_slice - zs_.avail_in;
      const size_t produced = out_slice - zs_.avail_out;
      in_->Consume(used);
      produced_ += produced;
      const uint64_t offset = in_->offset();
      if (produced_ > max_bytes_) {
        return DataError(name_ + ": gzip data inflates to more than the cap of " +
                         std::to_string(max_bytes_) + " bytes (at compressed byte offset " +
                         std::to_string(offset) + ")");
      }
      if (rc == Z_STREAM_END) {
        inflateEnd(&zs_);
        in_member_ = false;
        NNET_RETURN_IF_ERROR(in_->Ensure(2));
        if (in_->exhausted()) {
          done_ = true;
        } else if (!has_gzip_magic(in_->view(), 0)) {
          NNET_RETURN_IF_ERROR(in_->Ensure(4));
          return DataError(name_ + ": " + std::to_string(in_->left()) +
                           " bytes of trailing garbage after the gzip data at byte offset " +
                           std::to_string(offset) + ", found " +
                           internal::describe_bytes(std::string(in_->view().substr(0, 4)), 4));
        }
      } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
        std::string why = zs_.msg ? zs_.msg : ("zlib error " + std::to_string(rc));
        return DataError(name_ + ": corrupt gzip data at byte offset " + std::to_string(offset) +
                         ": " + why);
      } else if (produced == 0 && used == 0) {
        // No progress possible: the input ran out before the end of the deflate stream.
        if (in_->exhausted()) {
          return DataError(name_ + ": gzip data truncated at byte offset " +
                           std::to_string(offset) + " (stream ends before its end marker)");
        }
        return DataError(name_ + ": corrupt gzip data at byte offset " + std::to_string(offset) +
                         ": inflate made no progress");
      }
      if (produced > 0) {
        *got = produced;
        return Status::Ok();
      }
    }
    return Status::Ok();
  }

  std::unique_ptr<RawInput> in_;
  std::string name_;
  size_t max_bytes_;
  z_stream zs_{};
  bool in_member_ = false;
  bool done_ = false;
  uint64_t produced_ = 0;
  Status error_ = Status::Ok();
};

}  // namespace

Status gunzip(const std::string& in, const std::string& name, size_t max_bytes, std::string* out) {
  out->clear();
  // ISIZE (last 4 bytes) is the inflated size mod 2^32: a reserve hint only, never trusted.
  if (in.size() >= 18) {
    const auto* t = reinterpret_cast<const unsigned char*>(in.data() + in.size() - 4);
    uint64_t isize = t[0] | (t[1] << 8) | (t[2] << 16) | (uint64_t{t[3]} << 24);
    isize = std::min<uint64_t>({isize, max_bytes, in.size() * kMaxDeflateRatio});
    out->reserve(static_cast<size_t>(isize));  // exact for an honest file: no regrowth
  }
  GzipStream s(std::make_unique<RawInput>(in), name, max_bytes);
  // Inflate into a fixed chunk and append: growing the string with resize() would zero-fill
  // the whole output first (a quarter of a short training run's time went to that memset).
  auto chunk = std::make_unique<char[]>(size_t{1} << 16);
  while (true) {
    size_t got = 0;
    NNET_RETURN_IF_ERROR(s.Read(chunk.get(), size_t{1} << 16, &got));
    if (got == 0) break;
    out->append(chunk.get(), got);
  }
  out->shrink_to_fit();
  return Status::Ok();
}

Status read_file(const std::string& path, size_t max_bytes, std::string* out) {
  std::string raw;
  NNET_RETURN_IF_ERROR(read_raw(path, max_bytes, &raw));
  // Decide by content, not name: an HTML error page saved as .gz is passed on raw, so the format
  // parser reports the bad magic it actually found.
  if (!has_gzip_magic(raw, 0)) {
    *out = std::move(raw);
    return Status::Ok();
  }
  return gunzip(raw, path, max_bytes, out);
}

Status internal::open_stream(const std::string& path, size_t max_bytes,
                             std::unique_ptr<ByteStream>* out) {
  int fd = -1;
  uint64_t size = 0;
  NNET_RETURN_IF_ERROR(open_regular(path, max_bytes, &fd, &size));
  auto in = std::make_unique<RawInput>(fd, size, path);  // owns fd from here
  NNET_RETURN_IF_ERROR(in->Ensure(2));
  // Decided by content, as read_file does.
  if (has_gzip_magic(in->view(), 0)) {
    *out = std::make_unique<GzipStream>(std::move(in), path, max_bytes);
  } else {
    *out = std::make_unique<PlainStream>(std::move(in));
  }
  return Status::Ok();
}

}  // namespace nnet
