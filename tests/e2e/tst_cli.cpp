// The harmonylite program as a user runs it: -version, -help, bad flags, bad configs, the
// first-run defaults until Ctrl-C, JSON logging. Real processes, real files.
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

#include <functional>

#include <signal.h>

#include "test_support.h"

using namespace hl;

namespace {
QProcessEnvironment envWithDataHome(const QString& dataHome) {
  QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
  env.insert("XDG_DATA_HOME", dataHome);
  env.insert("XDG_CONFIG_HOME", dataHome + "/config");  // what the dashboard remembers
  env.remove("DISPLAY");
  env.remove("WAYLAND_DISPLAY");
  env.remove("QT_QPA_PLATFORM");  // ctest sets it for the test itself; the node must not see it
  return env;
}

// The program a process runs and its memory map (/proc/<pid>/exe and maps).
void readProcess(qint64 pid, QString* exe, QString* maps) {
  *exe = QFile::symLinkTarget(QStringLiteral("/proc/%1/exe").arg(pid));
  *maps = QString::fromUtf8(test::readFile(QStringLiteral("/proc/%1/maps").arg(pid)));
}

// Output lines that are not empty.
QList<QByteArray> lines(const QByteArray& text) {
  QList<QByteArray> out;
  for (const QByteArray& l : text.split('\n'))
    if (!l.trimmed().isEmpty()) out << l;
  return out;
}
}  // namespace

class TestCli : public QObject {
  Q_OBJECT
  QTemporaryDir m_dir;

  test::ProcessResult run(const QStringList& args, int timeoutMs = 20000) {
    return test::runProcess(test::harmonyliteBinary(), args, timeoutMs,
                            envWithDataHome(m_dir.filePath("xdg")));
  }

  QString writeConfig(const QString& name, const QString& text) {
    const QString path = m_dir.filePath(name);
    test::writeFile(path, text.toUtf8());
    return path;
  }

  // Starts the program, waits for `readyText` on stderr, calls `atReady` with its process id,
  // sends `sig`, returns the result.
  test::ProcessResult runUntilSignal(const QStringList& args, const QByteArray& readyText, int sig,
                                     const QStringList& extraEnv = {},
                                     const std::function<void(qint64)>& atReady = {},
                                     const QString& program = test::harmonyliteBinary()) {
    QProcess p;
    QProcessEnvironment env = envWithDataHome(m_dir.filePath("xdg"));
    for (const QString& kv : extraEnv) env.insert(kv.section('=', 0, 0), kv.section('=', 1));
    p.setProcessEnvironment(env);
    p.start(program, args);
    test::ProcessResult r;
    if (!p.waitForStarted(5000)) return r;
    QByteArray err;
    const bool ready = test::waitFor(
        [&] {
          err += p.readAllStandardError();
          return err.contains(readyText) || p.state() == QProcess::NotRunning;
        },
        20000);
    if (ready && p.state() == QProcess::Running) {
      if (atReady) atReady(p.processId());
      ::kill(pid_t(p.processId()), sig);
    }
    if (!p.waitForFinished(15000)) {
      r.timedOut = true;
      p.kill();
      p.waitForFinished();
    }
    r.err = err + p.readAllStandardError();
    r.out = p.readAllStandardOutput();
    r.exitCode = p.exitCode();
    r.crashed = p.exitStatus() == QProcess::CrashExit;
    return r;
  }

 private slots:
  void version() {
    const auto r = run({"-version"});
    QCOMPARE(r.exitCode, 0);
    const QString out = QString::fromUtf8(r.out);
    QVERIFY2(QRegularExpression("^harmonylite \\d+\\.\\d+\\.\\d+").match(out).hasMatch(),
             qPrintable(out));
    QVERIFY(QRegularExpression("commit: +([0-9a-f]{40}|unknown)").match(out).hasMatch());
    QVERIFY(QRegularExpression("built: +\\d{4}-\\d{2}-\\d{2}").match(out).hasMatch());
    QVERIFY(out.contains("Qt 6."));
    QVERIFY(out.contains("SQLite 3."));
    QVERIFY(out.contains("nats.c 3."));
    QCOMPARE(run({"--version"}).out, r.out);
  }

