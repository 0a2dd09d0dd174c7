#include "sqlite/sqlite_db.h"

#include <unistd.h>

#include <chrono>
#include <vector>

namespace hl {

Status fromSqlite(int rc, sqlite3* db, const QString& op) {
  if (rc == SQLITE_OK || rc == SQLITE_DONE || rc == SQLITE_ROW) return Status::ok();
  const char* detail = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  const QString msg = QStringLiteral("%1: %2 (code %3)").arg(op, QString::fromUtf8(detail)).arg(rc);
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return Status::busy(msg);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return Status::corruption(msg);
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_FULL:
    case SQLITE_READONLY:
    case SQLITE_PERM:
      return Status::ioError(msg);
    case SQLITE_CONSTRAINT:
    case SQLITE_MISMATCH:
    case SQLITE_TOOBIG:
    case SQLITE_RANGE:
      return Status::invalidArgument(msg);
    default:
      return Status::internal(msg);
  }
}

namespace {
constexpr int kAutoCheckpointPages = 1000;  // SQLite's default wal_autocheckpoint

// How long a connection has waited for a lock after `count` retries of busyRetry(), in us.
int64_t waitedUs(int count) {
  if (count < 40) return int64_t(count) * 50;
  if (count < 90) return 2000 + int64_t(count - 40) * 200;
  return 12000 + int64_t(count - 90) * 1000;
}

// SQLite's own busy handler sleeps 1, 2, 5, 10, 15, 20, 25 ms between tries: a lock freed
// 0.2 ms after the first try is taken up to 3 ms later, and after a few misses tens of ms later
// (the engine's thread, which publishes and applies, waits meanwhile). This one tries again
// after 50 us for the first 2 ms, every 200 us up to 12 ms, then every 1 ms, until the timeout
// (docs/replication.md#write-lock). `timeoutMs` travels as the handler's argument.
int busyRetry(void* timeoutMs, int count) {
  const int64_t waited = waitedUs(count);
  if (waited >= int64_t(reinterpret_cast<intptr_t>(timeoutMs)) * 1000) return 0;
  ::usleep(useconds_t(waitedUs(count + 1) - waited));
  return 1;
}
}  // namespace

void SqliteDb::setBusyTimeout(int ms) {
  sqlite3_busy_handler(m_db.get(), &busyRetry, reinterpret_cast<void*>(intptr_t(ms)));
}

Status SqliteDb::setCheckpointsElsewhere(bool elsewhere) {
  HL_RETURN_IF_ERROR(exec(
      QStringLiteral("PRAGMA wal_autocheckpoint=%1").arg(elsewhere ? 0 : kAutoCheckpointPages)));
  m_checkpointsElsewhere = elsewhere;
  return Status::ok();
}

Result<SqliteDb> SqliteDb::open(const QString& path, const Options& options) {
  int flags = SQLITE_OPEN_NOMUTEX;
  flags |= options.readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
  if (!options.readOnly && options.create) flags |= SQLITE_OPEN_CREATE;
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.toUtf8().constData(), &raw, flags, nullptr);
  SqliteDb db;
  db.m_db.reset(raw);  // closed on every path, even when open failed
  db.m_path = path;
  if (rc != SQLITE_OK) return fromSqlite(rc, raw, QStringLiteral("open %1").arg(path));
  sqlite3_extended_result_codes(raw, 1);
  db.setBusyTimeout(options.busyTimeoutMs);
  return db;
}

Status SqliteDb::exec(const QString& sql) {
  char* err = nullptr;
  const int rc = sqlite3_exec(m_db.get(), sql.toUtf8().constData(), nullptr, nullptr, &err);
  sqlite3_free(err);
  return fromSqlite(rc, m_db.get(), QStringLiteral("exec"));
}

Result<SqliteStmt> SqliteDb::prepare(const QString& sql) {
  sqlite3_stmt* stmt = nullptr;
  const QByteArray utf8 = sql.toUtf8();
  const int rc = sqlite3_prepare_v3(m_db.get(), utf8.constData(), int(utf8.size()),
                                    SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt);
    return fromSqlite(rc, m_db.get(), QStringLiteral("prepare"));
  }
  return SqliteStmt(stmt, m_db.get());
}

Result<SqliteStmt*> SqliteDb::cached(const QString& sql) {
  if (!m_cache) m_cache = std::make_unique<std::unordered_map<QString, SqliteStmt>>();
  auto it = m_cache->find(sql);
  if (it == m_cache->end()) {
    auto stmt = prepare(sql);
    if (!stmt) return stmt.status();
    it = m_cache->emplace(sql, std::move(*stmt)).first;
  } else {
    it->second.reset();
  }
  return &it->second;
}

