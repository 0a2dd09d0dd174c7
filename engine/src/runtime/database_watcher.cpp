#include "runtime/database_watcher.h"

#include <QFileInfo>

namespace hl {

DatabaseWatcher::DatabaseWatcher(QString dbPath, QString dir, QObject* parent)
    : QObject(parent),
      m_dbPath(std::move(dbPath)),
      m_dir(std::move(dir)),
      m_watcher(this),
      m_coalescer(this),
      m_settle(this),
      m_poll(this) {
  m_coalescer.setSingleShot(true);
  connect(&m_coalescer, &QTimer::timeout, this, &DatabaseWatcher::changed);
  m_settle.setSingleShot(true);
  connect(&m_settle, &QTimer::timeout, this, [this] {
    emit changed();
    if (m_settleStep++ == 0) m_settle.start(225);
  });
  connect(&m_watcher, &QFileSystemWatcher::fileChanged, this, &DatabaseWatcher::onFileEvent);
  connect(&m_watcher, &QFileSystemWatcher::directoryChanged, this, [this] {
    watchFiles();  // the -wal file may have appeared
    onFileEvent();
  });
  connect(&m_poll, &QTimer::timeout, this, &DatabaseWatcher::changed);
}

void DatabaseWatcher::start(int pollMs) {
  watchFiles();
  if (pollMs > 0) m_poll.start(pollMs);
}

void DatabaseWatcher::stop() {
  m_poll.stop();
  m_coalescer.stop();
  m_settle.stop();
  if (const QStringList watched = m_watcher.files() + m_watcher.directories(); !watched.isEmpty())
    m_watcher.removePaths(watched);  // (Qt warns on an empty list: a node that failed to start)
}

void DatabaseWatcher::wakeSoon(int delayMs) {
  m_coalescer.start(delayMs);
}

void DatabaseWatcher::watchFiles() {
  for (const QString& p : {m_dir, m_dbPath, m_dbPath + "-wal"})
    if (QFileInfo::exists(p) && !m_watcher.files().contains(p) &&
        !m_watcher.directories().contains(p))
      m_watcher.addPath(p);
}

void DatabaseWatcher::onFileEvent() {
  if (!m_coalescer.isActive()) m_coalescer.start(0);
  m_settleStep = 0;
  m_settle.start(25);
}

}  // namespace hl