  void help() {
    const auto r = run({"-help"});
    QCOMPARE(r.exitCode, 0);
    for (const char* flag :
         {"-config", "-node-id", "-cleanup", "-save-snapshot", "-schema-status",
          "-schema-status-cluster", "-digest", "-cluster-addr", "-cluster-peers", "-leaf-servers",
          "-version", "-help", "--no-gui", "-check-consistency", "-repair-from", "-expect-nodes"})
      QVERIFY2(r.out.contains(flag), flag);
    QCOMPARE(run({"-h"}).exitCode, 0);
  }

  void unknownFlagPrintsUsageAndExits2() {
    const auto r = run({"-frobnicate"});
    QCOMPARE(r.exitCode, 2);
    QVERIFY(r.err.startsWith("harmonylite: flag provided but not defined: -frobnicate\n"));
    QVERIFY(r.err.contains("Usage: harmonylite"));
    QVERIFY(r.out.isEmpty());
  }

  void missingConfigFile() {
    const auto r = run({"-config", m_dir.filePath("missing.toml")});
    QVERIFY(r.exitCode != 0);
    QCOMPARE(lines(r.err).size(), 1);
    QVERIFY(r.err.contains("missing.toml does not exist"));
  }

  void unparsableConfigFile() {
    const QString path = writeConfig("broken.toml", "db_path = \"/x.db\"\n[nats\n");
    const auto r = run({"-config=" + path});
    QVERIFY(r.exitCode != 0);
    QCOMPARE(lines(r.err).size(), 1);
    QVERIFY2(r.err.contains(path.toUtf8() + ":2:"), r.err.constData());
  }

  void shardsTwoIsAnErrorNamingKeyAndLine() {
    const QString path = writeConfig("two.toml", "db_path = \"" + m_dir.filePath("a.db") +
                                                     "\"\n\n[replication_log]\nshards = \"two\"\n");
    const auto r = run({"--config", path, "--no-gui"});
    QCOMPARE(r.exitCode, 1);
    QCOMPARE(lines(r.err).size(), 1);
    QCOMPARE(
        QString::fromUtf8(r.err.trimmed()),
        "harmonylite: " + path + ":4: replication_log.shards: expected an integer, got a string");
  }

  void unknownKeyIsWarnedAndTheNodeRuns() {
    const QString path =
        writeConfig("unknown.toml", "db_path = \"" + m_dir.filePath("u/app.db") +
                                        "\"\nnode_id = 5\n"
                                        "colour = \"blue\"\n[logging]\nformat = \"json\"\n");
    const auto r = runUntilSignal({"-config", path, "--no-gui"}, "node running", SIGTERM);
    QVERIFY(!r.timedOut);
    QCOMPARE(r.exitCode, 0);
    bool warned = false;
    const auto all = lines(r.err);
    QVERIFY(all.size() >= 3);
    for (const QByteArray& line : all) {
      QJsonParseError pe;
      const QJsonObject o = QJsonDocument::fromJson(line, &pe).object();
      QVERIFY2(pe.error == QJsonParseError::NoError, line.constData());  // every line is JSON
      QCOMPARE(o.value("node_id").toInteger(), 5);
      if (o.value("level").toString() == "warn" && o.value("message").toString().contains("colour"))
        warned = o.value("message").toString().contains(path + ":3:");
    }
    QVERIFY2(warned, r.err.constData());
  }

