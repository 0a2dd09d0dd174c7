#include "runtime/wal_checkpointer.h"

#include <pthread.h>

#include "sqlite/sqlite_db.h"

namespace hl {

WalCheckpointer::WalCheckpointer(QString dbPath, int intervalMs)
    : m_dbPath(std::move(dbPath)), m_intervalMs(intervalMs) {}

WalCheckpointer::~WalCheckpointer() {
  stop();
}

Status WalCheckpointer::start() {
  if (m_thread.joinable()) return Status::ok();
  // No busy wait: a passive checkpoint copies what no reader needs and never blocks anyone;
  // what it could not do is done at a later turn.
  auto db = SqliteDb::open(m_dbPath, SqliteDb::Options{false, false, 0});
  if (!db) return db.status().withContext(QStringLiteral("checkpointing %1").arg(m_dbPath));
  // A connection opens the WAL at its first read (sqlite3_open_v2 is lazy): until then a
  // checkpoint does nothing and says -1 frames. The read also proves the file is a database.
  if (auto tables = db->queryInt(QStringLiteral("SELECT count(*) FROM sqlite_schema")); !tables)
    return tables.status().withContext(QStringLiteral("checkpointing %1").arg(m_dbPath));
  m_db = std::make_unique<SqliteDb>(std::move(db.value()));
  {
    std::lock_guard lock(m_mutex);
    m_stop = false;
  }
  m_thread = std::thread([this] { run(); });
  return Status::ok();
}

void WalCheckpointer::stop() {
  {
    std::lock_guard lock(m_mutex);
    m_stop = true;
  }
  m_wake.notify_all();
  if (m_thread.joinable()) m_thread.join();
  m_db.reset();
}

int WalCheckpointer::checkpoints() const {
  std::lock_guard lock(m_mutex);
  return m_checkpoints;
}

void WalCheckpointer::run() {
  pthread_setname_np(pthread_self(), "hl-checkpoint");
  int lastCopied = 0;
  std::unique_lock lock(m_mutex);
  while (
      !m_wake.wait_for(lock, std::chrono::milliseconds(m_intervalMs), [this] { return m_stop; })) {
    lock.unlock();
    int frames = 0, copied = 0;  // in the WAL; copied back, this call or earlier
    const int rc = sqlite3_wal_checkpoint_v2(m_db->handle(), nullptr, SQLITE_CHECKPOINT_PASSIVE,
                                             &frames, &copied);
    lock.lock();
    if (rc == SQLITE_OK && copied > 0 && copied != lastCopied) ++m_checkpoints;
    if (rc == SQLITE_OK) lastCopied = copied;
  }
}

}  // namespace hl
