// Capture -> encode -> decode -> apply between two database files (issue 3, done-when 1-3):
// thousands of random rows of every storage class across every table shape, written by the
// sqlite3 program and by a connection with trusted_schema=OFF; then updates and deletes; then
// schema changes mid-stream. After each phase the two databases are identical value by value
// and storage class by storage class. A hostile message changes nothing.
#include <QRandomGenerator>
#include <QTemporaryDir>
#include <QtTest>

#include <cmath>
#include <limits>

#include "apply_support.h"
#include "cdc/change_log.h"
#include "replication/applier.h"
#include "sqlite/sqlite_value.h"
#include "test_support.h"
#include "wire/cbor_codec.h"

using namespace hl;

namespace {

const char* kSchema = R"(
  CREATE TABLE "my table"("the key" TEXT PRIMARY KEY, "select" INTEGER, "da-sh" REAL, b BLOB, anything);
  CREATE TABLE comp(a INTEGER, b TEXT, c BLOB, v, PRIMARY KEY(b, a)) WITHOUT ROWID;
  CREATE TABLE blobpk(k BLOB PRIMARY KEY, v);
  CREATE TABLE nopk(x, y, z);
  CREATE TABLE ints(id INTEGER PRIMARY KEY, v, w);
  CREATE TABLE "we""ird table-name"("order" INTEGER PRIMARY KEY, "group" TEXT);
  CREATE TABLE t(id INTEGER PRIMARY KEY, v);
)";

struct Side {
  SqliteDb db;
  std::unique_ptr<SchemaCatalog> catalog;
  std::unique_ptr<ChangeLog> log;
  std::unique_ptr<Applier> applier;
};

QString sqlLiteral(const Value& v) {
  switch (v.type()) {
    case Value::Type::kNull:
      return "NULL";
    case Value::Type::kInteger:
      return QString::number(v.asInteger());
    case Value::Type::kReal: {
      QString s = QString::number(v.asReal(), 'g', 17);
      if (!s.contains('.') && !s.contains('e') && !s.contains("inf")) s += ".0";
      return s;
    }
    case Value::Type::kText:
      return "'" + QString::fromUtf8(v.bytes()).replace("'", "''") + "'";
    case Value::Type::kBlob:
      return "x'" + QString::fromLatin1(v.bytes().toHex()) + "'";
  }
  return "NULL";
}

// The SQL with its ? and ?N parameters replaced by literals, in one pass.
QString withLiterals(const QString& sql, const QList<Value>& params) {
  QString out;
  int next = 0;
  for (qsizetype i = 0; i < sql.size(); ++i) {
    if (sql[i] != '?') {
      out += sql[i];
      continue;
    }
    qsizetype j = i + 1;
    while (j < sql.size() && sql[j].isDigit()) ++j;
    const int index = j > i + 1 ? sql.mid(i + 1, j - i - 1).toInt() - 1 : next++;
    out += sqlLiteral(params.value(index));
    i = j - 1;
  }
  return out;
}

class Gen {
 public:
  explicit Gen(quint32 seed) : m_rng(seed) {}
  int64_t integer() {
    switch (m_rng.bounded(6)) {
      case 0:
        return std::numeric_limits<int64_t>::min();
      case 1:
        return std::numeric_limits<int64_t>::max();
      case 2:
        return int64_t(m_rng.bounded(300)) - 150;
      case 3:
        return int64_t(m_rng.generate64());
      default:
        return int64_t(m_rng.bounded(1u << 31)) * (m_rng.bounded(2) ? 1 : -1);
    }
  }
  double real() {
    switch (m_rng.bounded(5)) {
      case 0:
        return -0.0;
      case 1:
        return 1e308 * (m_rng.bounded(2) ? 1 : -1);
      case 2:
        return 4.9e-324;
      case 3:
        return double(m_rng.bounded(1000));  // integral-valued REAL stays REAL
      default:
        return (m_rng.generateDouble() - 0.5) * 1e6;
    }
  }
  QByteArray text() {
    static const QStringList pieces = {"a", "Z",    " ",    "'",  "\"", "ä",  "ß",
                                       "€", "日本", "🙂", "\\", "\n", ";--"};
    QString s;
    const int n = int(m_rng.bounded(12));
    for (int i = 0; i < n; ++i) s += pieces[int(m_rng.bounded(pieces.size()))];
    return s.toUtf8();
  }
  QByteArray blob() {
    QByteArray b(int(m_rng.bounded(20)), '\0');
    for (char& c : b) c = char(m_rng.bounded(256));
    return b;
  }
  Value any() {
    switch (m_rng.bounded(5)) {
      case 0:
        return Value::null();
      case 1:
        return Value::integer(integer());
      case 2:
        return Value::real(real());
      case 3:
        return Value::text(text());
      default:
        return Value::blob(blob());
    }
  }
  quint32 bounded(quint32 n) { return m_rng.bounded(n); }