  void firstRunDefaultsUntilCtrlC() {
    const auto r = runUntilSignal({"--no-gui"}, "node running", SIGINT);
    QVERIFY(!r.timedOut);
    QVERIFY(!r.crashed);
    QCOMPARE(r.exitCode, 0);
    const QString data = m_dir.filePath("xdg/harmonylite");
    QVERIFY(QFile::exists(data + "/harmonylite.db"));
    const QByteArray id = test::readFile(data + "/node-id").trimmed();
    QVERIFY(id.toULongLong() > 0);
    QVERIFY2(r.err.contains("node=" + id), r.err.constData());  // console lines carry the id
    QVERIFY(r.err.contains("first-run defaults"));
    QVERIFY(r.err.contains("stopped cleanly"));

    // The same id is used at the next start.
    const auto again = runUntilSignal({}, "node running", SIGINT);  // no display: headless
    QCOMPARE(again.exitCode, 0);
    QVERIFY(again.err.contains("no display available; running headless"));
    QVERIFY(again.err.contains("node=" + id));
  }

  // docs/dashboard.md: a display that is announced but cannot be opened means headless, not a
  // crash.
  void unreachableDisplayFallsBackToHeadless() {
    const auto r = runUntilSignal({}, "node running", SIGTERM, {"DISPLAY=:97"});
    QVERIFY(!r.timedOut);
    QVERIFY(!r.crashed);
    QCOMPARE(r.exitCode, 0);
    QVERIFY2(r.err.contains("the display could not be opened (DISPLAY=:97); running headless"),
             r.err.constData());
    QVERIFY(r.err.contains("node running headless"));
  }

  // With a display (here Qt's offscreen platform) the dashboard opens on the same engine, titled
  // with the node id, and SIGTERM still stops the node cleanly.
  void displayOpensTheDashboard() {
    QString exe, maps;
    const auto r = runUntilSignal({}, "node running", SIGTERM, {"QT_QPA_PLATFORM=offscreen"},
                                  [&](qint64 pid) { readProcess(pid, &exe, &maps); });
    // harmonylite started harmonylite-dashboard in its place: the same process.
    QVERIFY2(exe.endsWith("/harmonylite-dashboard"), qPrintable(exe));
    QVERIFY(maps.contains("libQt6Quick.so"));
    QVERIFY(!r.timedOut);
    QVERIFY(!r.crashed);
    QCOMPARE(r.exitCode, 0);
    const QByteArray id = test::readFile(m_dir.filePath("xdg/harmonylite/node-id")).trimmed();
    QVERIFY2(r.err.contains("dashboard open: HarmonyLite - node " + id + " on offscreen"),
             r.err.constData());
    QVERIFY(r.err.contains("node running with the dashboard"));
    QVERIFY2(!r.err.contains("qrc:/qt-project.org/imports/HarmonyLite/"),
             r.err.constData());  // no QML warning
    QVERIFY(r.err.contains("stopped cleanly"));
    // --no-gui wins over a display.
    const auto headless =
        runUntilSignal({"--no-gui"}, "node running", SIGTERM, {"QT_QPA_PLATFORM=offscreen"},
                       [&](qint64 pid) { readProcess(pid, &exe, &maps); });
    QCOMPARE(headless.exitCode, 0);
    QVERIFY(headless.err.contains("--no-gui given; running headless"));
    QVERIFY(!headless.err.contains("dashboard open"));
    QVERIFY2(exe.endsWith("/harmonylite"), qPrintable(exe));
  }

  // docs/architecture.md#two-programs: a headless node maps no Qt GUI or Qt Quick library, and
  // no libcurl while no remote snapshot store is used (about 17 MB resident less).
  void headlessNodeMapsNoGuiLibraryNorLibcurl() {
    QString exe, maps;
    const auto r = runUntilSignal({}, "node running", SIGTERM, {},
                                  [&](qint64 pid) { readProcess(pid, &exe, &maps); });
    QCOMPARE(r.exitCode, 0);
    QVERIFY(r.err.contains("no display available; running headless"));
    QVERIFY2(exe.endsWith("/harmonylite"), qPrintable(exe));
    QVERIFY(maps.contains("libQt6Core.so"));  // (the maps were read)
    for (const char* lib :
         {"libQt6Gui.so", "libQt6Widgets.so", "libQt6Qml.so", "libQt6Quick.so", "libcurl.so"})
      QVERIFY2(!maps.contains(lib), lib);
  }

