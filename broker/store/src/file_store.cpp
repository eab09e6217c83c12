#include "assay/broker/file_store.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <system_error>
#include <utility>

#include "log_format.hpp"

namespace assay::broker {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// Snapshots are written in pieces of about this size, so compacting a big
// store does not hold a second copy of it in memory.
constexpr std::size_t snapshot_chunk = std::size_t{1} << 20;

[[noreturn]] void fail(int err, std::string_view call, const fs::path& name) {
  std::string what(call);
  what.append(" ").append(name.string());
  throw std::system_error(err, std::generic_category(), what);
}

// Closes a descriptor on every path out, the error paths included.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

void write_all(int fd, mqtt::ByteView data, const fs::path& name) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      fail(errno, "write", name);
    }
    // A regular file that takes nothing is full in all but name.
    if (n == 0) fail(ENOSPC, "write", name);
    data = data.subspan(static_cast<std::size_t>(n));
  }
}

mqtt::Bytes read_all(int fd, const fs::path& name) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) fail(errno, "fstat", name);
  mqtt::Bytes out(static_cast<std::size_t>(st.st_size));
  std::size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = ::pread(fd, out.data() + done, out.size() - done, static_cast<off_t>(done));
    if (n < 0) {
      if (errno == EINTR) continue;
      fail(errno, "read", name);
    }
    if (n == 0) break;  // shorter than fstat said: take what is there
    done += static_cast<std::size_t>(n);
  }
  out.resize(done);
  return out;
}

// A rename or a new file is durable only once its directory is.
void fsync_directory(const fs::path& file) {
  fs::path dir = file.parent_path();
  if (dir.empty()) dir = ".";
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) fail(errno, "open directory", dir);
  if (::fsync(fd.get()) != 0) fail(errno, "fsync directory", dir);
}

}  // namespace

std::string FileStore::Recovery::summary() const {
  std::string s = created ? "started a new store log" : "recovered ";
  if (!created) {
    s.append(std::to_string(sessions))
        .append(" sessions and ")
        .append(std::to_string(retained))
        .append(" retained messages from ")
        .append(std::to_string(records))
        .append(" records");
  }
  if (bytes_cut > 0) {
    s.append("; cut ")
        .append(std::to_string(bytes_cut))
        .append(" bytes of a damaged or torn tail at offset ")
        .append(std::to_string(cut_offset))
        .append(" (")
        .append(cut_reason)
        .append("), kept in ")
        .append(cut_kept);
  }
  return s;
}

