// RAII wrappers for SQLite: a connection, a prepared statement and a transaction.
//
// Each owns its handle and releases it in its destructor; they move but do not copy.
// Thread: a SqliteDb and its statements belong to the thread that opened it (the engine
// thread); SQLite is opened with SQLITE_OPEN_NOMUTEX accordingly.
// Errors: fromSqlite() turns an SQLite result code into a Status at the call site; busy and
// locked are retryable.
#pragma once

#include <sqlite3.h>

#include <QByteArray>
#include <QHash>
#include <QString>

#include <algorithm>
#include <array>
#include <climits>
#include <cstdint>
#include <iterator>
#include <memory>
#include <unordered_map>

#include "harmonylite/status.h"

namespace hl {

// Converts an SQLite result code into a Status: "<op>: <sqlite message> (code N)".
Status fromSqlite(int rc, sqlite3* db, const QString& op);

class SqliteStmt;

// How long this node's write transactions held SQLite's write lock (BEGIN IMMEDIATE returned to
// COMMIT or ROLLBACK done), over the last kSize transactions: what an application writing at the
// same moment waits for (docs/replication.md#write-lock). Recording is a store into a ring.
struct WriteLockWindow {
  static constexpr int kSize = 4096;
  std::array<uint32_t, kSize> micros{};  // a ring of the newest durations
  int next = 0;
  int count = 0;
  void record(int64_t us) {
    micros[size_t(next)] = uint32_t(std::clamp<int64_t>(us, 0, UINT32_MAX));
    next = (next + 1) % kSize;
    if (count < kSize) ++count;
  }
  struct Quantiles {
    double p50 = 0, p99 = 0, max = 0;  // seconds
    int samples = 0;
  };
  Quantiles quantiles() const;
};

class SqliteDb {
 public:
  struct Options {
    bool readOnly = false;
    bool create = true;  // create the file when missing (ignored when readOnly)
    // Small: the engine thread must not block long (docs/architecture.md#threads).
    int busyTimeoutMs = 200;
  };

  static Result<SqliteDb> open(const QString& path, const Options& options);
  static Result<SqliteDb> open(const QString& path) { return open(path, Options{}); }

  SqliteDb() = default;
  SqliteDb(SqliteDb&&) noexcept = default;
  SqliteDb& operator=(SqliteDb&&) noexcept = default;

  sqlite3* handle() const { return m_db.get(); }
  bool isOpen() const { return m_db != nullptr; }
  const QString& path() const { return m_path; }

  // Runs one or more statements that return no rows.
  Status exec(const QString& sql);
  Result<SqliteStmt> prepare(const QString& sql);
  // A statement prepared once per connection and reused: reset, bindings cleared. For the
  // statements of hot paths. The pointer stays valid while the connection is open.
  Result<SqliteStmt*> cached(const QString& sql);
  // Runs a query expected to return one integer (e.g. "PRAGMA schema_version").
  Result<int64_t> queryInt(const QString& sql);
  // Whether the database has a table named `name` (sqlite_schema; a read, nothing written).
  Result<bool> hasTable(const QString& name);
  // The same through cached(): for constant SQL on hot paths (parsing a statement costs more
  // than running a small one).
  Result<int64_t> cachedInt(const QString& sql);
  // Adds `column` (no type, NULL in existing rows) to `table` unless it has it: a table made by
  // an older version gets a newer one's columns. True when it was added.
  Result<bool> addColumnIfMissing(const QString& table, const QString& column);

  // How long a statement waits for a lock another connection holds before SQLITE_BUSY; tries
  // again every 50 us at first (see busyRetry() in sqlite_db.cpp), not SQLite's 1-25 ms steps.
  void setBusyTimeout(int ms);

  int64_t lastInsertRowId() const;
  int changes() const;

  // Where SqliteTxn records how long its BEGIN IMMEDIATE transactions held the write lock
  // (nullptr: not recorded). Owned by the caller, who outlives the connection's transactions.
  void setWriteLockWindow(WriteLockWindow* window) { m_lockWindow = window; }
  // Whether this connection's commits leave the WAL's checkpoints to another connection
  // (runtime/wal_checkpointer.h): no automatic checkpoint here.
  Status setCheckpointsElsewhere(bool elsewhere);
  bool checkpointsElsewhere() const { return m_checkpointsElsewhere; }
  WriteLockWindow* writeLockWindow() const { return m_lockWindow; }

