// FileStore: the log format and its recovery (torn tails, damage, foreign
// files), compaction, the sync policies, and the engine restarted over a
// reopened log keeping what it acknowledged.
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "assay/broker/file_store.hpp"
#include "log_format.hpp"
#include "world.hpp"

namespace assay::broker::test {
namespace {

namespace fs = std::filesystem;
namespace sl = store_log;
using Contents = Store::Contents;

Bytes bytes(std::string_view s) {
  return Bytes(s.begin(), s.end());
}

// Appended rather than added: GCC 12 warns (-Werror=restrict) on
// "literal" + std::to_string(n).
std::string named(std::string_view prefix, std::size_t n) {
  std::string s(prefix);
  s.append(std::to_string(n));
  return s;
}

Bytes read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return Bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void write_file(const fs::path& p, const Bytes& data) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
}

void expect_same(const Contents& got, const Contents& want) {
  EXPECT_EQ(got.sessions, want.sessions);
  EXPECT_EQ(got.retained, want.retained);
}

// A frame around a body given whole, for bodies append_frame would not make.
void append_raw_frame(Bytes& out, const Bytes& body) {
  const auto put = [&](std::uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8)
      out.push_back(static_cast<std::uint8_t>(v >> shift));
  };
  put(static_cast<std::uint32_t>(body.size()));
  put(sl::crc32c(body));
  out.insert(out.end(), body.begin(), body.end());
}

TEST(LogFormat, Crc32cHasTheKnownCheckValue) {
  EXPECT_EQ(sl::crc32c(bytes("123456789")), 0xE3069283u);
  EXPECT_EQ(sl::crc32c({}), 0u);
}

TEST(LogFormat, RecordsReplayInOrder) {
  Bytes log;
  sl::append_header(log);
  sl::append_frame(log, sl::Kind::put_session, "a", bytes("1"));
  sl::append_frame(log, sl::Kind::put_retained, "t", bytes("2"));
  sl::append_frame(log, sl::Kind::put_session, "a", bytes("3"));  // replaces
  sl::append_frame(log, sl::Kind::put_session, "b", bytes("4"));
  sl::append_frame(log, sl::Kind::erase_session, "b", {});
  sl::append_frame(log, sl::Kind::erase_retained, "t", {});
  sl::append_frame(log, sl::Kind::put_retained, "u", {});  // an empty record is a record
  const sl::LogImage image = sl::parse_log(log);
  EXPECT_TRUE(image.header_ok);
  EXPECT_EQ(image.problem, "");
  EXPECT_EQ(image.valid_bytes, log.size());
  EXPECT_EQ(image.records, 7u);
  expect_same(image.contents, Contents{{{"a", bytes("3")}}, {{"u", Bytes{}}}});
}

TEST(LogFormat, AnEmptyImageIsNoLogAndAHeaderAloneIsAnEmptyOne) {
  const sl::LogImage none = sl::parse_log({});
  EXPECT_FALSE(none.header_ok);
  EXPECT_EQ(none.problem, "");
  Bytes header;
  sl::append_header(header);
  const sl::LogImage empty = sl::parse_log(header);
  EXPECT_TRUE(empty.header_ok);
  EXPECT_EQ(empty.valid_bytes, sl::header_size);
  EXPECT_EQ(empty.records, 0u);
}

TEST(LogFormat, BadHeadersAreRefused) {
  Bytes header;
  sl::append_header(header);
  Bytes wrong_magic = header;
  wrong_magic[0] = 'X';
  Bytes short_header(header.begin(), header.begin() + 5);
  Bytes newer = header;
  newer.back() = 2;
  for (const Bytes& image : {wrong_magic, short_header, newer}) {
    const sl::LogImage parsed = sl::parse_log(image);
    EXPECT_FALSE(parsed.header_ok);
    EXPECT_EQ(parsed.valid_bytes, 0u);
    EXPECT_NE(parsed.problem, "");
  }
  EXPECT_NE(sl::parse_log(newer).problem.find("version 2"), std::string::npos);
}

