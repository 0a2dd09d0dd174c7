// A cross-built ARM node under qemu user-mode emulation in one cluster with native amd64 nodes
// (docs/cross-building.md#tests): three nodes on one real nats-server, node 2 the emulated one.
// 1,000 rows written on a native node reach the emulated one and 1,000 written on the emulated
// node reach the native ones; every node ends with the same rows, the same table digests
// (computed by the ARM program for its database) and the same schema hash. The figures it
// prints (rows/s per direction) are the note's emulated-vs-native rates, not a target.
//
// Environment (tests/CMakeLists.txt): HL_CROSS_ARCH (arm64 | armhf), HL_CROSS_DIR (the cross
// build folder: its app/harmonylite, or cross-unavailable.txt saying why make test could not
// make one), HL_CROSS_EMULATOR (qemu-aarch64-static | qemu-arm-static).
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonObject>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QtTest>

#include <signal.h>

#include "node_process.h"
#include "test_support.h"

using namespace hl;
using hl::test::NodeProcess;

namespace {

// Every SQLite storage class, and values where 32- and 64-bit or little-endian details would
// show: integers past 2^32 and negative, reals, non-ASCII text, blobs with zero bytes, NULL.
const char* kSchema =
    "CREATE TABLE readings(id INTEGER PRIMARY KEY, sensor TEXT NOT NULL, big INTEGER, value REAL,"
    " raw BLOB, note TEXT);"
    "CREATE TABLE tags(sensor TEXT, tag TEXT, since INTEGER, PRIMARY KEY (sensor, tag)) "
    "WITHOUT ROWID;";
// Rows written each way: 1,000, or HL_CROSS_ROWS (a larger run for the rates in the note).
int rowsEachWay() {
  const int n = qEnvironmentVariableIntValue("HL_CROSS_ROWS");
  return n >= 10 ? n : 1000;
}
constexpr int kConverge = 180000;  // the emulated node applies several times slower

// `rows` rows from `first` on, in one transaction.
QString insertRows(int first, int rows, const QString& origin) {
  return QStringLiteral(
             "BEGIN; WITH RECURSIVE n(i) AS (SELECT %1 UNION ALL SELECT i + 1 FROM n WHERE i < %2)"
             " INSERT INTO readings SELECT i, '%3-' || i, i * 4294967311 - 9007199254740993,"
             " i / 7.0 - 3.25e-5, CAST(x'00ff10' || randomblob(5) || x'00' AS BLOB), "
             " CASE WHEN i % 5 = 0 THEN NULL ELSE 'Grüße, 温度 ' || i END FROM n;"
             " INSERT INTO tags SELECT sensor, 'zone', id FROM readings"
             " WHERE id BETWEEN %1 AND %2 AND id % 10 = 0; COMMIT;")
      .arg(first)
      .arg(first + rows - 1)
      .arg(origin);
}

// The ELF machine of a program (e_machine): 183 = AArch64, 40 = ARM, 62 = x86-64.
int elfMachine(const QString& path) {
  QFile f(path);
  if (!f.open(QIODevice::ReadOnly)) return -1;
  const QByteArray h = f.read(20);
  if (h.size() < 20 || !h.startsWith("\x7f"
                                     "ELF"))
    return -1;
  return uchar(h[18]) | (uchar(h[19]) << 8);  // little-endian on every architecture here
}

QString digestLine(const QString& out, const QString& table) {
  for (const QString& l : out.split('\n'))
    if (l.startsWith("table " + table + ":")) return l;
  return {};
}

}  // namespace

class TestCrossNode : public QObject {
  Q_OBJECT
  QTemporaryDir m_dir;
  QString m_arch, m_bin, m_emulator;

  QStringList wrapper() const { return {m_emulator}; }

  // A node's schema hash from its /health (detailed).
  QString schemaHash(int port) {
    QByteArray body;
    if (test::httpGet(port, "/health", &body, 5000) != 200) return {};
    return QJsonDocument::fromJson(body).object().value("schema_hash").toString();
  }

