// What the dashboard remembers between runs (remembered_setup.h): round trip through the
// INI file under a temporary XDG_CONFIG_HOME, restoring with and without a config file, and
// every way it can no longer work (file gone, file broken, folder gone, damaged INI).
#include <QDir>
#include <QFile>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest>

#include "dashboard_controller.h"
#include "remembered_setup.h"
#include "test_support.h"

using namespace hl;

class TestRememberedSetup : public QObject {
  Q_OBJECT
  QTemporaryDir m_dir;

  QString path(const QString& name) const { return m_dir.filePath(name); }

 private slots:
  void init() {
    qputenv("XDG_CONFIG_HOME", path("config").toUtf8());
    QVERIFY(forgetRememberedSetup().isOk());
  }

  void nothingStoredIsEmpty() {
    QCOMPARE(rememberedSetupPath(), path("config/harmonylite/dashboard.ini"));
    QVERIFY(loadRememberedSetup().isEmpty());
    QVERIFY(forgetRememberedSetup().isOk());  // nothing to forget is fine
  }

  void roundTripWithoutConfigFile() {
    Config c;
    c.dbPath = path("app.db");
    c.nodeId = 4242;
    c.nats.urls = {"nats://10.0.0.5:4222", "nats://10.0.0.6:4222"};
    const RememberedSetup s = RememberedSetup::fromConfig(c);
    QVERIFY(saveRememberedSetup(s).isOk());
    QVERIFY(QFile::exists(rememberedSetupPath()));
    const RememberedSetup back = loadRememberedSetup();
    QCOMPARE(back.configPath, QString());
    QCOMPARE(back.dbPath, path("app.db"));
    QCOMPARE(back.natsUrls, c.nats.urls);
    QCOMPARE(back.nodeId, uint64_t(4242));
    auto restored = restoreSetup(back);
    QVERIFY2(restored, qPrintable(restored.status().message()));
    QCOMPARE(restored->dbPath, path("app.db"));
    QCOMPARE(restored->nodeId, uint64_t(4242));
    QCOMPARE(restored->nats.urls, c.nats.urls);
    QVERIFY(restored->sourcePath.isEmpty());
    QVERIFY(back.describe().contains(path("app.db")));
    QVERIFY(back.describe().contains("nats://10.0.0.6:4222"));
    QVERIFY(back.describe().contains("node 4242"));

    // Embedded NATS (no URLs) survives the trip as "no URLs", not as one empty URL.
    c.nats.urls.clear();
    QVERIFY(saveRememberedSetup(RememberedSetup::fromConfig(c)).isOk());
    QVERIFY(loadRememberedSetup().natsUrls.isEmpty());
    QVERIFY(loadRememberedSetup().describe().contains("embedded NATS"));
    QVERIFY(forgetRememberedSetup().isOk());
    QVERIFY(loadRememberedSetup().isEmpty());
  }

  // A config file is loaded again (its other keys count), with the session's choices on top.
  void restoreReloadsTheConfigFile() {
    const QString file = path("node.toml");
    QVERIFY(test::writeFile(file,
                            "db_path = \"/somewhere/else.db\"\nnode_id = 0\nshiny = 1\n"
                            "[replication_log]\nshards = 3\n"));
    RememberedSetup s;
    s.configPath = file;
    s.dbPath = path("chosen.db");
    s.nodeId = 77;
    QVERIFY(saveRememberedSetup(s).isOk());
    QList<ConfigWarning> warnings;
    auto restored = restoreSetup(loadRememberedSetup(), &warnings);
    QVERIFY2(restored, qPrintable(restored.status().message()));
    QCOMPARE(restored->sourcePath, file);
    QCOMPARE(restored->replicationLog.shards, 3);
    QCOMPARE(restored->dbPath, path("chosen.db"));
    QCOMPARE(restored->nodeId, uint64_t(77));
    QCOMPARE(warnings.size(), 1);  // the unknown key, as a -config start would warn
    QVERIFY(warnings[0].message.contains("shiny"));
  }