// A length field gone bad must end the log, not make the reader wait for (or
// allocate) four gigabytes.
TEST(LogFormat, AnOversizedLengthIsCorruption) {
  Bytes log;
  sl::append_header(log);
  sl::append_frame(log, sl::Kind::put_session, "a", bytes("1"));
  const std::size_t good = log.size();
  log.insert(log.end(), {0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0, 1, 2, 3});
  const sl::LogImage image = sl::parse_log(log);
  EXPECT_EQ(image.valid_bytes, good);
  EXPECT_EQ(image.records, 1u);
  EXPECT_NE(image.problem.find("length"), std::string::npos);
}

// A body whose CRC matches but which does not parse was written so: it ends
// the good part all the same, and nothing after it is replayed.
TEST(LogFormat, AMalformedBodyWithAGoodCrcEndsTheLog) {
  const std::vector<Bytes> bad = {
      {9, 0, 0, 0, 1, 'k'},       // unknown kind
      {2, 0, 0, 0, 1, 'k', 'v'},  // an erase with a value
      {1, 0, 0, 0, 9, 'k'},       // a key longer than the frame
      {1, 0, 0},                  // shorter than kind and key length
  };
  for (const Bytes& body : bad) {
    Bytes log;
    sl::append_header(log);
    sl::append_frame(log, sl::Kind::put_session, "a", bytes("1"));
    const std::size_t good = log.size();
    append_raw_frame(log, body);
    sl::append_frame(log, sl::Kind::put_session, "later", bytes("2"));
    const sl::LogImage image = sl::parse_log(log);
    EXPECT_EQ(image.valid_bytes, good);
    EXPECT_NE(image.problem, "");
    expect_same(image.contents, Contents{{{"a", bytes("1")}}, {}});
  }
}

TEST(LogFormat, ASnapshotParsesBackToItsContents) {
  const Contents c{{{"a", bytes("one")}, {"b", Bytes(300, 7)}}, {{"x/y", bytes("r")}}};
  const Bytes snapshot = sl::encode_snapshot(c);
  EXPECT_EQ(snapshot.size(), sl::snapshot_size(c));
  const sl::LogImage image = sl::parse_log(snapshot);
  EXPECT_EQ(image.valid_bytes, snapshot.size());
  EXPECT_EQ(image.records, 3u);
  expect_same(image.contents, c);
}

