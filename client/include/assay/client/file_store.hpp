// A Store in one append-only file: every put and erase is a record with a
// CRC-32, sync() is write + fdatasync, and the file is rewritten as a
// snapshot (written aside, synced, renamed over) when it holds several
// times more than is live. On open, a torn or corrupt tail (a crash in the
// middle of a write, a garbled block) is detected by its length or CRC,
// cut off and reported, never trusted: what was synced before it stays.
//
// Record: length (4, big-endian, of what follows the CRC), CRC-32 (4) of
// it, op (1: put, 2: erase), key length (2), key, value.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include "assay/client/store.hpp"

namespace assay::client {

class FileStore final : public Store {
 public:
  // Opens (creating if needed) and reads `path`. Throws std::runtime_error
  // naming the file when it cannot be opened, read or written.
  explicit FileStore(std::string path);
  ~FileStore() override;
  FileStore(const FileStore&) = delete;
  FileStore& operator=(const FileStore&) = delete;

  void put(const std::string& key, mqtt::ByteView record) override;
  void erase(const std::string& key) override;
  void sync() override;
  std::map<std::string, mqtt::Bytes> load() override { return live_; }

  // What opening the file found.
  struct Recovery {
    std::size_t records = 0;        // read and applied
    std::size_t dropped_bytes = 0;  // of a torn or corrupt tail, cut off
  };
  const Recovery& recovery() const { return recovery_; }
  const std::string& path() const { return path_; }

 private:
  void append(std::uint8_t op, const std::string& key, mqtt::ByteView value);
  void compact();
  [[noreturn]] void fail(const std::string& what) const;

  std::string path_;
  int fd_ = -1;
  std::map<std::string, mqtt::Bytes> live_;
  std::size_t live_bytes_ = 0;
  std::size_t file_bytes_ = 0;
  mqtt::Bytes pending_;  // appended since the last sync
  Recovery recovery_;
};

}  // namespace assay::client
