#include "schema_model.h"

#include <QHash>
#include <QSet>
#include <QStringList>

#include <algorithm>
#include <optional>

#include "cluster_model.h"  // agoText

namespace hl {

namespace {

const QString kNotKnown = QStringLiteral("unknown");

// The rows whose shown values changed, when `next` has the same keys in the same order as
// `rows`; nullopt when the list itself changed (the model then resets).
template <typename Row, typename Key, typename Same>
std::optional<QList<int>> changedRows(const QList<Row>& rows, const QList<Row>& next, Key key,
                                      Same same) {
  if (rows.size() != next.size()) return std::nullopt;
  QList<int> changed;
  for (qsizetype i = 0; i < rows.size(); ++i) {
    if (key(rows[i]) != key(next[i])) return std::nullopt;
    if (!same(rows[i], next[i])) changed << int(i);
  }
  return changed;
}

// One dataChanged per changed row (rows change one at a time: a clock text, a hash).
void emitChanged(QAbstractListModel* model, const QList<int>& rows) {
  for (int r : rows) emit model->dataChanged(model->index(r), model->index(r));
}

}  // namespace

QString forText(qint64 sinceMs, qint64 nowMs) {
  if (sinceMs <= 0) return kNotKnown;
  const qint64 s = std::max<qint64>(0, (nowMs - sinceMs) / 1000);
  if (s < 120) return QStringLiteral("for %1 s").arg(s);
  if (s < 7200) return QStringLiteral("for %1 min").arg(s / 60);
  return QStringLiteral("for %1 h").arg(s / 3600);
}

QString shortHashText(const QString& hash, const QString& empty) {
  return hash.isEmpty() ? empty : hash.left(12);
}

QString keylessTablesText(const QList<SchemaTable>& tables) {
  QStringList names;
  for (const SchemaTable& t : tables) {
    const bool keyed = std::any_of(t.columns.begin(), t.columns.end(),
                                   [](const SchemaColumn& c) { return c.pk > 0; });
    if (!keyed) names << t.name;
  }
  if (names.isEmpty()) return {};
  const QString which =
      names.size() == 1
          ? QStringLiteral("Table %1 has no declared primary key: it replicates").arg(names.first())
          : QStringLiteral(
                "%1 tables have no declared primary key (%2): they "
                "replicate")
                .arg(names.size())
                .arg(names.join(QStringLiteral(", ")));
  return which + QStringLiteral(
                     " by rowid, which every node assigns on its own, so rows inserted on two "
                     "nodes at once collide: the later one moves to a new rowid (keep-both), or "
                     "is lost under last-writer-wins. Give such a table a primary key that "
                     "cannot collide: a random one, or one that includes the node.");
}

QString schemaPauseText(const QList<ShardStatus>& shards) {
  QList<const ShardStatus*> paused;
  for (const ShardStatus& s : shards)
    if (s.state == ShardState::SchemaPaused) paused << &s;
  if (paused.isEmpty()) return {};
  std::sort(paused.begin(), paused.end(),
            [](const ShardStatus* a, const ShardStatus* b) { return a->shard < b->shard; });
  const ShardStatus& first = *paused.first();
  bool oneSchema = true;
  for (const ShardStatus* s : paused)
    oneSchema = oneSchema && s->waitingForHash == first.waitingForHash;
  const QString schema = first.waitingForHash.isEmpty()
                             ? QStringLiteral("a schema this node lacks")
                             : QStringLiteral("schema %1…").arg(first.waitingForHash.left(12));
  const QString sender = first.waitingFromNode
                             ? QStringLiteral("node %1").arg(first.waitingFromNode)
                             : QStringLiteral("an unknown node");
  if (paused.size() == 1 || oneSchema) {
    QStringList numbers;
    for (const ShardStatus* s : paused) numbers << QString::number(s->shard);
    QString text = paused.size() == 1 ? QStringLiteral("Shard %1 waits").arg(first.shard)
                                      : QStringLiteral("Shards %1 wait").arg(numbers.join(", "));
    text += QStringLiteral(" for %1, sent by %2").arg(schema, sender);
    if (!first.waitingReason.isEmpty()) text += QStringLiteral(" (%1)").arg(first.waitingReason);
    return text + QStringLiteral(". Apply the same schema change on this node to resume.");
  }
  QString text = QStringLiteral(
                     "%1 shards wait for schema changes this node lacks (shard %2: %3, "
                     "sent by %4")
                     .arg(paused.size())
                     .arg(first.shard)
                     .arg(schema, sender);
  if (!first.waitingReason.isEmpty()) text += QStringLiteral(", ") + first.waitingReason;
  return text + QStringLiteral("). Apply the same schema changes on this node to resume.");
}

// ---- SchemaNodeModel ----------------------------------------------------------------------------

int SchemaNodeModel::rowCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : int(m_rows.size());
}

