// Engine: the object that lives on the engine thread and owns the node's resources: the
// database connection, the schema catalog, the change log (capture) and the applier.
// Created by EngineThread, moved to its thread; its slots are invoked with queued calls.
#pragma once

#include <QFileSystemWatcher>
#include <QObject>
#include <QTimer>

#include <memory>

#include "harmonylite/config.h"
#include "sqlite/sqlite_db.h"

namespace hl {

class SchemaCatalog;
class ChangeLog;
class Applier;

class Engine final : public QObject {
  Q_OBJECT
 public:
  explicit Engine(Config config);
  ~Engine() override;

 public slots:
  void start();
  void stop();

 signals:
  void started();
  void failed(const QString& reason);
  void stopped();

 private:
  Status openDatabase();
  Status setUpCapture();
  // Wake-up after the database (or its WAL) changed: notices schema changes at once.
  void onDatabaseChanged();
  void watchFiles();
  void runCleanup();

  Config m_config;
  SqliteDb m_db;
  std::unique_ptr<SchemaCatalog> m_catalog;
  std::unique_ptr<ChangeLog> m_changeLog;
  std::unique_ptr<Applier> m_applier;
  QFileSystemWatcher m_watcher;
  QTimer m_wakeCoalescer;  // many file events -> one wake-up
  QTimer m_pollTimer;      // polling_interval, when set
  QTimer m_cleanupTimer;   // cleanup_interval
};

}  // namespace hl
