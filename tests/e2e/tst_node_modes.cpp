// Failure and mode paths of replication with real processes: a shard whose next message aged
// out of the stream stops and says it needs a restore (docs/replication.md#applying); replicate =
// false applies nothing; a row larger than the server's max_payload goes to the failed state and
// does not block the changes after it (docs/replication.md#publishing); a node whose standard
// error nobody reads goes on applying (docs/configuration.md#logging).
#include <QElapsedTimer>
#include <QTemporaryDir>
#include <QtTest>

#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "node_process.h"
#include "test_support.h"

using namespace hl;
using test::NodeProcess;

class TestNodeModes : public QObject {
  Q_OBJECT
  QTemporaryDir m_dir;

  NodeProcess::Options options(uint64_t id, const QString& tag, const QString& url) {
    NodeProcess::Options o;
    o.nodeId = id;
    o.dir = m_dir.filePath(QStringLiteral("%1-%2").arg(tag).arg(id));
    o.urls = {url};
    o.shards = 1;
    return o;
  }

  // A FIFO at `name`, held open at both ends and filled until a write would block: a node
  // whose stderr is this FIFO writes into a full pipe that nobody reads. Both ends close with it.
  struct FullFifo {
    QString path;
    int reader = -1;
    int filler = -1;
    ~FullFifo() {
      if (filler >= 0) ::close(filler);
      if (reader >= 0) ::close(reader);
    }
  };
  bool makeFullFifo(const QString& name, FullFifo* f) {
    f->path = m_dir.filePath(name);
    if (::mkfifo(f->path.toLocal8Bit().constData(), 0600) != 0) return false;
    f->reader = ::open(f->path.toLocal8Bit().constData(), O_RDONLY | O_NONBLOCK);
    f->filler = ::open(f->path.toLocal8Bit().constData(), O_WRONLY | O_NONBLOCK);
    if (f->reader < 0 || f->filler < 0) return false;
    const QByteArray line = QByteArray(1023, 'x') + '\n';
    while (::write(f->filler, line.constData(), size_t(line.size())) > 0) {
    }
    return errno == EAGAIN;  // full
  }

 private slots:
  void agedOutMessagesNeedRestore() {
    test::NatsServer server;
    QVERIFY(server.start().isOk());
    auto o1 = options(1, "gap", server.url());
    auto o2 = options(2, "gap", server.url());
    const int healthPort = test::freePort();
    o2.healthPort = healthPort;
    NodeProcess n1(o1), n2(o2);
    QVERIFY(n1.start().isOk());
    QVERIFY(n2.start().isOk());
    n1.sql("INSERT INTO Books(id, title, author) VALUES (1, 'first', 'a')");
    QVERIFY(test::waitConverged({&n1, &n2}, "SELECT count(*) FROM Books", 30000, "1"));
    QCOMPARE(n2.stop(), 0);
    // The stream keeps 10 messages (update_existing applies the smaller max_entries).
    QCOMPARE(n1.stop(), 0);
    // Rewrite node 1's config with max_entries = 10 through the tables section.
    QString conf = QString::fromUtf8(test::readFile(n1.configPath()));
    conf.replace("max_entries = 100000", "max_entries = 10\nupdate_existing = true");
    QVERIFY(test::writeFile(n1.configPath(), conf.toUtf8()));
    QProcess p1;
    p1.start(test::harmonyliteBinary(), {"-config", n1.configPath(), "--no-gui"});
    QVERIFY(p1.waitForStarted());
    QByteArray log1;
    QVERIFY(test::waitFor(
        [&] {
          log1 += p1.readAllStandardError();
          return log1.contains("node running");
        },
        30000));
    QVERIFY2(log1.contains("updated stream"), log1.constData());
    QString bulk;
    for (int i = 2; i <= 40; ++i)
      bulk += QStringLiteral("INSERT INTO Books(id, title, author) VALUES (%1, 't', 'a');").arg(i);
    n1.sql(bulk);
    QVERIFY(test::waitFor(
        [&] {
          return n1.sql("SELECT count(*) FROM __harmonylite__changes WHERE state IS NULL") == "0";
        },
        30000));

    // Node 2 restarts behind the log: its shard stops, says so, and applies nothing silently.
    const Status s = n2.start();
    QVERIFY2(s.isOk(), qPrintable(s.message()));
    QVERIFY(test::waitFor([&] { return n2.log().contains("needs a restore"); }, 30000));
    QVERIFY(n2.log().contains("no longer holds message 2"));
    QCOMPARE(n2.sql("SELECT count(*) FROM Books"), QString("1"));
    QCOMPARE(n2.sql("SELECT seq FROM __harmonylite__positions"), QString("1"));
    // /health says so: 503 with the shard's reason.
    QByteArray body;
    QVERIFY2(test::waitFor(
                 [&] {
                   return test::httpGet(healthPort, "/health", &body) == 503 &&
                          body.contains("shard 1 is needs-restore");
                 },
                 10000),
             body.constData());
    QVERIFY(body.contains("needs a restore"));
    QVERIFY(n2.isRunning());  // it keeps running (and publishing), it does not crash-loop
    QCOMPARE(n2.stop(), 0);
    p1.terminate();
    QVERIFY(p1.waitForFinished(15000));
  }

