// The Schema page's list models (docs/dashboard.md#schema-page), fed from NodeStatus::schema and
// NodeStatus::shards by the DashboardController a few times per second:
//
//   SchemaNodeModel   every node of the schema registry (and the nodes of the cluster view that
//                     are missing from it, with an unknown hash), grouped by schema hash: the
//                     largest group first, this node's group first among equals, unknown hashes
//                     last; node ids ascending within a group.
//   SchemaDiffModel   what differs between this node's watched tables and those of one other
//                     node (diffSchemas(), harmonylite/schema_diff.h), with the text the page
//                     shows instead when there is nothing to list.
//   SchemaPauseModel  the shards paused on a change from a schema this node lacks
//                     (ShardState::SchemaPaused): what they wait for and since when.
//
// Each keeps its rows when their keys stay the same (node ids, differences, shard numbers) and
// signals dataChanged only for rows whose shown values changed, so an unchanged status signals
// nothing; any other change resets the list. QML sees them as SchemaNodeModel, SchemaDiffModel
// and SchemaPauseModel of the module HarmonyLite.Backend (controller.schemaNodes,
// controller.schemaDiff, controller.schemaPauses). Thread: GUI thread only.
#pragma once

#include <QtQml/qqmlregistration.h>
#include <QAbstractListModel>
#include <QList>
#include <QStringList>

#include "harmonylite/engine_state.h"
#include "harmonylite/schema_diff.h"

namespace hl {

// Not `final`: Qt 6.4's QML registration derives a class from every default-constructible
// registered type (QQmlElement<T>), uncreatable or not.
class SchemaNodeModel : public QAbstractListModel {
  Q_OBJECT
  QML_ELEMENT
  QML_UNCREATABLE("the DashboardController's schemaNodes")
  Q_PROPERTY(int count READ rowCount NOTIFY countChanged)
  Q_PROPERTY(int groups READ groups NOTIFY countChanged)
  Q_PROPERTY(int differing READ differing NOTIFY countChanged)
  // The ids of the other nodes, in row order: what the page's "compare with" chooser offers.
  Q_PROPERTY(QStringList otherNodeIds READ otherNodeIds NOTIFY countChanged)
 public:
  enum Role {
    kNodeIdRole = Qt::UserRole + 1,  // "3"
    kSchemaHashRole,                 // full hash, "" = unknown
    kSchemaHashShortRole,            // its first 12 characters, or "unknown"
    kPreviousHashRole,               // full, "" = none
    kPreviousHashShortRole,          // first 12 characters, or "none"
    kVersionRole,                    // or "unknown"
    kUpdatedAtMsRole,                // epoch ms (a double), 0 = unknown
    kUpdatedAtRole,                  // "12 s ago", "never"
    kIsSelfRole,
    kInRegistryRole,   // false: heard of through the cluster view only
    kHasTablesRole,    // false for Go nodes (no column list) and nodes missing from the registry
    kTablesRole,       // "3 tables", "no column list (Go node)", "not in the registry"
    kGroupRole,        // index of its hash group, 0 = the first (largest) group
    kGroupSizeRole,    // nodes in its group
    kGroupStartRole,   // the first row of its group (where the page puts the group's title)
    kIsMajorityRole,   // its hash is held by more nodes than any other hash (ties: no majority)
    kMatchesSelfRole,  // its hash is known and equal to this node's
  };
  Q_ENUM(Role)

  using QAbstractListModel::QAbstractListModel;

  int rowCount(const QModelIndex& parent = QModelIndex()) const override;
  QVariant data(const QModelIndex& index, int role) const override;
  QHash<int, QByteArray> roleNames() const override;

  // Takes the registry (status.schema.registry) and the cluster view (status.cluster: its nodes
  // missing from the registry are listed with an unknown hash); this node (status.nodeId) is
  // shown with its own current hash (status.schema.hash), also when the registry does not hold
  // it (yet). `nowMs` is the wall clock for "12 s ago".
  void update(const NodeStatus& status, qint64 nowMs);

  // Groups of known hashes, and nodes whose known hash differs from this node's.
  int groups() const { return m_groups; }
  int differing() const { return m_differing; }
  QStringList otherNodeIds() const;
  // The node ids in row order, and the rows' hashes (for the controller's default comparison).
  QList<uint64_t> nodeIds() const;
  QString hashOf(uint64_t nodeId) const;
  bool hasTables(uint64_t nodeId) const;

 signals:
  void countChanged();

 private:
  struct Row {
    uint64_t nodeId = 0;
    QString hash;
    QString previousHash;
    QString version;
    qint64 updatedAtMs = 0;
    QString updatedAt;
    bool isSelf = false;
    bool inRegistry = true;
    bool hasTables = false;
    int tableCount = 0;
    int group = 0;
    int groupSize = 0;
    bool groupStart = false;
    bool isMajority = false;
    bool matchesSelf = false;
    bool operator==(const Row&) const = default;
  };

