// DatabaseWatcher: says when the database may have changed, so that the engine looks for new
// local changes and schema changes within milliseconds of a commit
// (docs/replication.md#publishing).
//
// It watches the database file, its -wal file and the folder (the -wal file appears and goes),
// coalesces a burst of file events into one changed(), and looks again 25 ms and 250 ms after
// the last event: the event of a -wal write can come before SQLite makes the commit visible
// (through the memory-mapped -shm, which raises no event), and nothing else would wake the node
// until the next cleanup or poll. With `polling_interval` set it also fires on that timer.
// Thread: the engine thread (its timers and the file-system watcher live there).
#pragma once

#include <QFileSystemWatcher>
#include <QObject>
#include <QString>
#include <QTimer>

namespace hl {

class DatabaseWatcher final : public QObject {
  Q_OBJECT
 public:
  // `dbPath`: the database; `dir`: the folder to watch for the -wal file appearing.
  DatabaseWatcher(QString dbPath, QString dir, QObject* parent = nullptr);

  // Starts watching (what exists now); `pollMs` > 0 adds a timer.
  void start(int pollMs);
  // Stops every timer and removes every watch (idempotent).
  void stop();
  // Fires changed() soon (coalesced with other events); `delayMs` from now at the latest.
  void wakeSoon(int delayMs = 0);

 signals:
  void changed();

 private:
  void watchFiles();
  void onFileEvent();

  QString m_dbPath;
  QString m_dir;
  QFileSystemWatcher m_watcher;
  QTimer m_coalescer;  // many file events -> one changed()
  QTimer m_settle;     // the looks again 25 ms and 250 ms after the last event
  int m_settleStep = 0;
  QTimer m_poll;  // polling_interval, when set
};

}  // namespace hl