// Each test works in a directory of its own, removed at the end.
class FileStoreTest : public ::testing::Test {
 protected:
  FileStoreTest() {
    std::string name = (fs::temp_directory_path() / "assay-file-store-XXXXXX").string();
    if (::mkdtemp(name.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir = name;
    log = dir / "store.log";
  }
  ~FileStoreTest() override {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }

  // Writes records a0..a(n-1) as sessions, one sync each; returns the size
  // of the log before each record (and at the end).
  std::vector<std::size_t> write_sessions(int n) {
    FileStore store(log);
    std::vector<std::size_t> sizes{store.log_bytes()};
    for (int i = 0; i < n; ++i) {
      store.put_session(named("a", static_cast<std::size_t>(i)),
                        Bytes(20, static_cast<std::uint8_t>(i)));
      store.sync();
      sizes.push_back(store.log_bytes());
    }
    return sizes;
  }
  static Contents sessions_up_to(int n) {
    Contents c;
    for (int i = 0; i < n; ++i)
      c.sessions[named("a", static_cast<std::size_t>(i))] = Bytes(20, static_cast<std::uint8_t>(i));
    return c;
  }

  fs::path dir;
  fs::path log;
};

TEST_F(FileStoreTest, ANewLogIsCreatedPrivate) {
  FileStore store(log);
  EXPECT_TRUE(store.recovery().created);
  EXPECT_EQ(store.recovery().summary(), "started a new store log");
  struct stat st {};
  ASSERT_EQ(::stat(log.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(read_file(log).size(), sl::header_size);
  EXPECT_TRUE(store.load().sessions.empty());
}

TEST_F(FileStoreTest, RecordsSurviveAReopen) {
  {
    FileStore store(log);
    store.put_session("c1", bytes("s1"));
    store.put_session("c2", bytes("s2"));
    store.put_session("c3", bytes("s3"));
    store.put_retained("r/a", bytes("ra"));
    store.put_retained("r/b", bytes("rb"));
    store.sync();
    store.erase_session("c2");
    store.put_session("c1", bytes("s1 again"));
    store.erase_retained("r/a");
    store.erase_retained("never there");  // nothing to write
    store.sync();
  }
  FileStore store(log);
  expect_same(store.load(),
              Contents{{{"c1", bytes("s1 again")}, {"c3", bytes("s3")}}, {{"r/b", bytes("rb")}}});
  const auto& r = store.recovery();
  EXPECT_FALSE(r.created);
  EXPECT_EQ(r.sessions, 2u);
  EXPECT_EQ(r.retained, 1u);
  EXPECT_EQ(r.records, 8u);
  EXPECT_EQ(r.bytes_cut, 0u);
  EXPECT_EQ(r.summary(), "recovered 2 sessions and 1 retained messages from 8 records");
}

TEST_F(FileStoreTest, WritesReachTheFileAtSync) {
  FileStore store(log);
  const std::size_t before = read_file(log).size();
  store.put_session("c", bytes("record"));
  EXPECT_GT(store.unwritten_bytes(), 0u);
  EXPECT_EQ(read_file(log).size(), before);
  EXPECT_EQ(store.load().sessions.at("c"), bytes("record"));  // the live contents already
  store.sync();
  EXPECT_EQ(store.unwritten_bytes(), 0u);
  EXPECT_EQ(read_file(log).size(), before + sl::frame_size(1, 6));
  EXPECT_EQ(store.log_bytes(), read_file(log).size());
}

// A crash while the last frame was being written leaves any prefix of it:
// each one is cut, and the records before it are all there.
TEST_F(FileStoreTest, ATornTailIsCutAtEveryOffset) {
  const std::vector<std::size_t> sizes = write_sessions(3);
  const Bytes whole = read_file(log);
  const std::size_t last = sizes[2];
  ASSERT_EQ(whole.size(), sizes[3]);
  for (std::size_t cut = last; cut < whole.size(); ++cut) {
    SCOPED_TRACE(named("cut at ", cut));
    write_file(log, Bytes(whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(cut)));
    {
      FileStore store(log);
      expect_same(store.load(), sessions_up_to(2));
      EXPECT_EQ(store.recovery().bytes_cut, cut - last);
      if (cut > last) {
        EXPECT_EQ(store.recovery().cut_offset, last);
        EXPECT_NE(store.recovery().cut_reason.find("cut short"), std::string::npos);
        EXPECT_NE(store.recovery().summary().find(named("cut ", cut - last).append(" bytes")),
                  std::string::npos);
      }
      EXPECT_EQ(read_file(log).size(), last);  // the tail is off the file
    }
  }
}

TEST_F(FileStoreTest, AGarbledByteInTheLastFrameIsCutAndAppendingGoesOn) {
  const std::vector<std::size_t> sizes = write_sessions(3);
  Bytes image = read_file(log);
  image[sizes[2] + 15] ^= 0x40;  // inside the last record's value
  write_file(log, image);
  {
    FileStore store(log);
    expect_same(store.load(), sessions_up_to(2));
    EXPECT_EQ(store.recovery().bytes_cut, sizes[3] - sizes[2]);
    EXPECT_EQ(store.recovery().cut_offset, sizes[2]);
    EXPECT_EQ(store.recovery().cut_reason, "a CRC mismatch");
    store.put_retained("after", bytes("x"));
    store.sync();
  }
  // The new frame follows the last good one, not the damage.
  FileStore store(log);
  Contents want = sessions_up_to(2);
  want.retained["after"] = bytes("x");
  expect_same(store.load(), want);
  EXPECT_EQ(store.recovery().bytes_cut, 0u);
}

// Damage in the middle ends the log there: the records after it are cut
// too, as nothing says they are what followed.
TEST_F(FileStoreTest, GarbageInTheMiddleCutsEverythingFromThere) {
  const std::vector<std::size_t> sizes = write_sessions(5);
  Bytes image = read_file(log);
  for (std::size_t i = 0; i < 6; ++i)
    image[sizes[2] + i] = 0xA5;
  write_file(log, image);
  FileStore store(log);
  expect_same(store.load(), sessions_up_to(2));
  EXPECT_EQ(store.recovery().cut_offset, sizes[2]);
  EXPECT_EQ(store.recovery().bytes_cut, sizes[5] - sizes[2]);
  EXPECT_EQ(read_file(log).size(), sizes[2]);
  // What was cut, good records after the damage included, is kept beside
  // the log for an operator, byte for byte.
  fs::path kept = log;
  kept += ".cut-" + std::to_string(sizes[2]);
  EXPECT_EQ(store.recovery().cut_kept, kept.string());
  EXPECT_EQ(read_file(kept), Bytes(image.begin() + static_cast<long>(sizes[2]), image.end()));
  EXPECT_NE(store.recovery().summary().find(kept.string()), std::string::npos);
}

// A file that is not a log is never truncated or overwritten: opening it
// is an error that names it.
TEST_F(FileStoreTest, ABadHeaderThrowsNamingTheFile) {
  const Bytes foreign = bytes("# not a store log\nbut someone's notes\n");
  write_file(log, foreign);
  try {
    FileStore store(log);
    ADD_FAILURE() << "opened a file that is not a log";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(log.string()), std::string::npos) << e.what();
  }
  EXPECT_EQ(read_file(log), foreign);
}

TEST_F(FileStoreTest, AnIoErrorThrowsNamingTheFile) {
  const fs::path nowhere = dir / "missing" / "store.log";
  try {
    FileStore store(nowhere);
    ADD_FAILURE() << "opened a log in a directory that does not exist";
  } catch (const std::system_error& e) {
    EXPECT_NE(std::string(e.what()).find(nowhere.string()), std::string::npos) << e.what();
  }
}

// A file size limit makes write(2) fail part way through a frame, as a full
// disk would: sync() throws naming the file, the store takes nothing more,
// and reopening cuts the partial frame and keeps what was synced before.
TEST_F(FileStoreTest, AWriteErrorStopsTheStoreAndItsPartialFrameIsCut) {
  rlimit old{};
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &old), 0);
  const auto old_handler = ::signal(SIGXFSZ, SIG_IGN);  // EFBIG instead of the signal
  {
    FileStore store(log);
    store.put_session("kept", bytes("synced"));
    store.sync();
    rlimit small = old;
    small.rlim_cur = static_cast<rlim_t>(store.log_bytes() + 10);
    ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &small), 0);
    store.put_session("big", Bytes(100, 1));
    try {
      store.sync();
      ADD_FAILURE() << "a write past the file size limit succeeded";
    } catch (const std::system_error& e) {
      EXPECT_EQ(e.code(), std::errc::file_too_large);
      EXPECT_NE(std::string(e.what()).find(log.string()), std::string::npos) << e.what();
    }
    ::setrlimit(RLIMIT_FSIZE, &old);
    EXPECT_THROW(store.put_session("more", bytes("x")), std::runtime_error);
    EXPECT_THROW(store.sync(), std::runtime_error);
  }
  ::signal(SIGXFSZ, old_handler);
  FileStore store(log);
  expect_same(store.load(), Contents{{{"kept", bytes("synced")}}, {}});
  EXPECT_EQ(store.recovery().bytes_cut, 10u);
}

