// read_file: whole-file reads with transparent, hardened gunzip (zlib).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>

#include "data_internal.h"
#include "nnet/data.h"

namespace nnet {
namespace {

// Deflate cannot expand better than ~1032:1, so a larger ISIZE hint is a lie.
constexpr uint64_t kMaxDeflateRatio = 1032;

Status read_raw(const std::string& path, size_t max_bytes, std::string* out) {
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
  out->clear();
  out->resize(static_cast<size_t>(st.st_size));
  size_t got = 0;
  while (got < out->size()) {
    ssize_t n = ::read(fd, out->data() + got, out->size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return IoError("read error in " + path + " at byte offset " + std::to_string(got) + ": " +
                     std::strerror(err));
    }
    if (n == 0) break;  // file shrank while reading
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  if (got != out->size()) {
    return IoError(path + ": file shrank while reading (expected " + std::to_string(out->size()) +
                   " bytes, got " + std::to_string(got) + ")");
  }
  return Status::Ok();
}

bool has_gzip_magic(const std::string& b, size_t at) {
  return b.size() >= at + 2 && static_cast<unsigned char>(b[at]) == 0x1f &&
         static_cast<unsigned char>(b[at + 1]) == 0x8b;
}

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
  size_t member_start = 0;
  while (true) {  // one pass per gzip member (concatenated members are valid gzip)
    z_stream zs{};
    if (inflateInit2(&zs, 15 + 32) != Z_OK) {
      return Status::Error(Code::kSoftware, name + ": zlib inflateInit2 failed");
    }
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data() + member_start));
    // avail_in is 32-bit; the input is capped at max_bytes, but feed in slices to be safe.
    size_t fed = 0;
    const size_t total_in = in.size() - member_start;
    int rc = Z_OK;
    while (rc != Z_STREAM_END) {
      if (zs.avail_in == 0 && fed < total_in) {
        size_t slice = std::min<size_t>(total_in - fed, size_t{1} << 30);
        zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data() + member_start + fed));
        zs.avail_in = static_cast<uInt>(slice);
        fed += slice;
      }
      // Inflate into a fixed chunk and append: growing the string with resize() would zero-fill
      // the whole output first (a quarter of a short training run's time went to that memset).
      unsigned char chunk[1 << 16];
      zs.next_out = chunk;
      zs.avail_out = sizeof chunk;
      rc = inflate(&zs, Z_NO_FLUSH);
      const size_t produced = sizeof chunk - zs.avail_out;
      if (out->size() + produced <= max_bytes)
        out->append(reinterpret_cast<char*>(chunk), produced);
      else
        out->resize(max_bytes + 1);  // over the cap: reported just below
      const uint64_t offset = member_start + zs.total_in;
      if (out->size() > max_bytes) {
        inflateEnd(&zs);
        return DataError(name + ": gzip data inflates to more than the cap of " +
                         std::to_string(max_bytes) + " bytes (at compressed byte offset " +
                         std::to_string(offset) + ")");
      }
      if (rc == Z_STREAM_END) break;
      if (rc == Z_BUF_ERROR ||
          (rc == Z_OK && zs.avail_in == 0 && fed == total_in && zs.avail_out != 0)) {
        // No progress possible: the input ran out before the end of the deflate stream.
        if (zs.avail_in == 0 && fed == total_in) {
          inflateEnd(&zs);
          return DataError(name + ": gzip data truncated at byte offset " + std::to_string(offset) +
                           " (stream ends before its end marker)");
        }
        continue;  // output chunk was full: go round again
      }
      if (rc != Z_OK) {
        std::string why = zs.msg ? zs.msg : ("zlib error " + std::to_string(rc));
        inflateEnd(&zs);
        return DataError(name + ": corrupt gzip data at byte offset " + std::to_string(offset) +
                         ": " + why);
      }
    }
    member_start += zs.total_in;
    inflateEnd(&zs);
    if (member_start == in.size()) break;
    if (!has_gzip_magic(in, member_start)) {
      return DataError(name + ": " + std::to_string(in.size() - member_start) +
                       " bytes of trailing garbage after the gzip data at byte offset " +
                       std::to_string(member_start) + ", found " +
                       internal::describe_bytes(in.substr(member_start), 4));
    }
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

}  // namespace nnet
