// A Store on disk: an append-only log of the engine's records, rewritten as
// a snapshot of the live records when it has grown well past them. The
// format and its recovery rules are in broker/store/src/log_format.hpp.
//
// Writes go to a buffer and to the in-memory contents at once; sync() writes
// the buffer to the file and, as the policy says, waits for the disk. The
// store takes a lock file (PATH.lock) for as long as it is open, so a second
// broker pointed at the same log is refused instead of interleaving with it.
//
// Any I/O error throws std::system_error naming the file, and the store then
// refuses every later write: a store that cannot write must stop the broker,
// not let it acknowledge what it could not keep.
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>

#include "assay/broker/store.hpp"
#include "assay/mqtt/types.hpp"

namespace assay::broker {

enum class SyncPolicy {
  // fdatasync at every sync(): nothing acknowledged is lost to a power cut.
  every,
  // fdatasync at a sync() once `interval` has passed since the last one: a
  // power cut can lose about that much; a crash of the broker alone loses
  // nothing, as the writes are already the kernel's.
  interval,
  // Never wait for the disk: survives a crash of the broker, not of the
  // machine.
  never,
};

struct FileStoreOptions {
  SyncPolicy sync = SyncPolicy::every;
  std::chrono::milliseconds interval{1000};
  // Group commit, for a driver that holds every input's output until the
  // end of its loop turn: under `every`, sync() only writes, and commit(),
  // which the driver calls before any of that output leaves, waits for the
  // disk once for all the inputs of the turn.
  bool group_commit = false;
  // The log is rewritten as a snapshot when it is bigger than compact_ratio
  // times the snapshot plus compact_slack bytes, which keeps the rewriting
  // to a fraction of the appending however the records churn.
  std::size_t compact_ratio = 2;
  std::size_t compact_slack = std::size_t{1} << 20;
};

class FileStore final : public Store {
 public:
  using Options = FileStoreOptions;

  // What opening found, for the broker to log (summary()).
  struct Recovery {
    bool created = false;        // no log, or an empty file: a new log was started
    std::size_t sessions = 0;    // loaded
    std::size_t retained = 0;    // loaded
    std::size_t records = 0;     // frames replayed
    std::size_t bytes_cut = 0;   // the tail dropped (a write torn by a crash, or damage)
    std::size_t cut_offset = 0;  // where that tail began
    std::string cut_reason;      // what was wrong there; empty when nothing was cut
    std::string cut_kept;        // the file the cut bytes were copied to (PATH.cut-OFFSET)
    std::string summary() const;
  };

  // Opens the log at `path`, creating it (mode 0600) if missing, and
  // recovers it: a bad tail is cut off the file. Throws std::runtime_error
  // naming the file when it is not a log of this format or is locked by
  // another store, std::system_error on I/O errors.
  explicit FileStore(std::filesystem::path path, Options options = {});
  // Flushes what is written but not yet on disk (errors are swallowed: a
  // destructor cannot report them; call flush() first to see them).
  ~FileStore() override;
  FileStore(const FileStore&) = delete;
  FileStore& operator=(const FileStore&) = delete;

  void put_session(const std::string& client_id, mqtt::Bytes record) override;
  void erase_session(const std::string& client_id) override;
  void put_retained(const std::string& topic, mqtt::Bytes record) override;
  void erase_retained(const std::string& topic) override;
  void sync() override;
  Contents load() const override;

  // Writes everything and waits for the disk now, whatever the policy: for
  // a clean shutdown, and for the timer of the interval policy.
  void flush();
  // Under `every` with group_commit: waits for the disk if anything was
  // written since the last commit. Nothing otherwise.
  void commit();
  // Rewrites the log as a snapshot of the live records now.
  void compact();
  // Under the interval policy, when flush() is due so that written data
  // does not wait longer than `interval` for the disk once inputs stop;
  // nullopt when nothing waits (and always under the other policies).
  std::optional<std::chrono::steady_clock::time_point> flush_due() const;

  const Recovery& recovery() const { return recovery_; }
  const std::filesystem::path& path() const { return path_; }
  std::size_t log_bytes() const { return file_bytes_; }           // in the file
  std::size_t unwritten_bytes() const { return buffer_.size(); }  // waiting for sync()
  std::size_t datasyncs() const { return datasyncs_; }            // fdatasync calls so far
  std::size_t compactions() const { return compactions_; }

 private:
  void write(bool session, const std::string& key, std::optional<mqtt::Bytes> value);
  void check_usable() const;
  void recover();
  void write_buffer();
  void datasync(int fd, const std::filesystem::path& name);
  void replace_with_snapshot();
  bool compaction_due(std::size_t pending) const;

  std::filesystem::path path_;
  std::filesystem::path tmp_path_;
  Options options_;
  int fd_ = -1;
  int lock_fd_ = -1;
  Contents live_;
  std::size_t live_bytes_ = 0;  // the size of a snapshot of live_
  std::size_t file_bytes_ = 0;
  mqtt::Bytes buffer_;
  bool undurable_ = false;  // written since the last fdatasync
  bool failed_ = false;
  std::chrono::steady_clock::time_point last_datasync_;
  std::size_t datasyncs_ = 0;
  std::size_t compactions_ = 0;
  Recovery recovery_;
};

}  // namespace assay::broker