namespace {
Result<int64_t> firstInt(SqliteStmt& stmt, const QString& sql) {
  SqliteRows rows(stmt);
  for (const SqliteStmt& r : rows) return r.columnInt(0);
  HL_RETURN_IF_ERROR(rows.status());
  return Status::notFound(QStringLiteral("no row for: %1").arg(sql));
}
}  // namespace

Result<int64_t> SqliteDb::queryInt(const QString& sql) {
  auto stmt = prepare(sql);
  if (!stmt) return stmt.status();
  return firstInt(*stmt, sql);
}

Result<bool> SqliteDb::hasTable(const QString& name) {
  const QString sql =
      QStringLiteral("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?");
  auto stmt = cached(sql);  // the applier asks once per batch (ChangeLog::echoMark)
  if (!stmt) return stmt.status();
  HL_RETURN_IF_ERROR((*stmt)->bindText(1, name.toUtf8()));
  auto n = firstInt(**stmt, sql);
  if (!n) return n.status();
  return *n > 0;
}

Result<int64_t> SqliteDb::cachedInt(const QString& sql) {
  auto stmt = cached(sql);
  if (!stmt) return stmt.status();
  return firstInt(**stmt, sql);
}

Result<bool> SqliteDb::addColumnIfMissing(const QString& table, const QString& column) {
  auto q = prepare(QStringLiteral("SELECT count(*) FROM pragma_table_info(?1) WHERE name = ?2"));
  if (!q) return q.status();
  HL_RETURN_IF_ERROR(q->bindText(1, table.toUtf8()));
  HL_RETURN_IF_ERROR(q->bindText(2, column.toUtf8()));
  auto row = q->step();
  if (!row) return row.status();
  if (*row && q->columnInt(0) > 0) return false;
  HL_RETURN_IF_ERROR(exec(QStringLiteral("ALTER TABLE %1 ADD COLUMN %2")
                              .arg(quoteIdentifier(table), quoteIdentifier(column))));
  return true;
}

int64_t SqliteDb::lastInsertRowId() const {
  return sqlite3_last_insert_rowid(m_db.get());
}
int SqliteDb::changes() const {
  return sqlite3_changes(m_db.get());
}

Status SqliteStmt::bindNull(int index) {
  return fromSqlite(sqlite3_bind_null(m_stmt.get(), index), m_db, QStringLiteral("bind"));
}
Status SqliteStmt::bindInt(int index, int64_t value) {
  return fromSqlite(sqlite3_bind_int64(m_stmt.get(), index, value), m_db, QStringLiteral("bind"));
}
Status SqliteStmt::bindDouble(int index, double value) {
  return fromSqlite(sqlite3_bind_double(m_stmt.get(), index, value), m_db, QStringLiteral("bind"));
}
Status SqliteStmt::bindText(int index, const QByteArray& utf8) {
  return fromSqlite(sqlite3_bind_text64(m_stmt.get(), index, utf8.constData(),
                                        sqlite3_uint64(utf8.size()), SQLITE_TRANSIENT, SQLITE_UTF8),
                    m_db, QStringLiteral("bind"));
}
Status SqliteStmt::bindBlob(int index, const QByteArray& bytes) {
  // A zero-length blob must stay a BLOB, not become NULL: pass a non-null pointer.
  static const char kEmpty = 0;
  const char* data = bytes.isEmpty() ? &kEmpty : bytes.constData();
  return fromSqlite(sqlite3_bind_blob64(m_stmt.get(), index, data, sqlite3_uint64(bytes.size()),
                                        SQLITE_TRANSIENT),
                    m_db, QStringLiteral("bind"));
}

Result<bool> SqliteStmt::step() {
  const int rc = sqlite3_step(m_stmt.get());
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return fromSqlite(rc, m_db, QStringLiteral("step"));
}

Status SqliteStmt::run() {
  SqliteRows rows(*this);
  for ([[maybe_unused]] const SqliteStmt& row : rows) {
  }
  return rows.status();
}

void SqliteRows::advance() {
  if (m_done) return;
  auto row = m_stmt->step();
  if (!row) m_status = row.status();
  m_done = !row || !*row;
}

void SqliteStmt::reset() {
  sqlite3_reset(m_stmt.get());
  sqlite3_clear_bindings(m_stmt.get());
}

