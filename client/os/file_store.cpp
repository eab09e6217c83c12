#include "assay/client/file_store.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <stdexcept>

namespace assay::client {

namespace {

constexpr std::uint8_t op_put = 1;
constexpr std::uint8_t op_erase = 2;
constexpr std::size_t header = 8;  // length, CRC

std::uint32_t crc_of(const std::uint8_t* data, std::size_t n) {
  return static_cast<std::uint32_t>(crc32(0L, data, static_cast<uInt>(n)));
}

std::uint32_t get32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}

void put32(mqtt::Bytes& out, std::uint32_t v) {
  for (int i = 3; i >= 0; --i)
    out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

void encode_record(mqtt::Bytes& out, std::uint8_t op, const std::string& key,
                   mqtt::ByteView value) {
  mqtt::Bytes body;
  body.reserve(3 + key.size() + value.size());
  body.push_back(op);
  body.push_back(static_cast<std::uint8_t>(key.size() >> 8));
  body.push_back(static_cast<std::uint8_t>(key.size()));
  body.insert(body.end(), key.begin(), key.end());
  body.insert(body.end(), value.begin(), value.end());
  put32(out, static_cast<std::uint32_t>(body.size()));
  put32(out, crc_of(body.data(), body.size()));
  out.insert(out.end(), body.begin(), body.end());
}

void write_all(int fd, const mqtt::Bytes& bytes, const std::function<void(const char*)>& fail) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail("write");
    done += static_cast<std::size_t>(n);
  }
}

}  // namespace

FileStore::FileStore(std::string path) : path_(std::move(path)) {
  fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd_ < 0) fail("open");
  mqtt::Bytes all;
  std::uint8_t buf[65536];
  for (;;) {
    const ssize_t n = ::read(fd_, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail("read");
    if (n == 0) break;
    all.insert(all.end(), buf, buf + n);
  }
  std::size_t at = 0;
  while (all.size() - at >= header) {
    const std::uint32_t length = get32(&all[at]);
    const std::uint32_t crc = get32(&all[at + 4]);
    if (length < 3 || all.size() - at - header < length) break;  // torn
    const std::uint8_t* body = &all[at + header];
    if (crc_of(body, length) != crc) break;  // corrupt
    const std::uint8_t op = body[0];
    const std::size_t key_size = (std::size_t{body[1]} << 8) | body[2];
    if (key_size > length - 3 || (op != op_put && op != op_erase)) break;
    std::string key(reinterpret_cast<const char*>(body + 3), key_size);  // NOLINT: bytes
    if (op == op_put) {
      live_[key] = mqtt::Bytes(body + 3 + key_size, body + length);
    } else {
      live_.erase(key);
    }
    at += header + length;
    ++recovery_.records;
  }
  recovery_.dropped_bytes = all.size() - at;
  if (recovery_.dropped_bytes > 0) {
    // Cut the tail off: what follows must not be read as if it came after it.
    if (::ftruncate(fd_, static_cast<off_t>(at)) != 0) fail("truncate");
    if (::fdatasync(fd_) != 0) fail("sync");
  }
  if (::lseek(fd_, static_cast<off_t>(at), SEEK_SET) < 0) fail("seek");
  file_bytes_ = at;
  for (const auto& [k, v] : live_)
    live_bytes_ += header + 3 + k.size() + v.size();
}

FileStore::~FileStore() {
  if (fd_ >= 0) ::close(fd_);
}

void FileStore::fail(const std::string& what) const {
  std::string message = "client store '";
  message.append(path_).append("': ").append(what).append(": ").append(std::strerror(errno));
  throw std::runtime_error(message);
}

void FileStore::append(std::uint8_t op, const std::string& key, mqtt::ByteView value) {
  if (key.size() > 0xFFFF) throw std::invalid_argument("client store: key longer than 65535");
  encode_record(pending_, op, key, value);
}

void FileStore::put(const std::string& key, mqtt::ByteView record) {
  append(op_put, key, record);
  auto [it, fresh] = live_.try_emplace(key);
  if (!fresh) live_bytes_ -= header + 3 + key.size() + it->second.size();
  it->second.assign(record.begin(), record.end());
  live_bytes_ += header + 3 + key.size() + record.size();
}

void FileStore::erase(const std::string& key) {
  const auto it = live_.find(key);
  if (it == live_.end()) return;
  live_bytes_ -= header + 3 + key.size() + it->second.size();
  live_.erase(it);
  append(op_erase, key, {});
}

void FileStore::sync() {
  if (pending_.empty()) return;
  auto failed = [this](const char* what) { fail(what); };
  write_all(fd_, pending_, failed);
  if (::fdatasync(fd_) != 0) fail("sync");
  file_bytes_ += pending_.size();
  pending_.clear();
  if (file_bytes_ > 1024 * 1024 && file_bytes_ > 4 * live_bytes_) compact();
}

// Writes what is live to a new file, syncs it and renames it over the log:
// at every instant one of the two complete files is there.
void FileStore::compact() {
  const std::string tmp = path_ + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  const std::string aside = "(writing " + tmp + ")";
  if (fd < 0) fail("open " + aside);
  mqtt::Bytes snapshot;
  for (const auto& [k, v] : live_)
    encode_record(snapshot, op_put, k, v);
  auto failed = [&](const char* what) {
    ::close(fd);
    std::string message(what);
    message.append(" ").append(aside);
    fail(message);
  };
  write_all(fd, snapshot, failed);
  if (::fsync(fd) != 0) failed("sync");
  ::close(fd);
  if (::rename(tmp.c_str(), path_.c_str()) != 0) fail("rename " + aside);
  // The directory entry, so the rename itself survives a crash.
  const auto slash = path_.find_last_of('/');
  const std::string dir =
      slash == std::string::npos ? std::string(".") : path_.substr(0, slash + 1);
  if (const int d = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); d >= 0) {
    ::fsync(d);
    ::close(d);
  }
  ::close(fd_);
  fd_ = ::open(path_.c_str(), O_RDWR | O_APPEND | O_CLOEXEC);
  if (fd_ < 0) fail("reopen");
  file_bytes_ = snapshot.size();
}

}  // namespace assay::client