TEST_F(FileStoreTest, ASecondStoreOnTheSameLogIsRefused) {
  auto first = std::make_unique<FileStore>(log);
  try {
    FileStore second(log);
    ADD_FAILURE() << "two stores opened one log";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("in use"), std::string::npos) << e.what();
  }
  first.reset();
  EXPECT_NO_THROW(FileStore{log});
}

// A snapshot interrupted before its rename is not the log: it is ignored
// and removed.
TEST_F(FileStoreTest, AnInterruptedSnapshotIsIgnored) {
  write_sessions(2);
  fs::path tmp = log;
  tmp += ".tmp";
  write_file(tmp, Bytes(100, 0x11));
  FileStore store(log);
  expect_same(store.load(), sessions_up_to(2));
  EXPECT_FALSE(fs::exists(tmp));
}

TEST_F(FileStoreTest, CompactionKeepsTheContentsAndShrinksTheLog) {
  FileStore::Options o;
  o.sync = SyncPolicy::never;  // compaction waits for the disk all the same
  o.compact_slack = 4096;
  FileStore store(log, o);
  std::size_t largest = 0;
  for (int i = 0; i < 500; ++i) {
    store.put_session("churn", Bytes(100, static_cast<std::uint8_t>(i)));
    if (i % 7 == 0) store.put_retained(named("r/", static_cast<std::size_t>(i % 3)), bytes("kept"));
    store.sync();
    largest = std::max(largest, store.log_bytes());
  }
  EXPECT_GT(store.compactions(), 0u);
  const Contents live = store.load();
  EXPECT_LE(largest, 2 * sl::snapshot_size(live) + 4096);
  EXPECT_EQ(read_file(log).size(), store.log_bytes());
  // Asked for, a compaction leaves exactly the snapshot of the live records.
  store.compact();
  EXPECT_EQ(read_file(log), sl::encode_snapshot(live));
  fs::path tmp = log;
  tmp += ".tmp";
  EXPECT_FALSE(fs::exists(tmp));
}

