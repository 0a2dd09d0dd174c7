#include "snapshot/snapshot_file.h"

#include <sqlite3.h>

#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QThread>

#include "cdc/change_log.h"
#include "harmonylite/config.h"
#include "replication/state_store.h"
#include "schema/catalog.h"
#include "snapshot/sha256.h"
#include "sqlite/sqlite_value.h"

namespace hl {
namespace {

constexpr qint64 kHashChunk = 1 << 20;
constexpr int kBackupPagesPerStep = 1024;
constexpr int kBackupBusyDeadlineMs = 5000;  // on the engine thread: kept short

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

}  // namespace

Result<QPair<qint64, QString>> fileSha256(const QString& path, const FileProgress& progress) {
  QFile f(path);
  if (!f.open(QIODevice::ReadOnly))
    return Status::ioError(QStringLiteral("open %1: %2").arg(path, f.errorString()));
  Sha256 sha;
  const qint64 total = f.size();
  qint64 done = 0;
  QByteArray buf(kHashChunk, Qt::Uninitialized);
  for (;;) {
    const qint64 n = f.read(buf.data(), buf.size());
    if (n < 0) return Status::ioError(QStringLiteral("read %1: %2").arg(path, f.errorString()));
    if (n == 0) break;
    sha.add(buf.constData(), n);
    done += n;
    if (progress && !progress(done, total)) return Status::cancelled("checksum cancelled");
  }
  const QByteArray digest = sha.result();
  if (digest.isEmpty()) return Status::internal("SHA-256 failed (OpenSSL)");
  return QPair<qint64, QString>(done, QString::fromLatin1(digest.toHex()));
}

Result<SnapshotContent> makeSnapshotFile(const QString& dbPath, const QString& outPath,
                                         const QStringList& ignoreTables,
                                         const FileProgress& progress, bool hash) {
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
    auto watermark = ReplicationState::readPositions(*db);
    if (!watermark) return fail(watermark.status().withContext("read applied positions"));
    content.streams = *watermark;
    // A scratch copy until it is hashed: no journal, no fsync (a crash only loses the copy).
    if (Status s = db->exec(QStringLiteral("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF"));
        !s.isOk())
      return fail(s);
    if (Status s = ChangeLog::uninstall(*db); !s.isOk()) return fail(s);
    // Our tables' pages are free now: compact only when they are worth it (over 1% of the
    // file), a second full rewrite otherwise costs more than it saves.
    auto freePages = db->queryInt(QStringLiteral("PRAGMA freelist_count"));
    auto pages = db->queryInt(QStringLiteral("PRAGMA page_count"));
    if (!freePages || !pages) return fail(!freePages ? freePages.status() : pages.status());
    if (*freePages * 100 > *pages)
      if (Status s = db->exec(QStringLiteral("VACUUM")); !s.isOk()) return fail(s);
    if (Status s = describeTables(*db, ignoreTables, &content); !s.isOk()) return fail(s);
  }
  if (!hash) {
    content.size = QFileInfo(outPath).size();
    return content;
  }
  auto sum = fileSha256(outPath, progress);
  if (!sum) return fail(sum.status());
  content.size = sum->first;
  content.sha256 = sum->second;
  return content;
}

Result<SnapshotContent> inspectSnapshotFile(const QString& path, const QStringList& ignoreTables,
                                            const QString& knownSha256) {
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
  if (knownSha256.isEmpty()) {
    auto sum = fileSha256(path);
    if (!sum) return sum.status();
    content.size = sum->first;
    content.sha256 = sum->second;
  } else {
    content.size = QFileInfo(path).size();
    content.sha256 = knownSha256;
  }
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

Result<int> carryPendingChanges(const QString& liveDbPath, const QString& snapshotPath,
                                const Config& config) {
  if (!config.publish) return 0;  // nothing is captured
  auto live = openFile(liveDbPath, true);
  if (!live) return live.status();
  SchemaCatalog liveCatalog(*live, config.ignoreTables);
  HL_RETURN_IF_ERROR(liveCatalog.reload());
  ChangeLog liveLog(*live, liveCatalog);
  if (Status a = liveLog.attach(); !a.isOk())
    return a.code() == Status::Code::kNotFound ? Result<int>(0) : Result<int>(a);
  auto pending = liveLog.readPending(1 << 20);
  if (!pending) return pending.status().withContext("read the pending local changes");
  if (pending->isEmpty()) return 0;
  auto snap = openFile(snapshotPath, false);
  if (!snap) return snap.status();
  SchemaCatalog catalog(*snap, config.ignoreTables);
  HL_RETURN_IF_ERROR(catalog.reload());
  auto txn = SqliteTxn::begin(*snap);
  if (!txn) return txn.status();
  int carried = 0;
  for (const PendingChange& c : *pending) {
    const TableInfo* t = catalog.find(c.table);
    if (!t) continue;  // not in the snapshot's schema: nothing to carry it into
    const RowImage& image = c.type == ChangeType::kDelete ? c.key : c.row;
    QStringList names, marks;
    for (const auto& [name, value] : image) {
      names << quoteIdentifier(name);
      marks << QStringLiteral("%1 = ?").arg(quoteIdentifier(name));
    }
    const QString sql =
        c.type == ChangeType::kDelete
            ? QStringLiteral("DELETE FROM %1 WHERE %2").arg(t->quotedName, marks.join(" AND "))
            : QStringLiteral("INSERT OR REPLACE INTO %1(%2) VALUES (%3)")
                  .arg(t->quotedName, names.join(", "),
                       QStringList(names.size(), QStringLiteral("?")).join(", "));
    auto stmt = snap->prepare(sql);
    if (!stmt) return stmt.status();
    for (int i = 0; i < image.size(); ++i)
      HL_RETURN_IF_ERROR(bindValue(*stmt, i + 1, image[i].second));
    HL_RETURN_IF_ERROR(stmt->run().withContext("carry a pending change of " + c.table));
    ++carried;
  }
  HL_RETURN_IF_ERROR(txn->commit());
  return carried;
}

Status copyIntoLive(SqliteDb& live, const QString& path, const FileProgress& progress,
                    const std::function<Status()>& underLock) {
  auto src = openFile(path, true);
  if (!src) return src.status();
  sqlite3_backup* b = sqlite3_backup_init(live.handle(), "main", src->handle(), "main");
  if (!b) return fromSqlite(sqlite3_errcode(live.handle()), live.handle(), "start the restore");
  QElapsedTimer busyFor;
  int rc = SQLITE_OK;
  bool locked = false;
  for (;;) {
    // The first step copies no page: it takes the write lock, then `underLock` runs.
    rc = sqlite3_backup_step(b, locked ? kBackupPagesPerStep : 0);
    if (rc == SQLITE_OK && !locked) {
      locked = true;
      if (underLock) {
        if (Status pre = underLock(); !pre.isOk()) {
          sqlite3_backup_finish(b);  // rolls the (empty) write transaction back
          return pre;
        }
      }
      continue;
    }
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
        "restore: the database stayed locked by another connection for 5 s; nothing changed"));
  return fromSqlite(rc == SQLITE_DONE ? finish : rc, live.handle(), "restore (backup step)");
}

}  // namespace hl