  // Without harmonylite-dashboard beside it (or in ../lib/harmonylite), harmonylite says so
  // and runs headless where it would have opened the window.
  void missingDashboardProgramMeansHeadless() {
    const QString lonely = m_dir.filePath("lonely/bin/harmonylite");
    QVERIFY(QDir().mkpath(m_dir.filePath("lonely/bin")));
    QVERIFY(QFile::copy(test::harmonyliteBinary(), lonely));
    const auto r =
        runUntilSignal({}, "node running", SIGTERM, {"QT_QPA_PLATFORM=offscreen"}, {}, lonely);
    QVERIFY(!r.timedOut);
    QCOMPARE(r.exitCode, 0);
    QVERIFY2(r.err.contains("the dashboard program (harmonylite-dashboard) is not installed "
                            "beside this one"),
             r.err.constData());
    QVERIFY(r.err.contains("node running headless"));
    // Installed as the package does, in ../lib/harmonylite, it is found.
    const QString libDir = m_dir.filePath("lonely/lib/harmonylite");
    QVERIFY(QDir().mkpath(libDir));
    QVERIFY(
        QFile::link(QFileInfo(test::harmonyliteBinary()).dir().filePath("harmonylite-dashboard"),
                    libDir + "/harmonylite-dashboard"));
    const auto found =
        runUntilSignal({}, "node running", SIGTERM, {"QT_QPA_PLATFORM=offscreen"}, {}, lonely);
    QCOMPARE(found.exitCode, 0);
    QVERIFY2(found.err.contains("node running with the dashboard"), found.err.constData());
  }

  // libcurl is loaded when a remote store needs it; when it cannot be, the store's requests
  // fail naming the package, and nothing else changes (here a broken libcurl.so.4 is found
  // first through LD_LIBRARY_PATH).
  void unloadableLibcurlIsNamed() {
    const QString config = writeConfig(
        "s3.toml", "db_path = \"" + m_dir.filePath("s3/app.db") +
                       "\"\nnode_id = 7\n[snapshot]\nenabled = true\nstore = \"s3\"\nretries = 0\n"
                       "[snapshot.s3]\nendpoint = \"127.0.0.1:9\"\nbucket = \"b\"\n");
    QVERIFY(QDir().mkpath(m_dir.filePath("brokencurl")));
    QVERIFY(test::writeFile(m_dir.filePath("brokencurl/libcurl.so.4"), "not a library"));
    QProcessEnvironment env = envWithDataHome(m_dir.filePath("xdg"));
    env.insert("LD_LIBRARY_PATH", m_dir.filePath("brokencurl"));
    const auto broken = test::runProcess(test::harmonyliteBinary(),
                                         {"-config", config, "-list-snapshots"}, 60000, env);
    QCOMPARE(broken.exitCode, 1);
    QVERIFY2(broken.err.contains("libcurl could not be loaded (") &&
                 broken.err.contains("brokencurl/libcurl.so.4") &&
                 broken.err.contains("need the libcurl4 package"),
             broken.err.constData());
    // With the real one, the same command gets as far as the (closed) port.
    const auto real = run({"-config", config, "-list-snapshots"}, 60000);
    QCOMPARE(real.exitCode, 1);
    QVERIFY2(real.err.contains("GET http://127.0.0.1:9/b") &&
                 !real.err.contains("libcurl could not be loaded"),
             real.err.constData());
  }

