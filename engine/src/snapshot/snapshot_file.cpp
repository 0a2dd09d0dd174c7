#include "snapshot/snapshot_file.h"

#include <sqlite3.h>

#include <QCryptographicHash>
#include <QElapsedTimer>
#include <QFile>
#include <QThread>

#include "cdc/change_log.h"
#include "harmonylite/config.h"
#include "replication/state_store.h"
#include "schema/catalog.h"

namespace hl {
namespace {

constexpr qint64 kHashChunk = 1 << 20;
constexpr int kBackupPagesPerStep = 1024;
constexpr int kBackupBusyDeadlineMs = 30000;

Result<SqliteDb> openFile(const QString& path, bool readOnly) {
  SqliteDb::Options o;
  o.readOnly = readOnly;
  o.create = false;
  o.busyTimeoutMs = 5000;
  return SqliteDb::open(path, o);
}

// Schema hash and row counts of the watched tables of `db`.
Status describeTables(SqliteDb& db, const QStringList& ignoreTables, SnapshotContent* out) {
  SchemaCatalog catalog(db, ignoreTables);
  HL_RETURN_IF_ERROR(catalog.reload().withContext("read schema"));
  out->schemaHash = catalog.schemaHash();
  out->rowCounts.clear();
  for (const TableInfo& t : catalog.tables()) {
    auto n = db.queryInt(QStringLiteral("SELECT count(*) FROM %1").arg(t.quotedName));
    if (!n) return n.status().withContext("count rows of " + t.name);
    out->rowCounts.append({t.name, *n});
  }
  return Status::ok();
}

Result<QHash<QString, quint64>> readWatermark(SqliteDb& db) {
  QHash<QString, quint64> out;
  auto exists = db.queryInt(
      QStringLiteral("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = "
                     "'__harmonylite__positions'"));
  if (!exists) return exists.status();
  if (*exists == 0) return out;
  auto stmt = db.prepare(QStringLiteral("SELECT stream, seq FROM __harmonylite__positions"));
  if (!stmt) return stmt.status();
  SqliteRows rows(*stmt);
  for (const SqliteStmt& row : rows) out.insert(row.columnText(0), quint64(row.columnInt(1)));
  HL_RETURN_IF_ERROR(rows.status());
  return out;
}

}  // namespace

Result<QPair<qint64, QString>> fileSha256(const QString& path, const FileProgress& progress) {
  QFile f(path);
  if (!f.open(QIODevice::ReadOnly))
    return Status::ioError(QStringLiteral("open %1: %2").arg(path, f.errorString()));
  QCryptographicHash sha(QCryptographicHash::Sha256);
  const qint64 total = f.size();
  qint64 done = 0;
  QByteArray buf(kHashChunk, Qt::Uninitialized);
  for (;;) {
    const qint64 n = f.read(buf.data(), buf.size());
    if (n < 0) return Status::ioError(QStringLiteral("read %1: %2").arg(path, f.errorString()));
    if (n == 0) break;
    sha.addData(QByteArrayView(buf.constData(), n));
    done += n;
    if (progress && !progress(done, total)) return Status::cancelled("checksum cancelled");
  }
  return QPair<qint64, QString>(done, QString::fromLatin1(sha.result().toHex()));
}

Result<SnapshotContent> makeSnapshotFile(const QString& dbPath, const QString& outPath,
                                         const QStringList& ignoreTables,
                                         const FileProgress& progress) {
  QFile::remove(outPath);
  {
    // A connection of its own, read-only: VACUUM INTO is one read transaction of the source.
    auto src = openFile(dbPath, true);
    if (!src) return src.status().withContext("snapshot: open " + dbPath);
    auto stmt = src->prepare(QStringLiteral("VACUUM INTO ?1"));
    if (!stmt) return stmt.status().withContext("snapshot");
    HL_RETURN_IF_ERROR(stmt->bindText(1, outPath.toUtf8()));
    if (Status s = stmt->run(); !s.isOk()) {
      QFile::remove(outPath);
      return s.withContext(QStringLiteral("snapshot: VACUUM INTO %1").arg(outPath));
    }
  }
  auto fail = [&](const Status& s) -> Result<SnapshotContent> {
    QFile::remove(outPath);
    return s.withContext("snapshot " + outPath);
  };
  SnapshotContent content;
  {
    auto db = openFile(outPath, false);
    if (!db) return fail(db.status());
    auto watermark = readWatermark(*db);
    if (!watermark) return fail(watermark.status().withContext("read applied positions"));
    content.streams = *watermark;
    if (Status s = ChangeLog::uninstall(*db); !s.isOk()) return fail(s);
    if (Status s = db->exec(QStringLiteral("PRAGMA journal_mode=DELETE; VACUUM")); !s.isOk())
      return fail(s);
    if (Status s = describeTables(*db, ignoreTables, &content); !s.isOk()) return fail(s);
  }
  auto sum = fileSha256(outPath, progress);
  if (!sum) return fail(sum.status());
  content.size = sum->first;
  content.sha256 = sum->second;
  return content;
}

Result<SnapshotContent> inspectSnapshotFile(const QString& path, const QStringList& ignoreTables) {
  auto corrupt = [&](const QString& why) {
    return Status::corruption(QStringLiteral("snapshot file %1: %2").arg(path, why));
  };
  {
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
      return Status::ioError(QStringLiteral("open %1: %2").arg(path, f.errorString()));
    const QByteArray header = f.read(16);
    if (header != QByteArray("SQLite format 3\0", 16))
      return corrupt(QStringLiteral("not a SQLite database (%1 bytes, header %2)")
                         .arg(f.size())
                         .arg(QString::fromLatin1(header.left(8).toHex())));
  }
  SnapshotContent content;
  auto sum = fileSha256(path);
  if (!sum) return sum.status();
  content.size = sum->first;
  content.sha256 = sum->second;
  auto db = openFile(path, true);
  if (!db) return corrupt(db.status().message());
  auto check = db->prepare(QStringLiteral("PRAGMA integrity_check(5)"));
  if (!check) return corrupt(check.status().message());
  QStringList problems;
  {
    SqliteRows rows(*check);
    for (const SqliteStmt& row : rows) problems << row.columnText(0);
    if (!rows.status().isOk()) return corrupt(rows.status().message());
  }
  if (problems != QStringList{"ok"})
    return corrupt("integrity_check failed: " + problems.join("; "));
  if (Status s = describeTables(*db, ignoreTables, &content); !s.isOk())
    return corrupt(s.message());
  return content;
}

Status prepareForRestore(const QString& path, const Config& config,
                         const QHash<QString, quint64>& positions,
                         const QHash<QString, quint64>& replayOwnUpTo, int64_t lastChangeId,
                         int livePageSize) {
  auto db = openFile(path, false);
  if (!db) return db.status().withContext("prepare " + path);
  // The online backup into a WAL database needs equal page sizes; VACUUM changes it only
  // outside WAL mode.
  auto pageSize = db->queryInt(QStringLiteral("PRAGMA page_size"));
  if (!pageSize) return pageSize.status();
  HL_RETURN_IF_ERROR(db->exec(QStringLiteral("PRAGMA journal_mode=DELETE")));
  if (livePageSize > 0 && *pageSize != livePageSize)
    HL_RETURN_IF_ERROR(
        db->exec(QStringLiteral("PRAGMA page_size=%1; VACUUM").arg(livePageSize))
            .withContext("set the page size of the snapshot to the live database's"));
  // Our tables of a snapshot that still has them (made by hand) go; then ours, fresh.
  HL_RETURN_IF_ERROR(ChangeLog::uninstall(*db));
  ReplicationState state(*db);
  HL_RETURN_IF_ERROR(state.ensureTables());
  {
    auto txn = SqliteTxn::begin(*db);
    if (!txn) return txn.status();
    for (auto it = positions.begin(); it != positions.end(); ++it)
      HL_RETURN_IF_ERROR(state.setPosition(it.key(), it.value()));
    for (auto it = replayOwnUpTo.begin(); it != replayOwnUpTo.end(); ++it)
      HL_RETURN_IF_ERROR(state.setReplayOwnUpTo(it.key(), it.value()));
    HL_RETURN_IF_ERROR(txn->commit());
  }
  if (config.publish) {
    SchemaCatalog catalog(*db, config.ignoreTables);
    HL_RETURN_IF_ERROR(catalog.reload());
    ChangeLog log(*db, catalog);
    HL_RETURN_IF_ERROR(log.install().withContext("install capture in the snapshot"));
    if (lastChangeId > 1)  // a published marker row: the next change id is above it
      HL_RETURN_IF_ERROR(db->exec(
          QStringLiteral("INSERT OR IGNORE INTO %1(id, tbl, op, state) VALUES (%2, 0, 0, 1)")
              .arg(quoteIdentifier(QString::fromLatin1(ChangeLog::kChangesTable)))
              .arg(lastChangeId)));
  }
  return Status::ok();
}

Status copyIntoLive(SqliteDb& live, const QString& path, const FileProgress& progress) {
  auto src = openFile(path, true);
  if (!src) return src.status();
  sqlite3_backup* b = sqlite3_backup_init(live.handle(), "main", src->handle(), "main");
  if (!b) return fromSqlite(sqlite3_errcode(live.handle()), live.handle(), "start the restore");
  QElapsedTimer busyFor;
  int rc = SQLITE_OK;
  for (;;) {
    rc = sqlite3_backup_step(b, kBackupPagesPerStep);
    if (rc == SQLITE_DONE) break;
    if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
      // The application holds a write transaction: wait for it, bounded.
      if (!busyFor.isValid()) busyFor.start();
      if (busyFor.elapsed() > kBackupBusyDeadlineMs) break;
      QThread::msleep(20);
      continue;
    }
    if (rc != SQLITE_OK) break;
    busyFor.invalidate();
    const int total = sqlite3_backup_pagecount(b);
    if (progress) progress(total - sqlite3_backup_remaining(b), total);
  }
  const int finish = sqlite3_backup_finish(b);
  if (rc == SQLITE_DONE && finish == SQLITE_OK) return Status::ok();
  if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
    return Status::busy(QStringLiteral(
        "restore: the database stayed locked by another connection for 30 s; nothing changed"));
  return fromSqlite(rc == SQLITE_DONE ? finish : rc, live.handle(), "restore (backup step)");
}

}  // namespace hl