  void replicateFalseAppliesNothing() {
    test::NatsServer server;
    QVERIFY(server.start().isOk());
    auto o2 = options(2, "norep", server.url());
    o2.topLevelToml = "replicate = false";
    NodeProcess n1(options(1, "norep", server.url())), n2(o2);
    QVERIFY(n1.start().isOk());
    QVERIFY(n2.start().isOk());
    QVERIFY(n2.log().contains("replicate = false"));
    n1.sql("INSERT INTO Books(id, title, author) VALUES (1, 'from n1', 'a')");
    n2.sql("INSERT INTO Books(id, title, author) VALUES (2, 'from n2', 'b')");
    // n2 still publishes: n1 gets its row; n2 never gets n1's.
    QVERIFY(test::waitConverged({&n1}, "SELECT count(*) FROM Books", 30000, "2"));
    QVERIFY(test::waitFor(
        [&] {
          return n2.sql("SELECT count(*) FROM __harmonylite__changes WHERE state IS NULL") == "0";
        },
        30000));
    QCOMPARE(n2.sql("SELECT count(*) FROM Books"), QString("1"));
    QCOMPARE(n2.sql("SELECT count(*) FROM __harmonylite__positions"), QString("0"));
    QCOMPARE(n1.stop(), 0);
    QCOMPARE(n2.stop(), 0);
  }

