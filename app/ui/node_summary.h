// NodeSummary: the node-wide figures of the Overview page as one small value type, made from
// NodeStatus by the DashboardController (texts preformatted, rates computed). QML reads it as
// `controller.summary.<name>`; it is a copy, never a pointer into the engine.
// Thread: value type, built and read on the GUI thread.
#pragma once

#include <QMetaType>
#include <QObject>
#include <QString>

namespace hl {

struct NodeSummary {
  Q_GADGET
  Q_PROPERTY(bool valid MEMBER valid)
  Q_PROPERTY(QString version MEMBER version)
  Q_PROPERTY(QString uptime MEMBER uptime)
  Q_PROPERTY(QString dbPath MEMBER dbPath)
  Q_PROPERTY(QString dbSize MEMBER dbSize)
  Q_PROPERTY(bool healthy MEMBER healthy)
  Q_PROPERTY(QString unhealthyReason MEMBER unhealthyReason)
  Q_PROPERTY(bool natsConnected MEMBER natsConnected)
  Q_PROPERTY(QString natsServer MEMBER natsServer)
  Q_PROPERTY(QString embeddedServer MEMBER embeddedServer)
  Q_PROPERTY(qlonglong natsReconnects MEMBER natsReconnects)
  Q_PROPERTY(QString schemaHash MEMBER schemaHash)
  Q_PROPERTY(int tablesTracked MEMBER tablesTracked)
  Q_PROPERTY(bool cdcInstalled MEMBER cdcInstalled)
  Q_PROPERTY(qlonglong pendingChanges MEMBER pendingChanges)
  Q_PROPERTY(qlonglong failedChanges MEMBER failedChanges)
  Q_PROPERTY(qlonglong published MEMBER published)
  Q_PROPERTY(qlonglong applied MEMBER applied)
  Q_PROPERTY(qlonglong failedPublishes MEMBER failedPublishes)
  Q_PROPERTY(qlonglong conflicts MEMBER conflicts)
  Q_PROPERTY(qlonglong deadLetters MEMBER deadLetters)
  Q_PROPERTY(double publishRate MEMBER publishRate)
  Q_PROPERTY(double applyRate MEMBER applyRate)
  Q_PROPERTY(qlonglong lagMessages MEMBER lagMessages)
  Q_PROPERTY(double lagSeconds MEMBER lagSeconds)
  Q_PROPERTY(bool publishingPaused MEMBER publishingPaused)
  Q_PROPERTY(int pausedShards MEMBER pausedShards)
  Q_PROPERTY(QString lastPublished MEMBER lastPublished)
  Q_PROPERTY(QString lastReplicated MEMBER lastReplicated)
  Q_PROPERTY(int clusterSize MEMBER clusterSize)

 public:
  bool valid = false;  // false until the first status arrives
  QString version;
  QString uptime;      // "3 h 12 min"
  QString dbPath;
  QString dbSize;      // "12.4 MB (WAL 1.0 MB)"
  bool healthy = false;
  QString unhealthyReason;
  bool natsConnected = false;
  QString natsServer;
  QString embeddedServer;
  qlonglong natsReconnects = 0;
  QString schemaHash;
  int tablesTracked = 0;
  bool cdcInstalled = false;
  qlonglong pendingChanges = 0;
  qlonglong failedChanges = 0;
  qlonglong published = 0;
  qlonglong applied = 0;
  qlonglong failedPublishes = 0;
  qlonglong conflicts = 0;
  qlonglong deadLetters = 0;
  double publishRate = 0;  // changes per second over the last status interval
  double applyRate = 0;
  qlonglong lagMessages = 0;  // summed over the shards
  double lagSeconds = 0;      // the largest of the shards
  bool publishingPaused = false;
  int pausedShards = 0;       // shards whose applying is paused (state "paused")
  QString lastPublished;      // "12 s ago" / "never"
  QString lastReplicated;
  int clusterSize = 0;        // nodes heard from, this one included
};

}  // namespace hl

Q_DECLARE_METATYPE(hl::NodeSummary)