  // The first rows (exact values) in which two nodes' readings differ.
  static QString firstDifferences(const NodeProcess& a, const NodeProcess& b) {
    const QString q =
        "SELECT id, quote(big), quote(value), hex(raw), quote(note) FROM readings "
        "ORDER BY id";
    const QStringList ra = a.sql(q).split('\n'), rb = b.sql(q).split('\n');
    QStringList out;
    for (qsizetype i = 0; i < std::max(ra.size(), rb.size()) && out.size() < 6; ++i)
      if (ra.value(i) != rb.value(i)) out << ra.value(i) + "  vs  " + rb.value(i);
    return out.join('\n');
  }

  // For each node of `nodes`, the milliseconds from `since` until it has `count` readings,
  // watched side by side (-1 for a node that did not get there within kConverge).
  static QList<qint64> msUntil(const QList<NodeProcess*>& nodes, int count,
                               const QElapsedTimer& since) {
    QList<qint64> at(nodes.size(), -1);
    test::waitFor(
        [&] {
          for (qsizetype i = 0; i < nodes.size(); ++i)
            if (at[i] < 0 &&
                nodes[i]->sql("SELECT count(*) FROM readings") == QString::number(count))
              at[i] = since.elapsed();
          return !at.contains(-1);
        },
        kConverge, 10);
    return at;
  }

 private slots:
  void initTestCase() {
    m_arch = qEnvironmentVariable("HL_CROSS_ARCH");
    const QString dir = qEnvironmentVariable("HL_CROSS_DIR");
    m_bin = dir + "/app/harmonylite";
    m_emulator = qEnvironmentVariable("HL_CROSS_EMULATOR");
    const QByteArray unavailable = test::readFile(dir + "/cross-unavailable.txt").trimmed();
    if (!unavailable.isEmpty()) QSKIP(unavailable.constData());
    if (!QFileInfo(m_bin).isExecutable())
      QSKIP(qPrintable(
          QStringLiteral("no %1 build at %2: `make cross ARCH=%1` makes one").arg(m_arch, m_bin)));
    QVERIFY2(!QStandardPaths::findExecutable(m_emulator).isEmpty(),
             qPrintable(m_emulator + " not found: scripts/install-deps.sh --cross " + m_arch +
                        " installs qemu-user-static"));
    QVERIFY(m_dir.isValid());
  }

  // The program is really an ARM one (not the native program by mistake), and it runs.
  void programIsForTheTarget() {
    QCOMPARE(elfMachine(m_bin), m_arch == "arm64" ? 183 : 40);
    QCOMPARE(elfMachine(test::harmonyliteBinary()), 62);
    const auto r = test::runProcess(m_emulator, {m_bin, "-version"}, 60000);
    QCOMPARE(r.exitCode, 0);
    QVERIFY2(r.out.contains("harmonylite"), r.out.constData());
  }

