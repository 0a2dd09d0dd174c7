// Engine: the object that lives on the engine thread and owns the node's resources.
// Created by EngineThread, moved to its thread; its slots are invoked with queued calls.
#pragma once

#include <QObject>

#include "harmonylite/config.h"
#include "sqlite/sqlite_db.h"

namespace hl {

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

  Config m_config;
  SqliteDb m_db;
};

}  // namespace hl