QVariant SchemaNodeModel::data(const QModelIndex& index, int role) const {
  if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
    return {};
  const Row& r = m_rows.at(index.row());
  switch (role) {
    case Qt::DisplayRole:
    case kNodeIdRole:
      return QString::number(r.nodeId);
    case kSchemaHashRole:
      return r.hash;
    case kSchemaHashShortRole:
      return shortHashText(r.hash);
    case kPreviousHashRole:
      return r.previousHash;
    case kPreviousHashShortRole:
      return shortHashText(r.previousHash, QStringLiteral("none"));
    case kVersionRole:
      return r.version.isEmpty() ? kNotKnown : r.version;
    case kUpdatedAtMsRole:
      return double(r.updatedAtMs);
    case kUpdatedAtRole:
      return r.updatedAt;
    case kIsSelfRole:
      return r.isSelf;
    case kInRegistryRole:
      return r.inRegistry;
    case kHasTablesRole:
      return r.hasTables;
    case kTablesRole:
      if (r.hasTables)
        return r.tableCount == 1 ? QStringLiteral("1 table")
                                 : QStringLiteral("%1 tables").arg(r.tableCount);
      return r.inRegistry ? QStringLiteral("no column list (Go node)")
                          : QStringLiteral("not in the registry");
    case kGroupRole:
      return r.group;
    case kGroupSizeRole:
      return r.groupSize;
    case kGroupStartRole:
      return r.groupStart;
    case kIsMajorityRole:
      return r.isMajority;
    case kMatchesSelfRole:
      return r.matchesSelf;
    default:
      return {};
  }
}

QHash<int, QByteArray> SchemaNodeModel::roleNames() const {
  return {{kNodeIdRole, "nodeId"},
          {kSchemaHashRole, "schemaHash"},
          {kSchemaHashShortRole, "schemaHashShort"},
          {kPreviousHashRole, "previousHash"},
          {kPreviousHashShortRole, "previousHashShort"},
          {kVersionRole, "version"},
          {kUpdatedAtMsRole, "updatedAtMs"},
          {kUpdatedAtRole, "updatedAt"},
          {kIsSelfRole, "isSelf"},
          {kInRegistryRole, "inRegistry"},
          {kHasTablesRole, "hasTables"},
          {kTablesRole, "tables"},
          {kGroupRole, "group"},
          {kGroupSizeRole, "groupSize"},
          {kGroupStartRole, "groupStart"},
          {kIsMajorityRole, "isMajority"},
          {kMatchesSelfRole, "matchesSelf"}};
}

QList<uint64_t> SchemaNodeModel::nodeIds() const {
  QList<uint64_t> ids;
  for (const Row& r : m_rows) ids << r.nodeId;
  return ids;
}

QStringList SchemaNodeModel::otherNodeIds() const {
  QStringList ids;
  for (const Row& r : m_rows)
    if (!r.isSelf) ids << QString::number(r.nodeId);
  return ids;
}

QString SchemaNodeModel::hashOf(uint64_t nodeId) const {
  for (const Row& r : m_rows)
    if (r.nodeId == nodeId) return r.hash;
  return {};
}

bool SchemaNodeModel::hasTables(uint64_t nodeId) const {
  for (const Row& r : m_rows)
    if (r.nodeId == nodeId) return r.hasTables;
  return false;
}