  QList<Row> m_rows;
  uint64_t m_self = 0;
  int m_groups = 0;
  int m_differing = 0;
};

class SchemaDiffModel : public QAbstractListModel {
  Q_OBJECT
  QML_ELEMENT
  QML_UNCREATABLE("the DashboardController's schemaDiff")
  Q_PROPERTY(int count READ rowCount NOTIFY countChanged)
  // The node compared with ("" = none) and what the page says when there is no row.
  Q_PROPERTY(QString nodeId READ nodeId NOTIFY subjectChanged)
  Q_PROPERTY(QString emptyText READ emptyText NOTIFY subjectChanged)
 public:
  enum Role {
    kTableRole = Qt::UserRole + 1,
    kColumnRole,       // "" for a whole table
    kKindRole,         // differenceKindText(): "column missing here", "type changed", ...
    kHereRole,         // this node's side in words ("TEXT NOT NULL", "-")
    kThereRole,        // the other node's side
    kMissingHereRole,  // this node lacks the table or column (what pauses a shard)
  };
  Q_ENUM(Role)

  using QAbstractListModel::QAbstractListModel;

  int rowCount(const QModelIndex& parent = QModelIndex()) const override;
  QVariant data(const QModelIndex& index, int role) const override;
  QHash<int, QByteArray> roleNames() const override;

  // The differences with node `nodeId` (0 = none: `differences` is then empty) and the text
  // shown instead of an empty list ("" when there are rows).
  void update(uint64_t nodeId, const QList<SchemaDifference>& differences,
              const QString& emptyText);

  QString nodeId() const { return m_nodeId ? QString::number(m_nodeId) : QString(); }
  QString emptyText() const { return m_emptyText; }

 signals:
  void countChanged();
  void subjectChanged();

 private:
  struct Row {
    QString table;
    QString column;
    QString kind;
    QString here;
    QString there;
    bool missingHere = false;
    bool operator==(const Row&) const = default;
  };

  QList<Row> m_rows;
  uint64_t m_nodeId = 0;
  QString m_emptyText;
};

class SchemaPauseModel : public QAbstractListModel {
  Q_OBJECT
  QML_ELEMENT
  QML_UNCREATABLE("the DashboardController's schemaPauses")
  Q_PROPERTY(int count READ rowCount NOTIFY countChanged)
 public:
  enum Role {
    kShardRole = Qt::UserRole + 1,
    kWaitingForHashRole,       // full, "" = unknown
    kWaitingForHashShortRole,  // first 12 characters, or "unknown"
    kWaitingFromNodeRole,      // "2" or "unknown"
    kWaitingTableRole,         // or "unknown"
    kWaitingReasonRole,        // "no column email in Books", "" = not given
    kWaitingSeqRole,           // the stream sequence it stopped at (a double)
    kWaitingMessagesRole,      // messages not applied behind it (lagMessages, a double)
    kSinceMsRole,              // epoch ms (a double), 0 = unknown
    kSinceRole,                // "for 3 min", "unknown"
    kRedeliveriesRole,         // a double
  };
  Q_ENUM(Role)

  using QAbstractListModel::QAbstractListModel;

  int rowCount(const QModelIndex& parent = QModelIndex()) const override;
  QVariant data(const QModelIndex& index, int role) const override;
  QHash<int, QByteArray> roleNames() const override;

  // Takes every shard and keeps those in ShardState::SchemaPaused, by shard number.
  void update(const QList<ShardStatus>& shards, qint64 nowMs);

 signals:
  void countChanged();

 private:
  struct Row {
    ShardStatus shard;
    QString since;
  };
  static bool sameShown(const Row& a, const Row& b);

  QList<Row> m_rows;
};

// The Overview's one line while shards wait for a schema this node lacks ("" when none does):
// "Shard 1 waits for schema 3fa2b1c4d5e6…, sent by node 2 (no column email in Books). Apply the
// same schema change on this node to resume."
QString schemaPauseText(const QList<ShardStatus>& shards);

// The Schema page's warning about this node's watched tables without a declared primary key
// (docs/replication.md#applying, "Concurrent inserts"): they replicate by rowid, which every
// node assigns on its own. "" when every table has a declared key.
QString keylessTablesText(const QList<SchemaTable>& tables);
// "for 12 s", "for 3 min", "for 2 h"; "unknown" for 0.
QString forText(qint64 sinceMs, qint64 nowMs);
// The first 12 characters of a hash, `empty` for "".
QString shortHashText(const QString& hash, const QString& empty = QStringLiteral("unknown"));

}  // namespace hl
