// NodeStatus: one copyable picture of the node, produced by the engine thread a few times per
// second (never per change) and read by the hosts: the health endpoint, the metrics and the
// dashboard. Value types only: nothing here points into engine objects.
//
// States are enums from the engine to the screen; they become text only at the edges (JSON of
// /health, labels of /metrics, the status record other nodes read, QML labels) through
// stateName(). Enum values start with an upper-case letter so that QML can name them
// (`Hl.ShardState.Running`); their numbers are not stored anywhere and may change.
#pragma once

#include <QList>
#include <QMap>
#include <QMetaType>
#include <QObject>
#include <QString>
#include <QStringList>

#include <algorithm>
#include <cstdint>

namespace hl {
Q_NAMESPACE
// ShardState and ServerState share value names (Running, Stopped): QML reads them scoped only
// (Hl.ShardState.Running), never as Hl.Running.
Q_CLASSINFO("RegisterEnumClassesUnscoped", "false")

// The state of one shard's consumer (replication/consumer.h). Transitions:
//
//   Stopped ──subscribed──▶ Running
//   Running ──stream or subscription error──▶ Stopped (subscribing again every second)
//   Stopped, Running ──next needed message aged out──▶ NeedsRestore
//   Stopped, Running ──operator pause──▶ Paused ──operator resume──▶ Running or Stopped
//   NeedsRestore, any ──a restore from a snapshot starts──▶ Restoring ──done──▶ Running
//   Restoring ──the restore failed──▶ NeedsRestore (or the state it had)
//   Running ──a change from a schema this node cannot apply yet──▶ SchemaPaused
//   SchemaPaused ──the local schema changed──▶ Running (paused again if it still cannot apply)
//
// NeedsRestore is left only by restoring the node from a snapshot (docs/snapshots.md#restoring).
// SchemaPaused is left by applying the schema change on this node (docs/schema-changes.md).
enum class ShardState { Stopped, Running, Paused, NeedsRestore, Restoring, SchemaPaused };
Q_ENUM_NS(ShardState)

// The embedded nats-server child process (nats/embedded_server.h); None when the node uses
// external servers. Transitions: Stopped → Starting → Running; Running → Restarting (it died)
// → Running; Starting or Restarting → Failed (it did not come up); any → Stopped (node stops).
enum class ServerState { None, Stopped, Starting, Running, Restarting, Failed };
Q_ENUM_NS(ServerState)

// What the snapshot worker is doing (docs/snapshots.md). Idle between operations.
enum class SnapshotActivity { Idle, Saving, Uploading, Downloading, Verifying, Restoring };
Q_ENUM_NS(SnapshotActivity)

// How bad a firing alert is (docs/alerts.md): a warning turns the health badge amber, a
// critical alert red.
enum class AlertSeverity { Warning, Critical };
Q_ENUM_NS(AlertSeverity)

// The text of a state at the edges: "stopped", "running", "paused", "needs-restore",
// "restoring", "schema-paused"; "none",
// "stopped", "starting", "running", "restarting", "failed". Parsing goes the other way (the
// status records of other nodes); an unknown text gives `fallback`.
QString stateName(ShardState state);
QString stateName(ServerState state);
// "idle", "saving", "uploading", "downloading", "verifying", "restoring".
QString stateName(SnapshotActivity activity);
// "warning", "critical".
QString stateName(AlertSeverity severity);
ShardState shardStateFromName(const QString& name, ShardState fallback = ShardState::Stopped);
// "1:running 2:needs-restore": the shard states of a node as the status record carries them.
QString shardStatesText(const QList<QPair<int, ShardState>>& states);
QList<QPair<int, ShardState>> shardStatesFromText(const QString& text);

struct ShardStatus {
  int shard = 0;
  QString stream;
  quint64 applied = 0;         // last applied (or skipped) stream sequence
  quint64 received = 0;        // newest sequence delivered to the node
  qint64 lagMessages = 0;      // messages in the stream not applied yet
  quint64 replayOwnUntil = 0;  // after a restore: own messages up to here are applied again
                               // (docs/snapshots.md#how); caught up once applied reaches it
  double lagSeconds = 0;       // age of the oldest message not applied yet (0 when caught up)
  ShardState state = ShardState::Stopped;
  QString lastError;
  qint64 appliedChanges = 0;  // remote changes applied since start
  qint64 conflicts = 0;
  qint64 deadLetters = 0;
  // SchemaPaused (docs/schema-changes.md#pause): the change the shard stopped at.
  QString waitingForHash;        // its schema hash (the sender's)
  uint64_t waitingFromNode = 0;  // its sender
  QString waitingTable;          // its table
  QString waitingReason;         // what this node lacks, e.g. "no column email in Books"
  quint64 waitingSeq = 0;        // its stream sequence
  qint64 waitingSinceMs = 0;     // when the shard paused (epoch ms)
  qint64 redeliveries = 0;       // times that message was delivered again while paused
};

// A column of a watched table as the schema registry carries it (docs/schema-changes.md).
struct SchemaColumn {
  QString name;
  QString type;  // declared type as written, "" when none
  bool notNull = false;
  int pk = 0;  // position in the primary key, 0 = not part of it
};
struct SchemaTable {
  QString name;
  QList<SchemaColumn> columns;  // in declaration order
};

// One entry of the schema registry (KV harmonylite-schema-registry, key node-<id>).
struct SchemaNode {
  uint64_t nodeId = 0;
  QString schemaHash;
  QString previousHash;  // "" when none
  QString version;       // harmonylite_version
  qint64 updatedAtMs = 0;
  bool hasTables = false;     // false for Go nodes: they publish no column lists
  QList<SchemaTable> tables;  // sorted by name
};

// The schema side of the node (docs/schema-changes.md).
struct SchemaStatus {
  QString hash;                // current schema hash of the watched tables
  QString previousHash;        // the one before the last change, "" when none
  QList<SchemaTable> tables;   // this node's watched tables, sorted by name
  QList<SchemaNode> registry;  // every entry of the registry (this node's included)
  qint64 registryReadMs = 0;   // when the registry was last read, 0 = never
  QString registryError;       // why the last read or write failed, "" when it worked
  qint64 changes = 0;          // local schema changes noticed since start
  qint64 lastChangeMs = 0;     // epoch ms of the last one, 0 = none since start
};

struct DeadLetterInfo {
  qint64 id = 0;
  QString at;  // RFC 3339
  QString stream;
  quint64 seq = 0;
  QString reason;
};

struct ConflictInfo {
  qint64 id = 0;
  QString at;
  QString table;
  QString rowKey;
  QString winner;
  QString loser;
  // An insert collision (docs/replication.md#insert-collisions), told when it happens; entries
  // read back from the journal do not say.
  bool insertCollision = false;
};

// A node of the cluster as its last status record told (docs/replication.md#health-endpoint): any
// node shows every node.
struct PeerStatus {
  uint64_t nodeId = 0;
  QString version;
  qint64 lastSeenMs = 0;  // when its record arrived (epoch ms)
  bool healthy = false;
  QString reason;
  QString schemaHash;
  qint64 lagMessages = 0;                     // summed over its shards
  double lagSeconds = 0;                      // the largest of its shards
  QList<QPair<int, ShardState>> shardStates;  // (shard, state) as its record told
};

// One snapshot of the catalogue (docs/snapshots.md#catalogue). Fields a Go-made snapshot does
// not carry are "unknown": 0, -1 or empty as each says.
struct SnapshotInfo {
  QString id;                // "20261130T150102123Z-n1"; "snapshot.db" for a foreign latest
  QString object;            // the store's object name of the database file
  qint64 takenAtMs = 0;      // epoch ms (for a foreign one: the object's time), 0 = unknown
  uint64_t nodeId = 0;       // who took it, 0 = unknown
  QString version;           // program version that took it, "" = unknown
  qint64 sizeBytes = -1;     // -1 = unknown
  QList<quint64> watermark;  // last stream sequence covered, index = shard - 1; empty = unknown
  QString schemaHash;        // "" = unknown
  QString sha256;            // lower-case hex of the file, "" = unknown
  QList<QPair<QString, qint64>> rowCounts;  // (table, rows), empty = unknown
  bool latest = false;      // the one the store's snapshot.db is (what Go nodes restore)
  bool foreign = false;     // made by another program (a Go node): no metadata
  qint64 verifiedAtMs = 0;  // last restore drill, 0 = never
  bool verifiedOk = false;
  QString verifyMessage;  // the drill's result in one line
};

// The snapshot side of the node (docs/snapshots.md): catalogue, lease, schedule, the operation
// under way and its progress, counters for /metrics.
struct SnapshotStatus {
  bool enabled = false;         // [snapshot] enabled
  QString store;                // "nats bucket harmonylite-changes-snapshot-store", no secrets
  QList<SnapshotInfo> catalog;  // newest first
  qint64 catalogReadMs = 0;     // when the catalogue was last read, 0 = never
  QString catalogError;         // why the last read failed, "" when it worked
  uint64_t leaderNodeId = 0;    // holder of the lease, 0 = none or unknown
  qint64 leaderUntilMs = 0;     // the lease runs out at (epoch ms)
  bool isLeader = false;
  qint64 nextScheduledMs = 0;  // next timed snapshot (epoch ms), 0 = none scheduled
  SnapshotActivity activity = SnapshotActivity::Idle;
  QString activityTarget;  // the snapshot id being worked on
  qint64 doneBytes = 0;
  qint64 totalBytes = 0;  // 0 = unknown
  double bytesPerSecond = 0;
  qint64 lastSuccessMs = 0;  // last snapshot saved by this node (epoch ms), 0 = never
  qint64 lastDurationMs = 0;
  qint64 lastSizeBytes = 0;
  QList<QPair<QString, qint64>> failures;  // (kind, count): save, upload, download, verify...
  qint64 restores = 0;                     // restores done since start
  bool restoreUnderWay = false;
  QString lastError;
  // When the newest snapshot of the catalogue was taken (epoch ms), 0 = none or unknown.
  qint64 newestTakenAtMs() const {
    qint64 newest = 0;
    for (const SnapshotInfo& i : catalog) newest = std::max(newest, i.takenAtMs);
    return newest;
  }
};

// The last cross-node consistency check this node ran (docs/consistency.md#in-the-appliance),
// and what it answered to others' checks.
struct ConsistencyTableView {
  QString table;
  bool agree = true;
  QStringList digests;  // "node 1: 30 rows, digest 5f0c..." per node
  struct Row {
    QString key;
    QStringList values;  // "node 1: id=7, qty=2" or "node 2: (no such row)", per node
  };
  QList<Row> rows;
  bool rowsTruncated = false;
  QString locateError;
};
struct ConsistencyStatus {
  bool running = false;    // a check (or a repair) of this node is under way
  qint64 intervalMs = 0;   // consistency.interval (0: no scheduled checks)
  qint64 lastCheckMs = 0;  // when the last one began (epoch ms), 0 = never
  QString verdict;         // "agree", "differ", "busy" (not comparable), "error"; "" = never
  QString reason;
  QString positions;  // "stream=position ..." compared at
  int tablesChecked = 0;
  int tablesDiffering = 0;
  int rowsDiffering = 0;
  qint64 elapsedMs = 0;
  int messages = 0;
  QMap<quint64, QString> nodes;  // node -> "agrees", "differs in T", "not comparable: ..."
  QList<ConsistencyTableView> tables;
  QString lastRepair;  // what the last repair did ("" = none)
  // This node's answers to checks (any requester), since start.
  qint64 holdsAnswered = 0;
  qint64 holdsBusy = 0;
  qint64 badRequests = 0;
  qint64 repairsDone = 0;
  qint64 longestHoldMs = 0;  // the longest its applier waited for a check
};

// One alert rule and where it stands (docs/alerts.md). Rules with a threshold of 0 are off and
// not listed.
struct AlertInfo {
  QString rule;  // "lag_seconds", ..., "shard_stopped", "duplicate_node_id"
  AlertSeverity severity = AlertSeverity::Warning;
  bool firing = false;
  bool pending = false;  // the condition holds, not yet for alerts.hold_seconds
  double value = 0;      // the figure the rule looks at, now (or when it resolved)
  double threshold = 0;  // the configured threshold; 1 for the states that are always alerts
  qint64 sinceMs = 0;    // firing since (pending since, while pending), epoch ms; 0 = neither
  QString message;       // what is wrong, in one sentence: "shard 2 lags 75 s behind ..."
};

struct NodeStatus {
  uint64_t nodeId = 0;
  QString version;
  qint64 uptimeSeconds = 0;
  QString dbPath;
  qint64 dbSizeBytes = 0;
  qint64 walSizeBytes = 0;
  bool dbConnected = false;
  bool natsConnected = false;
  QString natsServer;                              // connected URL
  ServerState embeddedServer = ServerState::None;  // None when external servers are used
  bool cdcInstalled = false;  // capture triggers installed (or publish = false)
  int tablesTracked = 0;
  QString schemaHash;  // = schema.hash
  SchemaStatus schema;
  qint64 pendingChanges = 0;    // captured, not published yet
  qint64 failedChanges = 0;     // moved to the failed state (too large)
  qint64 published = 0;         // since start
  qint64 failedPublishes = 0;   // publish attempts that failed and were retried, since start
  qint64 natsReconnects = 0;    // since start
  qint64 lastPublishedMs = 0;   // epoch ms, 0 = never
  qint64 lastReplicatedMs = 0;  // epoch ms, 0 = never
  QList<ShardStatus> shards;
  bool publishingPaused = false;
  qint64 deadLetterCount = 0;               // rows in the dead-letter table
  qint64 conflictCount = 0;                 // rows in the conflict journal
  QList<DeadLetterInfo> recentDeadLetters;  // newest first, at most 20
  QList<ConflictInfo> recentConflicts;      // newest first, at most 20
  // Inserts of one key by two nodes that had not seen each other's, found by this node since
  // start (its own insert was the later one), by table (docs/replication.md#insert-collisions).
  QMap<QString, qint64> insertCollisions;
  qint64 insertCollisionTotal() const {
    qint64 n = 0;
    for (qint64 v : insertCollisions) n += v;
    return n;
  }
  QList<PeerStatus> cluster;  // every node heard from (this one included)
  ConsistencyStatus consistency;
  // The durability guard (docs/replication.md#durability): streams found to have lost
  // acknowledged messages (gone back below what this node applied, or re-created) since start.
  qint64 streamIncidents = 0;
  QString lastStreamIncident;  // what was found and what the node did, "" when none
  qint64 lastStreamIncidentMs = 0;
  // Streams read again because the server this node's consumer read from had delivered other
  // messages than the stream holds under positions it applied (nothing lost from the stream,
  // nothing published again), since start; the last one, and when.
  qint64 streamRereads = 0;
  QString lastStreamReread;
  qint64 lastStreamRereadMs = 0;
  // Own published changes kept to be published again after such a loss, until a snapshot or
  // [replication_log] keep_published covers them; how old the oldest ack among them is; and
  // how many went before they were covered (beyond max_entries x shards), since start.
  qint64 keptChanges = 0;
  double keptOldestAgeSeconds = 0;  // 0 when none is kept
  qint64 keptDroppedUncovered = 0;
  // How long this node's own write transactions (applying, publish marks, cleanup) held
  // SQLite's write lock, over its last 4096 transactions, in seconds: what an application
  // writing at that moment waits for (docs/replication.md#write-lock).
  double writeLockP50Seconds = 0;
  double writeLockP99Seconds = 0;
  double writeLockMaxSeconds = 0;
  int writeLockSamples = 0;
  SnapshotStatus snapshots;
  QList<AlertInfo> alerts;  // every rule that is on, in the order of docs/alerts.md
  // The worst severity among the firing alerts; -1 when none fires.
  int worstAlert() const {
    int worst = -1;
    for (const AlertInfo& a : alerts)
      if (a.firing) worst = std::max(worst, int(a.severity));
    return worst;
  }
  bool healthy = false;
  QString unhealthyReason;  // why not healthy: the first failing check
};

// Something that happened in the engine, told once as it happens (EngineThread::event), so
// that a host lists it without rediscovering it by comparing status copies.
struct EngineEvent {
  enum class Kind {
    NatsConnected,  // text: the server's URL
    NatsDisconnected,
    ServerStateChanged,  // serverState: the embedded nats-server's new state
    HealthChanged,       // healthy, and text: the reason when unhealthy
    PublishingPaused,
    PublishingResumed,
    ShardStateChanged,   // shard, shardState, text: the reason
    ShardError,          // shard, text: an error that did not change the shard's state
    DeadLettered,        // deadLetter
    DeadLetterClosed,    // deadLetter.id: retried with success, or discarded
    ConflictRecorded,    // conflict
    SnapshotFinished,    // activity (the operation), healthy (it worked), text: what happened
    SchemaChanged,       // text: "<old hash> -> <new hash>" of this node's schema
    ConsistencyChecked,  // healthy: the nodes agree (or were not comparable), text: the result
    AlertFired,          // alert: the rule, its value and message
    AlertResolved,       // alert: the rule, and its value when it resolved
  };
  // One factory per kind that carries data; of() for the others.
  static EngineEvent of(Kind kind);
  static EngineEvent natsConnected(const QString& url);
  static EngineEvent serverStateChanged(ServerState state);
  static EngineEvent healthChanged(bool healthy, const QString& reason);
  static EngineEvent shardStateChanged(int shard, ShardState state, const QString& reason);
  static EngineEvent shardError(int shard, const QString& error);
  static EngineEvent deadLettered(const DeadLetterInfo& letter);
  static EngineEvent deadLetterClosed(qint64 id);
  static EngineEvent conflictRecorded(const ConflictInfo& conflict);
  static EngineEvent snapshotFinished(SnapshotActivity operation, bool ok, const QString& text);
  static EngineEvent alertChanged(const AlertInfo& alert);  // AlertFired or AlertResolved

  Kind kind = Kind::HealthChanged;
  int shard = 0;
  ShardState shardState = ShardState::Stopped;
  ServerState serverState = ServerState::None;
  SnapshotActivity activity = SnapshotActivity::Idle;
  bool healthy = false;
  QString text;
  DeadLetterInfo deadLetter;
  ConflictInfo conflict;
  AlertInfo alert;
};

}  // namespace hl

Q_DECLARE_METATYPE(hl::NodeStatus)
Q_DECLARE_METATYPE(hl::EngineEvent)
Q_DECLARE_METATYPE(hl::DeadLetterInfo)
Q_DECLARE_METATYPE(hl::ConflictInfo)
Q_DECLARE_METATYPE(hl::SnapshotInfo)
