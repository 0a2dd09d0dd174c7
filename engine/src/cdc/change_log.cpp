#include "cdc/change_log.h"

#include "sqlite/sqlite_value.h"

#include <QLoggingCategory>
#include <QSet>

#include <optional>

Q_LOGGING_CATEGORY(lcCdc, "hl.cdc")

namespace hl {
namespace {

const QString kChanges = QString::fromLatin1(ChangeLog::kChangesTable);
const QString kTables = QString::fromLatin1(ChangeLog::kTablesTable);

QString keyColumnName(int i) { return QStringLiteral("k%1").arg(i); }

// NEW."a", NEW."b" (or NEW.rowid) for a trigger.
QString keyRefs(const TableInfo& t, const char* which) {
  QStringList refs;
  if (t.hasDeclaredPk()) {
    for (const QString& c : t.pkColumns) refs << QLatin1String(which) + '.' + quoteIdentifier(c);
  } else {
    refs << QLatin1String(which) + '.' + t.rowidName;
  }
  return refs.join(',');
}

QString keyTargets(int n) {
  QStringList k;
  for (int i = 0; i < n; ++i) k << keyColumnName(i);
  return k.join(',');
}

}  // namespace

ChangeLog::ChangeLog(SqliteDb& db, SchemaCatalog& catalog) : m_db(db), m_catalog(catalog) {}

Status ChangeLog::ensureTables(int keyColumns) {
  HL_RETURN_IF_ERROR(m_db.exec(
      QStringLiteral("CREATE TABLE IF NOT EXISTS %1(id INTEGER PRIMARY KEY, name TEXT NOT NULL "
                     "UNIQUE);"
                     "CREATE TABLE IF NOT EXISTS %2(id INTEGER PRIMARY KEY, tbl, op, k0, state, error);")
          .arg(quoteIdentifier(kTables), quoteIdentifier(kChanges))));
  auto present = m_db.queryInt(
      QStringLiteral("SELECT count(*) FROM pragma_table_info('%1') WHERE name GLOB 'k[0-9]*'")
          .arg(kChanges));
  if (!present) return present.status();
  m_keyColumns = int(*present);
  for (; m_keyColumns < keyColumns; ++m_keyColumns) {
    HL_RETURN_IF_ERROR(m_db.exec(QStringLiteral("ALTER TABLE %1 ADD COLUMN %2")
                                     .arg(quoteIdentifier(kChanges), keyColumnName(m_keyColumns))));
  }
  // The sentinel: the log is never empty, so the next id is always above every id used.
  return m_db.exec(QStringLiteral("INSERT INTO %1(id, tbl, op, state) SELECT 1, 0, 0, 1 "
                                  "WHERE NOT EXISTS (SELECT 1 FROM %1)")
                       .arg(quoteIdentifier(kChanges)));
}

Result<int64_t> ChangeLog::tableId(const QString& name) {
  for (auto it = m_tableNames.cbegin(); it != m_tableNames.cend(); ++it)
    if (it.value() == name) return it.key();
  auto ins = m_db.prepare(
      QStringLiteral("INSERT INTO %1(name) VALUES (?) ON CONFLICT(name) DO UPDATE SET name = "
                     "excluded.name RETURNING id")
          .arg(quoteIdentifier(kTables)));
  if (!ins) return ins.status();
  HL_RETURN_IF_ERROR(ins->bindText(1, name.toUtf8()));
  auto row = ins->step();
  if (!row) return row.status();
  if (!*row) return Status::internal("no id returned for table " + name);
  const int64_t id = ins->columnInt(0);
  HL_RETURN_IF_ERROR(ins->run());
  m_tableNames.insert(id, name);
  return id;
}

QString ChangeLog::triggerSql(const TableInfo& t, int64_t id, const char* kind) const {
  const int n = int(t.keyColumns().size());
  const QString name = quoteIdentifier(QStringLiteral("__harmonylite__t%1_%2").arg(id).arg(kind));
  const QString table = quoteIdentifier(t.name);
  const QString into = QStringLiteral("INSERT INTO %1(tbl,op,%2)").arg(quoteIdentifier(kChanges), keyTargets(n));
  const QString kindStr = QLatin1String(kind);
  if (kindStr == QLatin1String("ins")) {
    return QStringLiteral("CREATE TRIGGER %1 AFTER INSERT ON %2 BEGIN %3 VALUES(%4,1,%5); END")
        .arg(name, table, into).arg(id).arg(keyRefs(t, "NEW"));
  }
  if (kindStr == QLatin1String("del")) {
    return QStringLiteral("CREATE TRIGGER %1 AFTER DELETE ON %2 BEGIN %3 VALUES(%4,3,%5); END")
        .arg(name, table, into).arg(id).arg(keyRefs(t, "OLD"));
  }
  // Update: a changed key is a delete of the old key followed by an update of the new one.
  QStringList changed;
  const QStringList oldRefs = keyRefs(t, "OLD").split(',');
  const QStringList newRefs = keyRefs(t, "NEW").split(',');
  for (int i = 0; i < n; ++i) changed << oldRefs[i] + " IS NOT " + newRefs[i];
  return QStringLiteral(
             "CREATE TRIGGER %1 AFTER UPDATE ON %2 BEGIN %3 SELECT %4,3,%5 WHERE %6; "
             "%3 VALUES(%4,2,%7); END")
      .arg(name, table, into)
      .arg(id)
      .arg(keyRefs(t, "OLD"), changed.join(" OR "), keyRefs(t, "NEW"));
}

Status ChangeLog::install() {
  auto txn = SqliteTxn::begin(m_db);
  if (!txn) return txn.status().withContext("install change capture");
  int maxKey = 1;
  for (const TableInfo& t : m_catalog.tables()) maxKey = std::max(maxKey, int(t.keyColumns().size()));
  HL_RETURN_IF_ERROR(ensureTables(maxKey).withContext("create change log"));

  m_tableNames.clear();
  {
    auto ids = m_db.prepare(QStringLiteral("SELECT id, name FROM %1").arg(quoteIdentifier(kTables)));
    if (!ids) return ids.status();
    for (;;) {
      auto row = ids->step();
      if (!row) return row.status();
      if (!*row) break;
      m_tableNames.insert(ids->columnInt(0), ids->columnText(1));
    }
  }

  QHash<QString, QString> desired;  // trigger name -> sql
  for (const TableInfo& t : m_catalog.tables()) {
    auto id = tableId(t.name);
    if (!id) return id.status();
    for (const char* kind : {"ins", "upd", "del"})
      desired.insert(QStringLiteral("__harmonylite__t%1_%2").arg(*id).arg(kind), triggerSql(t, *id, kind));
    if (!t.hasDeclaredPk() && !m_warnedNoKey.contains(t.name)) {
      m_warnedNoKey.insert(t.name);
      qCWarning(lcCdc).noquote() << "table" << t.name
                                 << "has no declared primary key: it replicates by rowid, and rows "
                                    "inserted on two nodes at once can collide";
    }
  }

  auto existing = m_db.prepare(QStringLiteral(
      "SELECT name, sql FROM sqlite_schema WHERE type = 'trigger' AND substr(name, 1, 15) = "
      "'__harmonylite__'"));
  if (!existing) return existing.status();
  QHash<QString, QString> have;
  for (;;) {
    auto row = existing->step();
    if (!row) return row.status();
    if (!*row) break;
    have.insert(existing->columnText(0), existing->columnText(1));
  }
  existing->reset();
  int created = 0, dropped = 0;
  for (auto it = have.cbegin(); it != have.cend(); ++it) {
    if (desired.value(it.key()) == it.value()) continue;
    HL_RETURN_IF_ERROR(m_db.exec("DROP TRIGGER IF EXISTS " + quoteIdentifier(it.key())));
    ++dropped;
  }
  for (auto it = desired.cbegin(); it != desired.cend(); ++it) {
    if (have.value(it.key()) == it.value()) continue;
    HL_RETURN_IF_ERROR(m_db.exec(it.value()).withContext("create trigger " + it.key()));
    ++created;
  }
  HL_RETURN_IF_ERROR(txn->commit());
  if (created || dropped)
    qCInfo(lcCdc) << "capture installed on" << m_catalog.tables().size() << "tables:" << created
                  << "triggers created," << dropped << "dropped";
  // Our own DDL moved schema_version: take the new version so it is not seen as a change.
  return m_catalog.refresh().status();
}

Status ChangeLog::removeTriggers() {
  auto names = m_db.prepare(QStringLiteral(
      "SELECT name FROM sqlite_schema WHERE type = 'trigger' AND substr(name, 1, 15) = "
      "'__harmonylite__'"));
  if (!names) return names.status();
  QStringList triggers;
  for (;;) {
    auto row = names->step();
    if (!row) return row.status();
    if (!*row) break;
    triggers << names->columnText(0);
  }
  names->reset();
  if (triggers.isEmpty()) return Status::ok();
  auto txn = SqliteTxn::begin(m_db);
  if (!txn) return txn.status();
  for (const QString& t : triggers)
    HL_RETURN_IF_ERROR(m_db.exec("DROP TRIGGER IF EXISTS " + quoteIdentifier(t)));
  HL_RETURN_IF_ERROR(txn->commit());
  qCInfo(lcCdc) << "publish = false: removed" << triggers.size() << "capture triggers";
  return m_catalog.refresh().status();
}

Status ChangeLog::uninstall(SqliteDb& db) {
  auto objects = db.prepare(QStringLiteral(
      "SELECT type, name FROM sqlite_schema WHERE type IN ('trigger', 'table') AND "
      "substr(name, 1, 15) = '__harmonylite__' ORDER BY type = 'table'"));
  if (!objects) return objects.status();
  QList<QPair<QString, QString>> drop;
  for (;;) {
    auto row = objects->step();
    if (!row) return row.status();
    if (!*row) break;
    drop.append({objects->columnText(0), objects->columnText(1)});
  }
  objects->reset();
  auto txn = SqliteTxn::begin(db);
  if (!txn) return txn.status();
  for (const auto& [type, name] : drop) {
    HL_RETURN_IF_ERROR(db.exec(QStringLiteral("DROP %1 IF EXISTS %2")
                                   .arg(type == QLatin1String("table") ? "TABLE" : "TRIGGER",
                                        quoteIdentifier(name))));
  }
  return txn->commit();
}

Result<SqliteStmt*> ChangeLog::rowStatement(const TableInfo& t) {
  if (m_rowStatementsVersion != m_catalog.schemaVersion()) {
    m_rowStatements.clear();
    m_rowStatementsVersion = m_catalog.schemaVersion();
  }
  auto it = m_rowStatements.find(t.name);
  if (it != m_rowStatements.end()) return &it->second;
  QStringList columns;
  for (const QString& c : t.storedColumns()) columns << quoteIdentifier(c);
  QStringList where;
  if (t.hasDeclaredPk()) {
    for (int i = 0; i < t.pkColumns.size(); ++i)
      where << QStringLiteral("%1 IS ?%2").arg(quoteIdentifier(t.pkColumns[i])).arg(i + 1);
  } else {
    columns << t.rowidName;
    where << t.rowidName + " = ?1";
  }
  auto stmt = m_db.prepare(QStringLiteral("SELECT %1 FROM %2 WHERE %3")
                               .arg(columns.join(','), quoteIdentifier(t.name), where.join(" AND ")));
  if (!stmt) return stmt.status().withContext("read row of " + t.name);
  it = m_rowStatements.emplace(t.name, std::move(*stmt)).first;
  return &it->second;
}

Result<QList<PendingChange>> ChangeLog::readPending(int max, int64_t afterId, int* skipped) {
  QList<PendingChange> out;
  QList<int64_t> nothingToSend;
  {
    auto txn = SqliteTxn::begin(m_db, SqliteTxn::Mode::kDeferred);
    if (!txn) return txn.status();
    auto scan = m_db.prepare(
        QStringLiteral("SELECT id, tbl, op, %1 FROM %2 WHERE id > ?1 AND state IS NULL ORDER BY id "
                       "LIMIT ?2")
            .arg(keyTargets(m_keyColumns), quoteIdentifier(kChanges)));
    if (!scan) return scan.status().withContext("read pending changes");
    HL_RETURN_IF_ERROR(scan->bindInt(1, afterId));
    HL_RETURN_IF_ERROR(scan->bindInt(2, max));
    for (;;) {
      auto more = scan->step();
      if (!more) return more.status().withContext("read pending changes");
      if (!*more) break;
      const int64_t id = scan->columnInt(0);
      const QString name = m_tableNames.value(scan->columnInt(1));
      const int op = int(scan->columnInt(2));
      const TableInfo* t = m_catalog.find(name);
      if (!t || op < 1 || op > 3) {  // table dropped or no longer watched
        nothingToSend << id;
        continue;
      }
      PendingChange c;
      c.id = id;
      c.type = ChangeType(op);
      c.table = t->name;
      const QStringList keyNames = t->keyColumns();
      for (int i = 0; i < keyNames.size() && i < m_keyColumns; ++i)
        c.key.append({keyNames[i], readValue(*scan, 3 + i)});
      if (c.type == ChangeType::kDelete) {
        c.row = c.key;
      } else {
        auto stmt = rowStatement(*t);
        if (!stmt) return stmt.status();
        SqliteStmt& s = **stmt;
        for (int i = 0; i < c.key.size(); ++i) HL_RETURN_IF_ERROR(bindValue(s, i + 1, c.key[i].second));
        auto found = s.step();
        if (!found) return found.status().withContext("read row of " + t->name);
        if (!*found) {  // deleted or re-keyed since: the delete that follows says so
          s.reset();
          nothingToSend << id;
          continue;
        }
        const QStringList stored = t->storedColumns();
        for (int i = 0; i < stored.size(); ++i) c.row.append({stored[i], readValue(s, i)});
        if (!t->hasDeclaredPk()) c.row.append({QStringLiteral("rowid"), readValue(s, int(stored.size()))});
        s.reset();
      }
      out.append(c);
    }
    scan->reset();
    HL_RETURN_IF_ERROR(txn->commit());
  }
  if (!nothingToSend.isEmpty()) HL_RETURN_IF_ERROR(markPublished(nothingToSend));
  if (skipped) *skipped = int(nothingToSend.size());
  return out;
}

Result<QList<ChangeLog::PendingKey>> ChangeLog::pendingKeysAfter(int64_t afterId) {
  auto scan = m_db.prepare(QStringLiteral("SELECT id, tbl, %1 FROM %2 WHERE id > ? AND state IS NULL")
                               .arg(keyTargets(m_keyColumns), quoteIdentifier(kChanges)));
  if (!scan) return scan.status();
  HL_RETURN_IF_ERROR(scan->bindInt(1, afterId));
  QList<PendingKey> out;
  for (;;) {
    auto more = scan->step();
    if (!more) return more.status();
    if (!*more) break;
    const TableInfo* t = m_catalog.find(m_tableNames.value(scan->columnInt(1)));
    if (!t) continue;
    const QStringList names = t->keyColumns();
    PendingKey p;
    p.id = scan->columnInt(0);
    p.table = t->name;
    for (int i = 0; i < names.size() && i < m_keyColumns; ++i) p.key.append({names[i], readValue(*scan, 2 + i)});
    out.append(p);
  }
  return out;
}

Status ChangeLog::markPublished(const QList<int64_t>& ids) {
  if (ids.isEmpty()) return Status::ok();
  // Joins the caller's transaction when there is one.
  std::optional<SqliteTxn> txn;
  if (sqlite3_get_autocommit(m_db.handle())) {
    auto begun = SqliteTxn::begin(m_db);
    if (!begun) return begun.status().withContext("mark published");
    txn.emplace(std::move(*begun));
  }
  auto upd = m_db.cached(QStringLiteral("UPDATE %1 SET state = 1 WHERE id = ?").arg(quoteIdentifier(kChanges)));
  if (!upd) return upd.status();
  for (int64_t id : ids) {
    HL_RETURN_IF_ERROR((*upd)->bindInt(1, id));
    HL_RETURN_IF_ERROR((*upd)->run());
    (*upd)->reset();
  }
  return txn ? txn->commit() : Status::ok();
}

Status ChangeLog::markFailed(int64_t id, const QString& reason) {
  auto upd = m_db.prepare(
      QStringLiteral("UPDATE %1 SET state = 2, error = ? WHERE id = ?").arg(quoteIdentifier(kChanges)));
  if (!upd) return upd.status();
  HL_RETURN_IF_ERROR(upd->bindText(1, reason.toUtf8()));
  HL_RETURN_IF_ERROR(upd->bindInt(2, id));
  return upd->run();
}

Result<int> ChangeLog::cleanup() {
  HL_RETURN_IF_ERROR(m_db.exec(QStringLiteral("DELETE FROM %1 WHERE state = 1 AND id < (SELECT max(id) FROM %1)")
                                   .arg(quoteIdentifier(kChanges))));
  return m_db.changes();
}

Result<int64_t> ChangeLog::pendingCount() {
  return m_db.queryInt(QStringLiteral("SELECT count(*) FROM %1 WHERE state IS NULL").arg(quoteIdentifier(kChanges)));
}

Result<int64_t> ChangeLog::failedCount() {
  return m_db.queryInt(QStringLiteral("SELECT count(*) FROM %1 WHERE state = 2").arg(quoteIdentifier(kChanges)));
}

Result<int64_t> ChangeLog::maxChangeId() {
  return m_db.queryInt(QStringLiteral("SELECT coalesce(max(id), 0) FROM %1").arg(quoteIdentifier(kChanges)));
}

}  // namespace hl