  void restoreFailsWithAClearReason_data() {
    QTest::addColumn<QString>("configText");  // "" = no config file; "-" = a file that is gone
    QTest::addColumn<QString>("dbPath");
    QTest::addColumn<QString>("reason");
    QTest::newRow("config file gone") << "-" << path("a.db") << "gone.toml";
    QTest::newRow("config file broken") << "[replication_log]\nshards = \"two\"\n"
                                        << path("a.db") << "replication_log.shards";
    QTest::newRow("database folder gone") << "" << path("no/such/folder/a.db") << "no/such/folder";
  }
  void restoreFailsWithAClearReason() {
    QFETCH(QString, configText);
    QFETCH(QString, dbPath);
    QFETCH(QString, reason);
    RememberedSetup s;
    s.dbPath = dbPath;
    s.nodeId = 5;
    if (configText == "-") {
      s.configPath = path("gone.toml");
    } else if (!configText.isEmpty()) {
      s.configPath = path("broken.toml");
      QVERIFY(test::writeFile(s.configPath, configText.toUtf8()));
    }
    auto restored = restoreSetup(s);
    QVERIFY(!restored);
    QVERIFY2(restored.status().message().contains(reason), qPrintable(restored.status().message()));
  }

  // A damaged or foreign file is ignored, not half used.
  void damagedFileIsIgnored_data() {
    QTest::addColumn<QByteArray>("ini");
    QTest::newRow("no node id") << QByteArray("[setup]\ndb_path=/tmp/a.db\n");
    QTest::newRow("node id zero") << QByteArray("[setup]\ndb_path=/tmp/a.db\nnode_id=0\n");
    QTest::newRow("node id text") << QByteArray("[setup]\ndb_path=/tmp/a.db\nnode_id=seven\n");
    QTest::newRow("relative db") << QByteArray("[setup]\ndb_path=a.db\nnode_id=3\n");
    QTest::newRow("not ini") << QByteArray("\x00\x01garbage\xff", 10);
  }
  void damagedFileIsIgnored() {
    QFETCH(QByteArray, ini);
    QVERIFY(QDir().mkpath(path("config/harmonylite")));
    QVERIFY(test::writeFile(rememberedSetupPath(), ini));
    QVERIFY(loadRememberedSetup().isEmpty());
  }

  void unwritableLocationIsAnError() {
    QVERIFY(test::writeFile(path("afile"), "x"));
    qputenv("XDG_CONFIG_HOME", path("afile").toUtf8());  // a file where the folder should be
    RememberedSetup s;
    s.dbPath = path("a.db");
    s.nodeId = 1;
    const Status st = saveRememberedSetup(s);
    QVERIFY(!st.isOk());
    QVERIFY2(st.message().contains("afile"), qPrintable(st.message()));
  }

  // The controller: a choice made in the dashboard ends the first-run state; Forget is asked
  // of the host only when something is remembered.
  void controllerFirstRunAndForget() {
    DashboardController c;
    Config cfg;
    cfg.dbPath = path("first.db");
    cfg.nodeId = 9;
    c.setConfig(cfg);
    QVERIFY(c.firstRun());
    QCOMPARE(c.configSource(), QString("first-run defaults (no config file)"));
    QSignalSpy restart(&c, &DashboardController::restartRequested);
    QSignalSpy forget(&c, &DashboardController::forgetSetupRequested);
    c.openDatabase(QUrl::fromLocalFile(path("chosen.db")));
    QCOMPARE(restart.size(), 1);
    QVERIFY(!c.firstRun());
    QCOMPARE(c.configSource(), QString("choices made in the dashboard (no config file)"));
    c.forgetSetup();
    QCOMPARE(forget.size(), 0);
    QSignalSpy changed(&c, &DashboardController::configChanged);
    c.setRememberedSetup("database x, embedded NATS, node 9");
    QCOMPARE(changed.size(), 1);
    QCOMPARE(c.rememberedSetup(), QString("database x, embedded NATS, node 9"));
    c.forgetSetup();
    QCOMPARE(forget.size(), 1);
    // A host that restored a remembered setup says so: no first-run banner.
    DashboardController restored;
    restored.setChosenInDashboard(true);
    restored.setConfig(cfg);
    QVERIFY(!restored.firstRun());
  }
};

QTEST_GUILESS_MAIN(TestRememberedSetup)
#include "tst_remembered_setup.moc"