 private:
  QRandomGenerator m_rng;
};

}  // namespace

class TestRoundTrip : public QObject {
  Q_OBJECT
  QTemporaryDir m_dir;
  Side m_a, m_b;
  std::unique_ptr<Gen> m_gen;
  int64_t m_published = 0;  // last change id taken from A
  int m_sent = 0;
  bool m_altered = false;  // after schemaChangeMidStream's ALTERs

  // In place: the catalog, log and applier keep a reference to s.db.
  void open(Side& s, const QString& name) {
    auto db = SqliteDb::open(m_dir.filePath(name));
    if (!db || !db->exec(QStringLiteral("PRAGMA journal_mode=WAL;") + kSchema).isOk())
      qFatal("open");
    s.db = std::move(*db);
    s.catalog = std::make_unique<SchemaCatalog>(s.db, QStringList{});
    s.log = std::make_unique<ChangeLog>(s.db, *s.catalog);
    s.applier = std::make_unique<Applier>(s.db, *s.catalog, *s.log);
    if (!s.catalog->refresh().ok() || !s.log->install().isOk()) qFatal("install");
  }

  // The statements of one random write on `table` (insert, update or delete).
  QList<QPair<QString, QList<Value>>> randomWrite(const QString& kind) {
    Gen& g = *m_gen;
    QList<QPair<QString, QList<Value>>> out;
    const int table = int(g.bounded(6));
    const bool ins = kind == "insert";
    switch (table) {
      case 0: {
        const Value key = Value::text("k" + QByteArray::number(g.bounded(400)) +
                                      QString::fromUtf8(g.text()).left(3).toUtf8());
        if (kind == "delete") {
          out.append({"DELETE FROM \"my table\" WHERE \"the key\" = ?", {key}});
        } else {
          out.append({ins ? "INSERT OR REPLACE INTO \"my table\" VALUES (?, ?, ?, ?, ?)"
                          : QStringLiteral("UPDATE \"my table\" SET \"select\" = ?2, \"da-sh\" = "
                                           "?3, b = ?4, %1 = ?5 WHERE \"the key\" = ?1")
                                .arg(m_altered ? "renamed" : "anything"),
                      {key, Value::integer(g.integer()), Value::real(g.real()),
                       Value::blob(g.blob()), g.any()}});
        }
        break;
      }
      case 1: {
        const Value a = Value::integer(int64_t(g.bounded(50)) - 25),
                    b = Value::text(QByteArray::number(g.bounded(20)));
        if (kind == "delete")
          out.append({"DELETE FROM comp WHERE a = ? AND b = ?", {a, b}});
        else if (m_altered)
          out.append({ins ? "INSERT OR REPLACE INTO comp(a, b, v) VALUES (?, ?, ?)"
                          : "UPDATE comp SET v = ?3 WHERE a = ?1 AND b = ?2",
                      {a, b, g.any()}});
        else
          out.append({ins ? "INSERT OR REPLACE INTO comp(a, b, c, v) VALUES (?, ?, ?, ?)"
                          : "UPDATE comp SET c = ?3, v = ?4 WHERE a = ?1 AND b = ?2",
                      {a, b, Value::blob(g.blob()), g.any()}});
        break;
      }
      case 2: {
        QByteArray k = g.blob().left(3);
        const Value key = Value::blob(k);
        if (kind == "delete")
          out.append({"DELETE FROM blobpk WHERE k = ?", {key}});
        else
          out.append({ins ? "INSERT OR REPLACE INTO blobpk VALUES (?, ?)"
                          : "UPDATE blobpk SET v = ?2 WHERE k = ?1",
                      {key, g.any()}});
        break;
      }
      case 3: {
        if (kind == "delete")
          out.append(
              {QStringLiteral("DELETE FROM nopk WHERE rowid = (SELECT max(rowid) FROM nopk)"),
               QList<Value>{}});
        else if (ins)
          out.append({"INSERT INTO nopk VALUES (?, ?, ?)", {g.any(), g.any(), g.any()}});
        else
          out.append(
              {"UPDATE nopk SET y = ? WHERE rowid = (SELECT min(rowid) FROM nopk)", {g.any()}});
        break;
      }
      case 4: {
        const Value id = Value::integer(g.bounded(3) == 0 ? g.integer() : int64_t(g.bounded(500)));
        if (kind == "delete")
          out.append({"DELETE FROM ints WHERE id = ?", {id}});
        else if (m_altered)
          out.append({ins ? "INSERT OR REPLACE INTO ints(id, v, w, extra) VALUES (?, ?, ?, ?)"
                          : "UPDATE ints SET v = ?2, w = ?3, extra = ?4 WHERE id = ?1",
                      {id, g.any(), g.any(), Value::text(g.text())}});
        else
          out.append({ins ? "INSERT OR REPLACE INTO ints(id, v, w) VALUES (?, ?, ?)"
                          : "UPDATE ints SET v = ?2, w = ?3 WHERE id = ?1",
                      {id, g.any(), g.any()}});
        break;
      }
      default: {
        const Value id = Value::integer(g.bounded(300));
        if (kind == "delete")
          out.append({"DELETE FROM \"we\"\"ird table-name\" WHERE \"order\" = ?", {id}});
        else
          out.append(
              {ins ? "INSERT OR REPLACE INTO \"we\"\"ird table-name\" VALUES (?, ?)"
                   : "UPDATE \"we\"\"ird table-name\" SET \"group\" = ?2 WHERE \"order\" = ?1",
               {id, Value::text(g.text())}});
      }
    }
    return out;
  }