void SchemaNodeModel::update(const NodeStatus& status, qint64 nowMs) {
  const SchemaStatus& schema = status.schema;
  const uint64_t self = status.nodeId;
  const QString ours = schema.hash.isEmpty() ? status.schemaHash : schema.hash;
  QList<Row> rows;
  QSet<uint64_t> seen;
  for (const SchemaNode& n : schema.registry) {
    if (seen.contains(n.nodeId)) continue;  // one row per node: the registry's first entry
    seen.insert(n.nodeId);
    Row r;
    r.nodeId = n.nodeId;
    r.isSelf = n.nodeId == self;
    // This node's own row shows its current hash: its registry entry may lag behind a change
    // it has just noticed.
    r.hash = r.isSelf && !ours.isEmpty() ? ours : n.schemaHash;
    r.previousHash = n.previousHash;
    r.version = n.version;
    r.updatedAtMs = n.updatedAtMs;
    r.updatedAt = agoText(n.updatedAtMs, nowMs);
    r.hasTables = n.hasTables;
    r.tableCount = int(n.tables.size());
    rows << r;
  }
  if (self != 0 && !seen.contains(self)) {  // not published yet: what this node knows of itself
    Row r;
    r.nodeId = self;
    r.isSelf = true;
    r.inRegistry = false;
    r.hash = ours;
    r.previousHash = schema.previousHash;
    r.version = status.version;
    r.updatedAt = QStringLiteral("not in the registry");
    r.hasTables = true;
    r.tableCount = int(schema.tables.size());
    rows << r;
    seen.insert(self);
  }
  for (const PeerStatus& p : status.cluster) {  // heard of, but not in the registry
    if (seen.contains(p.nodeId)) continue;
    seen.insert(p.nodeId);
    Row r;
    r.nodeId = p.nodeId;
    r.inRegistry = false;
    r.version = p.version;
    r.updatedAt = QStringLiteral("not in the registry");
    rows << r;
  }

  // Hash groups: the largest first, this node's first among equals, then by hash; unknown
  // hashes form the last group. A hash held by more nodes than any other is the majority; on a
  // tie no group is.
  QHash<QString, int> sizes;
  for (const Row& r : rows)
    if (!r.hash.isEmpty()) ++sizes[r.hash];
  QStringList order = sizes.keys();
  std::sort(order.begin(), order.end(), [&](const QString& a, const QString& b) {
    if (sizes[a] != sizes[b]) return sizes[a] > sizes[b];
    if ((a == ours) != (b == ours)) return a == ours;
    return a < b;
  });
  const bool majority =
      order.size() == 1 || (order.size() > 1 && sizes[order[0]] > sizes[order[1]]);
  const QString majorityHash = majority ? order.first() : QString();
  QHash<QString, int> groupOf;
  for (int i = 0; i < order.size(); ++i) groupOf.insert(order[i], i);
  int unknown = 0;
  for (Row& r : rows) {
    r.group = r.hash.isEmpty() ? int(order.size()) : groupOf.value(r.hash);
    r.groupSize = r.hash.isEmpty() ? 0 : sizes.value(r.hash);
    r.isMajority = !r.hash.isEmpty() && r.hash == majorityHash;
    r.matchesSelf = !r.hash.isEmpty() && r.hash == ours;
    if (r.hash.isEmpty()) ++unknown;
  }
  for (Row& r : rows)
    if (r.hash.isEmpty()) r.groupSize = unknown;
  std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
    return a.group != b.group ? a.group < b.group : a.nodeId < b.nodeId;
  });
  for (qsizetype i = 0; i < rows.size(); ++i)
    rows[i].groupStart = i == 0 || rows[i - 1].group != rows[i].group;
  int differing = 0;
  for (const Row& r : rows)
    if (!r.hash.isEmpty() && !ours.isEmpty() && r.hash != ours) ++differing;

  const bool countsChange = rows.size() != m_rows.size() || int(order.size()) != m_groups ||
                            differing != m_differing || self != m_self;
  m_self = self;
  m_groups = int(order.size());
  m_differing = differing;
  const auto changed = changedRows(
      m_rows, rows, [](const Row& r) { return r.nodeId; },
      [](const Row& a, const Row& b) { return a == b; });
  if (!changed) {
    beginResetModel();
    m_rows = rows;
    endResetModel();
  } else {
    m_rows = rows;
    emitChanged(this, *changed);
  }
  if (countsChange || !changed) emit countChanged();
}

// ---- SchemaDiffModel ----------------------------------------------------------------------------

int SchemaDiffModel::rowCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : int(m_rows.size());
}

QVariant SchemaDiffModel::data(const QModelIndex& index, int role) const {
  if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
    return {};
  const Row& r = m_rows.at(index.row());
  switch (role) {
    case Qt::DisplayRole:
    case kTableRole:
      return r.table;
    case kColumnRole:
      return r.column;
    case kKindRole:
      return r.kind;
    case kHereRole:
      return r.here;
    case kThereRole:
      return r.there;
    case kMissingHereRole:
      return r.missingHere;
    default:
      return {};
  }
}

QHash<int, QByteArray> SchemaDiffModel::roleNames() const {
  return {{kTableRole, "table"}, {kColumnRole, "column"}, {kKindRole, "kind"},
          {kHereRole, "here"},   {kThereRole, "there"},   {kMissingHereRole, "missingHere"}};
}

