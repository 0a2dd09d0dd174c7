#include "cdc/change_log.h"

#include "harmonylite/capture_cleanup.h"
#include "sqlite/sqlite_value.h"

#include <algorithm>

#include <QDateTime>
#include <QFileInfo>

#include <QLoggingCategory>
#include <QSet>

#include <optional>

Q_LOGGING_CATEGORY(lcCdc, "hl.cdc")

namespace hl {
namespace {

const QString kChanges = QString::fromLatin1(ChangeLog::kChangesTable);
const QString kTables = QString::fromLatin1(ChangeLog::kTablesTable);
// Made by versions before 2026-12 for the chosen-key trigger's check that the applier is not the
// writer; install() drops it once no trigger names it.
const QString kApplyingBefore = QStringLiteral("__harmonylite__applying");
// Whether the insert log row `c` has a key SQLite assigned: recorded at its ack, or, while it
// waits, no chosen-key mark of its table and key just before it (the BEFORE INSERT trigger's
// row comes right before the AFTER INSERT trigger's, unless the application's own triggers
// wrote to watched tables in between: a few rows are looked at).
QString assignedExpr(const QString& c) {
  return QStringLiteral(
             "coalesce(%1.assigned, NOT EXISTS (SELECT 1 FROM %2 AS m WHERE m.id BETWEEN %1.id - 8 "
             "AND %1.id - 1 AND m.state = %3 AND m.tbl = %1.tbl AND m.k0 IS %1.k0))")
      .arg(c, quoteIdentifier(kChanges))
      .arg(ChangeLog::kChosenKeyMark);
}

QString keyColumnName(int i) {
  return QStringLiteral("k%1").arg(i);
}

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

ChangeLog::ChangeLog(SqliteDb& db, SchemaCatalog& catalog)
    : m_db(db),
      m_nowMs([] { return QDateTime::currentMSecsSinceEpoch(); }),
      m_catalog(catalog),
      m_rows(db, catalog) {}

Status ChangeLog::ensureTables(int keyColumns) {
  HL_RETURN_IF_ERROR(m_db.exec(
      QStringLiteral(
          "CREATE TABLE IF NOT EXISTS %1(id INTEGER PRIMARY KEY, name TEXT NOT NULL "
          "UNIQUE);"
          "CREATE TABLE IF NOT EXISTS %2(id INTEGER PRIMARY KEY, tbl, op, k0, state, error, "
          "published_at, stream_seq, shard, assigned);")
          .arg(quoteIdentifier(kTables), quoteIdentifier(kChanges))));
  // A log made before the durability guard's retention lacks the ack columns. Its published
  // rows were kept for being published again; their ack time is unknown, so they count from
  // now (docs/replication.md#durability).
  for (const char* column : {"published_at", "stream_seq", "shard", "assigned"}) {
    auto added = m_db.addColumnIfMissing(kChanges, QLatin1String(column));
    if (!added) return added.status();
    if (*added && qstrcmp(column, "published_at") == 0)
      HL_RETURN_IF_ERROR(
          m_db.exec(QStringLiteral("UPDATE %1 SET published_at = %2 WHERE state = 1 AND op > 0")
                        .arg(quoteIdentifier(kChanges))
                        .arg(m_nowMs())));
  }
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
  const QString into =
      QStringLiteral("INSERT INTO %1(tbl,op,%2)").arg(quoteIdentifier(kChanges), keyTargets(n));
  const QString kindStr = QLatin1String(kind);
  if (kindStr == QLatin1String("key")) {
    // Before the row is stored, an integer key that SQLite is about to assign reads as -1
    // (SQLite 3.40; tests/unit/tst_change_log checks it), one the application gave as itself.
    // Only a chosen key writes a row; the common case (an assigned key) writes nothing. The
    // applier's inserts (chosen keys) write marks too, which dropEcho() removes with its other
    // echoes: a check for the applier here would be compiled into every statement of the
    // application (docs/capture.md#cost).
    return QStringLiteral(
               "CREATE TRIGGER %1 BEFORE INSERT ON %2 WHEN %3 <> -1 BEGIN INSERT INTO "
               "%4(tbl,op,state,k0) VALUES(%5,0,%6,%3); END")
        .arg(name, table, keyRefs(t, "NEW"), quoteIdentifier(kChanges))
        .arg(id)
        .arg(kChosenKeyMark);
  }
  if (kindStr == QLatin1String("ins")) {
    return QStringLiteral("CREATE TRIGGER %1 AFTER INSERT ON %2 BEGIN %3 VALUES(%4,1,%5); END")
        .arg(name, table, into)
        .arg(id)
        .arg(keyRefs(t, "NEW"));
  }
  if (kindStr == QLatin1String("del")) {
    return QStringLiteral("CREATE TRIGGER %1 AFTER DELETE ON %2 BEGIN %3 VALUES(%4,3,%5); END")
        .arg(name, table, into)
        .arg(id)
        .arg(keyRefs(t, "OLD"));
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

Status ChangeLog::attach() {
  auto present = m_db.queryInt(
      QStringLiteral("SELECT count(*) FROM pragma_table_info('%1') WHERE name GLOB 'k[0-9]*'")
          .arg(kChanges));
  if (!present) return present.status();
  if (*present == 0) return Status::notFound("no change log");
  m_attached = true;
  m_keyColumns = int(*present);
  m_tableNames.clear();
  auto ids = m_db.prepare(QStringLiteral("SELECT id, name FROM %1").arg(quoteIdentifier(kTables)));
  if (!ids) return ids.status();
  SqliteRows rows(*ids);
  for (const SqliteStmt& row : rows) m_tableNames.insert(row.columnInt(0), row.columnText(1));
  return rows.status();
}

Status ChangeLog::install() {
  auto txn = SqliteTxn::begin(m_db);
  if (!txn) return txn.status().withContext("install change capture");
  int maxKey = 1;
  for (const TableInfo& t : m_catalog.tables())
    maxKey = std::max(maxKey, int(t.keyColumns().size()));
  HL_RETURN_IF_ERROR(ensureTables(maxKey).withContext("create change log"));

  m_tableNames.clear();
  {
    auto ids =
        m_db.prepare(QStringLiteral("SELECT id, name FROM %1").arg(quoteIdentifier(kTables)));
    if (!ids) return ids.status();
    SqliteRows rows(*ids);
    for (const SqliteStmt& row : rows) m_tableNames.insert(row.columnInt(0), row.columnText(1));
    HL_RETURN_IF_ERROR(rows.status());
  }

  QHash<QString, QString> desired;  // trigger name -> sql
  for (const TableInfo& t : m_catalog.tables()) {
    auto id = tableId(t.name);
    if (!id) return id.status();
    for (const char* kind : {"ins", "upd", "del"})
      desired.insert(QStringLiteral("__harmonylite__t%1_%2").arg(*id).arg(kind),
                     triggerSql(t, *id, kind));
    if (m_assignedKeyTables.contains(t.name) && t.keyColumns().size() == 1)
      desired.insert(QStringLiteral("__harmonylite__t%1_key").arg(*id), triggerSql(t, *id, "key"));
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
  {
    SqliteRows rows(*existing);
    for (const SqliteStmt& row : rows) have.insert(row.columnText(0), row.columnText(1));
    HL_RETURN_IF_ERROR(rows.status());
  }
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
  HL_RETURN_IF_ERROR(m_db.exec("DROP TABLE IF EXISTS " + quoteIdentifier(kApplyingBefore)));
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
  SqliteRows rows(*names);
  for (const SqliteStmt& row : rows) triggers << row.columnText(0);
  HL_RETURN_IF_ERROR(rows.status());
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
  auto objects = db.prepare(
      QStringLiteral("SELECT type, name FROM sqlite_schema WHERE type IN ('trigger', 'table') AND "
                     "substr(name, 1, 15) = '__harmonylite__' ORDER BY type = 'table'"));
  if (!objects) return objects.status();
  QList<QPair<QString, QString>> drop;
  {
    SqliteRows rows(*objects);
    for (const SqliteStmt& row : rows) drop.append({row.columnText(0), row.columnText(1)});
    HL_RETURN_IF_ERROR(rows.status());
  }
  auto txn = SqliteTxn::begin(db);
  if (!txn) return txn.status();
  for (const auto& [type, name] : drop) {
    HL_RETURN_IF_ERROR(db.exec(
        QStringLiteral("DROP %1 IF EXISTS %2")
            .arg(type == QLatin1String("table") ? "TABLE" : "TRIGGER", quoteIdentifier(name))));
  }
  return txn->commit();
}

const TableInfo* ChangeLog::keyOfScan(const SqliteStmt& scan, int first, RowImage* key,
                                      QByteArray* rowKey) const {
  const TableInfo* t = m_catalog.find(m_tableNames.value(scan.columnInt(1)));
  if (!t) return nullptr;
  const QStringList names = t->keyColumns();
  for (int i = 0; i < names.size() && i < m_keyColumns; ++i)
    key->append({names[i], readValue(scan, first + i)});
  *rowKey = rowKeyOf(*t, *key);
  return t;
}

Result<QList<PendingChange>> ChangeLog::readPending(int max, int64_t afterId, int* skipped) {
  QList<PendingChange> out;
  QList<int64_t> nothingToSend;
  {
    auto txn = SqliteTxn::begin(m_db, SqliteTxn::Mode::kDeferred);
    if (!txn) return txn.status();
    auto scan = m_db.cached(
        QStringLiteral("SELECT id, tbl, op, op = 1 AND %3, %1 FROM %2 AS c WHERE id > ?1 AND state "
                       "IS NULL ORDER BY id LIMIT ?2")
            .arg(keyTargets(m_keyColumns), quoteIdentifier(kChanges), assignedExpr("c")));
    if (!scan) return scan.status().withContext("read pending changes");
    HL_RETURN_IF_ERROR((*scan)->bindInt(1, afterId));
    HL_RETURN_IF_ERROR((*scan)->bindInt(2, max));
    SqliteRows rows(**scan);
    for (const SqliteStmt& r : rows) {
      PendingChange c;
      c.id = r.columnInt(0);
      const int op = int(r.columnInt(2));
      const TableInfo* t = keyOfScan(r, 4, &c.key, &c.rowKey);
      c.assigned = t && r.columnInt(3) == 1 && m_assignedKeyTables.contains(t->name);
      if (!t || op < 1 || op > 3) {  // table dropped or no longer watched
        nothingToSend << c.id;
        continue;
      }
      c.type = ChangeType(op);
      c.table = t->name;
      if (c.type == ChangeType::kDelete) {
        c.row = c.key;
      } else {
        auto row = m_rows.read(*t, c.key);
        if (!row) return row.status();
        if (!*row) {  // deleted or re-keyed since: the delete that follows says so
          nothingToSend << c.id;
          continue;
        }
        c.row = std::move(**row);
      }
      out.append(c);
    }
    HL_RETURN_IF_ERROR(rows.status().withContext("read pending changes"));
    HL_RETURN_IF_ERROR(txn->commit());
  }
  // An attached (read-only) log leaves them: its owner marks them at its next read.
  if (!nothingToSend.isEmpty() && !m_attached) HL_RETURN_IF_ERROR(markPublished(nothingToSend));
  if (skipped) *skipped = int(nothingToSend.size());
  return out;
}

Result<QList<ChangeLog::PendingKey>> ChangeLog::pendingKeysAfter(int64_t afterId) {
  auto scan =
      m_db.cached(QStringLiteral("SELECT id, tbl, %1 FROM %2 WHERE id > ? AND state IS NULL")
                      .arg(keyTargets(m_keyColumns), quoteIdentifier(kChanges)));
  if (!scan) return scan.status();
  HL_RETURN_IF_ERROR((*scan)->bindInt(1, afterId));
  QList<PendingKey> out;
  SqliteRows rows(**scan);
  for (const SqliteStmt& r : rows) {
    PendingKey p;
    p.id = r.columnInt(0);
    RowImage key;
    if (!keyOfScan(r, 2, &key, &p.rowKey)) continue;
    out.append(p);
  }
  HL_RETURN_IF_ERROR(rows.status());
  return out;
}

namespace {
// "k0 IS ?<first> AND k1 IS ?<first + 1> ..." for a key of n columns.
QString keyMatch(qsizetype n, int first) {
  QStringList parts;
  for (qsizetype i = 0; i < n; ++i) parts << QStringLiteral("k%1 IS ?%2").arg(i).arg(i + first);
  return parts.join(QStringLiteral(" AND "));
}
}  // namespace

Result<ChangeLog::OwnInsert> ChangeLog::ownInsert(const TableInfo& table, const RowImage& key,
                                                  quint64 afterSeq) {
  if (key.size() > m_keyColumns) return OwnInsert{};
  auto id = tableId(table.name);
  if (!id) return id.status();
  auto q = m_db.cached(QStringLiteral("SELECT id, %4 FROM %1 AS c WHERE tbl = ?1 AND op = 1 AND "
                                      "(state IS NULL OR (state = 1 AND stream_seq > ?2)) AND %3 "
                                      "ORDER BY id DESC LIMIT 1")
                           .arg(quoteIdentifier(kChanges))
                           .arg(keyMatch(key.size(), 3), assignedExpr("c")));
  if (!q) return q.status();
  HL_RETURN_IF_ERROR((*q)->bindInt(1, *id));
  HL_RETURN_IF_ERROR((*q)->bindInt(2, int64_t(afterSeq)));
  for (qsizetype i = 0; i < key.size(); ++i)
    HL_RETURN_IF_ERROR(bindValue(**q, int(i) + 3, key[i].second));
  auto row = (*q)->step();
  if (!row) return row.status();
  OwnInsert newest;
  if (*row)
    newest = {(*q)->columnInt(0),
              (*q)->columnInt(1) == 1 && m_assignedKeyTables.contains(table.name)};
  (*q)->reset();
  return newest;
}

Result<QList<int64_t>> ChangeLog::pendingChangesOf(const TableInfo& table, const RowImage& key) {
  if (key.size() > m_keyColumns) return QList<int64_t>();
  auto id = tableId(table.name);
  if (!id) return id.status();
  auto q = m_db.cached(
      QStringLiteral("SELECT id FROM %1 WHERE tbl = ?1 AND state IS NULL AND %2 ORDER BY id")
          .arg(quoteIdentifier(kChanges), keyMatch(key.size(), 2)));
  if (!q) return q.status();
  HL_RETURN_IF_ERROR((*q)->bindInt(1, *id));
  for (qsizetype i = 0; i < key.size(); ++i)
    HL_RETURN_IF_ERROR(bindValue(**q, int(i) + 2, key[i].second));
  QList<int64_t> ids;
  SqliteRows rows(**q);
  for (const SqliteStmt& r : rows) ids << r.columnInt(0);
  HL_RETURN_IF_ERROR(rows.status());
  return ids;
}

Status ChangeLog::recordMove(const TableInfo& table, const Value& from, const Value& to,
                             int64_t mark) {
  auto id = tableId(table.name);
  if (!id) return id.status();
  auto drop = m_db.cached(
      QStringLiteral("DELETE FROM %1 WHERE id > ?1 AND tbl = ?2 AND op = 3 AND k0 IS ?3")
          .arg(quoteIdentifier(kChanges)));
  if (!drop) return drop.status();
  HL_RETURN_IF_ERROR((*drop)->bindInt(1, mark));
  HL_RETURN_IF_ERROR((*drop)->bindInt(2, *id));
  HL_RETURN_IF_ERROR(bindValue(**drop, 3, from));
  HL_RETURN_IF_ERROR((*drop)->run());
  auto insert = m_db.cached(
      QStringLiteral(
          "UPDATE %1 SET op = 1, assigned = 1 WHERE id > ?1 AND tbl = ?2 AND op = 2 AND k0 IS ?3")
          .arg(quoteIdentifier(kChanges)));
  if (!insert) return insert.status();
  HL_RETURN_IF_ERROR((*insert)->bindInt(1, mark));
  HL_RETURN_IF_ERROR((*insert)->bindInt(2, *id));
  HL_RETURN_IF_ERROR(bindValue(**insert, 3, to));
  return (*insert)->run();
}

Status ChangeLog::capture(const TableInfo& table, ChangeType type, const RowImage& key) {
  if (key.size() > m_keyColumns) return Status::internal("capture: key wider than the log");
  auto id = tableId(table.name);
  if (!id) return id.status();
  QStringList params;
  for (qsizetype i = 0; i < key.size(); ++i) params << QStringLiteral("?%1").arg(i + 3);
  auto ins = m_db.cached(
      QStringLiteral("INSERT INTO %1(tbl, op, %2) VALUES(?1, ?2, %3)")
          .arg(quoteIdentifier(kChanges), keyTargets(int(key.size())), params.join(',')));
  if (!ins) return ins.status();
  HL_RETURN_IF_ERROR((*ins)->bindInt(1, *id));
  HL_RETURN_IF_ERROR((*ins)->bindInt(2, int(type)));
  for (qsizetype i = 0; i < key.size(); ++i)
    HL_RETURN_IF_ERROR(bindValue(**ins, int(i) + 3, key[i].second));
  return (*ins)->run();
}

Status ChangeLog::markAcked(const QList<Acked>& acked) {
  if (acked.isEmpty()) return Status::ok();
  // Joins the caller's transaction when there is one.
  std::optional<SqliteTxn> txn;
  if (sqlite3_get_autocommit(m_db.handle())) {
    auto begun = SqliteTxn::begin(m_db);
    if (!begun) return begun.status().withContext("mark acked");
    txn.emplace(std::move(*begun));
  }
  auto upd = m_db.cached(QStringLiteral("UPDATE %1 SET state = 1, published_at = ?1, stream_seq = "
                                        "?2, shard = ?3, assigned = ?5 WHERE id = ?4")
                             .arg(quoteIdentifier(kChanges)));
  if (!upd) return upd.status();
  const int64_t now = m_nowMs();
  for (const Acked& a : acked) {
    HL_RETURN_IF_ERROR((*upd)->bindInt(1, now));
    HL_RETURN_IF_ERROR((*upd)->bindInt(2, int64_t(a.streamSeq)));
    HL_RETURN_IF_ERROR((*upd)->bindInt(3, a.shard));
    HL_RETURN_IF_ERROR((*upd)->bindInt(4, a.id));
    HL_RETURN_IF_ERROR((*upd)->bindInt(5, a.assigned ? 1 : 0));
    HL_RETURN_IF_ERROR((*upd)->run());
  }
  return txn ? txn->commit() : Status::ok();
}

Status ChangeLog::markPublished(const QList<int64_t>& ids) {
  if (ids.isEmpty()) return Status::ok();
  std::optional<SqliteTxn> txn;
  if (sqlite3_get_autocommit(m_db.handle())) {
    auto begun = SqliteTxn::begin(m_db);
    if (!begun) return begun.status().withContext("mark published");
    txn.emplace(std::move(*begun));
  }
  auto upd = m_db.cached(QStringLiteral("UPDATE %1 SET state = 1, published_at = NULL, stream_seq "
                                        "= NULL, shard = NULL WHERE id = ?")
                             .arg(quoteIdentifier(kChanges)));
  if (!upd) return upd.status();
  for (int64_t id : ids) {
    HL_RETURN_IF_ERROR((*upd)->bindInt(1, id));
    HL_RETURN_IF_ERROR((*upd)->run());
  }
  return txn ? txn->commit() : Status::ok();
}

Status ChangeLog::markFailed(int64_t id, const QString& reason) {
  auto upd = m_db.prepare(QStringLiteral("UPDATE %1 SET state = 2, error = ? WHERE id = ?")
                              .arg(quoteIdentifier(kChanges)));
  if (!upd) return upd.status();
  HL_RETURN_IF_ERROR(upd->bindText(1, reason.toUtf8()));
  HL_RETURN_IF_ERROR(upd->bindInt(2, id));
  return upd->run();
}

Result<int> ChangeLog::cleanup() {
  // docs/replication.md#durability. The newest row stays whatever its state (ids never go back).
  // Rows become removable in about the order of their ids (acked in order; the horizon and the
  // snapshot watermarks move forward), so the log is walked from its oldest row and the walk
  // stops after kCleanupStopRun rows in a row that stay, or after its work budget (2 ms; then
  // cleanupIncomplete() says so, and the next cleanup goes on): the work is what is removed
  // plus a little, not a scan of every row kept (which held the write lock for 70-120 ms every
  // 5 s with 100,000 kept changes; docs/replication.md#performance). The same budget bounds
  // the old marks removed and the cap's count, and the cap drops at most kCapDropChunk rows:
  // one cleanup holds the write lock a few ms whatever cleanup_interval let pile up (with
  // 30 s, 16-38 ms before).
  const QString table = quoteIdentifier(kChanges);
  auto txn = SqliteTxn::begin(m_db);
  if (!txn) return txn.status().withContext("cleanup");
  const auto started = std::chrono::steady_clock::now();
  auto newest = maxChangeId();
  if (!newest) return newest.status().withContext("cleanup");
  const int64_t horizon = m_nowMs() - m_horizonMs;
  auto walk = m_db.cached(
      QStringLiteral("SELECT id, state, published_at, shard, stream_seq FROM %1 WHERE id > ? AND "
                     "id < ? ORDER BY id LIMIT 256")
          .arg(table));
  if (!walk) return walk.status().withContext("cleanup");
  auto remove = m_db.cached(QStringLiteral("DELETE FROM %1 WHERE id = ?").arg(table));
  if (!remove) return remove.status().withContext("cleanup");
  auto removeAll = [&](const QList<int64_t>& ids) -> Status {
    for (int64_t id : ids) {
      HL_RETURN_IF_ERROR((*remove)->bindInt(1, id));
      HL_RETURN_IF_ERROR((*remove)->run());
    }
    return Status::ok();
  };
  const auto spent = [&] { return std::chrono::steady_clock::now() - started >= m_workBudget; };
  int covered = 0;
  int64_t walked = 0;        // the last id looked at
  int64_t firstPending = 0;  // the oldest pending change seen (0: none)
  QList<int64_t> marks;      // chosen-key marks seen
  int staying = 0;           // rows in a row that stay
  bool walkedAll = false;    // up to the newest row
  m_cleanupIncomplete = false;
  for (bool more = true; more;) {
    HL_RETURN_IF_ERROR((*walk)->bindInt(1, walked));
    HL_RETURN_IF_ERROR((*walk)->bindInt(2, *newest));
    QList<int64_t> gone;
    int rowsRead = 0;
    {
      SqliteRows rows(**walk);
      for (const SqliteStmt& r : rows) {
        ++rowsRead;
        walked = r.columnInt(0);
        const bool pending = r.isNull(1);
        const int64_t state = r.columnInt(1);
        bool goes = false;
        if (pending) {
          if (firstPending == 0) firstPending = walked;
        } else if (state == kChosenKeyMark) {
          marks << walked;  // decided below
          continue;
        } else if (state == 1) {
          // Covered: no ack to keep (published_at NULL), acked longer ago than the horizon, or
          // at or below its shard's snapshot watermark.
          const auto mark = m_watermarks.constFind(int(r.columnInt(3)));
          goes =
              r.isNull(2) || r.columnInt(2) <= horizon ||
              (mark != m_watermarks.constEnd() && !r.isNull(4) && quint64(r.columnInt(4)) <= *mark);
        }
        if (goes) {
          gone << walked;
          staying = 0;
        } else if (++staying >= kCleanupStopRun) {
          break;
        }
      }
      HL_RETURN_IF_ERROR(rows.status().withContext("cleanup"));
    }
    HL_RETURN_IF_ERROR(removeAll(gone));
    for (int64_t id : gone) uncount(id);
    covered += int(gone.size());
    more = rowsRead == 256 && staying < kCleanupStopRun;
    walkedAll = rowsRead < 256 && staying < kCleanupStopRun;
    if (more && spent()) {
      m_cleanupIncomplete = true;
      break;
    }
  }
  // Chosen-key marks whose inserts were all read and acked (then `assigned` holds the answer):
  // those a few rows before the oldest pending change, every one when none is pending (or a
  // few rows before where the walk stopped: a pending change it did not see is after it).
  const int64_t before = firstPending != 0 ? firstPending - 8
                         : walkedAll       ? *newest
                                           : walked + 1 - 8;
  // Oldest first, 256 at least, then within the budget: those left are found again by the next
  // walk, which starts from the oldest row.
  QList<int64_t> oldMarks;
  for (int64_t id : marks) {
    if (id >= before) break;  // ascending
    if (oldMarks.size() >= 256 && oldMarks.size() % 256 == 0 && spent()) {
      m_cleanupIncomplete = true;
      break;
    }
    oldMarks << id;
  }
  HL_RETURN_IF_ERROR(removeAll(oldMarks));
  // The memory bound: the newest m_cap published rows stay; older ones go, uncovered.
  HL_RETURN_IF_ERROR(countForCap(*newest, started).withContext("cleanup"));
  auto dropped = dropBeyondCap(*newest);
  if (!dropped) return dropped.status().withContext("cleanup");
  const int uncovered = *dropped;
  HL_RETURN_IF_ERROR(txn->commit());
  m_droppedUncovered += uncovered;
  m_uncoveredUnsaid += uncovered;
  if (m_uncoveredUnsaid > 0 && m_capDropTo == 0) {  // said once per drop, not per chunk
    qCWarning(lcCdc).noquote()
        << QStringLiteral(
               "%1 published changes dropped before a snapshot or the horizon covered them (at "
               "most %2 are kept; keep_published = %3 ms; docs/replication.md#durability)")
               .arg(m_uncoveredUnsaid)
               .arg(m_cap)
               .arg(m_horizonMs);
    m_uncoveredUnsaid = 0;
  }
  return covered + uncovered;
}

void ChangeLog::uncount(int64_t id) {
  CapCount& c = m_capCount;
  if (id <= c.boundary || id > c.readTo ||
      std::binary_search(c.unsettled.cbegin(), c.unsettled.cend(), id))
    return;
  if (--c.counted < 0) m_capCount = CapCount{};  // not what was counted: count again
}

Status ChangeLog::countForCap(int64_t newest, std::chrono::steady_clock::time_point started) {
  const QString table = quoteIdentifier(kChanges);
  CapCount& c = m_capCount;
  // The rows pending when read: published since (counted now), gone, failed, or still pending.
  if (!c.unsettled.isEmpty()) {
    auto stateOf = m_db.cached(QStringLiteral("SELECT state FROM %1 WHERE id = ?").arg(table));
    if (!stateOf) return stateOf.status();
    QList<int64_t> still;
    for (int64_t id : std::as_const(c.unsettled)) {
      ++m_capRowsRead;
      HL_RETURN_IF_ERROR((*stateOf)->bindInt(1, id));
      SqliteRows rows(**stateOf);
      for (const SqliteStmt& r : rows) {
        if (r.isNull(0)) {
          still << id;
        } else if (r.columnInt(0) == 1) {
          if (id > c.boundary)
            ++c.counted;
          else
            c.publishedBelow = true;  // beyond the cap (the boundary passed it): it goes
        }
      }
      HL_RETURN_IF_ERROR(rows.status());
    }
    c.unsettled = std::move(still);
  }
  // The rows written since: each read once, within the cleanup's work budget but never fewer
  // than were written since the last cleanup (up to kCapMustRead), so that the reading catches
  // up (a new object, as after a start, reads the whole log a budget at a time; then
  // cleanupIncomplete() is true).
  const int64_t written =
      m_capLastNewest > 0 ? std::clamp<int64_t>(newest - m_capLastNewest, 0, kCapMustRead) : 0;
  m_capLastNewest = newest;
  auto read = m_db.cached(
      QStringLiteral("SELECT id, state FROM %1 WHERE id > ?1 AND id <= ?2 ORDER BY id").arg(table));
  if (!read) return read.status();
  HL_RETURN_IF_ERROR((*read)->bindInt(1, c.readTo));
  HL_RETURN_IF_ERROR((*read)->bindInt(2, newest));
  c.behind = false;
  bool budgetSpent = false;
  int64_t readNow = 0;
  SqliteRows rows(**read);
  for (const SqliteStmt& r : rows) {
    if (++readNow % 256 == 0 && readNow > written &&
        std::chrono::steady_clock::now() - started >= m_workBudget) {
      budgetSpent = true;
      break;
    }
    const int64_t id = r.columnInt(0);
    if (r.isNull(1)) {
      if (c.unsettled.size() >= kCapUnsettledMax) {
        c.behind = true;  // read on once some of them settled
        break;
      }
      c.unsettled << id;
    } else if (r.columnInt(1) == 1) {
      ++c.counted;
    }
    c.readTo = id;
    ++m_capRowsRead;
  }
  HL_RETURN_IF_ERROR(rows.status());
  if (budgetSpent)
    m_cleanupIncomplete = true;
  else if (!c.behind)
    c.readTo = std::max(c.readTo, newest);
  return Status::ok();
}

Result<int> ChangeLog::dropBeyondCap(int64_t newest) {
  const QString table = quoteIdentifier(kChanges);
  const int64_t cap = std::max<int64_t>(0, m_cap);
  CapCount& c = m_capCount;
  int64_t dropTo = 0;  // published rows up to it go
  if (c.publishedBelow) {
    // Rows the boundary passed while they were pending, published since: of those, as many
    // as the counted rows leave room for stay (the newest), and the boundary moves down to
    // count them; the rest go. A walk down from the boundary over the rows below it.
    c.publishedBelow = false;
    const int64_t room = std::max<int64_t>(0, cap - c.counted);
    auto q = m_db.cached(
        QStringLiteral("SELECT id FROM %1 WHERE id <= ?1 AND state = 1 ORDER BY id DESC LIMIT ?2")
            .arg(table));
    if (!q) return q.status();
    HL_RETURN_IF_ERROR((*q)->bindInt(1, c.boundary));
    HL_RETURN_IF_ERROR((*q)->bindInt(2, room + 1));
    QList<int64_t> below;
    SqliteRows rows(**q);
    for (const SqliteStmt& r : rows) below << r.columnInt(0);
    HL_RETURN_IF_ERROR(rows.status());
    if (below.size() == room + 1) {
      c.counted += room;
      c.boundary = dropTo = below.last();
    } else {
      c.counted += below.size();
      c.boundary = 0;
    }
  }
  if (c.counted > cap) {
    // The oldest counted rows beyond the cap: a walk of those only, from the boundary up.
    auto q = m_db.cached(QStringLiteral("SELECT id FROM %1 WHERE id > ?1 AND id <= ?2 AND state = "
                                        "1 ORDER BY id LIMIT 1 OFFSET ?3")
                             .arg(table));
    if (!q) return q.status();
    HL_RETURN_IF_ERROR((*q)->bindInt(1, c.boundary));
    HL_RETURN_IF_ERROR((*q)->bindInt(2, c.readTo));
    HL_RETURN_IF_ERROR((*q)->bindInt(3, c.counted - cap - 1));
    int64_t boundary = 0;
    SqliteRows rows(**q);
    for (const SqliteStmt& r : rows) boundary = r.columnInt(0);
    HL_RETURN_IF_ERROR(rows.status());
    if (boundary == 0) {  // fewer rows than counted: something unseen removed some
      m_capCount = CapCount{};
      return 0;
    }
    c.boundary = dropTo = boundary;
    c.counted = cap;
  } else if (dropTo == 0 && c.behind) {
    // The count fell behind (thousands of changes pending while later ones were published):
    // the walk of up to m_cap rows from the newest, and the count starts again, when there may
    // be more published rows than the cap: the last count plus every id since, or else the
    // span of ids.
    int64_t atMost = 0;
    if (m_counts.valid) {
      atMost = m_counts.published + std::max<int64_t>(0, newest - m_counts.newestId);
    } else {
      auto oldest =
          m_db.cachedInt(QStringLiteral("SELECT coalesce(min(id), 0) FROM %1").arg(table));
      if (!oldest) return oldest.status();
      atMost = newest - *oldest + 1;
    }
    if (atMost <= cap) return 0;
    auto q = m_db.cached(QStringLiteral("SELECT coalesce((SELECT id FROM %1 WHERE state = 1 ORDER "
                                        "BY id DESC LIMIT 1 OFFSET ?1), 0)")
                             .arg(table));
    if (!q) return q.status();
    HL_RETURN_IF_ERROR((*q)->bindInt(1, cap));
    SqliteRows rows(**q);
    for (const SqliteStmt& r : rows) dropTo = r.columnInt(0);
    HL_RETURN_IF_ERROR(rows.status());
    m_capCount = CapCount{};
  }
  // A drop that stopped at its chunk goes on (rows at or below the boundary only: one that
  // moved down since keeps the rows above it; a count that started over keeps them all).
  if (dropTo == 0) dropTo = std::min(m_capDropTo, c.boundary);
  m_capDropTo = 0;
  if (dropTo == 0) return 0;
  int64_t upTo = std::min(dropTo, newest - 1);
  if (c.boundary > 0) {  // then dropTo is at or below it (the count's drop, or the one above)
    // At most kCapDropChunk rows now, the oldest; the rest at the next cleanups. (Not after the
    // walk from the newest row: the count starts over there, and nothing would say where the
    // rest ends.)
    auto chunk = m_db.cached(
        QStringLiteral(
            "SELECT id FROM %1 WHERE id <= ?1 AND state = 1 ORDER BY id LIMIT 1 OFFSET ?2")
            .arg(table));
    if (!chunk) return chunk.status();
    HL_RETURN_IF_ERROR((*chunk)->bindInt(1, upTo));
    HL_RETURN_IF_ERROR((*chunk)->bindInt(2, kCapDropChunk - 1));
    int64_t last = 0;
    SqliteRows rows(**chunk);
    for (const SqliteStmt& r : rows) last = r.columnInt(0);
    HL_RETURN_IF_ERROR(rows.status());
    if (last != 0 && last < upTo) {
      m_capDropTo = upTo;
      upTo = last;
      m_cleanupIncomplete = true;
    }
  }
  // One upper bound, so that SQLite reads the range of ids up to it only; the newest row stays.
  auto drop = m_db.cached(QStringLiteral("DELETE FROM %1 WHERE id <= ?1 AND state = 1").arg(table));
  if (!drop) return drop.status();
  HL_RETURN_IF_ERROR((*drop)->bindInt(1, upTo));
  HL_RETURN_IF_ERROR((*drop)->run());
  return m_db.changes();
}

int ChangeLog::nextSliceRows(int rows, int read, qint64 costNs, qint64 budgetNs) {
  constexpr qint64 kTimed = 256, kMax = 100000;
  qint64 next = rows;
  if (read >= kTimed) next = budgetNs / std::max<qint64>(1, costNs / read);
  next = std::min(next, 2 * std::max<qint64>(read, kTimed));
  return int(std::clamp(next, kTimed, kMax));
}

Status ChangeLog::countSlice(int rows, int* read) {
  auto q = m_db.cached(
      QStringLiteral(
          "SELECT count(*), max(id), total(state = 2), total(state = 1), total(state = 1 "
          "AND published_at IS NOT NULL), min(CASE WHEN state = 1 THEN published_at "
          "END) FROM (SELECT id, state, published_at FROM %1 WHERE id > ?1 ORDER BY id "
          "LIMIT ?2)")
          .arg(quoteIdentifier(kChanges)));
  if (!q) return q.status();
  HL_RETURN_IF_ERROR((*q)->bindInt(1, m_sweepFrom));
  HL_RETURN_IF_ERROR((*q)->bindInt(2, rows));
  SqliteRows result(**q);
  if (read) *read = 0;
  for (const SqliteStmt& r : result) {
    const int64_t n = r.columnInt(0);
    if (read) *read = int(n);
    if (n > 0) {
      m_sweepFrom = m_sweep.newestId = r.columnInt(1);
      m_sweep.failed += int64_t(r.columnDouble(2));
      m_sweep.published += int64_t(r.columnDouble(3));
      m_sweep.kept.count += int64_t(r.columnDouble(4));
      if (!r.isNull(5) && (m_sweep.kept.oldestMs == 0 || r.columnInt(5) < m_sweep.kept.oldestMs))
        m_sweep.kept.oldestMs = r.columnInt(5);
    }
    if (n < rows) {  // the newest row was read: a whole sweep
      m_counts = m_sweep;
      m_counts.valid = true;
      m_sweep = Counts{};
      m_sweepFrom = 0;
    }
  }
  return result.status();
}

Result<ChangeLog::Kept> ChangeLog::kept() {
  auto q = m_db.cached(QStringLiteral("SELECT count(*), ifnull(min(published_at), 0) FROM %1 "
                                      "WHERE state = 1 AND published_at IS NOT NULL")
                           .arg(quoteIdentifier(kChanges)));
  if (!q) return q.status();
  auto row = (*q)->step();
  if (!row) return row.status();
  Kept k;
  if (*row) k = {(*q)->columnInt(0), (*q)->columnInt(1)};
  (*q)->reset();
  return k;
}

Result<QList<int64_t>> ChangeLog::requeuePublished(int shard, quint64 afterSeq) {
  auto txn = SqliteTxn::begin(m_db);
  if (!txn) return txn.status();
  const QString which =
      QStringLiteral("state = 1 AND shard = ? AND (stream_seq IS NULL OR stream_seq > ?)");
  auto select = m_db.prepare(QStringLiteral("SELECT id FROM %1 WHERE %2 ORDER BY id")
                                 .arg(quoteIdentifier(kChanges), which));
  if (!select) return select.status();
  HL_RETURN_IF_ERROR(select->bindInt(1, shard));
  HL_RETURN_IF_ERROR(select->bindInt(2, int64_t(afterSeq)));
  QList<int64_t> ids;
  SqliteRows rows(*select);
  for (const SqliteStmt& r : rows) ids << r.columnInt(0);
  HL_RETURN_IF_ERROR(rows.status());
  // Their acks name messages the stream lost: the next ack says where they are now.
  auto update = m_db.prepare(QStringLiteral("UPDATE %1 SET state = NULL, published_at = NULL, "
                                            "stream_seq = NULL, shard = NULL WHERE %2")
                                 .arg(quoteIdentifier(kChanges), which));
  if (!update) return update.status();
  HL_RETURN_IF_ERROR(update->bindInt(1, shard));
  HL_RETURN_IF_ERROR(update->bindInt(2, int64_t(afterSeq)));
  HL_RETURN_IF_ERROR(update->run());
  HL_RETURN_IF_ERROR(txn->commit());
  m_capCount = CapCount{};  // published rows counted for the cap are pending again
  return ids;
}

Result<QHash<int, quint64>> ChangeLog::highestPublishedSeqs() {
  auto stmt = m_db.prepare(QStringLiteral("SELECT shard, max(stream_seq) FROM %1 WHERE state = 1 "
                                          "AND shard IS NOT NULL GROUP BY shard")
                               .arg(quoteIdentifier(kChanges)));
  if (!stmt) return stmt.status();
  QHash<int, quint64> out;
  SqliteRows rows(*stmt);
  for (const SqliteStmt& r : rows) out.insert(int(r.columnInt(0)), quint64(r.columnInt(1)));
  HL_RETURN_IF_ERROR(rows.status());
  return out;
}

Result<ChangeLog::Retried> ChangeLog::retryFailed() {
  auto txn = SqliteTxn::begin(m_db);
  if (!txn) return txn.status();
  auto first = m_db.queryInt(QStringLiteral("SELECT coalesce(min(id), 0) FROM %1 WHERE state = 2")
                                 .arg(quoteIdentifier(kChanges)));
  if (!first) return first.status();
  // Those the cap's count read as failed: looked at again until published, like pending ones.
  auto counted =
      m_db.prepare(QStringLiteral("SELECT id FROM %1 WHERE state = 2 AND id <= ? ORDER BY id")
                       .arg(quoteIdentifier(kChanges)));
  if (!counted) return counted.status();
  HL_RETURN_IF_ERROR(counted->bindInt(1, m_capCount.readTo));
  QList<int64_t> unsettled;
  SqliteRows rows(*counted);
  for (const SqliteStmt& r : rows) unsettled << r.columnInt(0);
  HL_RETURN_IF_ERROR(rows.status());
  HL_RETURN_IF_ERROR(
      m_db.exec(QStringLiteral("UPDATE %1 SET state = NULL, error = NULL WHERE state = 2")
                    .arg(quoteIdentifier(kChanges))));
  Retried r{m_db.changes(), *first};
  HL_RETURN_IF_ERROR(txn->commit());
  if (!unsettled.isEmpty()) {
    unsettled += m_capCount.unsettled;  // some may be there (failed since the last cleanup)
    std::sort(unsettled.begin(), unsettled.end());
    unsettled.erase(std::unique(unsettled.begin(), unsettled.end()), unsettled.end());
    m_capCount.unsettled = std::move(unsettled);
  }
  return r;
}

Result<int64_t> ChangeLog::echoMark() {
  // Once per applied batch: cached statements (docs/replication.md#performance).
  auto hasLog = m_db.hasTable(kChanges);
  if (!hasLog) return hasLog.status();
  if (!*hasLog) return int64_t(-1);
  return maxChangeId();
}

Status ChangeLog::dropEcho(int64_t mark) {
  if (mark < 0) return Status::ok();
  auto echoes =
      m_db.cached(QStringLiteral("DELETE FROM %1 WHERE id > ?").arg(quoteIdentifier(kChanges)));
  if (!echoes) return echoes.status();
  HL_RETURN_IF_ERROR((*echoes)->bindInt(1, mark));
  return (*echoes)->run();
}

Result<int64_t> ChangeLog::pendingCount(int64_t afterId) {
  auto q = m_db.cached(QStringLiteral("SELECT count(*) FROM %1 WHERE id > ? AND state IS NULL")
                           .arg(quoteIdentifier(kChanges)));
  if (!q) return q.status();
  HL_RETURN_IF_ERROR((*q)->bindInt(1, afterId));
  SqliteRows rows(**q);
  for (const SqliteStmt& r : rows) return r.columnInt(0);
  HL_RETURN_IF_ERROR(rows.status());
  return int64_t(0);
}

Result<int64_t> ChangeLog::failedCount() {
  return m_db.cachedInt(
      QStringLiteral("SELECT count(*) FROM %1 WHERE state = 2").arg(quoteIdentifier(kChanges)));
}

Result<int64_t> ChangeLog::maxChangeId() {
  return m_db.cachedInt(
      QStringLiteral("SELECT coalesce(max(id), 0) FROM %1").arg(quoteIdentifier(kChanges)));
}

Status removeCaptureObjects(const QString& dbPath) {
  if (!QFileInfo::exists(dbPath))
    return Status::notFound(QStringLiteral("database %1 does not exist").arg(dbPath));
  auto db = SqliteDb::open(dbPath, SqliteDb::Options{false, false, 5000});
  if (!db) return db.status();
  return ChangeLog::uninstall(*db).withContext(QStringLiteral("cleanup of %1").arg(dbPath));
}

}  // namespace hl
