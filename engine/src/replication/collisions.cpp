#include "replication/collisions.h"

#include <QLoggingCategory>

#include <algorithm>

#include "cdc/change_log.h"
#include "replication/state_store.h"
#include "sqlite/sqlite_value.h"

Q_LOGGING_CATEGORY(lcCollide, "hl.apply")

namespace hl {
namespace {

// The key column's name in SQL: the declared one, or rowid.
QString keyColumnSql(const TableInfo& t) {
  return t.hasDeclaredPk() ? quoteIdentifier(t.pkColumns.first()) : t.rowidName;
}

// Why the table cannot be re-keyed by the node ("" when it can): keep-both needs a key that
// SQLite assigns, an integer rowid alias or the rowid itself.
QString notRekeyable(const TableInfo& t) {
  if (t.withoutRowid) return QStringLiteral("it is a WITHOUT ROWID table");
  if (!t.hasDeclaredPk()) return QString();
  if (t.pkColumns.size() > 1) return QStringLiteral("its primary key has several columns");
  const ColumnInfo* c = t.column(t.pkColumns.first());
  if (!c || c->declaredType.compare(QLatin1String("INTEGER"), Qt::CaseInsensitive) != 0)
    return QStringLiteral("its primary key is not an INTEGER PRIMARY KEY (a rowid alias)");
  return QString();
}

}  // namespace

const char* collisionPolicyName(CollisionPolicy policy) {
  switch (policy) {
    case CollisionPolicy::kKeepBoth:
      return "keep-both";
    case CollisionPolicy::kDeadLetter:
      return "dead-letter";
    case CollisionPolicy::kLastWriterWins:
      break;
  }
  return "last-writer-wins";
}

Collisions::Collisions(const ConflictsConfig& config, SqliteDb& db, SchemaCatalog& catalog,
                       ChangeLog* log, ReplicationState& state)
    : m_config(config), m_db(db), m_catalog(catalog), m_log(log), m_state(state) {}

Status Collisions::resolvePolicies() {
  m_policies.clear();
  m_cascades.clear();
  for (const TableInfo& t : m_catalog.tables()) {
    const QString wanted = m_config.tables.value(t.name, m_config.policy);
    const bool automatic = wanted == QLatin1String("auto");
    const CollisionPolicy asked =
        wanted == QLatin1String("dead-letter")        ? CollisionPolicy::kDeadLetter
        : wanted == QLatin1String("last-writer-wins") ? CollisionPolicy::kLastWriterWins
                                                      : CollisionPolicy::kKeepBoth;
    if (asked == CollisionPolicy::kLastWriterWins) {
      m_policies.insert(t.name, asked);
      continue;
    }
    QString refusal = notRekeyable(t);
    if (!refusal.isEmpty() && automatic) {
      m_policies.insert(t.name, CollisionPolicy::kLastWriterWins);  // a key the application gives
      continue;
    }
    QList<Reference> cascades;
    if (refusal.isEmpty()) {
      auto refs = references(t, asked, &refusal);
      if (!refs) return refs.status();
      cascades = *refs;
    }
    if (!refusal.isEmpty()) {
      m_policies.insert(t.name, CollisionPolicy::kLastWriterWins);
      if (m_warned.value(t.name) != refusal) {
        m_warned.insert(t.name, refusal);
        qCWarning(lcCollide).noquote()
            << QStringLiteral(
                   "[conflicts] %1 refused for table %2: %3. Its insert collisions are "
                   "recorded and counted, and the later insert keeps the key (last-writer-wins)")
                   .arg(QLatin1String(collisionPolicyName(asked)), t.name, refusal);
      }
      continue;
    }
    m_policies.insert(t.name, asked);
    m_cascades.insert(t.name, cascades);
  }
  return Status::ok();
}

QSet<QString> Collisions::earlierKeepsTables() const {
  QSet<QString> out;
  for (auto it = m_policies.cbegin(); it != m_policies.cend(); ++it)
    if (it.value() != CollisionPolicy::kLastWriterWins) out.insert(it.key());
  return out;
}

Result<QList<Collisions::Reference>> Collisions::references(const TableInfo& t,
                                                            CollisionPolicy policy,
                                                            QString* blocking) {
  if (!t.hasDeclaredPk()) return QList<Reference>();  // a rowid cannot be referenced
  auto q = m_db.prepare(QStringLiteral(
      "SELECT m.name, p.\"from\", p.\"to\", p.on_update FROM sqlite_schema AS m JOIN "
      "pragma_foreign_key_list(m.name) AS p WHERE m.type = 'table' AND p.\"table\" = ?1 "
      "COLLATE NOCASE AND (p.\"to\" IS NULL OR p.\"to\" = ?2 COLLATE NOCASE)"));
  if (!q) return q.status();
  HL_RETURN_IF_ERROR(q->bindText(1, t.name.toUtf8()));
  HL_RETURN_IF_ERROR(q->bindText(2, t.pkColumns.first().toUtf8()));
  QList<Reference> out;
  SqliteRows rows(*q);
  for (const SqliteStmt& r : rows) {
    const Reference ref{r.columnText(0), r.columnText(1)};
    if (policy == CollisionPolicy::kDeadLetter) {
      // The lost row's references would point at the row that kept the key.
      if (blocking->isEmpty())
        *blocking = QStringLiteral(
                        "%1.%2 references it, so a row kept as a dead letter would "
                        "leave its references pointing at another node's row")
                        .arg(ref.table, ref.column);
    } else if (r.columnText(3).compare(QLatin1String("CASCADE"), Qt::CaseInsensitive) == 0) {
      out << ref;
    } else if (blocking->isEmpty()) {
      *blocking = QStringLiteral(
                      "%1.%2 references it without ON UPDATE CASCADE (%3), so a "
                      "re-keyed row would leave its references behind")
                      .arg(ref.table, ref.column, r.columnText(3));
    }
  }
  HL_RETURN_IF_ERROR(rows.status());
  return out;
}

void Collisions::noteCaptureMark(int64_t maxId, const ShardPositions& positions) {
  if (!m_marks.empty() && m_marks.back().maxId == maxId) {
    m_marks.back().positions = positions;  // nothing captured since: the newer positions
    return;
  }
  m_marks.push_back({maxId, positions});
  if (m_marks.size() > kMaxMarks) m_marks.pop_front();
}

Result<int64_t> Collisions::newestChangeId() {
  if (!m_log) return int64_t(0);
  return m_log->maxChangeId();
}

std::optional<quint64> Collisions::captureSeq(int64_t changeId, int shard) const {
  if (m_marks.empty()) return std::nullopt;
  // The last mark whose newest id is below the change's; a change older than every mark (from
  // before the start) was captured when the positions were at most the first mark's.
  auto it = std::partition_point(m_marks.begin(), m_marks.end(),
                                 [changeId](const CaptureMark& m) { return m.maxId < changeId; });
  if (it != m_marks.begin()) --it;
  return it->positions.applied(shard);
}

Result<bool> Collisions::isLosingInsert(const QByteArray& rowKey, uint64_t origin,
                                        quint64 captured) {
  auto birth = m_state.born(rowKey);
  if (!birth) return birth.status();
  return *birth && (*birth)->origin != origin && (*birth)->seq > captured;
}

Result<bool> Collisions::isCollision(const TableInfo& table, const RowImage& key,
                                     const QByteArray& rowKey, int shard, quint64 remoteSeq,
                                     uint64_t remoteOrigin, uint64_t self) {
  if (!m_log) return false;
  auto own = m_log->ownInsert(table, key, remoteSeq);
  if (!own) return own.status();
  if (own->id == 0) return false;
  auto birth = m_state.born(rowKey);
  if (!birth) return birth.status();
  // The first write of the row in the stream, as every other node has it once this remote
  // change is applied: an earlier one, or this one.
  const ReplicationState::Birth first = *birth && (*birth)->seq < remoteSeq
                                            ? **birth
                                            : ReplicationState::Birth{remoteSeq, remoteOrigin};
  // A row written before in the stream: this is a write of a known row (an INSERT OR REPLACE,
  // an upsert), or our insert met that earlier write already (once is enough).
  if (first.seq != remoteSeq) return false;
  if (policyOf(table.name) == CollisionPolicy::kLastWriterWins) return true;  // no capture header
  // The same test as isLosingInsert() on the other nodes for our insert's message, which
  // carries a capture position only when SQLite assigned the key (hasCaptureHeader()).
  if (!own->assigned) return false;
  const std::optional<quint64> captured = captureSeq(own->id, shard);
  return captured && first.origin != self && first.seq > *captured;
}

Result<Value> Collisions::moveToFreshKey(const TableInfo& table, const RowImage& key) {
  if (!m_log || key.size() != 1) return Status::internal("keep-both needs a one-column key");
  // All or nothing: a move whose references could not follow (a constraint) is undone.
  HL_RETURN_IF_ERROR(m_db.exec(QStringLiteral("SAVEPOINT hl_rekey")));
  auto moved = moveRow(table, key);
  if (!moved) (void)m_db.exec(QStringLiteral("ROLLBACK TO hl_rekey"));
  HL_RETURN_IF_ERROR(m_db.exec(QStringLiteral("RELEASE hl_rekey")));
  return moved;
}

Result<Value> Collisions::moveRow(const TableInfo& table, const RowImage& key) {
  const QString column = keyColumnSql(table);
  auto hasSequence = m_db.hasTable(QStringLiteral("sqlite_sequence"));
  if (!hasSequence) return hasSequence.status();
  // The next key SQLite itself would give (AUTOINCREMENT's counter included).
  auto next = m_db.prepare(
      QStringLiteral("SELECT max(coalesce((SELECT max(%1) FROM %2), 0), coalesce(%3, 0)) + 1")
          .arg(column, table.quotedName,
               *hasSequence ? QStringLiteral("(SELECT seq FROM sqlite_sequence WHERE name = ?1)")
                            : QStringLiteral("?1")));
  if (!next) return next.status();
  if (*hasSequence) {
    HL_RETURN_IF_ERROR(next->bindText(1, table.name.toUtf8()));
  } else {
    HL_RETURN_IF_ERROR(next->bindInt(1, 0));
  }
  auto stepped = next->step();
  if (!stepped) return stepped.status();
  if (!*stepped) return Status::internal("no fresh key");
  const int64_t fresh = next->columnInt(0);
  const Value to = Value::integer(fresh);
  const Value& from = key.first().second;
  auto mark = m_log->maxChangeId();
  if (!mark) return mark.status();
  auto move = m_db.prepare(
      QStringLiteral("UPDATE %1 SET %2 = ?1 WHERE %2 = ?2").arg(table.quotedName, column));
  if (!move) return move.status();
  HL_RETURN_IF_ERROR(bindValue(*move, 1, to));
  HL_RETURN_IF_ERROR(bindValue(*move, 2, from));
  HL_RETURN_IF_ERROR(move->run().withContext("move the row to " + to.toDebugString()));
  for (const Reference& ref : m_cascades.value(table.name)) {
    auto follow = m_db.prepare(QStringLiteral("UPDATE %1 SET %2 = ?1 WHERE %2 = ?2")
                                   .arg(quoteIdentifier(ref.table), quoteIdentifier(ref.column)));
    if (!follow) return follow.status();
    HL_RETURN_IF_ERROR(bindValue(*follow, 1, to));
    HL_RETURN_IF_ERROR(bindValue(*follow, 2, from));
    HL_RETURN_IF_ERROR(follow->run().withContext("update the references of " + ref.table));
  }
  HL_RETURN_IF_ERROR(m_log->recordMove(table, from, to, *mark));
  return to;
}

Result<Value> Collisions::insertUnderFreshKey(const TableInfo& table, const RowImage& row) {
  const QString key = table.keyColumns().first();
  QStringList columns, params;
  QList<Value> values;
  for (const auto& [name, value] : row) {
    if (name == key || (!table.hasDeclaredPk() && name == QLatin1String("rowid"))) continue;
    if (!table.column(name))
      return Status::invalidArgument("no column " + name + " in " + table.name);
    columns << quoteIdentifier(name);
    values << value;
    params << QStringLiteral("?%1").arg(values.size());
  }
  auto insert = m_db.prepare(
      columns.isEmpty() ? QStringLiteral("INSERT INTO %1 DEFAULT VALUES").arg(table.quotedName)
                        : QStringLiteral("INSERT INTO %1(%2) VALUES(%3)")
                              .arg(table.quotedName, columns.join(','), params.join(',')));
  if (!insert) return insert.status();
  for (int i = 0; i < values.size(); ++i) HL_RETURN_IF_ERROR(bindValue(*insert, i + 1, values[i]));
  HL_RETURN_IF_ERROR(insert->run());
  return Value::integer(m_db.lastInsertRowId());
}

Status Collisions::settleOwnChanges(const TableInfo& table, const RowImage& key, bool anySent) {
  if (!m_log) return Status::ok();
  if (anySent) return m_log->capture(table, ChangeType::kUpdate, key);
  auto ids = m_log->pendingChangesOf(table, key);
  if (!ids) return ids.status();
  return m_log->markPublished(*ids);
}

Result<QList<int64_t>> Collisions::pendingChangesOf(const TableInfo& table, const RowImage& key) {
  if (!m_log) return QList<int64_t>();
  return m_log->pendingChangesOf(table, key);
}

}  // namespace hl