  // Runs `count` random writes of `kind`: half through the sqlite3 program (one script),
  // half through a connection with trusted_schema=OFF and bound parameters.
  void write(const QString& kind, int count) {
    QString script = "BEGIN;\n";
    auto app = SqliteDb::open(m_a.db.path());
    QVERIFY(app.ok());
    QVERIFY(app->exec("PRAGMA trusted_schema=OFF").isOk());
    QVERIFY(app->exec("BEGIN").isOk());
    for (int i = 0; i < count; ++i) {
      for (const auto& [sql, params] : randomWrite(kind)) {
        if (i % 2 == 0) {
          const QString literal = withLiterals(sql, params);
          script += literal + ";\n";
        } else {
          auto stmt = app->prepare(sql);
          QVERIFY2(stmt.ok(), qPrintable(stmt.status().message()));
          for (int p = 0; p < params.size(); ++p)
            QVERIFY(bindValue(*stmt, p + 1, params[p]).isOk());
          QVERIFY2(stmt->run().isOk(), qPrintable(sql));
        }
      }
    }
    QVERIFY(app->exec("COMMIT").isOk());
    script += "COMMIT;\n";
    const QString path = m_dir.filePath("script.sql");
    QVERIFY(test::writeFile(path, script.toUtf8()));
    QProcess p;
    p.setStandardInputFile(path);
    p.start("sqlite3", {"-bail", m_a.db.path()});
    QVERIFY(p.waitForFinished(120000));
    QVERIFY2(p.exitCode() == 0, p.readAllStandardError().constData());
  }

  // Publishes A's pending changes through the codec and applies them on B.
  void sync() {
    for (;;) {
      auto pending = m_a.log->readPending(512, m_published);
      QVERIFY2(pending.ok(), qPrintable(pending.status().message()));
      if (pending->isEmpty()) break;
      QList<Change> batch;
      QList<int64_t> ids;
      for (const PendingChange& p : *pending) {
        Change c;
        c.fromNodeId = 1;
        c.id = p.id;
        c.type = p.type;
        c.table = p.table;
        c.row = p.row;
        c.schemaHash = m_a.catalog->schemaHash();
        const QByteArray wire = encodeMessage(c, true);
        auto decoded = decodeMessage(wire);
        QVERIFY2(decoded.ok(), qPrintable(decoded.status().message()));
        batch << *decoded;
        ids << p.id;
      }
      auto r = test::applyInTransaction(m_b.db, *m_b.applier, batch);
      QVERIFY2(r.ok(), qPrintable(r.status().message()));
      for (int i = 0; i < r->outcomes.size(); ++i)
        QVERIFY2(r->outcomes[i].isOk(),
                 qPrintable(batch[i].table + ": " + r->outcomes[i].message()));
      QVERIFY(m_a.log->markPublished(ids).isOk());
      m_published = ids.last();
      m_sent += int(ids.size());
    }
    QCOMPARE(*m_b.log->pendingCount(), int64_t(0));  // echo suppression on B
  }

