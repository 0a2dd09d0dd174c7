// snapshot_reader: a stand-in application for tst_snapshots (docs/snapshots.md#restoring). It
// opens a database with plain SQLite in WAL mode, as any application beside a node would, and
// reads `SELECT count(*), total(id), total(length(title)) FROM Books` in a transaction of its
// own every few milliseconds, while the node restores a snapshot into that database.
//
// Usage: snapshot_reader <db> <max ms> <stop file>
// It runs until <stop file> exists or <max ms> passed. Every time the result changes it prints
// "count=<n> ids=<sum of ids> chars=<sum of title lengths>"; at the end
// "last count=<n> reads=<reads>" and exits 0. Any error of a read exits 2 ("error: ..."), a
// malformed or not-a-database error exits 3: SQLITE_BUSY is retried by SQLite within the busy
// timeout (10 s) and is an error only when it outlasts it. Wrong arguments exit 1.
#include <sqlite3.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include <sys/stat.h>

namespace {

int fail(sqlite3* db, int rc, const char* what) {
  const int primary = rc & 0xff;
  std::printf("error: %s: %s (code %d)\n", what, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc), rc);
  std::fflush(stdout);
  return primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB ? 3 : 2;
}

bool exists(const char* path) {
  struct stat st;
  return ::stat(path, &st) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: snapshot_reader <db> <max ms> <stop file>\n");
    return 1;
  }
  const char* path = argv[1];
  const long long maxMs = std::atoll(argv[2]);
  const char* stopFile = argv[3];

  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, nullptr);
  if (rc != SQLITE_OK) return fail(db, rc, "open");
  sqlite3_busy_timeout(db, 10000);
  sqlite3_stmt* mode = nullptr;
  rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode=WAL", -1, &mode, nullptr);
  if (rc != SQLITE_OK) return fail(db, rc, "journal_mode");
  rc = sqlite3_step(mode);
  if (rc != SQLITE_ROW) return fail(db, rc, "journal_mode");
  const std::string journal = reinterpret_cast<const char*>(sqlite3_column_text(mode, 0));
  sqlite3_finalize(mode);
  if (journal != "wal") {
    std::printf("error: journal_mode is %s, not wal\n", journal.c_str());
    return 2;
  }

  sqlite3_stmt* query = nullptr;
  rc = sqlite3_prepare_v2(db, "SELECT count(*), total(id), total(length(title)) FROM Books", -1,
                          &query, nullptr);
  if (rc != SQLITE_OK) return fail(db, rc, "prepare");

  const auto started = std::chrono::steady_clock::now();
  long long reads = 0;
  long long lastCount = -1;
  double lastIds = -1, lastChars = -1;
  for (;;) {
    const long long elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::steady_clock::now() - started)
                                  .count();
    if (elapsed >= maxMs || exists(stopFile)) break;
    // One read transaction: BEGIN (deferred), the query, COMMIT.
    rc = sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) return fail(db, rc, "begin");
    rc = sqlite3_step(query);
    if (rc != SQLITE_ROW) return fail(db, rc, "select");
    const long long count = sqlite3_column_int64(query, 0);
    const double ids = sqlite3_column_double(query, 1);
    const double chars = sqlite3_column_double(query, 2);
    rc = sqlite3_step(query);
    if (rc != SQLITE_DONE) return fail(db, rc, "select (end)");
    sqlite3_reset(query);
    rc = sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) return fail(db, rc, "commit");
    ++reads;
    if (count != lastCount || ids != lastIds || chars != lastChars) {
      std::printf("count=%lld ids=%.0f chars=%.0f at=%lldms\n", count, ids, chars, elapsed);
      std::fflush(stdout);
      lastCount = count;
      lastIds = ids;
      lastChars = chars;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(3));
  }
  sqlite3_finalize(query);
  sqlite3_close(db);
  std::printf("last count=%lld reads=%lld\n", lastCount, reads);
  return 0;
}
