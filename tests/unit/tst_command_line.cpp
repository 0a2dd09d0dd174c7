// Go-style flag parsing (docs/configuration.md): every flag form, bad input, usage text.
#include <QtTest>

#include "command_line.h"

using namespace hl;

class TestCommandLine : public QObject {
  Q_OBJECT
 private slots:
  void configForms_data() {
    QTest::addColumn<QStringList>("args");
    QTest::newRow("-config x") << QStringList{"-config", "/c.toml"};
    QTest::newRow("-config=x") << QStringList{"-config=/c.toml"};
    QTest::newRow("--config x") << QStringList{"--config", "/c.toml"};
    QTest::newRow("--config=x") << QStringList{"--config=/c.toml"};
  }
  void configForms() {
    QFETCH(QStringList, args);
    const ParseOutcome o = parseCommandLine(args);
    QCOMPARE(o.kind, ParseOutcome::Kind::kOk);
    QCOMPARE(o.commandLine.configPath, QString("/c.toml"));
  }

  void everyFlag() {
    const ParseOutcome o = parseCommandLine(
        {"-config", "a.toml", "-node-id", "12", "-cleanup", "--save-snapshot", "-schema-status",
         "-schema-status-cluster=true", "-digest", "-cluster-addr", "127.0.0.1:4248",
         "-cluster-peers=nats://a:1,nats://b:2", "--leaf-servers", "nats://leaf:7422", "--no-gui"});
    QCOMPARE(o.kind, ParseOutcome::Kind::kOk);
    const CommandLine& c = o.commandLine;
    QCOMPARE(c.configPath, QString("a.toml"));
    QCOMPARE(c.nodeId.value_or(0), uint64_t(12));
    QVERIFY(c.cleanup && c.saveSnapshot && c.schemaStatus && c.schemaStatusCluster && c.digest &&
            c.noGui);
    QCOMPARE(c.clusterAddr, QString("127.0.0.1:4248"));
    QCOMPARE(c.clusterPeers, QString("nats://a:1,nats://b:2"));
    QCOMPARE(c.leafServers, QString("nats://leaf:7422"));
    QVERIFY(!c.version && !c.help);
  }

  // The consistency check's flags (docs/consistency.md#check): node ids above 0, a count above 0.
  void consistencyFlags() {
    CommandLine c = parseCommandLine({"-check-consistency", "-repair-from", "3", "-expect-nodes=5"})
                        .commandLine;
    QVERIFY(c.checkConsistency);
    QCOMPARE(c.repairFrom, uint64_t(3));
    QCOMPARE(c.expectNodes, 5);
    for (const QStringList& bad : {QStringList{"-repair-from", "0"},
                                   {"-repair-from", "x"},
                                   {"-expect-nodes", "0"},
                                   {"-expect-nodes", "-1"}}) {
      const ParseOutcome o = parseCommandLine(bad);
      QCOMPARE(o.kind, ParseOutcome::Kind::kError);
      QVERIFY2(o.error.contains(bad[0]), qPrintable(o.error));
    }
  }

  // Snapshot commands: the optional value only after '=' (docs/snapshots.md#command-line).
  void snapshotFlags() {
    CommandLine c = parseCommandLine({"-restore-snapshot", "-force"}).commandLine;
    QVERIFY(c.restoreSnapshot && c.restoreSnapshot->isEmpty() && c.force);
    c = parseCommandLine({"--restore-snapshot=20261130T151727519Z-n1"}).commandLine;
    QCOMPARE(c.restoreSnapshot.value_or("none"), QString("20261130T151727519Z-n1"));
    c = parseCommandLine({"-verify-snapshot=abc", "-list-snapshots"}).commandLine;
    QCOMPARE(c.verifySnapshot.value_or("none"), QString("abc"));
    QVERIFY(c.listSnapshots && !c.restoreSnapshot && !c.force);
    // Without '=' the next argument is not its value.
    const ParseOutcome o = parseCommandLine({"-restore-snapshot", "abc"});
    QCOMPARE(o.kind, ParseOutcome::Kind::kError);
    QCOMPARE(o.error, QString("unexpected argument: abc"));
    QVERIFY(usageText("harmonylite").contains("-restore-snapshot[=ID]"));
  }

  void booleanValues() {
    QVERIFY(parseCommandLine({"-version"}).commandLine.version);
    QVERIFY(parseCommandLine({"-version=1"}).commandLine.version);
    QVERIFY(!parseCommandLine({"-no-gui=false"}).commandLine.noGui);
    QVERIFY(parseCommandLine({"-h"}).commandLine.help);
    QVERIFY(parseCommandLine({"--help"}).commandLine.help);
    // A boolean flag does not consume the next argument (Go semantics).
    const ParseOutcome o = parseCommandLine({"-cleanup", "false"});
    QCOMPARE(o.kind, ParseOutcome::Kind::kError);
    QCOMPARE(o.error, QString("unexpected argument: false"));
  }

  void errors_data() {
    QTest::addColumn<QStringList>("args");
    QTest::addColumn<QString>("error");
    QTest::newRow("unknown") << QStringList{"-bogus"} << "flag provided but not defined: -bogus";
    QTest::newRow("unknown long") << QStringList{"--bogus=1"}
                                  << "flag provided but not defined: -bogus";
    QTest::newRow("missing value") << QStringList{"-config"} << "flag needs an argument: -config";
    QTest::newRow("bad bool") << QStringList{"-cleanup=maybe"}
                              << "invalid boolean value \"maybe\" for -cleanup";
    QTest::newRow("bad node id") << QStringList{"-node-id", "abc"}
                                 << "invalid value \"abc\" for flag -node-id";
    QTest::newRow("zero node id") << QStringList{"-node-id=0"}
                                  << "invalid value \"0\" for flag -node-id";
    QTest::newRow("triple dash") << QStringList{"---config"} << "bad flag syntax: ---config";
    QTest::newRow("positional") << QStringList{"file.toml"} << "unexpected argument: file.toml";
    QTest::newRow("after --") << QStringList{"--", "x"} << "unexpected argument: x";
  }
  void errors() {
    QFETCH(QStringList, args);
    QFETCH(QString, error);
    const ParseOutcome o = parseCommandLine(args);
    QCOMPARE(o.kind, ParseOutcome::Kind::kError);
    QCOMPARE(o.error, error);
  }

  void usageListsEveryFlagOnItsOwnLine() {
    const QString usage = usageText("harmonylite");
    const QStringList flags = {"-config PATH",   "-node-id N",         "-cleanup",
                               "-save-snapshot", "-schema-status",     "-schema-status-cluster",
                               "-digest",        "-cluster-addr",      "-cluster-peers",
                               "-leaf-servers",  "-version",           "-help",
                               "--no-gui",       "-check-consistency", "-repair-from N",
                               "-expect-nodes N"};
    const QStringList lines = usage.split('\n');
    for (const QString& f : flags) {
      int found = 0;
      for (const QString& line : lines)
        if (line.trimmed().startsWith(f + ' ')) ++found;
      QVERIFY2(found == 1, qPrintable(f));
    }
  }
};

QTEST_GUILESS_MAIN(TestCommandLine)
#include "tst_command_line.moc"
