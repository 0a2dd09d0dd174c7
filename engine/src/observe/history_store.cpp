#include "observe/history_store.h"

#include <QDateTime>
#include <QFileInfo>
#include <QLoggingCategory>
#include <QSet>

#include <algorithm>
#include <cstdlib>

Q_DECLARE_LOGGING_CATEGORY(lcEngine)  // engine.cpp

namespace hl {
namespace {

constexpr const char* kSchema =
    "CREATE TABLE IF NOT EXISTS samples(minute INTEGER PRIMARY KEY, published_per_s REAL, "
    "applied_per_s REAL, pending INTEGER, conflicts INTEGER, dead_letters INTEGER, "
    "db_bytes INTEGER, wal_bytes INTEGER);"
    "CREATE TABLE IF NOT EXISTS shard_lag(minute INTEGER, shard INTEGER, lag_messages INTEGER, "
    "lag_seconds REAL, PRIMARY KEY(minute, shard)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS alerts(id INTEGER PRIMARY KEY, at INTEGER, rule TEXT, "
    "severity TEXT, firing INTEGER, value REAL, message TEXT);"
    "CREATE INDEX IF NOT EXISTS alerts_at ON alerts(at);";

qint64 minuteLength() {
  const qint64 test = qEnvironmentVariableIntValue("HL_TEST_HISTORY_MINUTE_MS");
  return test > 0 ? test : 60000;
}

// Grows a since-start counter's sum by its step since the last reading (a smaller reading is a
// counter that started again).
void accumulate(qint64 reading, qint64* last, qint64* sum) {
  *sum += reading >= *last ? reading - *last : reading;
  *last = reading;
}

Result<SqliteDb> openReadOnly(const QString& path) {
  SqliteDb::Options o;
  o.readOnly = true;
  o.busyTimeoutMs = 1000;
  return SqliteDb::open(path, o);
}

QString csvTime(qint64 ms) {
  return QDateTime::fromMSecsSinceEpoch(ms, Qt::UTC).toString(Qt::ISODateWithMs);
}

}  // namespace

qint64 HistorySample::lagMessages() const {
  qint64 n = 0;
  for (const ShardLag& l : lag) n += l.messages;
  return n;
}

double HistorySample::lagSeconds() const {
  double s = 0;
  for (const ShardLag& l : lag) s = std::max(s, l.seconds);
  return s;
}

HistoryStore::HistoryStore(QString path, int hours)
    : m_path(std::move(path)), m_hours(hours), m_minuteMs(minuteLength()) {}

Status HistoryStore::open() {
  auto db = SqliteDb::open(m_path);
  if (!db) return db.status().withContext(QStringLiteral("history ") + m_path);
  m_db = std::move(*db);
  HL_RETURN_IF_ERROR(m_db.exec(QStringLiteral("PRAGMA journal_mode=WAL")));
  HL_RETURN_IF_ERROR(m_db.exec(QStringLiteral("PRAGMA synchronous=NORMAL")));
  // A small file: its WAL is checkpointed every 64 pages and cut back to 256 KB after, instead
  // of SQLite's 1000 pages that would leave a 4 MB WAL beside 100 KB of samples.
  HL_RETURN_IF_ERROR(m_db.exec(QStringLiteral("PRAGMA wal_autocheckpoint=64")));
  HL_RETURN_IF_ERROR(m_db.exec(QStringLiteral("PRAGMA journal_size_limit=262144")));
  return m_db.exec(QLatin1String(kSchema)).withContext(QStringLiteral("history ") + m_path);
}

void HistoryStore::warnOnce(const Status& s) {
  if (s.isOk() || m_warned) return;
  m_warned = true;
  qCWarning(lcEngine).noquote() << "history not written (replication goes on):" << s.message();
}

void HistoryStore::add(const NodeStatus& st, qint64 conflictsSinceStart, qint64 nowMs) {
  if (!isOpen()) return;
  const qint64 minute = nowMs / m_minuteMs * m_minuteMs;
  if (m_start != 0 && minute != m_start) write();
  if (m_start != minute) {
    m_start = minute;
    m_current = HistorySample{};
    m_current.minuteMs = minute;
    m_publishedCount = 0;
    m_appliedCount = 0;
    m_firstMs = m_lastMs;  // the previous reading (0 at the first): rates cover from there
  }
  qint64 applied = 0;
  for (const ShardStatus& sh : st.shards) {
    applied += sh.appliedChanges;
    HistorySample::ShardLag& l = m_current.lag[sh.shard];
    l.messages = std::max(l.messages, sh.lagMessages);
    l.seconds = std::max(l.seconds, sh.lagSeconds);
  }
  accumulate(st.published, &m_lastPublished, &m_publishedCount);
  accumulate(applied, &m_lastApplied, &m_appliedCount);
  accumulate(conflictsSinceStart, &m_lastConflicts, &m_current.conflicts);
  m_current.pending = st.pendingChanges;
  m_current.deadLetters = st.deadLetterCount;
  m_current.dbBytes = st.dbSizeBytes;
  m_current.walBytes = st.walSizeBytes;
  if (m_firstMs == 0) m_firstMs = nowMs;
  m_lastMs = nowMs;
}

void HistoryStore::write() {
  if (!isOpen() || m_start == 0) return;
  const double seconds = std::max<qint64>(m_lastMs - m_firstMs, 1000) / 1000.0;
  HistorySample s = m_current;
  s.publishedPerSecond = double(m_publishedCount) / seconds;
  s.appliedPerSecond = double(m_appliedCount) / seconds;
  auto txn = SqliteTxn::begin(m_db);
  if (!txn) return warnOnce(txn.status());
  auto run = [&]() -> Status {
    auto ins = m_db.cached(
        QStringLiteral("INSERT OR REPLACE INTO samples VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"));
    if (!ins) return ins.status();
    SqliteStmt& st = **ins;
    HL_RETURN_IF_ERROR(st.bindInt(1, s.minuteMs));
    HL_RETURN_IF_ERROR(st.bindDouble(2, s.publishedPerSecond));
    HL_RETURN_IF_ERROR(st.bindDouble(3, s.appliedPerSecond));
    HL_RETURN_IF_ERROR(st.bindInt(4, s.pending));
    HL_RETURN_IF_ERROR(st.bindInt(5, s.conflicts));
    HL_RETURN_IF_ERROR(st.bindInt(6, s.deadLetters));
    HL_RETURN_IF_ERROR(st.bindInt(7, s.dbBytes));
    HL_RETURN_IF_ERROR(st.bindInt(8, s.walBytes));
    HL_RETURN_IF_ERROR(st.run());
    auto lag =
        m_db.cached(QStringLiteral("INSERT OR REPLACE INTO shard_lag VALUES(?1, ?2, ?3, ?4)"));
    if (!lag) return lag.status();
    for (auto it = s.lag.cbegin(); it != s.lag.cend(); ++it) {
      HL_RETURN_IF_ERROR((*lag)->bindInt(1, s.minuteMs));
      HL_RETURN_IF_ERROR((*lag)->bindInt(2, it.key()));
      HL_RETURN_IF_ERROR((*lag)->bindInt(3, it->messages));
      HL_RETURN_IF_ERROR((*lag)->bindDouble(4, it->seconds));
      HL_RETURN_IF_ERROR((*lag)->run());
    }
    // history.hours, in "minutes" of this store (the test fault scales it with them).
    const qint64 horizon = s.minuteMs - qint64(m_hours) * 60 * m_minuteMs;
    for (const char* table : {"samples", "shard_lag", "alerts"}) {
      const QString column = QLatin1String(table) == QLatin1String("alerts") ? "at" : "minute";
      HL_RETURN_IF_ERROR(m_db.exec(QStringLiteral("DELETE FROM %1 WHERE %2 < %3")
                                       .arg(QLatin1String(table), column)
                                       .arg(horizon)));
    }
    return Status::ok();
  };
  Status s2 = run();
  if (s2.isOk()) s2 = txn->commit();
  if (s2.isOk()) {
    ++m_written;
  } else {
    (void)txn->rollback();
  }
  warnOnce(s2);
}

void HistoryStore::flush() {
  write();
  m_start = 0;
}

void HistoryStore::recordAlert(const AlertInfo& a, qint64 nowMs) {
  if (!isOpen()) return;
  auto ins =
      m_db.cached(QStringLiteral("INSERT INTO alerts(at, rule, severity, firing, value, message) "
                                 "VALUES(?1, ?2, ?3, ?4, ?5, ?6)"));
  if (!ins) return warnOnce(ins.status());
  SqliteStmt& st = **ins;
  Status s = st.bindInt(1, nowMs);
  if (s.isOk()) s = st.bindText(2, a.rule.toUtf8());
  if (s.isOk()) s = st.bindText(3, stateName(a.severity).toUtf8());
  if (s.isOk()) s = st.bindInt(4, a.firing ? 1 : 0);
  if (s.isOk()) s = st.bindDouble(5, a.value);
  if (s.isOk()) s = st.bindText(6, a.message.toUtf8());
  if (s.isOk()) s = st.run();
  warnOnce(s);
}

// ---- the readers (harmonylite/history.h) -----------------------------------------------------

Result<QList<HistorySample>> readHistory(const QString& path, qint64 sinceMs) {
  QList<HistorySample> out;
  if (!QFileInfo::exists(path)) return out;
  auto db = openReadOnly(path);
  if (!db) return db.status().withContext(QStringLiteral("history ") + path);
  auto q = db->prepare(QStringLiteral(
      "SELECT minute, published_per_s, applied_per_s, pending, conflicts, dead_letters, "
      "db_bytes, wal_bytes FROM samples WHERE minute >= ?1 ORDER BY minute"));
  if (!q) return q.status();
  HL_RETURN_IF_ERROR(q->bindInt(1, sinceMs));
  QHash<qint64, qsizetype> index;
  {
    SqliteRows rows(*q);
    for (const SqliteStmt& r : rows) {
      HistorySample s;
      s.minuteMs = r.columnInt(0);
      s.publishedPerSecond = r.columnDouble(1);
      s.appliedPerSecond = r.columnDouble(2);
      s.pending = r.columnInt(3);
      s.conflicts = r.columnInt(4);
      s.deadLetters = r.columnInt(5);
      s.dbBytes = r.columnInt(6);
      s.walBytes = r.columnInt(7);
      index.insert(s.minuteMs, out.size());
      out.append(s);
    }
    HL_RETURN_IF_ERROR(rows.status());
  }
  auto lag = db->prepare(QStringLiteral(
      "SELECT minute, shard, lag_messages, lag_seconds FROM shard_lag WHERE minute >= ?1"));
  if (!lag) return lag.status();
  HL_RETURN_IF_ERROR(lag->bindInt(1, sinceMs));
  SqliteRows rows(*lag);
  for (const SqliteStmt& r : rows) {
    const qsizetype i = index.value(r.columnInt(0), -1);
    if (i < 0) continue;
    out[i].lag.insert(int(r.columnInt(1)), {r.columnInt(2), r.columnDouble(3)});
  }
  HL_RETURN_IF_ERROR(rows.status());
  return out;
}

Result<QList<AlertLogEntry>> readAlertLog(const QString& path, int limit) {
  QList<AlertLogEntry> out;
  if (!QFileInfo::exists(path)) return out;
  auto db = openReadOnly(path);
  if (!db) return db.status().withContext(QStringLiteral("history ") + path);
  auto q =
      db->prepare(QStringLiteral("SELECT at, rule, severity, firing, value, message FROM alerts "
                                 "ORDER BY id DESC LIMIT ?1"));
  if (!q) return q.status();
  HL_RETURN_IF_ERROR(q->bindInt(1, limit));
  SqliteRows rows(*q);
  for (const SqliteStmt& r : rows) {
    AlertLogEntry e;
    e.atMs = r.columnInt(0);
    e.rule = r.columnText(1);
    e.severity = r.columnText(2) == QLatin1String("critical") ? AlertSeverity::Critical
                                                              : AlertSeverity::Warning;
    e.firing = r.columnInt(3) != 0;
    e.value = r.columnDouble(4);
    e.message = r.columnText(5);
    out.append(e);
  }
  HL_RETURN_IF_ERROR(rows.status());
  return out;
}

QByteArray historyCsv(const QList<HistorySample>& samples) {
  QList<int> shards;
  {
    QSet<int> seen;
    for (const HistorySample& s : samples)
      for (auto it = s.lag.cbegin(); it != s.lag.cend(); ++it) seen.insert(it.key());
    shards = seen.values();
    std::sort(shards.begin(), shards.end());
  }
  QByteArray out =
      "time,published_per_second,applied_per_second,pending,conflicts,dead_letters,db_bytes,"
      "wal_bytes,lag_messages,lag_seconds";
  for (int shard : shards)
    out += QStringLiteral(",lag_messages_shard_%1,lag_seconds_shard_%1").arg(shard).toLatin1();
  out += "\r\n";
  for (const HistorySample& s : samples) {
    QStringList f{csvTime(s.minuteMs),
                  QString::number(s.publishedPerSecond, 'f', 2),
                  QString::number(s.appliedPerSecond, 'f', 2),
                  QString::number(s.pending),
                  QString::number(s.conflicts),
                  QString::number(s.deadLetters),
                  QString::number(s.dbBytes),
                  QString::number(s.walBytes),
                  QString::number(s.lagMessages()),
                  QString::number(s.lagSeconds(), 'f', 3)};
    for (int shard : shards) {
      const auto it = s.lag.constFind(shard);
      f << (it == s.lag.cend() ? QString() : QString::number(it->messages))
        << (it == s.lag.cend() ? QString() : QString::number(it->seconds, 'f', 3));
    }
    out += f.join(',').toLatin1() + "\r\n";
  }
  return out;
}

}  // namespace hl