  // The dashboard opens on the setup remembered from its last run (a database the user chose,
  // the node id of that run); a headless start ignores it; a remembered setup that no longer
  // works is said so and the first-run defaults run instead.
  void dashboardOpensOnTheRememberedSetup() {
    const QString ini = m_dir.filePath("xdg/config/harmonylite/dashboard.ini");
    QVERIFY(QDir().mkpath(m_dir.filePath("xdg/config/harmonylite")));
    QVERIFY(QDir().mkpath(m_dir.filePath("chosen")));
    const QString db = m_dir.filePath("chosen/mine.db");
    QVERIFY(test::writeFile(
        ini, ("[setup]\nconfig=\ndb_path=" + db + "\nnats_urls=\nnode_id=4242\n").toUtf8()));
    const auto r = runUntilSignal({}, "node running", SIGTERM, {"QT_QPA_PLATFORM=offscreen"});
    QCOMPARE(r.exitCode, 0);
    QVERIFY2(
        r.err.contains("opening on the setup remembered by the dashboard: database " + db.toUtf8()),
        r.err.constData());
    QVERIFY(r.err.contains("dashboard open: HarmonyLite - node 4242 on offscreen"));
    QVERIFY(r.err.contains("(remembered by the dashboard)"));
    QVERIFY(QFile::exists(db));  // the node ran on it

    // Headless: the first-run defaults, whatever the dashboard remembers.
    const auto headless =
        runUntilSignal({"--no-gui"}, "node running", SIGTERM, {"QT_QPA_PLATFORM=offscreen"});
    QCOMPARE(headless.exitCode, 0);
    QVERIFY(headless.err.contains("(first-run defaults)"));
    QVERIFY(!headless.err.contains("remembered"));
    QVERIFY(!headless.err.contains("node=4242"));

    // Its config file is gone: a warning naming it, then the first-run defaults.
    QVERIFY(test::writeFile(ini, ("[setup]\nconfig=" + m_dir.filePath("gone.toml") +
                                  "\ndb_path=" + db + "\nnode_id=4242\n")
                                     .toUtf8()));
    const auto broken = runUntilSignal({}, "node running", SIGTERM, {"QT_QPA_PLATFORM=offscreen"});
    QCOMPARE(broken.exitCode, 0);
    QVERIFY2(broken.err.contains("the setup remembered by the dashboard (config " +
                                 m_dir.filePath("gone.toml").toUtf8()),
             broken.err.constData());
    QVERIFY(broken.err.contains("running on the first-run defaults"));
    QVERIFY(broken.err.contains("(first-run defaults)"));
    QVERIFY(broken.err.contains("node running with the dashboard"));
    QVERIFY(QFile::remove(ini));
  }

  void nodeIdFlagOverridesConfig() {
    const QString path =
        writeConfig("id.toml", "db_path = \"" + m_dir.filePath("id/app.db") + "\"\nnode_id = 5\n");
    const auto r =
        runUntilSignal({"-config", path, "-node-id", "77", "--no-gui"}, "node running", SIGINT);
    QCOMPARE(r.exitCode, 0);
    QVERIFY(r.err.contains("node=77"));
  }

  void unusableDatabaseFailsWithOneLine() {
    QVERIFY(test::writeFile(m_dir.filePath("notadb.db"), QByteArray(8192, 'z')));
    const QString path = writeConfig(
        "notadb.toml", "db_path = \"" + m_dir.filePath("notadb.db") + "\"\nnode_id = 3\n");
    const auto r = run({"-config", path, "--no-gui"});
    QCOMPARE(r.exitCode, 1);
    QByteArray failure;
    for (const QByteArray& l : lines(r.err))
      if (l.contains(" ERR ")) failure += l;
    QVERIFY2(failure.contains("start-up failed") && failure.contains("notadb.db") &&
                 failure.contains("not a database"),
             r.err.constData());
  }
};

QTEST_GUILESS_MAIN(TestCli)
#include "tst_cli.moc"