FileStore::FileStore(fs::path path, Options options) : path_(std::move(path)), options_(options) {
  tmp_path_ = path_;
  tmp_path_ += ".tmp";
  fs::path lock_path = path_;
  lock_path += ".lock";
  // The lock is a file of its own because the log itself is replaced by
  // every compaction: a lock on it would be on a file that is gone.
  Fd lock(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (lock.get() < 0) fail(errno, "open", lock_path);
  if (::flock(lock.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK) fail(errno, "flock", lock_path);
    std::string what = path_.string();
    what.append(": in use by another store (");
    what.append(lock_path.string()).append(" is locked)");
    throw std::runtime_error(what);
  }
  try {
    recover();
  } catch (...) {
    // No destructor runs for a constructor that throws.
    if (fd_ >= 0) ::close(fd_);
    throw;
  }
  lock_fd_ = lock.release();
}

FileStore::~FileStore() {
  if (!failed_ && fd_ >= 0) {
    try {
      flush();
    } catch (...) {  // nothing to tell from a destructor; flush() first to know
    }
  }
  if (fd_ >= 0) ::close(fd_);
  if (lock_fd_ >= 0) ::close(lock_fd_);  // and so unlocks
}

void FileStore::recover() {
  // A snapshot a crash interrupted before its rename: never part of the log.
  if (::unlink(tmp_path_.c_str()) != 0 && errno != ENOENT) fail(errno, "unlink", tmp_path_);
  Fd fd(::open(path_.c_str(), O_RDWR | O_APPEND | O_CLOEXEC));
  if (fd.get() < 0 && errno != ENOENT) fail(errno, "open", path_);
  const mqtt::Bytes image = fd.get() >= 0 ? read_all(fd.get(), path_) : mqtt::Bytes{};
  if (image.empty()) {
    // A new log is made as a snapshot of nothing, so that even its header
    // appears whole or not at all.
    recovery_.created = true;
    replace_with_snapshot();
    return;
  }
  store_log::LogImage log = store_log::parse_log(image);
  if (!log.header_ok) {
    std::string what = path_.string();
    what.append(": not an Assay store log (").append(log.problem).append(")");
    throw std::runtime_error(what);
  }
  if (log.valid_bytes < image.size()) {
    // The tail is never trusted, and is cut off now so that the next frame
    // appended follows the last good one.
    recovery_.bytes_cut = image.size() - log.valid_bytes;
    recovery_.cut_offset = log.valid_bytes;
    recovery_.cut_reason = log.problem;
    // Kept beside the log before it goes: a torn write loses nothing that
    // was acknowledged, but damage in the middle would cut good records too,
    // and those stay where an operator can look at them.
    fs::path kept = path_;
    kept += ".cut-" + std::to_string(log.valid_bytes);
    {
      Fd out(::open(kept.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
      if (out.get() < 0) fail(errno, "open", kept);
      write_all(out.get(),
                mqtt::ByteView(image.data() + log.valid_bytes, image.size() - log.valid_bytes),
                kept);
      datasync(out.get(), kept);
    }
    recovery_.cut_kept = kept.string();
    if (::ftruncate(fd.get(), static_cast<off_t>(log.valid_bytes)) != 0) {
      fail(errno, "ftruncate", path_);
    }
    datasync(fd.get(), path_);
  }
  recovery_.sessions = log.contents.sessions.size();
  recovery_.retained = log.contents.retained.size();
  recovery_.records = log.records;
  live_ = std::move(log.contents);
  live_bytes_ = store_log::snapshot_size(live_);
  file_bytes_ = log.valid_bytes;
  fd_ = fd.release();
  last_datasync_ = Clock::now();
  if (compaction_due(0)) {
    replace_with_snapshot();
    ++compactions_;
  }
}

void FileStore::check_usable() const {
  if (failed_) {
    std::string what = path_.string();
    what.append(": the store failed on an earlier error and takes no more writes");
    throw std::runtime_error(what);
  }
}

void FileStore::write(bool session, const std::string& key, std::optional<mqtt::Bytes> value) {
  check_usable();
  auto& table = session ? live_.sessions : live_.retained;
  const auto it = table.find(key);
  if (!value && it == table.end()) return;  // erasing nothing: the log already agrees
  // The same record again (a session after a PINGREQ, say): the log holds
  // it, and neither a write nor a wait for the disk is owed.
  if (value && it != table.end() && it->second == *value) return;
  using store_log::Kind;
  const Kind kind = value ? (session ? Kind::put_session : Kind::put_retained)
                          : (session ? Kind::erase_session : Kind::erase_retained);
  // Encoded first: it throws on a record over the limit, before anything
  // changed.
  store_log::append_frame(buffer_, kind, key, value ? mqtt::ByteView(*value) : mqtt::ByteView{});
  if (it != table.end()) {
    live_bytes_ -= store_log::frame_size(key.size(), it->second.size());
  }
  if (value) {
    live_bytes_ += store_log::frame_size(key.size(), value->size());
    if (it != table.end()) {
      it->second = std::move(*value);
    } else {
      table.emplace(key, std::move(*value));
    }
  } else {
    table.erase(it);
  }
}

void FileStore::put_session(const std::string& client_id, mqtt::Bytes record) {
  write(true, client_id, std::move(record));
}
void FileStore::erase_session(const std::string& client_id) {
  write(true, client_id, std::nullopt);
}
void FileStore::put_retained(const std::string& topic, mqtt::Bytes record) {
  write(false, topic, std::move(record));
}
void FileStore::erase_retained(const std::string& topic) {
  write(false, topic, std::nullopt);
}

Store::Contents FileStore::load() const {
  return live_;
}

bool FileStore::compaction_due(std::size_t pending) const {
  return file_bytes_ + pending > options_.compact_ratio * live_bytes_ + options_.compact_slack;
}

void FileStore::write_buffer() {
  if (buffer_.empty()) return;
  write_all(fd_, buffer_, path_);
  file_bytes_ += buffer_.size();
  buffer_.clear();
  undurable_ = true;
}

void FileStore::datasync(int fd, const fs::path& name) {
  for (;;) {
    if (::fdatasync(fd) == 0) break;
    if (errno != EINTR) fail(errno, "fdatasync", name);
  }
  ++datasyncs_;
}

void FileStore::sync() {
  check_usable();
  try {
    if (!buffer_.empty() && compaction_due(buffer_.size())) {
      // The snapshot holds the buffered writes too, and is on disk when it
      // is in place: it is this sync.
      replace_with_snapshot();
      ++compactions_;
      return;
    }
    write_buffer();
    if (!undurable_) return;
    const auto now = Clock::now();
    const bool due =
        (options_.sync == SyncPolicy::every && !options_.group_commit) ||
        (options_.sync == SyncPolicy::interval && now - last_datasync_ >= options_.interval);
    if (due) {
      datasync(fd_, path_);
      undurable_ = false;
      last_datasync_ = now;
    }
  } catch (...) {
    // A failed fdatasync may have dropped the pages it could not write, and
    // a failed write may have left part of a frame: nothing after it could
    // be promised, so nothing more is taken.
    failed_ = true;
    throw;
  }
}

void FileStore::flush() {
  check_usable();
  try {
    write_buffer();
    if (undurable_) {
      datasync(fd_, path_);
      undurable_ = false;
      last_datasync_ = Clock::now();
    }
  } catch (...) {
    failed_ = true;
    throw;
  }
}

void FileStore::commit() {
  if (options_.sync == SyncPolicy::every && options_.group_commit) flush();
}

void FileStore::compact() {
  check_usable();
  try {
    replace_with_snapshot();
    ++compactions_;
  } catch (...) {
    failed_ = true;
    throw;
  }
}

std::optional<Clock::time_point> FileStore::flush_due() const {
  if (options_.sync != SyncPolicy::interval || !undurable_) return std::nullopt;
  return last_datasync_ + options_.interval;
}

// Writes the live records to PATH.tmp, waits for the disk, renames it over
// PATH and waits for the directory: a crash before the rename leaves the old
// log whole, after it the new one, and the new one is complete before its
// name can point at it. Appending then continues on the new file.
void FileStore::replace_with_snapshot() {
  Fd fd(::open(tmp_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600));
  if (fd.get() < 0) fail(errno, "open", tmp_path_);
  try {
    std::size_t written = 0;
    mqtt::Bytes chunk;
    chunk.reserve(snapshot_chunk + 4096);
    store_log::append_header(chunk);
    const auto emit = [&](store_log::Kind kind, const std::string& key, const mqtt::Bytes& value) {
      store_log::append_frame(chunk, kind, key, value);
      if (chunk.size() >= snapshot_chunk) {
        write_all(fd.get(), chunk, tmp_path_);
        written += chunk.size();
        chunk.clear();
      }
    };
    for (const auto& entry : live_.sessions)
      emit(store_log::Kind::put_session, entry.first, entry.second);
    for (const auto& entry : live_.retained)
      emit(store_log::Kind::put_retained, entry.first, entry.second);
    write_all(fd.get(), chunk, tmp_path_);
    written += chunk.size();
    datasync(fd.get(), tmp_path_);
    if (::rename(tmp_path_.c_str(), path_.c_str()) != 0) fail(errno, "rename", tmp_path_);
    file_bytes_ = written;
  } catch (...) {
    ::unlink(tmp_path_.c_str());  // best effort: opening removes it anyway
    throw;
  }
  fsync_directory(path_);
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd.release();
  buffer_.clear();
  undurable_ = false;
  last_datasync_ = Clock::now();
}

}  // namespace assay::broker
