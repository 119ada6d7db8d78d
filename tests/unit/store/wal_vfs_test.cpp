// The WAL write-coalescing VFS (store/wal_vfs.h) against real SQLite files: what a writer through it
// commits is readable at once by another connection on the default VFS, through transactions larger
// than its gather cap, page rewrites within a transaction (cache spills), checkpoints and WAL restarts;
// and a process that dies mid-transaction leaves exactly its committed transactions behind.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <random>
#include <string>

#include "store/wal_vfs.h"
#include "tests/unit/testing.h"

namespace fs = std::filesystem;
using mailjar::store::internal::wal_coalescing_vfs;
using mailjar::testing::TempDir;

namespace {

sqlite3* open_db(const fs::path& file, const char* vfs) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, vfs), SQLITE_OK);
  sqlite3_busy_timeout(db, 5000);
  return db;
}

void exec(sqlite3* db, const std::string& sql) {
  char* err = nullptr;
  ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "") << " in " << sql;
}

int64_t scalar(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* s = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  int64_t v = -1;
  if (sqlite3_step(s) == SQLITE_ROW) v = sqlite3_column_int64(s, 0);
  sqlite3_finalize(s);
  return v;
}

std::string text(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* s = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  std::string v;
  if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0)) {
    v = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
  }
  sqlite3_finalize(s);
  return v;
}

// Inserts one row whose blob is `size` pseudo-random bytes from `seed`, so its content can be checked.
void insert_row(sqlite3* db, int64_t id, int size) {
  sqlite3_stmt* s = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "INSERT INTO t (id, n, b) VALUES (?1, ?2, randomblob(?2))", -1, &s, nullptr),
            SQLITE_OK);
  sqlite3_bind_int64(s, 1, id);
  sqlite3_bind_int(s, 2, size);
  ASSERT_EQ(sqlite3_step(s), SQLITE_DONE) << sqlite3_errmsg(db);
  sqlite3_finalize(s);
}

}  // namespace

TEST(WalVfs, RegistersOnceUnderOneName) {
  const char* a = wal_coalescing_vfs();
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a, wal_coalescing_vfs());
  EXPECT_NE(sqlite3_vfs_find(a), nullptr);
  EXPECT_NE(sqlite3_vfs_find(nullptr), sqlite3_vfs_find(a)) << "must not replace the default VFS";
}

// Every commit is visible to a reader on the default VFS the moment it returns, with the right bytes,
// whatever the transaction's size: from one small row to several MiB (beyond the 124 KiB gather cap and
// the unix VFS's 128 KiB per-write limit), with a tiny page cache so that large transactions spill and
// SQLite rewrites frames and their checksums inside the WAL, and a small autocheckpoint so the WAL is
// checkpointed and restarted many times.
TEST(WalVfs, CommitsAreVisibleToOtherConnectionsAtOnce) {
  TempDir dir;
  const fs::path file = dir.path() / "t.db";
  sqlite3* writer = open_db(file, wal_coalescing_vfs());
  exec(writer, "PRAGMA journal_mode = WAL");
  exec(writer, "PRAGMA synchronous = NORMAL; PRAGMA cache_size = 20; PRAGMA wal_autocheckpoint = 50");
  exec(writer, "CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER NOT NULL, b BLOB NOT NULL)");
  exec(writer, "CREATE INDEX t_n ON t (n)");
  sqlite3* reader = open_db(file, nullptr);

  std::mt19937 rng(7);
  const int sizes[] = {1, 100, 3000, 5000, 40000, 130000, 300000, 1 << 20};
  int64_t next_id = 1;
  int64_t expected_rows = 0;
  int64_t expected_bytes = 0;
  for (int txn = 0; txn < 120; ++txn) {
    exec(writer, "BEGIN");
    const int rows = 1 + static_cast<int>(rng() % 12);
    for (int r = 0; r < rows; ++r) {
      const int size = sizes[rng() % (txn % 10 == 9 ? 8 : 6)];  // every tenth transaction may be huge
      insert_row(writer, next_id++, size);
      expected_bytes += size;
    }
    if (txn % 7 == 3) exec(writer, "UPDATE t SET n = n + 0 WHERE id % 5 = 0");  // rewrites old pages
    exec(writer, "COMMIT");
    expected_rows += rows;
    ASSERT_EQ(scalar(reader, "SELECT count(*) FROM t"), expected_rows) << "after transaction " << txn;
    ASSERT_EQ(scalar(reader, "SELECT sum(length(b)) FROM t"), expected_bytes) << "after transaction " << txn;
    ASSERT_EQ(scalar(reader, "SELECT sum(n) FROM t"), expected_bytes) << "after transaction " << txn;
  }
  ASSERT_EQ(text(reader, "PRAGMA integrity_check"), "ok");
  sqlite3_close(reader);
  sqlite3_close(writer);

  sqlite3* again = open_db(file, nullptr);
  EXPECT_EQ(scalar(again, "SELECT count(*) FROM t"), expected_rows);
  EXPECT_EQ(text(again, "PRAGMA integrity_check"), "ok");
  sqlite3_close(again);
}