void SchemaDiffModel::update(uint64_t nodeId, const QList<SchemaDifference>& differences,
                             const QString& emptyText) {
  using Kind = SchemaDifference::Kind;
  QList<Row> rows;
  rows.reserve(differences.size());
  for (const SchemaDifference& d : differences)
    rows << Row{
        d.table, d.column, differenceKindText(d.kind),
        d.here,  d.there,  d.kind == Kind::TableMissingHere || d.kind == Kind::ColumnMissingHere};
  const QString empty = rows.isEmpty() ? emptyText : QString();
  const bool subjectChange = nodeId != m_nodeId || empty != m_emptyText;
  m_nodeId = nodeId;
  m_emptyText = empty;
  const auto changed = changedRows(
      m_rows, rows, [](const Row& r) { return r.table + '\n' + r.column + '\n' + r.kind; },
      [](const Row& a, const Row& b) { return a == b; });
  if (!changed) {
    beginResetModel();
    m_rows = rows;
    endResetModel();
    emit countChanged();
  } else {
    m_rows = rows;
    emitChanged(this, *changed);
  }
  if (subjectChange) emit subjectChanged();
}

// ---- SchemaPauseModel ---------------------------------------------------------------------------

int SchemaPauseModel::rowCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : int(m_rows.size());
}

QVariant SchemaPauseModel::data(const QModelIndex& index, int role) const {
  if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
    return {};
  const Row& r = m_rows.at(index.row());
  const ShardStatus& s = r.shard;
  switch (role) {
    case Qt::DisplayRole:
    case kShardRole:
      return s.shard;
    case kWaitingForHashRole:
      return s.waitingForHash;
    case kWaitingForHashShortRole:
      return shortHashText(s.waitingForHash);
    case kWaitingFromNodeRole:
      return s.waitingFromNode ? QString::number(s.waitingFromNode) : kNotKnown;
    case kWaitingTableRole:
      return s.waitingTable.isEmpty() ? kNotKnown : s.waitingTable;
    case kWaitingReasonRole:
      return s.waitingReason;
    case kWaitingSeqRole:
      return double(s.waitingSeq);
    case kWaitingMessagesRole:
      return double(s.lagMessages);
    case kSinceMsRole:
      return double(s.waitingSinceMs);
    case kSinceRole:
      return r.since;
    case kRedeliveriesRole:
      return double(s.redeliveries);
    default:
      return {};
  }
}

QHash<int, QByteArray> SchemaPauseModel::roleNames() const {
  return {{kShardRole, "shard"},
          {kWaitingForHashRole, "waitingForHash"},
          {kWaitingForHashShortRole, "waitingForHashShort"},
          {kWaitingFromNodeRole, "waitingFromNode"},
          {kWaitingTableRole, "waitingTable"},
          {kWaitingReasonRole, "waitingReason"},
          {kWaitingSeqRole, "waitingSeq"},
          {kWaitingMessagesRole, "waitingMessages"},
          {kSinceMsRole, "sinceMs"},
          {kSinceRole, "since"},
          {kRedeliveriesRole, "redeliveries"}};
}

bool SchemaPauseModel::sameShown(const Row& a, const Row& b) {
  const ShardStatus& x = a.shard;
  const ShardStatus& y = b.shard;
  return x.shard == y.shard && x.waitingForHash == y.waitingForHash &&
         x.waitingFromNode == y.waitingFromNode && x.waitingTable == y.waitingTable &&
         x.waitingReason == y.waitingReason && x.waitingSeq == y.waitingSeq &&
         x.lagMessages == y.lagMessages && x.waitingSinceMs == y.waitingSinceMs &&
         x.redeliveries == y.redeliveries && a.since == b.since;
}

void SchemaPauseModel::update(const QList<ShardStatus>& shards, qint64 nowMs) {
  QList<Row> rows;
  for (const ShardStatus& s : shards)
    if (s.state == ShardState::SchemaPaused) rows << Row{s, forText(s.waitingSinceMs, nowMs)};
  std::stable_sort(rows.begin(), rows.end(),
                   [](const Row& a, const Row& b) { return a.shard.shard < b.shard.shard; });
  const auto changed = changedRows(
      m_rows, rows, [](const Row& r) { return r.shard.shard; }, &SchemaPauseModel::sameShown);
  if (!changed) {
    beginResetModel();
    m_rows = rows;
    endResetModel();
    emit countChanged();
    return;
  }
  m_rows = rows;
  emitChanged(this, *changed);
}

}  // namespace hl
