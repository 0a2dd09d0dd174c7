// NodeSummary: the node-wide figures of the Overview page as one small value type, made from
// NodeStatus by the DashboardController (texts preformatted, rates computed). QML reads it as
// `controller.summary.<name>` (the value type nodeSummary of the module HarmonyLite.Backend);
// it is a copy, never a pointer into the engine. States are enums (embeddedServer is a
// ServerState, compared as Hl.ServerState.Running); embeddedServerText is its word for a label.
// The schema* figures head the Schema page (the nodes, the differences and the paused shards are
// its list models, schema_model.h); schemaBanner is the Overview's line while a shard waits for
// a schema this node lacks.
// SnapshotSummary: the same for the header of the Snapshots page (store, lease, schedule, the
// operation under way and its progress) and the Overview's "Newest snapshot" tile, read as
// `controller.snapshotSummary.<name>` (the value type snapshotSummary); the catalogue itself is
// the SnapshotModel. `activity` is a SnapshotActivity (Hl.SnapshotActivity.Saving).
// Thread: value types, built and read on the GUI thread.
#pragma once

#include <QtQml/qqmlregistration.h>
#include <QMetaType>
#include <QObject>
#include <QString>

#include "harmonylite/engine_state.h"

namespace hl {

struct NodeSummary {
  Q_GADGET
  QML_VALUE_TYPE(nodeSummary)
  Q_PROPERTY(bool valid MEMBER valid)
  Q_PROPERTY(QString version MEMBER version)
  Q_PROPERTY(QString uptime MEMBER uptime)
  Q_PROPERTY(QString dbPath MEMBER dbPath)
  Q_PROPERTY(QString dbSize MEMBER dbSize)
  Q_PROPERTY(bool healthy MEMBER healthy)
  Q_PROPERTY(QString unhealthyReason MEMBER unhealthyReason)
  Q_PROPERTY(bool natsConnected MEMBER natsConnected)
  Q_PROPERTY(QString natsServer MEMBER natsServer)
  Q_PROPERTY(hl::ServerState embeddedServer MEMBER embeddedServer)
  Q_PROPERTY(QString embeddedServerText READ embeddedServerText)
  Q_PROPERTY(double natsReconnects MEMBER natsReconnects)
  Q_PROPERTY(QString schemaHash MEMBER schemaHash)
  Q_PROPERTY(int tablesTracked MEMBER tablesTracked)
  Q_PROPERTY(bool cdcInstalled MEMBER cdcInstalled)
  Q_PROPERTY(double pendingChanges MEMBER pendingChanges)
  Q_PROPERTY(double failedChanges MEMBER failedChanges)
  Q_PROPERTY(double published MEMBER published)
  Q_PROPERTY(double applied MEMBER applied)
  Q_PROPERTY(double failedPublishes MEMBER failedPublishes)
  Q_PROPERTY(double conflicts MEMBER conflicts)
  Q_PROPERTY(double insertCollisions MEMBER insertCollisions)
  Q_PROPERTY(double deadLetters MEMBER deadLetters)
  Q_PROPERTY(double publishRate MEMBER publishRate)
  Q_PROPERTY(double applyRate MEMBER applyRate)
  Q_PROPERTY(double lagMessages MEMBER lagMessages)
  Q_PROPERTY(double lagSeconds MEMBER lagSeconds)
  Q_PROPERTY(bool publishingPaused MEMBER publishingPaused)
  Q_PROPERTY(int pausedShards MEMBER pausedShards)
  Q_PROPERTY(QString lastPublished MEMBER lastPublished)
  Q_PROPERTY(QString lastReplicated MEMBER lastReplicated)
  Q_PROPERTY(int clusterSize MEMBER clusterSize)
  Q_PROPERTY(QString previousSchemaHash MEMBER previousSchemaHash)
  Q_PROPERTY(int schemaPausedShards MEMBER schemaPausedShards)
  Q_PROPERTY(bool schemaAgreement MEMBER schemaAgreement)
  Q_PROPERTY(QString schemaBanner MEMBER schemaBanner)
  Q_PROPERTY(QString schemaRegistryRead MEMBER schemaRegistryRead)
  Q_PROPERTY(QString schemaRegistryError MEMBER schemaRegistryError)
  Q_PROPERTY(QString schemaKeyless MEMBER schemaKeyless)
  Q_PROPERTY(double schemaChanges MEMBER schemaChanges)
  Q_PROPERTY(QString schemaLastChange MEMBER schemaLastChange)
  Q_PROPERTY(int alertLevel MEMBER alertLevel)
  Q_PROPERTY(int alertsFiring MEMBER alertsFiring)
  Q_PROPERTY(QString alertText MEMBER alertText)

