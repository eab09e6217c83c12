// What one durable write costs in the broker's own log (FileStore) and in
// SQLite, the embedded store Debian ships, on this machine. The project keeps
// its own log only if it is at least as cheap as SQLite for the broker's
// workload, so both are measured in the same run on the same disk.
//
// The workload is the engine's: for each input it puts the records of the
// sessions the input changed (opaque bytes, 200 B or 2 KB here), then calls
// sync(), and no acknowledgement leaves before sync() returns. One operation
// is therefore one put of a record under one of 1000 keys, taken in turn,
// followed by one sync (FileStore) or one commit (SQLite). Both stores are
// filled with the 1000 keys before the clock starts, so every timed put
// replaces a record, as in a broker that has been running for a while.
//
// The rows:
// - FileStore with SyncPolicy::every (one fdatasync per sync) and SQLite in
//   WAL mode with synchronous=FULL (the WAL is synced at every commit): both
//   keep every acknowledged write through a power cut. These rows measure
//   waiting for the disk, so they use wall time.
// - FileStore with SyncPolicy::never and SQLite with synchronous=OFF: no
//   waiting for the disk, which leaves the CPU and write(2) cost of each.
// - The same pairs with 10 puts per sync or commit, the group commit a loop
//   turn gives when one input changed several sessions. Items there are
//   still puts, so ops/s compares with the single-put rows.
//
// SQLite gets a table (kind, key, value) keyed by (kind, key) WITHOUT ROWID,
// one prepared INSERT OR REPLACE per put, and prepared BEGIN and COMMIT
// statements around each operation. FileStore takes its record by value, so
// its rows include copying the record, as the engine hands over a fresh one;
// SQLite binds the same bytes without copying them.
//
// Every run uses a new directory made with mkdtemp under /tmp (or $TMPDIR),
// removed afterwards: the numbers are those of that directory's file system.
// The FileStore rows report fdatasync calls and compactions per put.
// Compaction (the log rewritten as a snapshot, which waits for the disk even
// under SyncPolicy::never) is part of the log's cost, so it is not avoided.
#include <benchmark/benchmark.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include "assay/broker/file_store.hpp"

#if ASSAY_HAVE_SQLITE
#include <sqlite3.h>
#endif

namespace {

using assay::broker::FileStore;
using assay::broker::SyncPolicy;
using assay::mqtt::Bytes;

constexpr std::size_t key_count = 1000;
constexpr std::int64_t small_record = 200;
constexpr std::int64_t large_record = 2048;
constexpr std::int64_t batch_puts = 10;

// A directory of its own for one run of one benchmark, removed with
// everything in it when the run ends.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = (base != nullptr && *base != '\0') ? base : "/tmp";
    pattern.append("/assay-store-bench-XXXXXX");
    std::vector<char> buffer(pattern.begin(), pattern.end());
    buffer.push_back('\0');
    if (::mkdtemp(buffer.data()) == nullptr)
      throw std::system_error(errno, std::generic_category(), "mkdtemp " + pattern);
    path_ = buffer.data();
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

std::vector<std::string> make_keys() {
  std::vector<std::string> keys;
  keys.reserve(key_count);
  for (std::size_t i = 0; i < key_count; ++i)
    keys.push_back("client-" + std::to_string(i));
  return keys;
}

// Bytes that look like an encoded record: not all zero, not repeating.
Bytes make_record(std::int64_t size) {
  Bytes record(static_cast<std::size_t>(size));
  std::uint32_t x = 2463534242u;
  for (auto& b : record) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    b = static_cast<std::uint8_t>(x);
  }
  return record;
}

// Arguments: record size in bytes, puts per sync.
void BM_FileStore(benchmark::State& state, SyncPolicy policy) {
  const auto record_size = state.range(0);
  const auto puts = static_cast<std::size_t>(state.range(1));
  const auto keys = make_keys();
  Bytes record = make_record(record_size);
  try {
    const TempDir dir;  // outlives the store, which is closed first
    FileStore::Options options;
    options.sync = policy;
    FileStore store(dir.path() / "store.log", options);
    for (const auto& key : keys)
      store.put_session(key, record);
    store.flush();
    const std::size_t syncs_before = store.datasyncs();
    const std::size_t compactions_before = store.compactions();

    std::size_t next = 0;
    for (auto _ : state) {
      for (std::size_t i = 0; i < puts; ++i) {
        record[0] = static_cast<std::uint8_t>(next);  // each put a different record
        store.put_session(keys[next], record);
        next = next + 1 == key_count ? 0 : next + 1;
      }
      store.sync();
    }
    const auto put_count = static_cast<double>(state.iterations()) * static_cast<double>(puts);
    state.counters["fsyncs/put"] =
        static_cast<double>(store.datasyncs() - syncs_before) / put_count;
    state.counters["compactions/put"] =
        static_cast<double>(store.compactions() - compactions_before) / put_count;
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return;
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(puts));
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(puts) * record_size);
}

#if ASSAY_HAVE_SQLITE

// SQLITE_STATIC (the bytes outlive the statement's use of them), without
// the macro's C-style cast.
constexpr sqlite3_destructor_type no_copy = nullptr;