  // A node whose standard error nobody reads (docs/configuration.md#logging): its stderr is a
  // FIFO that the test holds open, fills to the brim before the node starts, and never reads.
  // The node must start and apply all the same: before, the thread that logged waited for the
  // pipe, so the node stopped at its first log line.
  void unreadStderrDoesNotStopTheNode() {
    test::NatsServer server;
    QVERIFY(server.start().isOk());
    FullFifo fifo;
    QVERIFY(makeFullFifo("unread-stderr", &fifo));
    auto o2 = options(2, "unread", server.url());
    o2.healthPort = test::freePort();
    const int metricsPort = test::freePort();
    o2.tablesToml = QStringLiteral(
                        "[logging]\nverbose = true\n[prometheus]\nenable = true\n"
                        "bind = \"127.0.0.1:%1\"\n")
                        .arg(metricsPort);
    o2.wrapper = {"sh", "-c", QStringLiteral("exec \"$0\" \"$@\" 2>'%1'").arg(fifo.path)};
    NodeProcess n1(options(1, "unread", server.url())), n2(o2);
    QVERIFY(n1.start().isOk());
    QVERIFY(n2.launch().isOk());
    QVERIFY(test::waitFor([&] { return test::httpGet(o2.healthPort, "/health") == 200; }, 30000));
    // Rows in 100 transactions: every batch n2 applies logs debug lines.
    constexpr int kRows = 3000;
    for (int t = 0; t < 100; ++t) {
      QString sql = "BEGIN;";
      for (int k = 1; k <= kRows / 100; ++k)
        sql += QStringLiteral("INSERT INTO Books(title, author) VALUES ('r%1-%2', 'unread');")
                   .arg(t)
                   .arg(k);
      bool ok = false;
      n1.sql(sql + "COMMIT;", &ok);
      QVERIFY(ok);
    }
    int unread = 0;
    const bool converged = test::waitFor(
        [&] { return n2.sql("SELECT count(*) FROM Books") == QString::number(kRows); }, 60000);
    ::ioctl(fifo.reader, FIONREAD, &unread);
    QVERIFY2(converged, qPrintable(QStringLiteral("n2 has %1 rows; %2 bytes of its log unread")
                                       .arg(n2.sql("SELECT count(*) FROM Books"))
                                       .arg(unread)));
    // The pipe stayed full (its capacity is 64 KB): the node's lines waited or were dropped.
    QVERIFY2(unread >= 60000, qPrintable(QString::number(unread)));
    QByteArray metrics;
    QCOMPARE(test::httpGet(metricsPort, "/metrics", &metrics), 200);
    QVERIFY(metrics.contains("harmonylite_log_lines_dropped_total{"));
    qInfo() << "n2 applied" << kRows << "rows with" << unread << "bytes of its log unread";
    QCOMPARE(n2.stop(), 0);
    QCOMPARE(n1.stop(), 0);
  }

  // A crash writes the signal and a stack trace to the log before the process ends with that
  // signal; with its stderr unread (a full pipe) the report cannot keep it from ending.
  void crashIsReportedInTheLog() {
    test::NatsServer server;
    QVERIFY(server.start().isOk());
    NodeProcess n(options(3, "crash", server.url()));
    QVERIFY(n.start().isOk());
    QCOMPARE(::kill(pid_t(n.pid()), SIGSEGV), 0);
    QVERIFY(test::waitFor([&] { return !n.isRunning(); }, 15000));
    QCOMPARE(n.stop(), SIGSEGV);  // ended by the signal itself
    const QString log = n.log();
    const qsizetype at = log.indexOf("harmonylite: fatal signal 11 (SIGSEGV); stack:\n");
    QVERIFY2(at >= 0, qPrintable(log.right(3000)));
    // Frames follow, our own functions named (the program is linked with -rdynamic).
    QVERIFY2(log.indexOf("harmonylite(main+", at) > at, qPrintable(log.mid(at)));

    FullFifo fifo;
    QVERIFY(makeFullFifo("crash-stderr", &fifo));
    auto o = options(4, "crash-unread", server.url());
    o.healthPort = test::freePort();
    o.wrapper = {"sh", "-c", QStringLiteral("exec \"$0\" \"$@\" 2>'%1'").arg(fifo.path)};
    NodeProcess unread(o);
    QVERIFY(unread.launch().isOk());
    QVERIFY(test::waitFor([&] { return test::httpGet(o.healthPort, "/health") == 200; }, 30000));
    QElapsedTimer clock;
    clock.start();
    QCOMPARE(::kill(pid_t(unread.pid()), SIGABRT), 0);
    QVERIFY2(test::waitFor([&] { return !unread.isRunning(); }, 15000),
             "the crash report waited on the unread pipe");
    const int code = unread.stop();
    QVERIFY2(code == SIGABRT || code == SIGALRM, qPrintable(QString::number(code)));
    qInfo() << "with stderr unread, the crashed node ended after" << clock.elapsed()
            << "ms by signal" << code;
  }