 public:
  // Counts are doubles: what a QML number is (exact to 2^53), and Qt 6.4's qmllint knows no
  // 64-bit integer type to check a qlonglong property with.
  bool valid = false;  // false until the first status arrives
  QString version;
  QString uptime;  // "3 h 12 min"
  QString dbPath;
  QString dbSize;  // "12.4 MB (WAL 1.0 MB)"
  bool healthy = false;
  QString unhealthyReason;
  bool natsConnected = false;
  QString natsServer;
  ServerState embeddedServer = ServerState::None;  // None: external servers
  double natsReconnects = 0;
  QString schemaHash;
  int tablesTracked = 0;
  bool cdcInstalled = false;
  double pendingChanges = 0;
  double failedChanges = 0;
  double published = 0;
  double applied = 0;
  double failedPublishes = 0;
  double conflicts = 0;
  double insertCollisions = 0;  // found by this node since start, every table
  double deadLetters = 0;
  double publishRate = 0;  // changes per second over the last status interval
  double applyRate = 0;
  double lagMessages = 0;  // summed over the shards
  double lagSeconds = 0;   // the largest of the shards
  bool publishingPaused = false;
  int pausedShards = 0;   // shards whose applying is paused (ShardState::Paused)
  QString lastPublished;  // "12 s ago" / "never"
  QString lastReplicated;
  int clusterSize = 0;  // nodes heard from, this one included
  // The schema side (docs/dashboard.md#schema-page).
  QString previousSchemaHash;   // the one before this node's last change, "" = none
  int schemaPausedShards = 0;   // shards waiting for a schema this node lacks (SchemaPaused)
  bool schemaAgreement = true;  // every hash of the registry is this node's (true when empty)
  QString schemaBanner;         // schemaPauseText(): the Overview's line, "" when none waits
  QString schemaRegistryRead;   // "12 s ago" / "never"
  QString schemaRegistryError;  // why the last read or write of the registry failed, ""
  QString schemaKeyless;        // keylessTablesText(): tables without a declared key, ""
  double schemaChanges = 0;     // local schema changes noticed since start
  QString schemaLastChange;     // "3 min ago" / "never"
  // Alerts (docs/alerts.md): the worst severity firing (-1 none, 0 warning, 1 critical), how
  // many fire, and their messages, one per line ("lag_seconds: shard 2 lags ...").
  int alertLevel = -1;
  int alertsFiring = 0;
  QString alertText;

  // "running", "restarting", ... as /health writes it; empty for None (external servers).
  QString embeddedServerText() const {
    return embeddedServer == ServerState::None ? QString() : stateName(embeddedServer);
  }
};

struct SnapshotSummary {
  Q_GADGET
  QML_VALUE_TYPE(snapshotSummary)
  Q_PROPERTY(bool valid MEMBER valid)
  Q_PROPERTY(bool enabled MEMBER enabled)
  Q_PROPERTY(QString store MEMBER store)
  Q_PROPERTY(int count MEMBER count)
  Q_PROPERTY(QString catalogError MEMBER catalogError)
  Q_PROPERTY(QString catalogRead MEMBER catalogRead)
  Q_PROPERTY(bool isLeader MEMBER isLeader)
  Q_PROPERTY(QString leader MEMBER leader)
  Q_PROPERTY(QString leaderNode MEMBER leaderNode)
  Q_PROPERTY(QString leaderUntil MEMBER leaderUntil)
  Q_PROPERTY(QString nextScheduled MEMBER nextScheduled)
  Q_PROPERTY(hl::SnapshotActivity activity MEMBER activity)
  Q_PROPERTY(QString activityText READ activityText)
  Q_PROPERTY(bool busy READ busy)
  Q_PROPERTY(QString activityTarget MEMBER activityTarget)
  Q_PROPERTY(double doneBytes MEMBER doneBytes)
  Q_PROPERTY(double totalBytes MEMBER totalBytes)
  Q_PROPERTY(double percent MEMBER percent)
  Q_PROPERTY(QString rate MEMBER rate)
  Q_PROPERTY(QString progress MEMBER progress)
  Q_PROPERTY(QString lastError MEMBER lastError)
  Q_PROPERTY(QString lastSaved MEMBER lastSaved)
  Q_PROPERTY(QString newestId MEMBER newestId)
  Q_PROPERTY(QString newestAge MEMBER newestAge)
  Q_PROPERTY(double newestAgeSeconds MEMBER newestAgeSeconds)
  Q_PROPERTY(QString newestBy MEMBER newestBy)
  Q_PROPERTY(bool restoreUnderWay MEMBER restoreUnderWay)
  Q_PROPERTY(double restores MEMBER restores)

 public:
  bool valid = false;  // false until the first status arrives
  bool enabled = false;
  QString store;         // "nats bucket harmonylite-changes-snapshot-store"
  int count = 0;         // entries in the catalogue
  QString catalogError;  // why the last read of the catalogue failed, "" when it worked
  QString catalogRead;   // "12 s ago" / "never"
  bool isLeader = false;
  QString leader;         // "this node", "node 2 until 15:01:02", "none"
  QString leaderNode;     // "2", "" = none
  QString leaderUntil;    // "15:01:02", "" = none
  QString nextScheduled;  // "15:30:00 (in 12 min 3 s)", "none scheduled"
  SnapshotActivity activity = SnapshotActivity::Idle;
  QString activityTarget;  // the snapshot being worked on
  double doneBytes = 0;
  double totalBytes = 0;  // 0 = unknown
  double percent = -1;    // 0..100, -1 = unknown (no total)
  QString rate;           // "2.1 MB/s", "" = unknown
  QString progress;       // "12.4 MB of 40.0 MB (31%) · 2.1 MB/s"
  QString lastError;
  QString lastSaved;             // by this node: "3 min ago" / "never"
  QString newestId;              // newest entry of the catalogue, "" = none
  QString newestAge;             // "3 min ago", "none" (empty catalogue), "unknown" (no time)
  double newestAgeSeconds = -1;  // -1 = none or unknown
  QString newestBy;              // "node 2", "unknown"
  bool restoreUnderWay = false;
  double restores = 0;  // since start

  QString activityText() const { return stateName(activity); }  // "saving"
  bool busy() const { return activity != SnapshotActivity::Idle; }
};

}  // namespace hl

Q_DECLARE_METATYPE(hl::NodeSummary)
Q_DECLARE_METATYPE(hl::SnapshotSummary)