// A writer process killed in the middle of a transaction (nothing closed, nothing flushed by a
// destructor) leaves every transaction it committed and none of the one it had not.
TEST(WalVfs, AProcessKilledMidTransactionKeepsExactlyItsCommits) {
  TempDir dir;
  const fs::path file = dir.path() / "t.db";
  {
    sqlite3* db = open_db(file, nullptr);
    exec(db, "PRAGMA journal_mode = WAL");
    exec(db, "CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER NOT NULL, b BLOB NOT NULL)");
    sqlite3_close(db);
  }
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(fds[0]);
    sqlite3* db = nullptr;
    if (sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READWRITE, wal_coalescing_vfs()) != SQLITE_OK) _exit(2);
    sqlite3_exec(db, "PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = 30; PRAGMA cache_size = 10", nullptr, nullptr, nullptr);
    int64_t id = 1;
    for (int txn = 0; txn < 60; ++txn) {
      if (sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr) != SQLITE_OK) _exit(3);
      for (int r = 0; r < 5; ++r) {
        const std::string sql = "INSERT INTO t VALUES (" + std::to_string(id++) + ", 1, randomblob(" +
                                std::to_string(200 + 9000 * (txn % 4)) + "))";
        if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) _exit(4);
      }
      if (txn == 59) _exit(0);  // dies with this transaction open and partly written
      if (sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) _exit(5);
      const int64_t committed = id - 1;
      if (::write(fds[1], &committed, sizeof committed) != sizeof committed) _exit(6);
    }
    _exit(7);
  }
  ::close(fds[1]);
  int64_t last = 0;
  int64_t value = 0;
  while (::read(fds[0], &value, sizeof value) == sizeof value) last = value;
  ::close(fds[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
  ASSERT_EQ(last, 59 * 5);

  sqlite3* db = open_db(file, nullptr);
  EXPECT_EQ(scalar(db, "SELECT count(*) FROM t"), last);
  EXPECT_EQ(scalar(db, "SELECT max(id) FROM t"), last);
  EXPECT_EQ(text(db, "PRAGMA integrity_check"), "ok");
  sqlite3_close(db);
}

// Two writer connections through the VFS taking turns, with one-page transactions: each one's first frame
// header is then written through (the other appended to the WAL meanwhile), and its page must still be
// written before the commit returns. A reader on the default VFS checks every commit.
TEST(WalVfs, TwoWritersTakingTurnsCommitEveryTransaction) {
  TempDir dir;
  const fs::path file = dir.path() / "t.db";
  sqlite3* a = open_db(file, wal_coalescing_vfs());
  exec(a, "PRAGMA journal_mode = WAL");
  exec(a, "CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER NOT NULL, b BLOB NOT NULL)");
  sqlite3* b = open_db(file, wal_coalescing_vfs());
  for (sqlite3* w : {a, b}) exec(w, "PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = 40");
  sqlite3* reader = open_db(file, nullptr);
  int64_t bytes = 0;
  for (int i = 1; i <= 300; ++i) {
    sqlite3* w = (i % 3 == 0) ? a : b;  // uneven turns: runs of two on b, then one on a
    const int size = 10 + (i * 37) % 3000;
    insert_row(w, i, size);  // autocommit: usually a one-page transaction
    bytes += size;
    ASSERT_EQ(scalar(reader, "SELECT count(*) FROM t"), i) << "after row " << i;
    ASSERT_EQ(scalar(reader, "SELECT sum(length(b)) FROM t"), bytes) << "after row " << i;
  }
  EXPECT_EQ(text(reader, "PRAGMA integrity_check"), "ok");
  sqlite3_close(reader);
  sqlite3_close(b);
  sqlite3_close(a);
}