int SqliteStmt::columnCount() const {
  return sqlite3_column_count(m_stmt.get());
}
int SqliteStmt::columnType(int col) const {
  return sqlite3_column_type(m_stmt.get(), col);
}
int64_t SqliteStmt::columnInt(int col) const {
  return sqlite3_column_int64(m_stmt.get(), col);
}
double SqliteStmt::columnDouble(int col) const {
  return sqlite3_column_double(m_stmt.get(), col);
}
QByteArray SqliteStmt::columnBytes(int col) const {
  const void* p = sqlite3_column_blob(m_stmt.get(), col);
  const int n = sqlite3_column_bytes(m_stmt.get(), col);
  return p ? QByteArray(static_cast<const char*>(p), n) : QByteArray("");
}
QString SqliteStmt::columnText(int col) const {
  return QString::fromUtf8(columnBytes(col));
}

namespace {
int64_t steadyNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// When the last COMMIT on this thread released the write lock: SQLite calls the WAL hook after
// the commit, the write lock already released, and before the automatic checkpoint, which
// does not hold the lock and so is not counted. The hook replaces SQLite's own automatic
// checkpoint and does what it does (a passive checkpoint once the WAL holds 1000 pages).
thread_local int64_t t_lockReleasedNs = 0;

// The hook's argument is non-null when another connection checkpoints.
int walHook(void* elsewhere, sqlite3* db, const char* name, int pages) {
  t_lockReleasedNs = steadyNs();
  if (!elsewhere && pages >= kAutoCheckpointPages) (void)sqlite3_wal_checkpoint(db, name);
  return SQLITE_OK;
}
}  // namespace

WriteLockWindow::Quantiles WriteLockWindow::quantiles() const {
  Quantiles q;
  q.samples = count;
  if (count == 0) return q;
  std::vector<uint32_t> v(micros.begin(), micros.begin() + count);
  auto at = [&](double f) {
    const size_t i = std::min(v.size() - 1, size_t(f * double(v.size())));
    std::nth_element(v.begin(), v.begin() + std::ptrdiff_t(i), v.end());
    return double(v[i]) / 1e6;
  };
  q.p50 = at(0.5);
  q.p99 = at(0.99);
  q.max = double(*std::max_element(v.begin(), v.end())) / 1e6;
  return q;
}

Result<SqliteTxn> SqliteTxn::begin(SqliteDb& db, Mode mode) {
  HL_RETURN_IF_ERROR(db.exec(mode == Mode::kImmediate ? QStringLiteral("BEGIN IMMEDIATE")
                                                      : QStringLiteral("BEGIN"))
                         .withContext(QStringLiteral("begin transaction")));
  if (mode == Mode::kImmediate && db.writeLockWindow())
    sqlite3_wal_hook(db.handle(), &walHook,
                     db.checkpointsElsewhere() ? static_cast<void*>(&db) : nullptr);
  return SqliteTxn(&db, mode == Mode::kImmediate ? steadyNs() : 0);
}

SqliteTxn::~SqliteTxn() {
  if (m_db) (void)rollback();
}

void SqliteTxn::noteLockReleased(SqliteDb* db) const {
  if (m_lockedAtNs == 0 || !db->writeLockWindow()) return;
  const int64_t released = t_lockReleasedNs > m_lockedAtNs ? t_lockReleasedNs : steadyNs();
  db->writeLockWindow()->record((released - m_lockedAtNs) / 1000);
}

Status SqliteTxn::commit() {
  if (!m_db) return Status::internal(QStringLiteral("commit of a finished transaction"));
  t_lockReleasedNs = 0;
  Status s = m_db->exec(QStringLiteral("COMMIT")).withContext(QStringLiteral("commit"));
  if (s.isOk()) {
    noteLockReleased(m_db);
    m_db = nullptr;  // on failure the destructor rolls back
  }
  return s;
}

Status SqliteTxn::rollback() {
  if (!m_db) return Status::ok();
  SqliteDb* db = m_db;
  m_db = nullptr;
  t_lockReleasedNs = 0;  // a rollback calls no WAL hook
  if (sqlite3_get_autocommit(db->handle())) {
    noteLockReleased(db);
    return Status::ok();  // SQLite already rolled back
  }
  Status s = db->exec(QStringLiteral("ROLLBACK")).withContext(QStringLiteral("rollback"));
  noteLockReleased(db);
  return s;
}

QString quoteIdentifier(const QString& name) {
  QString q = name;
  q.replace('"', QStringLiteral("\"\""));
  return '"' + q + '"';
}

}  // namespace hl
