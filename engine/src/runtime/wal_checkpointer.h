// Checkpoints the node's database from a thread and a connection of its own, so that the
// engine's thread (which publishes and applies) never waits for a checkpoint's copy and fsync
// inside one of its commits (docs/replication.md#performance).
#pragma once

#include <QString>

#include <memory>

#include <condition_variable>
#include <mutex>
#include <thread>

#include "harmonylite/status.h"

namespace hl {

class SqliteDb;

class WalCheckpointer {
 public:
  // Every `intervalMs`, a passive checkpoint of `dbPath`: it copies what the WAL holds beyond
  // what was copied (nothing to do costs a look at the WAL index, no fsync) and never blocks a
  // reader or a writer.
  explicit WalCheckpointer(QString dbPath, int intervalMs = 200);
  ~WalCheckpointer();  // stop()
  WalCheckpointer(const WalCheckpointer&) = delete;
  WalCheckpointer& operator=(const WalCheckpointer&) = delete;

  // Opens the checkpointing connection and starts the thread; an error leaves nothing running.
  Status start();
  void stop();
  // Checkpoints that copied frames back, since start().
  int checkpoints() const;

 private:
  void run();

  const QString m_dbPath;
  const int m_intervalMs;
  mutable std::mutex m_mutex;
  std::condition_variable m_wake;
  bool m_stop = false;
  int m_checkpoints = 0;
  std::unique_ptr<SqliteDb> m_db;  // used by the thread only once it runs
  std::thread m_thread;
};

}  // namespace hl
