#include "replication/state_store.h"

#include <QDateTime>
#include <QDir>
#include <QFile>
#include <QFileInfo>

#include <fcntl.h>
#include <unistd.h>

#include "wire/cbor_writer.h"
#include "wire/seq_map.h"

namespace hl {
namespace {

// The newest `limit` rows of `sql` (one `?` for the limit), each made into a T by `makeRow`.
template <class T, class MakeRow>
Result<QList<T>> newestRows(SqliteDb& db, const QString& sql, int limit, MakeRow makeRow) {
  auto stmt = db.cached(sql);
  if (!stmt) return stmt.status();
  HL_RETURN_IF_ERROR((*stmt)->bindInt(1, limit));
  QList<T> out;
  SqliteRows rows(**stmt);
  for (const SqliteStmt& row : rows) out.append(makeRow(row));
  HL_RETURN_IF_ERROR(rows.status());
  return out;
}

}  // namespace

ReplicationState::ReplicationState(SqliteDb& db) : m_db(db) {}

Status ReplicationState::ensureTables() {
  HL_RETURN_IF_ERROR(m_db.exec(
      QStringLiteral("CREATE TABLE IF NOT EXISTS __harmonylite__positions(stream TEXT PRIMARY KEY, "
                     "seq INTEGER NOT NULL);"
                     "CREATE TABLE IF NOT EXISTS __harmonylite__own(key BLOB PRIMARY KEY, shard "
                     "INTEGER, seq INTEGER) WITHOUT ROWID;"
                     "CREATE TABLE IF NOT EXISTS __harmonylite__dead_letters(id INTEGER PRIMARY "
                     "KEY, at TEXT, stream TEXT, "
                     "seq INTEGER, reason TEXT, payload BLOB);"
                     "CREATE TABLE IF NOT EXISTS __harmonylite__conflicts(id INTEGER PRIMARY KEY, "
                     "at TEXT, tbl TEXT, "
                     "row_key TEXT, winner TEXT, loser TEXT, local_row TEXT, remote_row TEXT);"
                     "CREATE TABLE IF NOT EXISTS __harmonylite__replay_own(stream TEXT PRIMARY "
                     "KEY, up_to INTEGER NOT NULL);"
                     "CREATE TABLE IF NOT EXISTS __harmonylite__schema_hashes(hash TEXT PRIMARY "
                     "KEY, first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL);"
                     "CREATE TABLE IF NOT EXISTS __harmonylite__born(key BLOB PRIMARY KEY, seq "
                     "INTEGER, origin INTEGER) WITHOUT ROWID;")));
  // Dead letters made before the dead-letter collision policy have no kind.
  return m_db
      .addColumnIfMissing(QStringLiteral("__harmonylite__dead_letters"),
                          QStringLiteral("lost_insert"))
      .status();
}

Result<QString> ReplicationState::noteSchemaHash(const QString& hash, qint64 nowMs) {
  auto txn = SqliteTxn::begin(m_db);
  if (!txn) return txn.status();
  QString previous;
  {
    auto before = m_db.prepare(QStringLiteral(
        "SELECT hash FROM __harmonylite__schema_hashes WHERE hash <> ? ORDER BY last_seen DESC, "
        "rowid DESC LIMIT 1"));
    if (!before) return before.status();
    HL_RETURN_IF_ERROR(before->bindText(1, hash.toUtf8()));
    SqliteRows rows(*before);
    for (const SqliteStmt& row : rows) previous = row.columnText(0);
    HL_RETURN_IF_ERROR(rows.status());
  }
  auto upsert = m_db.prepare(QStringLiteral(
      "INSERT INTO __harmonylite__schema_hashes(hash, first_seen, last_seen) VALUES (?1, ?2, ?2) "
      "ON CONFLICT(hash) DO UPDATE SET last_seen = max(last_seen, excluded.last_seen)"));
  if (!upsert) return upsert.status();
  HL_RETURN_IF_ERROR(upsert->bindText(1, hash.toUtf8()));
  HL_RETURN_IF_ERROR(upsert->bindInt(2, nowMs));
  HL_RETURN_IF_ERROR(upsert->run());
  HL_RETURN_IF_ERROR(m_db.exec(
      QStringLiteral("DELETE FROM __harmonylite__schema_hashes WHERE hash NOT IN (SELECT hash FROM "
                     "__harmonylite__schema_hashes ORDER BY last_seen DESC, rowid DESC LIMIT %1)")
          .arg(kSchemaHistorySize)));
  HL_RETURN_IF_ERROR(txn->commit());
  return previous;
}

Result<QStringList> ReplicationState::schemaHashes() {
  auto stmt = m_db.prepare(QStringLiteral(
      "SELECT hash FROM __harmonylite__schema_hashes ORDER BY last_seen DESC, rowid DESC"));
  if (!stmt) return stmt.status();
  QStringList out;
  SqliteRows rows(*stmt);
  for (const SqliteStmt& row : rows) out << row.columnText(0);
  HL_RETURN_IF_ERROR(rows.status());
  return out;
}

Result<QHash<QString, quint64>> ReplicationState::replayOwnUpTo() {
  QHash<QString, quint64> out;
  auto stmt = m_db.prepare(QStringLiteral("SELECT stream, up_to FROM __harmonylite__replay_own"));
  if (!stmt) return stmt.status();
  SqliteRows rows(*stmt);
  for (const SqliteStmt& row : rows) out.insert(row.columnText(0), quint64(row.columnInt(1)));
  HL_RETURN_IF_ERROR(rows.status());
  return out;
}

Status ReplicationState::setReplayOwnUpTo(const QString& stream, quint64 seq) {
  auto stmt = m_db.prepare(
      QStringLiteral("INSERT INTO __harmonylite__replay_own(stream, up_to) VALUES (?, ?) "
                     "ON CONFLICT(stream) DO UPDATE SET up_to = excluded.up_to"));
  if (!stmt) return stmt.status();
  HL_RETURN_IF_ERROR(stmt->bindText(1, stream.toUtf8()));
  HL_RETURN_IF_ERROR(stmt->bindInt(2, int64_t(seq)));
  return stmt->run();
}

Result<QHash<QString, quint64>> ReplicationState::readPositions(SqliteDb& db) {
  QHash<QString, quint64> out;
  auto exists = db.hasTable(QStringLiteral("__harmonylite__positions"));
  if (!exists) return exists.status();
  if (!*exists) return out;
  auto stmt = db.prepare(QStringLiteral("SELECT stream, seq FROM __harmonylite__positions"));
  if (!stmt) return stmt.status();
  SqliteRows rows(*stmt);
  for (const SqliteStmt& row : rows) out.insert(row.columnText(0), quint64(row.columnInt(1)));
  HL_RETURN_IF_ERROR(rows.status());
  return out;
}

Result<QHash<QString, quint64>> ReplicationState::loadPositions(const QString& seqMapPath) {
  auto stored = readPositions(m_db);
  if (!stored) return stored.status();
  const QHash<QString, quint64>& out = *stored;
  if (!out.isEmpty() || !QFileInfo::exists(seqMapPath)) return out;
  auto fromFile = readSeqMap(seqMapPath);
  if (!fromFile) return fromFile.status();
  auto txn = SqliteTxn::begin(m_db);
  if (!txn) return txn.status();
  for (auto it = fromFile->cbegin(); it != fromFile->cend(); ++it)
    HL_RETURN_IF_ERROR(setPosition(it.key(), it.value()));
  HL_RETURN_IF_ERROR(txn->commit());
  return *fromFile;
}

Status ReplicationState::setPosition(const QString& stream, quint64 seq) {
  auto stmt =
      m_db.cached(QStringLiteral("INSERT INTO __harmonylite__positions(stream, seq) VALUES (?, ?) "
                                 "ON CONFLICT(stream) DO UPDATE SET seq = excluded.seq"));
  if (!stmt) return stmt.status();
  HL_RETURN_IF_ERROR((*stmt)->bindText(1, stream.toUtf8()));
  HL_RETURN_IF_ERROR((*stmt)->bindInt(2, int64_t(seq)));
  return (*stmt)->run();
}

Status ReplicationState::recordOwn(const QByteArray& key, int shard, quint64 seq) {
  auto stmt = m_db.cached(QStringLiteral(
      "INSERT INTO __harmonylite__own(key, shard, seq) VALUES (?, ?, ?) "
      "ON CONFLICT(key) DO UPDATE SET shard = excluded.shard, seq = max(seq, excluded.seq)"));
  if (!stmt) return stmt.status();
  HL_RETURN_IF_ERROR((*stmt)->bindBlob(1, key));
  HL_RETURN_IF_ERROR((*stmt)->bindInt(2, shard));
  HL_RETURN_IF_ERROR((*stmt)->bindInt(3, int64_t(seq)));
  return (*stmt)->run();
}

Status ReplicationState::noteBorn(const QByteArray& key, quint64 seq, uint64_t origin) {
  // The earliest sequence wins: an own change acked before the consumer reached an earlier
  // remote insert of the row is recorded first.
  auto stmt = m_db.cached(QStringLiteral(
      "INSERT INTO __harmonylite__born(key, seq, origin) VALUES (?1, ?2, ?3) ON CONFLICT(key) DO "
      "UPDATE SET seq = excluded.seq, origin = excluded.origin WHERE excluded.seq < seq"));
  if (!stmt) return stmt.status();
  HL_RETURN_IF_ERROR((*stmt)->bindBlob(1, key));
  HL_RETURN_IF_ERROR((*stmt)->bindInt(2, int64_t(seq)));
  HL_RETURN_IF_ERROR((*stmt)->bindInt(3, int64_t(origin)));
  return (*stmt)->run();
}

Status ReplicationState::forgetBorn(const QByteArray& key) {
  auto stmt = m_db.cached(QStringLiteral("DELETE FROM __harmonylite__born WHERE key = ?"));
  if (!stmt) return stmt.status();
  HL_RETURN_IF_ERROR((*stmt)->bindBlob(1, key));
  return (*stmt)->run();
}

Result<std::optional<ReplicationState::Birth>> ReplicationState::born(const QByteArray& key) {
  auto stmt =
      m_db.cached(QStringLiteral("SELECT seq, origin FROM __harmonylite__born WHERE key = ?"));
  if (!stmt) return stmt.status();
  HL_RETURN_IF_ERROR((*stmt)->bindBlob(1, key));
  auto row = (*stmt)->step();
  if (!row) return row.status();
  std::optional<Birth> birth;
  if (*row) birth = Birth{quint64((*stmt)->columnInt(0)), uint64_t((*stmt)->columnInt(1))};
  (*stmt)->reset();
  return birth;
}

Result<quint64> ReplicationState::ownSeq(const QByteArray& key) {
  auto stmt = m_db.cached(QStringLiteral("SELECT seq FROM __harmonylite__own WHERE key = ?"));
  if (!stmt) return stmt.status();
  HL_RETURN_IF_ERROR((*stmt)->bindBlob(1, key));
  auto row = (*stmt)->step();
  if (!row) return row.status();
  const quint64 seq = *row ? quint64((*stmt)->columnInt(0)) : quint64(0);
  (*stmt)->reset();  // do not keep a read open
  return seq;
}

Status ReplicationState::forgetOwnUpTo(int shard, quint64 seq) {
  auto stmt =
      m_db.cached(QStringLiteral("DELETE FROM __harmonylite__own WHERE shard = ? AND seq <= ?"));
  if (!stmt) return stmt.status();
  HL_RETURN_IF_ERROR((*stmt)->bindInt(1, shard));
  HL_RETURN_IF_ERROR((*stmt)->bindInt(2, int64_t(seq)));
  return (*stmt)->run();
}

Result<bool> ReplicationState::hasOwnChanges() {
  auto n = m_db.cachedInt(QStringLiteral("SELECT EXISTS (SELECT 1 FROM __harmonylite__own)"));
  if (!n) return n.status();
  return *n != 0;
}

Result<DeadLetterInfo> ReplicationState::addDeadLetter(const QString& stream, quint64 seq,
                                                       const QString& reason,
                                                       const QByteArray& payload, bool lostInsert) {
  auto stmt =
      m_db.cached(QStringLiteral("INSERT INTO __harmonylite__dead_letters(at, stream, seq, reason, "
                                 "payload, lost_insert) VALUES (?, ?, ?, ?, ?, ?)"));
  if (!stmt) return stmt.status();
  DeadLetterInfo d{0, QDateTime::currentDateTimeUtc().toString(Qt::ISODateWithMs), stream, seq,
                   reason};
  HL_RETURN_IF_ERROR((*stmt)->bindText(1, d.at.toUtf8()));
  HL_RETURN_IF_ERROR((*stmt)->bindText(2, stream.toUtf8()));
  HL_RETURN_IF_ERROR((*stmt)->bindInt(3, int64_t(seq)));
  HL_RETURN_IF_ERROR((*stmt)->bindText(4, reason.toUtf8()));
  HL_RETURN_IF_ERROR((*stmt)->bindBlob(5, payload));
  HL_RETURN_IF_ERROR((*stmt)->bindInt(6, lostInsert ? 1 : 0));
  HL_RETURN_IF_ERROR((*stmt)->run());
  d.id = m_db.lastInsertRowId();
  return d;
}

Result<ConflictInfo> ReplicationState::addConflict(const ConflictRecord& c) {
  auto stmt =
      m_db.cached(QStringLiteral("INSERT INTO __harmonylite__conflicts(at, tbl, row_key, winner, "
                                 "loser, local_row, remote_row) "
                                 "VALUES (?, ?, ?, ?, ?, ?, ?)"));
  if (!stmt) return stmt.status();
  ConflictInfo info{0,
                    QDateTime::currentDateTimeUtc().toString(Qt::ISODateWithMs),
                    c.table,
                    c.rowKey,
                    c.winner,
                    c.loser,
                    c.insertCollision};
  int i = 1;
  for (const QString& v : {info.at, c.table, c.rowKey, c.winner, c.loser, c.localRow, c.remoteRow})
    HL_RETURN_IF_ERROR((*stmt)->bindText(i++, v.toUtf8()));
  HL_RETURN_IF_ERROR((*stmt)->run());
  info.id = m_db.lastInsertRowId();
  HL_RETURN_IF_ERROR(m_db.exec(QStringLiteral("DELETE FROM __harmonylite__conflicts WHERE id <= "
                                              "(SELECT max(id) FROM __harmonylite__conflicts) - %1")
                                   .arg(kConflictJournalSize)));
  return info;
}

Result<int64_t> ReplicationState::deadLetterCount() {
  return m_db.cachedInt(QStringLiteral("SELECT count(*) FROM __harmonylite__dead_letters"));
}

Result<int64_t> ReplicationState::conflictCount() {
  return m_db.cachedInt(QStringLiteral("SELECT count(*) FROM __harmonylite__conflicts"));
}

Result<QList<DeadLetterInfo>> ReplicationState::recentDeadLetters(int limit) {
  return newestRows<DeadLetterInfo>(
      m_db,
      QStringLiteral("SELECT id, at, stream, seq, reason FROM __harmonylite__dead_letters ORDER BY "
                     "id DESC LIMIT ?"),
      limit, [](const SqliteStmt& r) {
        return DeadLetterInfo{r.columnInt(0), r.columnText(1), r.columnText(2),
                              quint64(r.columnInt(3)), r.columnText(4)};
      });
}

Result<QList<ConflictInfo>> ReplicationState::recentConflicts(int limit) {
  return newestRows<ConflictInfo>(
      m_db,
      QStringLiteral("SELECT id, at, tbl, row_key, winner, loser FROM __harmonylite__conflicts "
                     "ORDER BY id DESC LIMIT ?"),
      limit, [](const SqliteStmt& r) {
        return ConflictInfo{r.columnInt(0),  r.columnText(1), r.columnText(2),
                            r.columnText(3), r.columnText(4), r.columnText(5)};
      });
}

Result<QByteArray> ReplicationState::deadLetterPayload(qint64 id, QString* stream,
                                                       bool* lostInsert) {
  auto stmt = m_db.cached(QStringLiteral(
      "SELECT payload, stream, lost_insert FROM __harmonylite__dead_letters WHERE id = ?"));
  if (!stmt) return stmt.status();
  HL_RETURN_IF_ERROR((*stmt)->bindInt(1, id));
  auto row = (*stmt)->step();
  if (!row) return row.status();
  if (!*row) return Status::notFound(QStringLiteral("no dead letter %1").arg(id));
  const QByteArray payload = (*stmt)->columnBytes(0);
  if (stream) *stream = (*stmt)->columnText(1);
  if (lostInsert) *lostInsert = (*stmt)->columnInt(2) == 1;
  (*stmt)->reset();
  return payload;
}

Status ReplicationState::deleteDeadLetter(qint64 id) {
  auto stmt = m_db.cached(QStringLiteral("DELETE FROM __harmonylite__dead_letters WHERE id = ?"));
  if (!stmt) return stmt.status();
  HL_RETURN_IF_ERROR((*stmt)->bindInt(1, id));
  HL_RETURN_IF_ERROR((*stmt)->run());
  if (m_db.changes() == 0) return Status::notFound(QStringLiteral("no dead letter %1").arg(id));
  return Status::ok();
}

Status ReplicationState::updateDeadLetterReason(qint64 id, const QString& reason) {
  auto stmt = m_db.cached(
      QStringLiteral("UPDATE __harmonylite__dead_letters SET reason = ?, at = ? WHERE id = ?"));
  if (!stmt) return stmt.status();
  HL_RETURN_IF_ERROR((*stmt)->bindText(1, reason.toUtf8()));
  HL_RETURN_IF_ERROR(
      (*stmt)->bindText(2, QDateTime::currentDateTimeUtc().toString(Qt::ISODateWithMs).toUtf8()));
  HL_RETURN_IF_ERROR((*stmt)->bindInt(3, id));
  return (*stmt)->run();
}

Status ReplicationState::clearConflicts() {
  return m_db.exec(QStringLiteral("DELETE FROM __harmonylite__conflicts"));
}

Status ReplicationState::writeSeqMap(const QString& path, const QHash<QString, quint64>& positions,
                                     bool synced) {
  QStringList streams = positions.keys();
  streams.sort();
  CborWriter w;
  w.mapStart(size_t(streams.size()));
  for (const QString& s : streams) {
    w.text(s.toUtf8());
    w.unsignedInt(positions.value(s));
  }
  const QByteArray bytes = w.take();
  const QString tmp = path + QStringLiteral(".tmp");
  const int fd =
      ::open(QFile::encodeName(tmp).constData(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return Status::ioError(
        QStringLiteral("cannot write %1: %2").arg(tmp, QString::fromLocal8Bit(strerror(errno))));
  const bool written = ::write(fd, bytes.constData(), size_t(bytes.size())) == bytes.size() &&
                       (!synced || ::fsync(fd) == 0);
  ::close(fd);
  if (!written ||
      ::rename(QFile::encodeName(tmp).constData(), QFile::encodeName(path).constData()) != 0)
    return Status::ioError(
        QStringLiteral("cannot write %1: %2").arg(path, QString::fromLocal8Bit(strerror(errno))));
  if (!synced) return Status::ok();
  const int dir = ::open(QFile::encodeName(QFileInfo(path).absolutePath()).constData(),
                         O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  return Status::ok();
}

Result<QHash<QString, quint64>> ReplicationState::readSeqMap(const QString& path) {
  QFile f(path);
  if (!f.open(QIODevice::ReadOnly))
    return Status::ioError(QStringLiteral("cannot read %1: %2").arg(path, f.errorString()));
  // One byte past the limit, so that parseSeqMap says the file is too large.
  const QByteArray bytes = f.read(kMaxSeqMapBytes + 1);
  if (f.error() != QFileDevice::NoError)
    return Status::ioError(QStringLiteral("cannot read %1: %2").arg(path, f.errorString()));
  return parseSeqMap(bytes, path);
}

}  // namespace hl
