// Capture-overhead benchmark (issue 3): the same inserts, run by the sqlite3 program, into a
// table with HarmonyLite's capture triggers and into the same table without them, in the same
// run. Prints the times (best of --runs, fresh database each run) and the ratios: without
// capture, with the capture of a last-writer-wins table, and with that of a keep-both table
// (the default for this INTEGER PRIMARY KEY table: one more trigger per insert tells keys SQLite
// assigned from chosen ones, docs/replication.md#insert-collisions).
//
//   capture_bench [--rows 200000] [--autocommit 5000] [--runs 3]
#include <QCoreApplication>
#include <QElapsedTimer>
#include <QFile>
#include <QProcess>
#include <QTemporaryDir>
#include <QTextStream>

#include <cstdio>

#include "cdc/change_log.h"
#include "schema/catalog.h"

using namespace hl;

namespace {

const char* kSchema =
    "PRAGMA journal_mode=WAL;"
    "CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT NOT NULL, qty INTEGER, price REAL, "
    "data BLOB);";

QByteArray insertScript(int rows, bool oneTransaction) {
  QByteArray sql;
  sql.reserve(rows * 90);
  if (oneTransaction) sql += "BEGIN;\n";
  for (int i = 1; i <= rows; ++i) {
    sql += "INSERT INTO items(name, qty, price, data) VALUES ('item-" + QByteArray::number(i) +
           "', " + QByteArray::number(i % 97) + ", " + QByteArray::number(i) +
           ".25, x'0102030405');\n";
  }
  if (oneTransaction) sql += "COMMIT;\n";
  return sql;
}

enum class Mode { kPlain, kLastWriterWins, kKeepBoth };

// Creates a database with the items table, capture installed as for `mode`.
bool makeDatabase(const QString& path, Mode mode) {
  QFile::remove(path);
  QFile::remove(path + "-wal");
  QFile::remove(path + "-shm");
  auto db = SqliteDb::open(path);
  if (!db || !db->exec(QString::fromLatin1(kSchema)).isOk()) return false;
  if (mode == Mode::kPlain) return true;
  SchemaCatalog catalog(*db, {});
  ChangeLog log(*db, catalog);
  if (mode == Mode::kKeepBoth) log.setAssignedKeyTables({"items"});
  return catalog.refresh().ok() && log.install().isOk();
}

// Seconds taken by `sqlite3 db < script`, or -1.
double timeSqlite3(const QString& db, const QString& scriptPath) {
  QProcess p;
  p.setStandardInputFile(scriptPath);
  QElapsedTimer t;
  t.start();
  p.start("sqlite3", {db});
  if (!p.waitForFinished(600000) || p.exitCode() != 0) {
    std::fprintf(stderr, "sqlite3 failed: %s\n", p.readAllStandardError().constData());
    return -1;
  }
  return double(t.nsecsElapsed()) / 1e9;
}

// Seconds taken by `rows` inserts in one transaction through one prepared statement reused, as
// an application with a statement cache does (parsing is out: the triggers are compiled once),
// or -1.
double timePrepared(const QString& path, int rows) {
  auto db = SqliteDb::open(path);
  if (!db) return -1;
  QElapsedTimer t;
  t.start();
  if (!db->exec("BEGIN").isOk()) return -1;
  auto ins = db->prepare("INSERT INTO items(name, qty, price, data) VALUES (?1, ?2, ?3, ?4)");
  if (!ins) return -1;
  const QByteArray blob("\x01\x02\x03\x04\x05", 5);
  for (int i = 1; i <= rows; ++i) {
    if (!ins->bindText(1, "item-" + QByteArray::number(i)).isOk() ||
        !ins->bindInt(2, i % 97).isOk() || !ins->bindDouble(3, i + 0.25).isOk() ||
        !ins->bindBlob(4, blob).isOk() || !ins->run().isOk())
      return -1;
  }
  if (!db->exec("COMMIT").isOk()) return -1;
  return double(t.nsecsElapsed()) / 1e9;
}

struct Row {
  QString name;
  double best[3] = {1e9, 1e9, 1e9};  // by Mode
};

}  // namespace

int main(int argc, char** argv) {
  QCoreApplication app(argc, argv);
  int rows = 200000, autocommit = 5000, runs = 3;
  const QStringList args = app.arguments();
  for (int i = 1; i + 1 < args.size(); i += 2) {
    if (args[i] == "--rows")
      rows = args[i + 1].toInt();
    else if (args[i] == "--autocommit")
      autocommit = args[i + 1].toInt();
    else if (args[i] == "--runs")
      runs = args[i + 1].toInt();
  }
  QTemporaryDir dir;
  const QString db = dir.filePath("bench.db");
  const QString bulk = dir.filePath("bulk.sql");
  const QString single = dir.filePath("single.sql");
  {
    QFile f(bulk);
    f.open(QIODevice::WriteOnly);
    f.write(insertScript(rows, true));
    QFile g(single);
    g.open(QIODevice::WriteOnly);
    g.write(insertScript(autocommit, false));
  }
  QList<Row> table = {{QStringLiteral("%1 inserts, one transaction").arg(rows)},
                      {QStringLiteral("%1 autocommit inserts").arg(autocommit)},
                      {QStringLiteral("%1 inserts, one prepared stmt").arg(rows)}};
  for (int run = 0; run < runs; ++run) {
    for (int c = 0; c < 3; ++c) {
      const QString script = c == 0 ? bulk : single;
      for (Mode mode : {Mode::kPlain, Mode::kLastWriterWins, Mode::kKeepBoth}) {
        if (!makeDatabase(db, mode)) return 1;
        const double s = c == 2 ? timePrepared(db, rows) : timeSqlite3(db, script);
        if (s < 0) return 1;
        double& best = table[c].best[int(mode)];
        best = std::min(best, s);
        if (mode != Mode::kPlain) {  // the capture really captured every row
          QProcess q;
          q.start("sqlite3",
                  {db, "SELECT count(*) FROM __harmonylite__changes WHERE state IS NULL"});
          q.waitForFinished();
          const int logged = q.readAllStandardOutput().trimmed().toInt();
          if (logged != (c == 1 ? autocommit : rows)) {
            std::fprintf(stderr, "captured %d changes, expected %d\n", logged,
                         c == 1 ? autocommit : rows);
            return 1;
          }
        }
      }
    }
  }
  QTextStream out(stdout);
  out << "capture overhead: sqlite3 program (prepared: this program), WAL, best of " << runs
      << " runs\n";
  out << QStringLiteral("%1 %2 %3 %4 %5 %6\n")
             .arg("case", -36)
             .arg("uncaptured", 12)
             .arg("last-writer", 12)
             .arg("ratio", 8)
             .arg("keep-both", 12)
             .arg("ratio", 8);
  for (const Row& r : table) {
    const double plain = r.best[int(Mode::kPlain)];
    QString line = QStringLiteral("%1 %2")
                       .arg(r.name, -36)
                       .arg(QStringLiteral("%1 s").arg(plain, 0, 'f', 3), 12);
    for (Mode mode : {Mode::kLastWriterWins, Mode::kKeepBoth}) {
      const double t = r.best[int(mode)];
      line += QStringLiteral(" %1 %2")
                  .arg(QStringLiteral("%1 s").arg(t, 0, 'f', 3), 12)
                  .arg(QStringLiteral("%1x").arg(t / plain, 0, 'f', 2), 8);
    }
    out << line << "\n";
  }
  return 0;
}