  // sleep_timeout: the node exits 0 by itself once nothing was published or applied for that
  // long, and not while changes keep coming.
  void sleepTimeoutExitsWhenIdle() {
    test::NatsServer server;
    QVERIFY(server.start().isOk());
    auto o = options(1, "sleep", server.url());
    // 6 s: well above any stall of a loaded machine between a write and its publish.
    o.topLevelToml = "sleep_timeout = 6000";
    NodeProcess node(o);
    QVERIFY(node.start().isOk());
    QElapsedTimer busy;
    busy.start();
    int id = 0;
    while (busy.elapsed() < 9000) {  // writes every 300 ms keep it awake past the timeout
      node.sql(
          QStringLiteral("INSERT INTO Books(id, title, author) VALUES (%1, 't', 'a')").arg(++id));
      QVERIFY2(node.isRunning(), qPrintable(node.log()));
      QTest::qWait(300);  // pacing the writer
    }
    QVERIFY(test::waitFor([&] { return !node.isRunning(); }, 15000));
    QCOMPARE(node.stop(), 0);
    QVERIFY(node.log().contains("sleep_timeout reached"));
    QVERIFY(node.log().contains("stopped cleanly"));
  }

  // A NATS server that stops answering (frozen with SIGSTOP: every JetStream call times out)
  // must not make the node hang on SIGTERM: it stops, cleanly or, past the engine's 10 s stop
  // deadline, with exit code 1 and a line saying so.
  void frozenNatsDoesNotHangTheStop() {
    test::NatsServer server;
    QVERIFY(server.start().isOk());
    test::NodeProcess::Options o;
    o.nodeId = 31;
    o.dir = m_dir.filePath("frozen");
    o.urls = {server.url()};
    o.shards = 8;
    QDir().mkpath(o.dir);
    test::NodeProcess node(o);
    QVERIFY2(node.start().isOk(), qPrintable(node.log()));
    ::kill(pid_t(server.pid()), SIGSTOP);
    QElapsedTimer t;
    t.start();
    const int code = node.stop(20000);
    ::kill(pid_t(server.pid()), SIGCONT);
    qInfo() << "stopped after" << t.elapsed() << "ms with exit code" << code;
    QVERIFY2(code != -1, "the node did not exit within 20 s of SIGTERM");
    QVERIFY(code == 0 || (code == 1 && node.log().contains("exiting without a clean stop")));
  }

  void oversizedRowGoesToFailedState() {
    test::NatsServer server([] {
      test::NatsServer::Options o;
      o.extraConfig = "max_payload: 4096\n";
      return o;
    }());
    QVERIFY(server.start().isOk());
    NodeProcess n1(options(1, "big", server.url())), n2(options(2, "big", server.url()));
    QVERIFY(n1.start().isOk());
    QVERIFY(n2.start().isOk());
    // A 64 KiB random blob does not compress below the 4 KiB limit.
    n1.sql("INSERT INTO Books(id, title, author) VALUES (1, 'huge', hex(randomblob(32768)))");
    n1.sql("INSERT INTO Books(id, title, author) VALUES (2, 'small', 'after')");
    QVERIFY(test::waitConverged({&n2}, "SELECT group_concat(id) FROM Books", 30000, "2"));
    QVERIFY(test::waitFor(
        [&] {
          return n1.sql("SELECT count(*) FROM __harmonylite__changes WHERE state = 2") == "1";
        },
        30000));
    QVERIFY(n1.sql("SELECT error FROM __harmonylite__changes WHERE state = 2")
                .contains("exceeds the server's max_payload"));
    QVERIFY2(test::waitFor([&] { return n1.log().contains("not sent"); }, 5000),
             qPrintable(n1.log()));
    QCOMPARE(n1.stop(), 0);
    QCOMPARE(n2.stop(), 0);
  }
};

QTEST_GUILESS_MAIN(TestNodeModes)
#include "tst_node_modes.moc"
