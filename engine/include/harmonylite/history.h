// The node's history (docs/alerts.md#history): one sample of its own figures per minute, and
// every alert that fired or resolved, kept for history.hours in a SQLite file of its own
// (Config::effectiveHistoryPath(), beside db_path). The engine writes it; the hosts read it
// here: the dashboard's 1 h and 24 h charts, the Events page's alert history, the CSV export
// and /history.csv.
// Thread: any; each call opens the file read-only and closes it again.
#pragma once

#include <QByteArray>
#include <QList>
#include <QMap>
#include <QString>

#include "harmonylite/engine_state.h"
#include "harmonylite/status.h"

namespace hl {

struct HistorySample {
  qint64 minuteMs = 0;            // start of the minute (epoch ms)
  double publishedPerSecond = 0;  // own changes published, averaged over the minute
  double appliedPerSecond = 0;    // remote changes applied, averaged over the minute
  qint64 pending = 0;             // changes captured, not published yet (at the minute's end)
  qint64 conflicts = 0;           // conflicts resolved during the minute
  qint64 deadLetters = 0;         // dead letters waiting (at the minute's end)
  qint64 dbBytes = 0;
  qint64 walBytes = 0;
  // Per shard: the largest lag in messages and in seconds seen during the minute.
  struct ShardLag {
    qint64 messages = 0;
    double seconds = 0;
  };
  QMap<int, ShardLag> lag;
  qint64 lagMessages() const;  // summed over the shards
  double lagSeconds() const;   // the largest
};

struct AlertLogEntry {
  qint64 atMs = 0;
  QString rule;
  AlertSeverity severity = AlertSeverity::Warning;
  bool firing = false;  // fired (true) or resolved (false)
  double value = 0;
  QString message;
};

// The samples from `sinceMs` on, oldest first. A missing file is an empty history.
Result<QList<HistorySample>> readHistory(const QString& path, qint64 sinceMs);
// The newest `limit` alert transitions, newest first.
Result<QList<AlertLogEntry>> readAlertLog(const QString& path, int limit);

// CSV (RFC 4180, header line, times in RFC 3339 UTC): one line per sample, with
// lag_messages_shard_N and lag_seconds_shard_N for every shard any sample has.
QByteArray historyCsv(const QList<HistorySample>& samples);

}  // namespace hl