  // Every row of every table, with storage classes, in key order.
  QList<QList<Value>> rows(Side& s, const QString& table) {
    const TableInfo* t = s.catalog->find(table);
    QStringList cols;
    for (const QString& c : t->storedColumns()) cols << quoteIdentifier(c);
    if (!t->hasDeclaredPk()) cols << "rowid";
    QStringList order;
    for (const QString& k : t->keyColumns()) order << (k == "rowid" ? k : quoteIdentifier(k));
    auto stmt = s.db.prepare(QStringLiteral("SELECT %1 FROM %2 ORDER BY %3")
                                 .arg(cols.join(','), quoteIdentifier(table), order.join(',')));
    QList<QList<Value>> out;
    if (!stmt) return out;
    while (*stmt->step()) {
      QList<Value> row;
      for (int i = 0; i < stmt->columnCount(); ++i) row << readValue(*stmt, i);
      out << row;
    }
    return out;
  }

  void compareAll(int minRows) {
    QVERIFY(m_b.catalog->refresh().ok());
    int total = 0;
    for (const TableInfo& t : m_a.catalog->tables()) {
      const auto a = rows(m_a, t.name), b = rows(m_b, t.name);
      QCOMPARE(b.size(), a.size());
      for (int i = 0; i < a.size(); ++i) {
        for (int c = 0; c < a[i].size(); ++c) {
          if (a[i][c] != b[i][c])
            QFAIL(qPrintable(QStringLiteral("%1 row %2 column %3: %4 != %5")
                                 .arg(t.name)
                                 .arg(i)
                                 .arg(c)
                                 .arg(a[i][c].toDebugString(), b[i][c].toDebugString())));
        }
      }
      total += int(a.size());
    }
    QVERIFY2(total >= minRows, qPrintable(QString::number(total)));
  }

 private slots:
  void initTestCase() {
    const quint32 seed = qEnvironmentVariableIsSet("HL_SEED")
                             ? quint32(qEnvironmentVariableIntValue("HL_SEED"))
                             : QRandomGenerator::global()->generate();
    qInfo() << "seed" << seed << "(set HL_SEED to replay)";
    m_gen = std::make_unique<Gen>(seed);
    open(m_a, "a.db");
    open(m_b, "b.db");
  }

  void insertsOfEveryStorageClass() {
    write("insert", 4000);
    sync();
    compareAll(1500);
    qInfo() << m_sent << "changes sent so far";
  }

  void updatesAndDeletes() {
    write("update", 1500);
    write("delete", 600);
    write("insert", 500);
    sync();
    compareAll(1000);
  }

  void schemaChangeMidStream() {
    write("insert", 300);  // pending while the schema changes
    for (Side* s : {&m_a, &m_b}) {
      QVERIFY(s->db
                  .exec("ALTER TABLE ints ADD COLUMN extra TEXT; ALTER TABLE \"my table\" RENAME "
                        "COLUMN anything TO renamed;"
                        "ALTER TABLE comp DROP COLUMN c;")
                  .isOk());
      QVERIFY(*s->catalog->refresh());
      QVERIFY(s->log->install().isOk());
    }
    m_altered = true;
    QVERIFY(m_a.db.exec("UPDATE ints SET extra = 'after alter' WHERE id % 3 = 0").isOk());
    write("insert", 300);
    write("update", 300);
    sync();
    compareAll(1000);
    QCOMPARE(*m_b.db.queryInt("SELECT count(*) FROM ints WHERE extra = 'after alter'"),
             *m_a.db.queryInt("SELECT count(*) FROM ints WHERE extra = 'after alter'"));
  }

  void hostileMessageChangesNothing() {
    auto dump = [&] {
      QString s;
      for (const TableInfo& t : m_b.catalog->tables())
        s += t.name + QString::number(rows(m_b, t.name).size());
      auto schema = m_b.db.prepare("SELECT group_concat(sql, ';') FROM sqlite_schema");
      if (*schema->step()) s += schema->columnText(0);
      return s;
    };
    const QString before = dump();
    for (const auto& [table, column] : QList<QPair<QString, QString>>{
             {"x\"; DROP TABLE t; --", "v"}, {"t", "nope"}, {"t", "v\" = 0; DROP TABLE t; --"}}) {
      Change c;
      c.fromNodeId = 9;
      c.id = 1;
      c.type = ChangeType::kInsert;
      c.table = table;
      c.row = {{"id", Value::integer(1)}, {column, Value::text("x")}};
      auto decoded = decodeMessage(encodeMessage(c, true));
      QVERIFY2(decoded.ok(), qPrintable(decoded.status().message()));
      auto r = test::applyInTransaction(m_b.db, *m_b.applier, {*decoded});
      QVERIFY(r.ok());
      QCOMPARE(r->poisoned, 1);
      QCOMPARE(r->outcomes[0].code(), Status::Code::kPoison);
    }
    QCOMPARE(dump(), before);
  }
};

QTEST_GUILESS_MAIN(TestRoundTrip)
#include "tst_roundtrip.moc"