  void replicatesBothWays() {
    test::NatsServer server;
    if (Status s = server.start(); !s.isOk()) QFAIL(qPrintable(s.message()));
    std::vector<std::unique_ptr<NodeProcess>> owned;
    QList<int> healthPorts;
    for (int id = 1; id <= 3; ++id) {
      NodeProcess::Options o;
      o.nodeId = uint64_t(id);
      o.dir = m_dir.filePath(QStringLiteral("node%1").arg(id));
      o.schema = kSchema;
      o.urls = {server.url()};
      o.healthPort = test::freePort();
      o.healthDetailed = true;
      if (id == 2) {  // the emulated one
        o.program = m_bin;
        o.wrapper = wrapper();
      }
      healthPorts << o.healthPort;
      owned.push_back(std::make_unique<NodeProcess>(o));
      if (Status s = owned.back()->start(120000); !s.isOk()) QFAIL(qPrintable(s.message()));
    }
    const int rows = rowsEachWay();
    NodeProcess *native = owned[0].get(), *emulated = owned[1].get(), *other = owned[2].get();
    // The emulated node is the emulator's process running the ARM program.
    QVERIFY2(
        QFileInfo(QStringLiteral("/proc/%1/exe").arg(emulated->pid()))
            .symLinkTarget()
            .endsWith(m_emulator),
        qPrintable(QFileInfo(QStringLiteral("/proc/%1/exe").arg(emulated->pid())).symLinkTarget()));

    // Native → emulated and native: one transaction on node 1.
    QElapsedTimer t;
    t.start();
    bool ok = false;
    native->sql(insertRows(1, rows, "amd64"), &ok);
    QVERIFY(ok);
    const QList<qint64> first = msUntil({emulated, other}, rows, t);
    const qint64 toEmulated = first[0], toNative = first[1];
    QVERIFY2(toEmulated >= 0, qPrintable(emulated->log().right(3000)));
    QVERIFY2(toNative >= 0, qPrintable(other->log().right(3000)));

    // Emulated → native: the ARM node captures and publishes.
    t.restart();
    emulated->sql(insertRows(rows + 1, rows, m_arch), &ok);
    QVERIFY(ok);
    const QList<qint64> second = msUntil({native, other}, 2 * rows, t);
    const qint64 fromEmulated = std::max(second[0], second[1]);
    QVERIFY2(!second.contains(-1), qPrintable(emulated->log().right(3000)));

    // Native → native again, for the same-run baseline of the emulated publisher.
    t.restart();
    other->sql(insertRows(2 * rows + 1, rows, "amd64b"), &ok);
    QVERIFY(ok);
    const QList<qint64> third = msUntil({native, emulated}, 3 * rows, t);
    const qint64 fromNative = third[0];
    QVERIFY(!third.contains(-1));

    auto rate = [rows](qint64 ms) { return ms > 0 ? rows * 1000.0 / double(ms) : 0.0; };
    qInfo().noquote() << QStringLiteral(
                             "%1 rows, one transaction, commit until applied: native->native %2 "
                             "ms (%3 rows/s), native->%4 %5 ms (%6 rows/s); native publisher "
                             "-> native %7 ms (%8 rows/s), %4 publisher -> native %9 ms (%10 "
                             "rows/s)")
                             .arg(rows)
                             .arg(toNative)
                             .arg(rate(toNative), 0, 'f', 0)
                             .arg(m_arch)
                             .arg(toEmulated)
                             .arg(rate(toEmulated), 0, 'f', 0)
                             .arg(fromNative)
                             .arg(rate(fromNative), 0, 'f', 0)
                             .arg(fromEmulated)
                             .arg(rate(fromEmulated), 0, 'f', 0);

    // The same rows everywhere, read with the sqlite3 program.
    const QString rowsQuery =
        "SELECT count(*), sum(big % 1000003), total(value), "
        "group_concat(hex(raw) || coalesce(note, '~'), '') FROM (SELECT * FROM readings ORDER BY "
        "id)";
    if (!test::waitConverged(test::rawPointers(owned), rowsQuery, kConverge))
      QFAIL(qPrintable("the nodes hold different rows; the first differences:\n" +
                       firstDifferences(*native, *emulated)));
    QVERIFY(test::waitConverged(test::rawPointers(owned), "SELECT count(*) FROM tags", kConverge,
                                QString::number(3 * rows / 10)));

    // The same digests, each computed by the node's own program (the ARM one under emulation)
    // once nothing is pending.
    QString nativeOut, emulatedOut;
    const bool agree = test::waitFor(
        [&] {
          nativeOut =
              QString::fromUtf8(test::runProcess(test::harmonyliteBinary(),
                                                 {"-config", native->configPath(), "-digest"})
                                    .out);
          const auto e = test::runProcess(
              m_emulator, {m_bin, "-config", emulated->configPath(), "-digest"}, 120000);
          emulatedOut = QString::fromUtf8(e.out);
          return e.exitCode == 0 && !digestLine(nativeOut, "readings").isEmpty() &&
                 digestLine(nativeOut, "readings") == digestLine(emulatedOut, "readings") &&
                 digestLine(nativeOut, "tags") == digestLine(emulatedOut, "tags");
        },
        kConverge, 1000);
    QVERIFY2(agree, qPrintable(nativeOut + "\n---\n" + emulatedOut + "\n---\n" +
                               firstDifferences(*native, *emulated)));
    QVERIFY2(digestLine(emulatedOut, "readings")
                 .startsWith(QStringLiteral("table readings: %1 rows, digest").arg(3 * rows)),
             qPrintable(emulatedOut));

    // The same schema hash from the ARM node's /health as from the native nodes'.
    const QString hash = schemaHash(healthPorts[0]);
    QVERIFY(!hash.isEmpty());
    QCOMPARE(schemaHash(healthPorts[1]), hash);
    QCOMPARE(schemaHash(healthPorts[2]), hash);

    for (auto& n : owned) QCOMPARE(n->stop(60000), 0);
  }