TEST_F(FileStoreTest, AppendingGoesOnAfterACompactionAndSurvivesAReopen) {
  Contents want;
  {
    FileStore store(log);
    for (int i = 0; i < 10; ++i)
      store.put_session(named("c", static_cast<std::size_t>(i)), Bytes(10, 1));
    store.sync();
    store.compact();
    const std::size_t compacted = store.log_bytes();
    store.erase_session("c3");
    store.put_retained("t", bytes("after"));
    store.sync();
    EXPECT_GT(store.log_bytes(), compacted);
    want = store.load();
  }
  FileStore store(log);
  expect_same(store.load(), want);
  EXPECT_EQ(store.recovery().records, 12u);  // 10 in the snapshot, 2 after
  EXPECT_EQ(store.recovery().sessions, 9u);
}

TEST_F(FileStoreTest, TheSyncPolicyDecidesWhenTheDiskIsWaitedFor) {
  const auto syncs_after_three_writes = [&](FileStore::Options o) {
    fs::remove(log);
    FileStore store(log, o);
    const std::size_t before = store.datasyncs();
    for (int i = 0; i < 3; ++i) {
      store.put_session("c", Bytes(1, static_cast<std::uint8_t>(i)));
      store.sync();
    }
    store.sync();  // nothing new: never waits
    return store.datasyncs() - before;
  };
  FileStore::Options every;
  EXPECT_EQ(syncs_after_three_writes(every), 3u);
  FileStore::Options never;
  never.sync = SyncPolicy::never;
  EXPECT_EQ(syncs_after_three_writes(never), 0u);
  FileStore::Options at_once;
  at_once.sync = SyncPolicy::interval;
  at_once.interval = std::chrono::milliseconds{0};
  EXPECT_EQ(syncs_after_three_writes(at_once), 3u);

  FileStore::Options hourly;
  hourly.sync = SyncPolicy::interval;
  hourly.interval = std::chrono::hours{1};
  EXPECT_EQ(syncs_after_three_writes(hourly), 0u);
  fs::remove(log);
  FileStore store(log, hourly);
  EXPECT_FALSE(store.flush_due());
  store.put_session("c", bytes("x"));
  store.sync();
  ASSERT_TRUE(store.flush_due());
  EXPECT_GT(*store.flush_due(), std::chrono::steady_clock::now() + std::chrono::minutes{59});
  const std::size_t before = store.datasyncs();
  store.flush();
  EXPECT_EQ(store.datasyncs(), before + 1);
  EXPECT_FALSE(store.flush_due());
}