 private:
  struct Closer {
    void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
  };
  std::unique_ptr<sqlite3, Closer> m_db;
  QString m_path;
  // Declared after m_db: finalized before the connection closes.
  std::unique_ptr<std::unordered_map<QString, SqliteStmt>> m_cache;
  WriteLockWindow* m_lockWindow = nullptr;
  bool m_checkpointsElsewhere = false;
};

class SqliteStmt {
 public:
  SqliteStmt() = default;
  SqliteStmt(sqlite3_stmt* stmt, sqlite3* db) : m_stmt(stmt), m_db(db) {}
  SqliteStmt(SqliteStmt&&) noexcept = default;
  SqliteStmt& operator=(SqliteStmt&&) noexcept = default;

  sqlite3_stmt* handle() const { return m_stmt.get(); }

  // Binding, 1-based like SQLite.
  Status bindNull(int index);
  Status bindInt(int index, int64_t value);
  Status bindDouble(int index, double value);
  Status bindText(int index, const QByteArray& utf8);
  Status bindBlob(int index, const QByteArray& bytes);

  // true = a row is available, false = done.
  Result<bool> step();
  // Runs the statement to completion (for statements that return no rows).
  Status run();
  void reset();

  int columnCount() const;
  int columnType(
      int col) const;  // SQLITE_INTEGER, SQLITE_FLOAT, SQLITE_TEXT, SQLITE_BLOB, SQLITE_NULL
  int64_t columnInt(int col) const;
  bool isNull(int col) const { return columnType(col) == SQLITE_NULL; }
  double columnDouble(int col) const;
  QByteArray columnBytes(int col) const;  // TEXT as UTF-8 bytes, or BLOB
  QString columnText(int col) const;

 private:
  struct Finalizer {
    void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
  };
  std::unique_ptr<sqlite3_stmt, Finalizer> m_stmt;
  sqlite3* m_db = nullptr;
};

// The rows of a statement, for a range-for; the statement is reset when the range ends:
//
//   SqliteRows rows(*stmt);
//   for (const SqliteStmt& row : rows) use(row.columnInt(0));
//   HL_RETURN_IF_ERROR(rows.status());
//
// A step that fails ends the loop; status() then says why (check it after every loop).
class SqliteRows {
 public:
  explicit SqliteRows(SqliteStmt& stmt) : m_stmt(&stmt) {}
  SqliteRows(const SqliteRows&) = delete;
  SqliteRows& operator=(const SqliteRows&) = delete;
  ~SqliteRows() { m_stmt->reset(); }

  class Iterator {
   public:
    using value_type = SqliteStmt;
    using difference_type = std::ptrdiff_t;
    explicit Iterator(SqliteRows* rows = nullptr) : m_rows(rows) {}
    const SqliteStmt& operator*() const { return *m_rows->m_stmt; }
    Iterator& operator++() {
      m_rows->advance();
      return *this;
    }
    void operator++(int) { m_rows->advance(); }
    bool operator==(std::default_sentinel_t) const { return m_rows->m_done; }

   private:
    SqliteRows* m_rows;
  };

  Iterator begin() {
    advance();
    return Iterator(this);
  }
  std::default_sentinel_t end() const { return {}; }
  // OK when every row was read; the error of the step that ended the loop otherwise.
  [[nodiscard]] const Status& status() const { return m_status; }

 private:
  void advance();

  SqliteStmt* m_stmt;
  Status m_status;
  bool m_done = false;
};

// A transaction that rolls back unless commit() succeeds.
class SqliteTxn {
 public:
  enum class Mode { kDeferred, kImmediate };

  static Result<SqliteTxn> begin(SqliteDb& db, Mode mode = Mode::kImmediate);
  SqliteTxn(SqliteTxn&& other) noexcept : m_db(other.m_db), m_lockedAtNs(other.m_lockedAtNs) {
    other.m_db = nullptr;
  }
  SqliteTxn& operator=(SqliteTxn&&) = delete;
  ~SqliteTxn();

  Status commit();
  Status rollback();
  bool isActive() const { return m_db != nullptr; }

 private:
  SqliteTxn(SqliteDb* db, int64_t lockedAtNs) : m_db(db), m_lockedAtNs(lockedAtNs) {}
  void noteLockReleased(SqliteDb* db) const;
  SqliteDb* m_db = nullptr;
  int64_t m_lockedAtNs = 0;  // steady clock when BEGIN IMMEDIATE returned; 0 for BEGIN
};

// Quotes an SQL identifier: "a""b" for a"b. Every generated statement uses it.
QString quoteIdentifier(const QString& name);

}  // namespace hl
