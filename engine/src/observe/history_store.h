// HistoryStore: writes the node's history (harmonylite/history.h, docs/alerts.md#history).
//
// The engine hands it every status it builds (a few times per second); the store folds them
// into the current minute (rates from the counters' growth, the largest lag per shard, the
// last value of the levels) and writes one row when the minute is over, and at stop. Rows older
// than history.hours go at each write. Alert transitions are written as they happen.
//
//   samples(minute INTEGER PRIMARY KEY, published_per_s, applied_per_s, pending, conflicts,
//           dead_letters, db_bytes, wal_bytes)
//   shard_lag(minute, shard, lag_messages, lag_seconds, PRIMARY KEY(minute, shard))
//   alerts(id INTEGER PRIMARY KEY, at, rule, severity, firing, value, message)
//
// The file is the node's own (not the application's database): a failure to write it is
// logged once and never stops replication. The test fault HL_TEST_HISTORY_MINUTE_MS shortens
// the "minute" so that tests need not wait.
// Thread: the engine thread.
#pragma once

#include <QString>

#include "harmonylite/config.h"
#include "harmonylite/history.h"
#include "sqlite/sqlite_db.h"

namespace hl {

class HistoryStore {
 public:
  HistoryStore(QString path, int hours);

  Status open();  // creates the file and its tables
  bool isOpen() const { return m_db.isOpen(); }
  const QString& path() const { return m_path; }

  // Folds `status` (conflicts since start given apart) into the current minute.
  void add(const NodeStatus& status, qint64 conflictsSinceStart, qint64 nowMs);
  void recordAlert(const AlertInfo& alert, qint64 nowMs);
  void flush();  // writes the current, partial minute (at stop)

  qint64 minuteMs() const { return m_minuteMs; }
  qint64 samplesWritten() const { return m_written; }

 private:
  void write();
  void warnOnce(const Status& s);

  QString m_path;
  int m_hours;
  qint64 m_minuteMs;  // the length of a "minute" (60000 but for the test fault)
  SqliteDb m_db;
  bool m_warned = false;
  qint64 m_written = 0;

  // The minute being folded.
  qint64 m_start = 0;  // its start (epoch ms), 0 = none yet
  // The counters' last readings (they count from the node's start, so from 0), and the times the
  // minute's rates cover.
  qint64 m_lastPublished = 0, m_lastApplied = 0, m_lastConflicts = 0;
  qint64 m_firstMs = 0, m_lastMs = 0;
  qint64 m_publishedCount = 0, m_appliedCount = 0;  // during the minute
  HistorySample m_current;
};

}  // namespace hl