// Group commit: the syncs of one loop turn's inputs write, and the turn's
// commit waits for the disk once for all of them; a commit with nothing new
// does not wait.
TEST_F(FileStoreTest, GroupCommitWaitsOncePerCommit) {
  FileStore::Options o;
  o.group_commit = true;
  FileStore store(log, o);
  const std::size_t before = store.datasyncs();
  for (int i = 0; i < 3; ++i) {
    store.put_session("c" + std::to_string(i), bytes("x"));
    store.sync();
  }
  EXPECT_EQ(store.datasyncs(), before);
  EXPECT_EQ(store.unwritten_bytes(), 0u);  // written to the file, not yet waited for
  store.commit();
  EXPECT_EQ(store.datasyncs(), before + 1);
  store.commit();
  EXPECT_EQ(store.datasyncs(), before + 1);
}

// An input that changes nothing (a PINGREQ: the engine writes its session
// after every input) costs no write and no wait for the disk.
TEST_F(FileStoreTest, ARecordPutUnchangedIsNotWrittenAgain) {
  {
    FileStore::Options o;
    o.group_commit = true;
    FileStore store(log, o);
    store.put_session("c", bytes("queue of 3"));
    store.put_retained("r", bytes("21.5"));
    store.sync();
    store.commit();
    const std::size_t bytes_before = store.log_bytes();
    const std::size_t syncs_before = store.datasyncs();
    store.put_session("c", bytes("queue of 3"));
    store.put_retained("r", bytes("21.5"));
    store.sync();
    store.commit();
    EXPECT_EQ(store.log_bytes(), bytes_before);
    EXPECT_EQ(store.datasyncs(), syncs_before);
    store.put_session("c", bytes("queue of 4"));  // a change is written, and waited for
    store.sync();
    store.commit();
    EXPECT_GT(store.log_bytes(), bytes_before);
    EXPECT_EQ(store.datasyncs(), syncs_before + 1);
  }
  FileStore store(log);
  EXPECT_EQ(store.load().sessions.at("c"), bytes("queue of 4"));
  EXPECT_EQ(store.load().retained.at("r"), bytes("21.5"));
}

// The engine over a FileStore: a QoS 1 and a QoS 2 message acknowledged to
// their publisher while the subscriber was offline, and a retained message,
// are in the file when the acknowledgements leave. A copy of the file taken
// right then (what a crash would leave) starts a new engine that delivers
// them [MQTT-4.5.0-1], [MQTT-4.3.2-4].
TEST_F(FileStoreTest, TheEngineKeepsWhatItAcknowledgedAcrossARestart) {
  const fs::path crashed = dir / "crashed.log";
  {
    auto store = std::make_shared<FileStore>(log);
    EngineConfig c;
    c.store = store;
    c.sys_interval = Duration{0};
    World w(c);
    Client& sub = w.connect(World::make_connect("sub", Version::v5, true, 3600));
    w.subscribe(sub, "t/#", QoS::exactly_once);
    w.drop(sub);
    Client& pub = w.connect(World::make_connect("pub"));
    w.publish(pub, "t/1", QoS::at_least_once, "one");
    w.publish(pub, "t/2", QoS::exactly_once, "two");
    w.publish(pub, "r", QoS::at_least_once, "kept", true);
    ASSERT_EQ(pub.all<event::PublishCompleted>().size(), 3u);
    EXPECT_EQ(store->unwritten_bytes(), 0u);
    fs::copy_file(log, crashed);
  }
  auto store = std::make_shared<FileStore>(crashed);
  EXPECT_GE(store->recovery().sessions, 1u);
  EXPECT_EQ(store->recovery().retained, 1u);
  EngineConfig c;
  c.store = store;
  c.sys_interval = Duration{0};
  World w(c);
  Client& back = w.connect(World::make_connect("sub", Version::v5, false, 3600));
  ASSERT_EQ(back.all<event::Connected>().size(), 1u);
  EXPECT_TRUE(back.all<event::Connected>()[0].connack.session_present);
  EXPECT_EQ(payloads(back), (std::vector<std::string>{"one", "two"}));
  Client& later = w.connect(World::make_connect("later"));
  w.subscribe(later, "r", QoS::at_least_once);
  ASSERT_EQ(payloads(later), (std::vector<std::string>{"kept"}));
  EXPECT_TRUE(later.messages()[0].retain);
}

}  // namespace
}  // namespace assay::broker::test