void check(sqlite3* db, int rc, const char* what) {
  if (rc == SQLITE_OK || rc == SQLITE_DONE || rc == SQLITE_ROW) return;
  std::string message = "sqlite: ";
  message.append(what).append(": ").append(db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  throw std::runtime_error(message);
}

// The database and its prepared statements, closed in the right order.
class Sqlite {
 public:
  Sqlite(const std::filesystem::path& path, const char* synchronous) {
    const int rc =
        sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
    if (rc != SQLITE_OK) {
      const std::string message = std::string("sqlite: open: ") + sqlite3_errstr(rc);
      sqlite3_close(db_);
      db_ = nullptr;
      throw std::runtime_error(message);
    }
    exec("PRAGMA journal_mode=WAL");
    exec(std::string("PRAGMA synchronous=") + synchronous);
    exec(
        "CREATE TABLE store (kind INTEGER NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL,"
        " PRIMARY KEY (kind, key)) WITHOUT ROWID");
    begin_ = prepare("BEGIN");
    commit_ = prepare("COMMIT");
    insert_ = prepare("INSERT OR REPLACE INTO store (kind, key, value) VALUES (?1, ?2, ?3)");
  }
  ~Sqlite() {
    sqlite3_finalize(insert_);
    sqlite3_finalize(commit_);
    sqlite3_finalize(begin_);
    sqlite3_close(db_);
  }
  Sqlite(const Sqlite&) = delete;
  Sqlite& operator=(const Sqlite&) = delete;

  void begin() { step(begin_, "BEGIN"); }
  void commit() { step(commit_, "COMMIT"); }
  void put(int kind, const std::string& key, const Bytes& value) {
    check(db_, sqlite3_bind_int(insert_, 1, kind), "bind kind");
    check(db_, sqlite3_bind_text(insert_, 2, key.data(), static_cast<int>(key.size()), no_copy),
          "bind key");
    check(db_, sqlite3_bind_blob(insert_, 3, value.data(), static_cast<int>(value.size()), no_copy),
          "bind value");
    step(insert_, "INSERT");
  }

 private:
  void exec(const std::string& sql) {
    check(db_, sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr), sql.c_str());
  }
  sqlite3_stmt* prepare(const char* sql) {
    sqlite3_stmt* statement = nullptr;
    check(db_, sqlite3_prepare_v2(db_, sql, -1, &statement, nullptr), sql);
    return statement;
  }
  void step(sqlite3_stmt* statement, const char* what) {
    const int rc = sqlite3_step(statement);
    sqlite3_reset(statement);
    check(db_, rc, what);
  }

  sqlite3* db_ = nullptr;
  sqlite3_stmt* begin_ = nullptr;
  sqlite3_stmt* commit_ = nullptr;
  sqlite3_stmt* insert_ = nullptr;
};

// Arguments: record size in bytes, puts per commit.
void BM_Sqlite(benchmark::State& state, const char* synchronous) {
  const auto record_size = state.range(0);
  const auto puts = static_cast<std::size_t>(state.range(1));
  const auto keys = make_keys();
  Bytes record = make_record(record_size);
  constexpr int session_kind = 0;
  try {
    const TempDir dir;  // outlives the database, which is closed first
    Sqlite db(dir.path() / "store.db", synchronous);
    db.begin();
    for (const auto& key : keys)
      db.put(session_kind, key, record);
    db.commit();

    std::size_t next = 0;
    for (auto _ : state) {
      db.begin();
      for (std::size_t i = 0; i < puts; ++i) {
        record[0] = static_cast<std::uint8_t>(next);  // each put a different record
        db.put(session_kind, keys[next], record);
        next = next + 1 == key_count ? 0 : next + 1;
      }
      db.commit();
    }
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return;
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(puts));
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(puts) * record_size);
}

#endif  // ASSAY_HAVE_SQLITE

// The rows that wait for the disk: wall time, and a bounded run.
void durable(benchmark::internal::Benchmark* b) {
  b->ArgNames({"bytes", "puts"});
  b->Args({small_record, 1})->Args({large_record, 1});
  b->Args({small_record, batch_puts})->Args({large_record, batch_puts});
  b->UseRealTime()->MinTime(0.5)->Unit(benchmark::kMicrosecond);
}

// The rows that do not: CPU and system-call cost.
void undurable(benchmark::internal::Benchmark* b) {
  b->ArgNames({"bytes", "puts"});
  b->Args({small_record, 1})->Args({large_record, 1});
  b->Args({small_record, batch_puts})->Args({large_record, batch_puts});
  b->MinTime(0.5)->Unit(benchmark::kMicrosecond);
}

BENCHMARK_CAPTURE(BM_FileStore, every, SyncPolicy::every)->Apply(durable);
#if ASSAY_HAVE_SQLITE
BENCHMARK_CAPTURE(BM_Sqlite, full, "FULL")->Apply(durable);
#endif
BENCHMARK_CAPTURE(BM_FileStore, never, SyncPolicy::never)->Apply(undurable);
#if ASSAY_HAVE_SQLITE
BENCHMARK_CAPTURE(BM_Sqlite, off, "OFF")->Apply(undurable);
#endif

}  // namespace