  // The ARM dashboard program: its QML (compiled by the build machine's qmlcachegen) loads
  // with the target's Qt Quick modules, offscreen, without a QML warning; the node starts under
  // it and SIGTERM ends it with 0. It is started directly: harmonylite starts it by execv, which
  // needs the kernel to run ARM programs (binfmt_misc), and this test changes nothing of the
  // host's kernel.
  void dashboardUnderEmulation() {
    test::NatsServer server;
    if (Status s = server.start(); !s.isOk()) QFAIL(qPrintable(s.message()));
    const QString dir = m_dir.filePath("gui");
    QVERIFY(QDir().mkpath(dir));
    const QString db = dir + "/gui.db";
    bool ok = false;
    test::sqlite3(db, "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)", &ok);
    QVERIFY(ok);
    const QString config = dir + "/gui.toml";
    QVERIFY(test::writeFile(config, QStringLiteral("db_path = \"%1\"\nnode_id = 9\n"
                                                   "[nats]\nurls = [\"%2\"]\n")
                                        .arg(db, server.url())
                                        .toUtf8()));
    QProcess p;
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert("QT_QPA_PLATFORM", "offscreen");
    env.remove("DISPLAY");
    env.remove("WAYLAND_DISPLAY");
    env.insert("XDG_CONFIG_HOME", dir + "/config");  // (nothing of the user's is read or kept)
    env.insert("XDG_DATA_HOME", dir + "/data");
    p.setProcessEnvironment(env);
    const QString dashboard = QFileInfo(m_bin).dir().filePath("harmonylite-dashboard");
    QCOMPARE(elfMachine(dashboard), m_arch == "arm64" ? 183 : 40);
    p.start(m_emulator, {dashboard, "-config", config});
    QVERIFY(p.waitForStarted());
    QByteArray err;
    const bool timedOut = !test::waitFor(
        [&] {
          err += p.readAllStandardError();
          return err.contains("node running with the dashboard") ||
                 p.state() == QProcess::NotRunning;
        },
        120000);
    QVERIFY2(!timedOut && p.state() == QProcess::Running, err.constData());
    QVERIFY2(err.contains("dashboard open:") && err.contains(" on offscreen"), err.constData());
    QVERIFY2(!err.contains("qml:"), err.constData());
    ::kill(pid_t(p.processId()), SIGTERM);
    QVERIFY(p.waitForFinished(60000));
    err += p.readAllStandardError();
    QVERIFY2(p.exitStatus() == QProcess::NormalExit && p.exitCode() == 0, err.constData());
  }
};

QTEST_GUILESS_MAIN(TestCrossNode)
#include "tst_cross_node.moc"
