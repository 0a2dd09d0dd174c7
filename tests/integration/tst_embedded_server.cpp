// The embedded nats-server supervisor with real nats-server processes: start on a free port
// with JetStream under the node's state dir, restart after kill -9 (also while the port is
// taken), stop for good, death with the parent, a 3-node JetStream cluster, leaf remotes,
// server_config merged on top, authorization, the durability setting and every start error;
// a start that is cut short by deletion or by the engine's stop (issue 11).
#include <QJsonDocument>
#include <QJsonObject>
#include <QPointer>
#include <QTcpServer>
#include <QTcpSocket>
#include <QtTest>

#include <signal.h>

#include <atomic>
#include <thread>

#include "harmonylite/engine_thread.h"
#include "nats/embedded_server.h"
#include "nats/nats_handles.h"
#include "nats_test_client.h"
#include "test_support.h"

using namespace hl;
using test::addStream;
using test::connectTo;
using test::jetStream;
using test::publish;
using State = EmbeddedServer::State;

namespace {

// hl.* log messages, captured; the rest goes on to Qt Test's handler, minus the server's
// debug chatter (shown when HL_SHOW_SERVER is set).
QStringList g_log;
QtMessageHandler g_previousHandler = nullptr;

void captureLog(QtMsgType type, const QMessageLogContext& context, const QString& message) {
  const QLatin1String category(context.category ? context.category : "");
  if (category.startsWith(QLatin1String("hl."))) g_log << category + QStringLiteral(": ") + message;
  if (category == QLatin1String("hl.nats.server") && type == QtDebugMsg &&
      qEnvironmentVariableIsEmpty("HL_SHOW_SERVER"))
    return;
  g_previousHandler(type, context, message);
}

// Whether a captured log line contains `text`.
bool logged(const QString& text) {
  return !g_log.filter(text).isEmpty();
}

// Whether a process exists; a zombie nobody has reaped yet counts as gone.
bool alive(qint64 pid) {
  if (pid <= 0 || ::kill(pid_t(pid), 0) != 0) return false;
  const QByteArray stat = test::readFile(QStringLiteral("/proc/%1/stat").arg(pid));
  const qsizetype close = stat.lastIndexOf(')');
  return close < 0 || stat.mid(close + 2, 1) != "Z";
}

EmbeddedServer::Options nodeOptions(const QTemporaryDir& dir, uint64_t nodeId) {
  Config c;
  c.dbPath = dir.filePath(QStringLiteral("app.db"));
  c.nodeId = nodeId;
  return EmbeddedServer::fromConfig(c);
}

// An executable shell script in `dir`.
QString writeScript(const QTemporaryDir& dir, const QString& name, const QByteArray& body) {
  const QString path = dir.filePath(name);
  test::writeFile(path, "#!/bin/sh\n" + body);
  QFile::setPermissions(path, QFile::ReadOwner | QFile::WriteOwner | QFile::ExeOwner);
  return path;
}

Result<uint64_t> streamMessages(jsCtx* js, const char* name) {
  jsStreamInfo* si = nullptr;
  jsErrCode jerr = jsErrCode(0);
  if (natsStatus s = js_GetStreamInfo(&si, js, name, nullptr, &jerr); s != NATS_OK)
    return fromNats(s, "stream info", jerr);
  JsStreamInfoPtr info(si);
  return info->State.Msgs;
}

bool hasSubdir(const QString& root, const QString& name) {
  QDirIterator it(root, QDir::Dirs | QDir::NoDotAndDotDot, QDirIterator::Subdirectories);
  while (it.hasNext())
    if (QFileInfo(it.next()).fileName() == name) return true;
  return false;
}

// CONNECT with user and password (JSON-escaped), then PING: true when the server answers
// PONG. nats.c 3.4.1 does not escape '"' or '\\' in a password, so the test speaks the
// protocol itself to check how the config file quotes them.
bool connectsByHand(int port, const QString& user, const QString& password) {
  QTcpSocket s;
  s.connectToHost(QHostAddress::LocalHost, quint16(port));
  if (!s.waitForConnected(2000)) return false;
  auto readLine = [&s] {
    QByteArray in;
    while (!in.contains("\r\n") && s.waitForReadyRead(2000)) in += s.readAll();
    return in;
  };
  if (!readLine().startsWith("INFO ")) return false;
  const QJsonObject connect{
      {"user", user}, {"pass", password}, {"verbose", false}, {"pedantic", false}};
  s.write("CONNECT " + QJsonDocument(connect).toJson(QJsonDocument::Compact) + "\r\nPING\r\n");
  return readLine().startsWith("PONG");
}

QString realServerVersion() {
  const test::ProcessResult r = test::runProcess(QStringLiteral("nats-server"), {"--version"});
  static const QRegularExpression re(QStringLiteral(R"(v(\d+\.\d+\.\d+))"));
  return re.match(QString::fromUtf8(r.out + r.err)).captured(1);
}

bool atLeast210(const QString& version) {
  const QStringList parts = version.split('.');
  return parts.size() == 3 &&
         (parts[0].toInt() > 2 || (parts[0].toInt() == 2 && parts[1].toInt() >= 10));
}

// start() and then wait, with a deadline, for what it reports later: OK once ready() came, the
// startFailed() error, or start()'s own error (those come back at once, nothing follows).
Status startAndWait(EmbeddedServer& server, int readyTimeoutMs = 15000) {
  auto broken = [](const QString& what) {  // the start contract itself did not hold
    qWarning().noquote() << "startAndWait:" << what;
    return Status::internal(QStringLiteral("test: ") + what);
  };
  QSignalSpy ready(&server, &EmbeddedServer::ready);
  QSignalSpy failed(&server, &EmbeddedServer::startFailed);
  const Status started = server.start(readyTimeoutMs);
  if (!started.isOk()) {
    if (!failed.isEmpty() || server.state() != State::kFailed)
      return broken(QStringLiteral("start() failed without a quiet kFailed: ") + started.message());
    return started;
  }
  if (!test::waitFor([&] { return !ready.isEmpty() || !failed.isEmpty(); }, readyTimeoutMs + 10000))
    return broken(QStringLiteral("neither ready() nor startFailed() came"));
  if (ready.size() + failed.size() != 1) return broken(QStringLiteral("ready() and startFailed()"));
  if (!failed.isEmpty()) {
    const Status error = qvariant_cast<Status>(failed.at(0).at(0));
    if (server.state() != State::kFailed || server.lastError().message() != error.message())
      return broken(QStringLiteral("startFailed() without kFailed and lastError: ") +
                    error.message());
    return error;
  }
  return server.state() == State::kRunning ? Status::ok()
                                           : broken(QStringLiteral("ready() without kRunning"));
}

// Whether a process (the server or its wrapper script) runs with `configPath` on its command
// line; zombies do not count.
bool anyProcessUses(const QString& configPath) {
  const QByteArray needle = configPath.toLocal8Bit();
  const QStringList pids = QDir(QStringLiteral("/proc")).entryList(QDir::Dirs);
  for (const QString& pid : pids) {
    bool isPid = false;
    const qint64 n = pid.toLongLong(&isPid);
    if (isPid && test::readFile(QStringLiteral("/proc/%1/cmdline").arg(pid)).contains(needle) &&
        alive(n))
      return true;
  }
  return false;
}

QList<State> states(const QSignalSpy& spy) {
  QList<State> out;
  for (const QList<QVariant>& args : spy) out << qvariant_cast<State>(args.at(0));
  return out;
}

}  // namespace

class TestEmbeddedServer : public QObject {
  Q_OBJECT

 private slots:
  void initTestCase() {
    QCOMPARE(nats_Open(-1), NATS_OK);
    g_previousHandler = qInstallMessageHandler(captureLog);
  }
  void cleanupTestCase() {
    qInstallMessageHandler(g_previousHandler);
    nats_Close();
  }
  void init() { g_log.clear(); }

  void fromConfigTakesTheNatsKeys() {
    Config c;
    c.dbPath = QStringLiteral("/var/lib/app/data.db");
    c.nodeId = 42;
    c.nats.serverBinary = QStringLiteral("/opt/nats-server");
    c.nats.bindAddress = QStringLiteral("0.0.0.0:4222");
    c.nats.clusterAddr = QStringLiteral("10.0.0.1:6222");
    c.nats.clusterPeers = QStringList{QStringLiteral("nats://10.0.0.2:6222")};
    c.nats.leafServers = QStringList{QStringLiteral("nats-leaf://hub:7422")};
    c.nats.serverConfig = QStringLiteral("/etc/nats.conf");
    c.nats.userName = QStringLiteral("u");
    c.nats.userPassword = QStringLiteral("p");
    const EmbeddedServer::Options o = EmbeddedServer::fromConfig(c);
    QCOMPARE(o.storeDir, QStringLiteral("/var/lib/app/nats/harmonylite-node-42"));
    QCOMPARE(o.nodeId, uint64_t(42));
    QCOMPARE(o.binary, c.nats.serverBinary);
    QCOMPARE(o.bindAddress, c.nats.bindAddress);
    QCOMPARE(o.clusterAddr, c.nats.clusterAddr);
    QCOMPARE(o.clusterPeers, c.nats.clusterPeers);
    QCOMPARE(o.leafServers, c.nats.leafServers);
    QCOMPARE(o.serverConfig, c.nats.serverConfig);
    QCOMPARE(o.userName, c.nats.userName);
    QCOMPARE(o.userPassword, c.nats.userPassword);
  }

  void startsOnAFreeLoopbackPortWithJetStream() {
    QTemporaryDir dir;
    const EmbeddedServer::Options o = nodeOptions(dir, 7);
    QCOMPARE(o.storeDir, dir.path() + QStringLiteral("/nats/harmonylite-node-7"));
    QCOMPARE(o.bindAddress, QStringLiteral(":-1"));
    EmbeddedServer server(o);
    QSignalSpy readySpy(&server, &EmbeddedServer::ready);
    const Status started = startAndWait(server);
    QVERIFY2(started.isOk(), qPrintable(started.message()));
    QCOMPARE(server.state(), State::kRunning);
    QCOMPARE(readySpy.count(), 1);
    QVERIFY(server.port() > 0);
    QCOMPARE(server.clientUrl(), QStringLiteral("nats://127.0.0.1:%1").arg(server.port()));
    QVERIFY(alive(server.pid()));

    auto nc = connectTo(server.clientUrl());
    QVERIFY2(nc.ok(), qPrintable(nc.status().message()));
    auto js = jetStream(nc->get());
    QVERIFY(js.ok());
    QVERIFY(addStream(js->get(), "E1", "e1.x", 1).isOk());
    QVERIFY(publish(js->get(), "e1.x", "hello").isOk());
    QVERIFY2(hasSubdir(o.storeDir + QStringLiteral("/jetstream"), QStringLiteral("E1")),
             "no stream directory under the store dir");

    QCOMPARE(server.configPath(), dir.path() + QStringLiteral("/nats/harmonylite-node-7.conf"));
    const QString conf = QString::fromUtf8(test::readFile(server.configPath()));
    QVERIFY2(conf.contains(QStringLiteral("server_name: \"harmonylite-node-7\"\n")),
             qPrintable(conf));
    QVERIFY(conf.contains(QStringLiteral("listen: \"127.0.0.1:%1\"\n").arg(server.port())));
    QVERIFY(conf.contains(QStringLiteral("store_dir: \"%1\"\n").arg(o.storeDir)));
    QVERIFY(!conf.contains(QStringLiteral("cluster")));
    QVERIFY(!conf.contains(QStringLiteral("authorization")));
    const QFile::Permissions perms = QFile::permissions(server.configPath());
    QVERIFY(
        !(perms & (QFile::ReadGroup | QFile::ReadOther | QFile::WriteGroup | QFile::WriteOther)));
    // The server's output reaches hl.nats.server.
    QVERIFY(test::waitFor([] { return logged("hl.nats.server: [INF] Server is ready"); }, 5000));
  }

  void restartsAfterKill9() {
    QTemporaryDir dir;
    EmbeddedServer server(nodeOptions(dir, 8));
    QVERIFY(startAndWait(server).isOk());
    const QString url = server.clientUrl();
    const qint64 firstPid = server.pid();
    {
      auto nc = connectTo(url);
      QVERIFY(nc.ok());
      auto js = jetStream(nc->get());
      QVERIFY(js.ok());
      QVERIFY(addStream(js->get(), "K1", "k1.x", 1).isOk());
      QVERIFY(publish(js->get(), "k1.x", "kept").isOk());
    }

    QSignalSpy stateSpy(&server, &EmbeddedServer::stateChanged);
    QSignalSpy readySpy(&server, &EmbeddedServer::ready);
    QCOMPARE(::kill(pid_t(firstPid), SIGKILL), 0);
    QVERIFY(readySpy.wait(10000));
    QCOMPARE(states(stateSpy), QList<State>({State::kRestarting, State::kRunning}));
    QCOMPARE(server.state(), State::kRunning);
    QCOMPARE(server.restarts(), 1);
    QCOMPARE(server.clientUrl(), url);
    QVERIFY(server.pid() != firstPid);
    QVERIFY(alive(server.pid()));
    QVERIFY(!alive(firstPid));
    QVERIFY2(server.lastError().message().contains(QStringLiteral("killed by a signal")),
             qPrintable(server.lastError().message()));

    auto nc = connectTo(url);
    QVERIFY2(nc.ok(), qPrintable(nc.status().message()));
    auto js = jetStream(nc->get());
    QVERIFY(js.ok());
    const Result<uint64_t> msgs = streamMessages(js->get(), "K1");
    QVERIFY2(msgs.ok(), qPrintable(msgs.status().message()));
    QCOMPARE(*msgs, uint64_t(1));
  }

  void restartKeepsTryingWhileThePortIsTaken() {
    QTemporaryDir dir;
    EmbeddedServer server(nodeOptions(dir, 12));
    QVERIFY(startAndWait(server).isOk());
    const QString url = server.clientUrl();
    QSignalSpy readySpy(&server, &EmbeddedServer::ready);
    QCOMPARE(::kill(pid_t(server.pid()), SIGKILL), 0);
    // Take the port while the supervisor waits its 250 ms backoff.
    QTcpServer squatter;
    QVERIFY(test::waitFor(
        [&] { return squatter.listen(QHostAddress::LocalHost, quint16(server.port())); }, 5000, 5));
    QVERIFY2(test::waitFor(
                 [&] {
                   return server.restarts() >= 2 && server.lastError().message().contains(
                                                        QStringLiteral("address already in use"));
                 },
                 10000),
             qPrintable(server.lastError().message()));
    QCOMPARE(server.state(), State::kRestarting);
    QCOMPARE(readySpy.count(), 0);  // the squatter accepts connections but sends no INFO
    squatter.close();
    QVERIFY(readySpy.wait(10000));
    QCOMPARE(server.state(), State::kRunning);
    QCOMPARE(server.clientUrl(), url);
    QVERIFY(connectTo(url).ok());
  }

  void restartRetriesWhileTheProgramIsGone() {
    QTemporaryDir dir;
    EmbeddedServer::Options o = nodeOptions(dir, 27);
    const QByteArray wrapper = "exec nats-server \"$@\"\n";
    o.binary = writeScript(dir, QStringLiteral("wrapped-nats-server"), wrapper);
    EmbeddedServer server(o);
    QVERIFY(startAndWait(server).isOk());
    QSignalSpy readySpy(&server, &EmbeddedServer::ready);
    QVERIFY(QFile::remove(o.binary));
    QCOMPARE(::kill(pid_t(server.pid()), SIGKILL), 0);
    QVERIFY2(test::waitFor(
                 [&] {
                   return server.restarts() >= 2 && server.lastError().message().startsWith(
                                                        QStringLiteral("start ") + o.binary);
                 },
                 10000),
             qPrintable(server.lastError().message()));
    QCOMPARE(server.state(), State::kRestarting);
    writeScript(dir, QStringLiteral("wrapped-nats-server"), wrapper);
    QVERIFY(readySpy.wait(10000));
    QCOMPARE(server.state(), State::kRunning);
    QVERIFY(connectTo(server.clientUrl()).ok());
  }

  // The server's output is read on a thread of its own: a node thread busy for seconds (as
  // it is while its requests time out) must not make nats-server wait in its logger. Here the
  // server traces every message (about 1 MB of output, far past a pipe's 64 KB) while this
  // thread, the supervisor's, runs no event loop; a client publishing meanwhile must finish.
  // Before the pump, the client's flush timed out and the server stayed blocked.
  void serverNeverWaitsForTheNodesThread() {
    QTemporaryDir dir;
    EmbeddedServer::Options o = nodeOptions(dir, 29);
    o.serverConfig = dir.filePath(QStringLiteral("trace.conf"));
    test::writeFile(o.serverConfig, "trace: true\n");
    EmbeddedServer server(o);
    QVERIFY(startAndWait(server).isOk());
    auto nc = connectTo(server.clientUrl());
    QVERIFY(nc.ok());
    constexpr int kMessages = 3000;
    std::atomic<int> published{0};
    std::atomic<int> flushed{-1};  // natsStatus of the final flush
    std::thread client([&] {
      const QByteArray payload(200, 'x');
      for (int i = 0; i < kMessages; ++i) {
        if (natsConnection_Publish(nc->get(), "trace.me", payload.constData(),
                                   int(payload.size())) != NATS_OK)
          break;
        published = i + 1;
      }
      flushed = int(natsConnection_FlushTimeout(nc->get(), 5000));
    });
    QElapsedTimer busy;  // this thread reads nothing meanwhile: no event loop runs
    busy.start();
    while (flushed.load() < 0 && busy.elapsed() < 10000)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    const int result = flushed.load();
    QTest::qWait(100);  // events again (the server may need its output read to go on)
    client.join();
    QCOMPARE(published.load(), kMessages);
    QVERIFY2(
        result == int(NATS_OK),
        qPrintable(QStringLiteral("flush: %1 after %2 ms")
                       .arg(result < 0 ? QStringLiteral("not done")
                                       : QString::fromUtf8(natsStatus_GetText(natsStatus(result))))
                       .arg(busy.elapsed())));
    QVERIFY(test::waitFor([] { return logged("PUB trace.me"); }, 10000));
  }

  // nats-server 2.9 switches JetStream off for good when its disk is full ("JetStream out of
  // file resources, will be DISABLED"). The supervisor restarts it once the store has room
  // (here at once: the test's disk has room). The line is written into the child's own
  // output pipe (through /proc), as the server would print it; a real full disk is the chaos
  // suite's disk-full fault.
  void restartsWhenJetStreamSwitchedOffForAFullDisk() {
    QTemporaryDir dir;
    EmbeddedServer server(nodeOptions(dir, 30));
    QVERIFY(startAndWait(server).isOk());
    const qint64 firstPid = server.pid();
    QSignalSpy readySpy(&server, &EmbeddedServer::ready);
    {
      QFile out(QStringLiteral("/proc/%1/fd/1").arg(firstPid));
      QVERIFY2(out.open(QIODevice::WriteOnly | QIODevice::Unbuffered),
               qPrintable(out.errorString()));
      // An [INF] line with the same words is not the server's error.
      out.write(
          "[1] 2026/12/01 00:00:00.000000 [INF] JetStream out of resources, will be "
          "DISABLED (quoted)\n[1] 2026/12/01 00:00:00.000000 [INF] marker-after\n");
    }
    // The marker comes after it through the same pump: once the marker is logged, whatever
    // the [INF] line could have queued has run.
    QVERIFY(test::waitFor([] { return logged("marker-after"); }, 10000));
    QTest::qWait(0);
    QCOMPARE(server.pid(), firstPid);
    QVERIFY(!logged("switched JetStream off"));
    {
      QFile out(QStringLiteral("/proc/%1/fd/1").arg(firstPid));
      QVERIFY(out.open(QIODevice::WriteOnly | QIODevice::Unbuffered));
      out.write(
          "[1] 2026/12/01 00:00:00.000000 [ERR] JetStream out of file resources, will "
          "be DISABLED\n");
    }
    QVERIFY(readySpy.wait(15000));
    QCOMPARE(server.state(), State::kRunning);
    QVERIFY(server.pid() != firstPid);
    QCOMPARE(server.restarts(), 1);
    QVERIFY2(
        server.lastError().message().contains(QStringLiteral("stopped to enable JetStream again")),
        qPrintable(server.lastError().message()));
    QVERIFY(logged("switched JetStream off"));
    QVERIFY(logged("restarting nats-server to enable JetStream"));
    auto nc = connectTo(server.clientUrl());
    QVERIFY(nc.ok());
    auto js = jetStream(nc->get());
    QVERIFY(js.ok());
    const Status added = addStream(js->get(), "AFTER", "after.>", 1);
    QVERIFY2(added.isOk(), qPrintable(added.message()));
  }

  void wildcardBindListensEverywhereClientsUseLoopback() {
    QTemporaryDir dir;
    EmbeddedServer::Options o = nodeOptions(dir, 28);
    o.bindAddress = QStringLiteral("0.0.0.0:-1");
    EmbeddedServer server(o);
    QVERIFY(startAndWait(server).isOk());
    QCOMPARE(server.clientUrl(), QStringLiteral("nats://127.0.0.1:%1").arg(server.port()));
    const QString conf = QString::fromUtf8(test::readFile(server.configPath()));
    QVERIFY2(conf.contains(QStringLiteral("listen: \"0.0.0.0:%1\"\n").arg(server.port())),
             qPrintable(conf));
    QVERIFY(connectTo(server.clientUrl()).ok());
  }

  void stopEndsTheServerForGood() {
    QTemporaryDir dir;
    qint64 pid = 0;
    {
      EmbeddedServer server(nodeOptions(dir, 9));
      QVERIFY(startAndWait(server).isOk());
      const QString url = server.clientUrl();
      pid = server.pid();
      QSignalSpy stateSpy(&server, &EmbeddedServer::stateChanged);
      server.stop();
      QCOMPARE(server.state(), State::kStopped);
      QCOMPARE(states(stateSpy), QList<State>({State::kStopped}));
      QVERIFY(!alive(pid));
      QCOMPARE(server.pid(), qint64(0));
      // Longer than the first restart backoff (250 ms): nothing comes back.
      QVERIFY(!test::waitFor([&] { return stateSpy.count() > 1 || server.pid() != 0; }, 1000));
      QCOMPARE(server.restarts(), 0);
      QVERIFY(!connectTo(url).ok());

      // Started again, it keeps its port; the destructor stops it.
      QVERIFY(startAndWait(server).isOk());
      QCOMPARE(server.clientUrl(), url);
      pid = server.pid();
      QVERIFY(alive(pid));
    }
    QVERIFY(!alive(pid));
  }

  void childDiesWithItsParent() {
    QTemporaryDir dir;
    QProcess host;
    host.setProcessChannelMode(QProcess::ForwardedErrorChannel);
    host.start(QStringLiteral(HL_EMBEDDED_SERVER_HOST),
               {dir.filePath(QStringLiteral("nats/harmonylite-node-13")), QStringLiteral("13")});
    QVERIFY(host.waitForStarted(5000));
    QVERIFY(test::waitFor([&] { return host.canReadLine() || host.state() != QProcess::Running; },
                          20000));
    const QString line = QString::fromUtf8(host.readLine()).trimmed();
    const QStringList fields = line.split(' ');
    QVERIFY2(fields.size() == 2, qPrintable(line));
    const qint64 serverPid = fields[0].toLongLong();
    QVERIFY(alive(serverPid));
    // The host prints once start() returned, which is before the server accepts clients.
    QVERIFY(test::waitFor([&] { return connectTo(fields[1]).ok(); }, 15000));

    host.kill();  // SIGKILL: the host cannot stop its child itself
    QVERIFY(host.waitForFinished(5000));
    QVERIFY2(test::waitFor([&] { return !alive(serverPid); }, 10000),
             "nats-server outlived its parent");
  }

  void formsAJetStreamCluster() {
    QTemporaryDir dir;
    QList<int> clusterPorts;
    for (int i = 0; i < 3; ++i) clusterPorts << test::freePort();
    std::vector<std::unique_ptr<EmbeddedServer>> servers;
    for (int i = 0; i < 3; ++i) {
      Config c;
      c.dbPath = dir.filePath(QStringLiteral("n%1/app.db").arg(i + 1));
      c.nodeId = uint64_t(i + 1);
      c.nats.clusterAddr = QStringLiteral("127.0.0.1:%1").arg(clusterPorts[i]);
      for (int j = 0; j < 3; ++j)
        if (j != i)
          c.nats.clusterPeers << QStringLiteral("nats://127.0.0.1:%1").arg(clusterPorts[j]);
      servers.push_back(std::make_unique<EmbeddedServer>(EmbeddedServer::fromConfig(c)));
    }
    for (auto& s : servers) {
      const Status started = startAndWait(*s);
      QVERIFY2(started.isOk(), qPrintable(started.message()));
    }
    const QString conf = QString::fromUtf8(test::readFile(servers[0]->configPath()));
    QVERIFY2(conf.contains(QStringLiteral("name: \"e-harmonylite\"")), qPrintable(conf));

    auto nc = connectTo(servers[0]->clientUrl());
    QVERIFY(nc.ok());
    auto js = jetStream(nc->get());
    QVERIFY(js.ok());
    int peers = 0;
    Status added;
    // The JetStream meta leader is elected after the routes connect.
    QVERIFY2(test::waitFor(
                 [&] {
                   added = addStream(js->get(), "C3", "c3.x", 3, &peers);
                   return added.isOk();
                 },
                 30000, 200),
             qPrintable(added.message()));
    QCOMPARE(peers, 2);  // the leader plus two replicas
  }

  void leafRemoteReceivesHubMessages() {
    const int leafPort = test::freePort();
    test::NatsServer::Options hubOptions;
    hubOptions.serverName = QStringLiteral("hl-hub");
    hubOptions.jetstream = false;
    hubOptions.extraConfig =
        QStringLiteral("leafnodes {\n  listen: \"127.0.0.1:%1\"\n}\n").arg(leafPort);
    test::NatsServer hub(hubOptions);
    const Status hubStarted = hub.start();
    QVERIFY2(hubStarted.isOk(), qPrintable(hubStarted.message()));

    QTemporaryDir dir;
    EmbeddedServer::Options o = nodeOptions(dir, 14);
    o.leafServers = QStringList{QStringLiteral("nats-leaf://127.0.0.1:%1").arg(leafPort)};
    EmbeddedServer server(o);
    QVERIFY(startAndWait(server).isOk());

    auto leafClient = connectTo(server.clientUrl());
    QVERIFY(leafClient.ok());
    natsSubscription* raw = nullptr;
    QCOMPARE(natsConnection_SubscribeSync(&raw, leafClient->get(), "leaf.hello"), NATS_OK);
    NatsSubscriptionPtr sub(raw);
    QCOMPARE(natsConnection_Flush(leafClient->get()), NATS_OK);
    auto hubClient = connectTo(hub.url());
    QVERIFY(hubClient.ok());
    // Interest crosses the leaf connection once it is up: publish until one arrives.
    QByteArray got;
    QVERIFY2(test::waitFor(
                 [&] {
                   natsConnection_PublishString(hubClient->get(), "leaf.hello", "from the hub");
                   natsConnection_Flush(hubClient->get());
                   natsMsg* m = nullptr;
                   if (natsSubscription_NextMsg(&m, sub.get(), 100) != NATS_OK) return false;
                   NatsMsgPtr msg(m);
                   got = QByteArray(natsMsg_GetData(m), natsMsg_GetDataLength(m));
                   return true;
                 },
                 20000),
             "no message crossed the leaf connection");
    QCOMPARE(got, QByteArray("from the hub"));
  }

  void serverConfigIsMergedOnTop() {
    QTemporaryDir dir;
    QTemporaryDir elsewhere;  // another directory: the include must still find it
    const QString extra = elsewhere.filePath(QStringLiteral("extra.conf"));
    QVERIFY(test::writeFile(extra, "max_payload: 2MB\n"));
    EmbeddedServer::Options o = nodeOptions(dir, 15);
    o.serverConfig = extra;
    EmbeddedServer server(o);
    const Status started = startAndWait(server);
    QVERIFY2(started.isOk(), qPrintable(started.message()));
    const QString conf = QString::fromUtf8(test::readFile(server.configPath())).trimmed();
    QVERIFY2(conf.section('\n', -1).startsWith(QStringLiteral("include \"")), qPrintable(conf));
    auto nc = connectTo(server.clientUrl());
    QVERIFY(nc.ok());
    QCOMPARE(natsConnection_GetMaxPayload(nc->get()), int64_t(2 * 1024 * 1024));
  }

  void badServerConfigFailsStart() {
    QTemporaryDir dir;
    const QString broken = dir.filePath(QStringLiteral("broken.conf"));
    QVERIFY(test::writeFile(broken, "max_payload: {{{\n"));
    EmbeddedServer::Options o = nodeOptions(dir, 16);
    o.serverConfig = broken;
    EmbeddedServer server(o);
    QElapsedTimer clock;
    clock.start();
    const Status started = startAndWait(server, 15000);
    QVERIFY(!started.isOk());
    QVERIFY(clock.elapsed() < 10000);
    QCOMPARE(started.code(), Status::Code::kUnavailable);
    QVERIFY2(started.message().startsWith(QStringLiteral("nats-server exited: ")) &&
                 started.message().contains(QStringLiteral("broken.conf")) &&
                 started.message().contains(QStringLiteral("Parse error")) &&
                 started.message().endsWith(QStringLiteral("instead.'")),
             qPrintable(started.message()));
    QCOMPARE(server.state(), State::kFailed);
    QCOMPARE(server.pid(), qint64(0));
    QCOMPARE(server.lastError().message(), started.message());

    o.serverConfig = dir.filePath(QStringLiteral("missing.conf"));
    EmbeddedServer missing(o);
    const Status s = startAndWait(missing);
    QCOMPARE(s.code(), Status::Code::kInvalidArgument);
    QVERIFY2(s.message().contains(QStringLiteral("missing.conf: no such file")),
             qPrintable(s.message()));
  }

  void requiresCredentialsWhenSet_data() {
    QTest::addColumn<QString>("password");
    QTest::newRow("plain") << QStringLiteral("s3cret-Pw$HOME-42'x");
    QTest::newRow("quote and backslash") << QStringLiteral("s3cr\"et\\Pw-42");
  }
  void requiresCredentialsWhenSet() {
    QFETCH(QString, password);
    QTemporaryDir dir;
    EmbeddedServer::Options o = nodeOptions(dir, 17);
    o.userName = QStringLiteral("hl");
    o.userPassword = password;
    EmbeddedServer server(o);
    const Status started = startAndWait(server);
    QVERIFY2(started.isOk(), qPrintable(started.message()));

    const auto anonymous = connectTo(server.clientUrl());
    QVERIFY(!anonymous.ok());
    QVERIFY2(anonymous.status().message().contains(QStringLiteral("Authorization")),
             qPrintable(anonymous.status().message()));
    QVERIFY(!connectTo(server.clientUrl(), o.userName, QStringLiteral("wrong")).ok());
    QVERIFY(!connectsByHand(server.port(), o.userName, password.chopped(1)));
    QVERIFY(connectsByHand(server.port(), o.userName, password));
    if (!password.contains('"') && !password.contains('\\')) {
      const auto authorized = connectTo(server.clientUrl(), o.userName, password);
      QVERIFY2(authorized.ok(), qPrintable(authorized.status().message()));
    }

    // Kill it once so the restart path logs too, then check every captured line.
    QSignalSpy readySpy(&server, &EmbeddedServer::ready);
    QCOMPARE(::kill(pid_t(server.pid()), SIGKILL), 0);
    QVERIFY(readySpy.wait(10000));
    server.stop();
    QVERIFY(logged("hl.nats.server"));
    for (const QString& line : g_log) QVERIFY2(!line.contains(password), qPrintable(line));

    EmbeddedServer::Options half = nodeOptions(dir, 18);
    half.userName = QStringLiteral("hl");
    EmbeddedServer halfServer(half);
    const Status s = startAndWait(halfServer);
    QCOMPARE(s.code(), Status::Code::kInvalidArgument);
    QVERIFY2(s.message().contains(QStringLiteral("user_password")), qPrintable(s.message()));
  }

  void missingBinaryFailsQuickly() {
    QTemporaryDir dir;
    EmbeddedServer::Options o = nodeOptions(dir, 19);
    o.binary = QStringLiteral("/nonexistent/nats-server");
    EmbeddedServer server(o);
    QElapsedTimer clock;
    clock.start();
    const Status s = startAndWait(server);
    QVERIFY(clock.elapsed() < 1000);
    QCOMPARE(s.code(), Status::Code::kNotFound);
    QVERIFY2(s.message().contains(QStringLiteral("/nonexistent/nats-server not found")) &&
                 s.message().contains(QStringLiteral("install the nats-server package")),
             qPrintable(s.message()));
    QCOMPARE(server.state(), State::kFailed);

    // Not on PATH.
    QTemporaryDir emptyBin;
    const QByteArray savedPath = qgetenv("PATH");
    qputenv("PATH", emptyBin.path().toUtf8());
    EmbeddedServer onPath(nodeOptions(dir, 20));
    const Status notOnPath = startAndWait(onPath);
    qputenv("PATH", savedPath);
    QCOMPARE(notOnPath.code(), Status::Code::kNotFound);
    QCOMPARE(notOnPath.message(),
             QStringLiteral("nats-server not found on PATH; install the nats-server package or "
                            "set [nats] server_binary"));
  }

  void aProgramThatIsNotNatsServerIsRejected() {
    QTemporaryDir dir;
    EmbeddedServer::Options o = nodeOptions(dir, 21);
    o.binary = writeScript(dir, QStringLiteral("imposter"), "echo hello\n");
    EmbeddedServer server(o);
    const Status s = startAndWait(server);
    QCOMPARE(s.code(), Status::Code::kInvalidArgument);
    QVERIFY2(s.message().contains(QStringLiteral("does not look like nats-server")) &&
                 s.message().contains(QStringLiteral("hello")),
             qPrintable(s.message()));
  }

  void aServerThatNeverListensTimesOut() {
    QTemporaryDir dir;
    EmbeddedServer::Options o = nodeOptions(dir, 22);
    const QString pidFile = dir.filePath(QStringLiteral("mute.pid"));
    o.binary =
        writeScript(dir, QStringLiteral("mute"),
                    "if [ \"$1\" = --version ]; then echo 'nats-server: v2.9.10'; exit 0; fi\n"
                    "echo $$ > '" +
                        pidFile.toUtf8() + "'\nexec sleep 60\n");
    EmbeddedServer server(o);
    QElapsedTimer clock;
    clock.start();
    const Status s = startAndWait(server, 500);
    const qint64 elapsed = clock.elapsed();
    QVERIFY2(elapsed >= 500 && elapsed < 5000, qPrintable(QString::number(elapsed)));
    QCOMPARE(s.code(), Status::Code::kTimeout);
    QVERIFY2(
        s.message().contains(
            QStringLiteral("did not accept clients on %1 within 500 ms").arg(server.clientUrl())),
        qPrintable(s.message()));
    QCOMPARE(server.state(), State::kFailed);
    const qint64 childPid = test::readFile(pidFile).trimmed().toLongLong();
    QVERIFY(childPid > 0);
    QVERIFY(!alive(childPid));
  }

  void aTakenPortFailsStart() {
    QTemporaryDir dir;
    QTcpServer squatter;
    QVERIFY(squatter.listen(QHostAddress::LocalHost, 0));
    EmbeddedServer::Options o = nodeOptions(dir, 23);
    o.bindAddress = QStringLiteral("127.0.0.1:%1").arg(squatter.serverPort());
    EmbeddedServer server(o);
    const Status s = startAndWait(server);
    QVERIFY(!s.isOk());
    QVERIFY2(s.message().startsWith(QStringLiteral("nats-server exited: ")) &&
                 s.message().contains(QStringLiteral("address already in use")),
             qPrintable(s.message()));
    QCOMPARE(server.state(), State::kFailed);
    QCOMPARE(server.restarts(), 0);
  }

  void badOptionsAndUnwritableDirsFailStart() {
    QTemporaryDir dir;
    EmbeddedServer::Options noId = nodeOptions(dir, 0);
    const Status idStatus = EmbeddedServer(noId).start();
    QCOMPARE(idStatus.code(), Status::Code::kInvalidArgument);
    QVERIFY2(idStatus.message().contains(QStringLiteral("node id is 0")),
             qPrintable(idStatus.message()));

    EmbeddedServer::Options noStore = nodeOptions(dir, 29);
    noStore.storeDir.clear();
    QCOMPARE(EmbeddedServer(noStore).start().code(), Status::Code::kInvalidArgument);

    // The store dir cannot be created under a regular file.
    QVERIFY(test::writeFile(dir.filePath(QStringLiteral("plain-file")), "x"));
    EmbeddedServer::Options underFile = nodeOptions(dir, 30);
    underFile.storeDir = dir.filePath(QStringLiteral("plain-file/nats/harmonylite-node-30"));
    const Status mkdirStatus = EmbeddedServer(underFile).start();
    QCOMPARE(mkdirStatus.code(), Status::Code::kIoError);
    QVERIFY2(mkdirStatus.message().contains(QStringLiteral("cannot create the directory")),
             qPrintable(mkdirStatus.message()));

    // The config file cannot be written where a directory has its name.
    EmbeddedServer::Options blocked = nodeOptions(dir, 31);
    QVERIFY(QDir().mkpath(dir.filePath(QStringLiteral("nats/harmonylite-node-31.conf"))));
    EmbeddedServer blockedServer(blocked);
    const Status writeStatus = startAndWait(blockedServer);
    QCOMPARE(writeStatus.code(), Status::Code::kIoError);
    QVERIFY2(
        writeStatus.message().startsWith(QStringLiteral("write ") + blockedServer.configPath()),
        qPrintable(writeStatus.message()));
    QCOMPARE(blockedServer.state(), State::kFailed);
  }

  void badBindAddressIsRejected_data() {
    QTest::addColumn<QString>("bind");
    QTest::newRow("no port") << QStringLiteral("127.0.0.1");
    QTest::newRow("port 0") << QStringLiteral("127.0.0.1:0");
    QTest::newRow("not a number") << QStringLiteral(":http");
    QTest::newRow("too large") << QStringLiteral(":70000");
  }
  void badBindAddressIsRejected() {
    QFETCH(QString, bind);
    QTemporaryDir dir;
    EmbeddedServer::Options o = nodeOptions(dir, 24);
    o.bindAddress = bind;
    EmbeddedServer server(o);
    const Status s = startAndWait(server);
    QCOMPARE(s.code(), Status::Code::kInvalidArgument);
    QVERIFY2(s.message().contains(QStringLiteral("nats.bind_address \"%1\"").arg(bind)),
             qPrintable(s.message()));
  }

  void durabilityFollowsTheServerVersion() {
    const QString version = realServerVersion();
    QVERIFY(!version.isEmpty());
    QTemporaryDir dir;
    EmbeddedServer server(nodeOptions(dir, 25));
    QVERIFY(startAndWait(server).isOk());
    QCOMPARE(server.serverVersion(), version);
    const QString conf = QString::fromUtf8(test::readFile(server.configPath()));
    const QStringList warnings =
        g_log.filter(QStringLiteral("hl.nats: nats-server %1 cannot fsync").arg(version));
    if (atLeast210(version)) {
      QVERIFY(server.syncsEveryWrite());
      QVERIFY(conf.contains(QStringLiteral("sync_interval: always")));
      QVERIFY(warnings.isEmpty());
    } else {
      QVERIFY(!server.syncsEveryWrite());
      QVERIFY2(!conf.contains(QStringLiteral("sync_interval")), qPrintable(conf));
      QCOMPARE(warnings.size(), 1);
      QVERIFY(warnings[0].contains(QStringLiteral("power loss")));
    }

    // A 2.10 server gets sync_interval (a real 2.9 then rejects it, with its own words).
    QTemporaryDir newer;
    EmbeddedServer::Options o = nodeOptions(newer, 26);
    o.binary =
        writeScript(newer, QStringLiteral("nats-server-2.10"),
                    "if [ \"$1\" = --version ]; then echo 'nats-server: v2.10.7'; exit 0; fi\n"
                    "exec nats-server \"$@\"\n");
    EmbeddedServer fake(o);
    const Status s = startAndWait(fake);
    QVERIFY(fake.syncsEveryWrite());
    QVERIFY(QString::fromUtf8(test::readFile(fake.configPath()))
                .contains(QStringLiteral("  sync_interval: always\n")));
    if (atLeast210(version)) {
      QVERIFY2(s.isOk(), qPrintable(s.message()));
    } else {
      QVERIFY2(s.message().startsWith(QStringLiteral("nats-server exited: ")) &&
                   s.message().contains(QStringLiteral("unknown field \"sync_interval\"")),
               qPrintable(s.message()));
    }
  }

  // start() returns once the process runs; readiness comes later as ready(). A deleteLater()
  // posted before start() therefore runs after it, in the caller's event loop: the server and
  // its child are gone and nothing is emitted. (With the nested event loop start() used to
  // run, the deletion ran inside start(), which then read the freed object.)
  void destroyedWhileStartingEndsTheChild() {
    QTemporaryDir dir;
    EmbeddedServer::Options o = nodeOptions(dir, 32);
    o.binary =
        writeScript(dir, QStringLiteral("slow"),
                    "if [ \"$1\" = --version ]; then echo 'nats-server: v2.9.10'; exit 0; fi\n"
                    "exec sleep 60\n");
    QPointer<EmbeddedServer> server = new EmbeddedServer(o);
    QSignalSpy ready(server.data(), &EmbeddedServer::ready);
    QSignalSpy failed(server.data(), &EmbeddedServer::startFailed);
    QSignalSpy stateSpy(server.data(), &EmbeddedServer::stateChanged);
    server->deleteLater();
    QElapsedTimer clock;
    clock.start();
    const Status started = server->start();
    QVERIFY2(started.isOk(), qPrintable(started.message()));
    QVERIFY2(clock.elapsed() < 5000, qPrintable(QString::number(clock.elapsed())));
    QVERIFY(!server.isNull());
    QCOMPARE(server->state(), State::kStarting);
    const qint64 pid = server->pid();
    QVERIFY(alive(pid));
    QTRY_VERIFY_WITH_TIMEOUT(server.isNull(), 10000);
    QVERIFY(!alive(pid));
    QCOMPARE(ready.size(), 0);
    QCOMPARE(failed.size(), 0);
    QCOMPARE(states(stateSpy), QList<State>({State::kStarting, State::kStopped}));
  }

  // A node on its embedded server: the engine goes on to connect once the server is ready.
  void engineStartsOnItsEmbeddedServer() {
    QTemporaryDir dir;
    Config c;
    c.dbPath = dir.filePath(QStringLiteral("app.db"));
    c.nodeId = 33;
    EngineThread engine(c);
    QSignalSpy started(&engine, &EngineThread::started);
    QSignalSpy failed(&engine, &EngineThread::failed);
    engine.start();
    // started() comes after the NATS connection to the embedded server and the streams.
    QVERIFY2(started.wait(30000),
             qPrintable(failed.isEmpty() ? QString() : failed.at(0).at(0).toString()));
    QVERIFY(anyProcessUses(dir.filePath(QStringLiteral("nats/harmonylite-node-33.conf"))));
    QVERIFY(engine.stop());
    QCOMPARE(failed.size(), 0);
    QVERIFY(!anyProcessUses(dir.filePath(QStringLiteral("nats/harmonylite-node-33.conf"))));
  }

  // The embedded server exits at start (a broken server_config): the engine fails with the
  // server's words behind "embedded nats-server: ", as when start() waited for it.
  void engineFailsWhenItsEmbeddedServerDoes() {
    QTemporaryDir dir;
    Config c;
    c.dbPath = dir.filePath(QStringLiteral("app.db"));
    c.nodeId = 34;
    c.nats.serverConfig = dir.filePath(QStringLiteral("broken.conf"));
    QVERIFY(test::writeFile(c.nats.serverConfig, "max_payload: {{{\n"));
    EngineThread engine(c);
    QSignalSpy started(&engine, &EngineThread::started);
    QSignalSpy failed(&engine, &EngineThread::failed);
    engine.start();
    QVERIFY(failed.wait(30000));
    const QString reason = failed.at(0).at(0).toString();
    QVERIFY2(reason.startsWith(QStringLiteral("embedded nats-server: nats-server exited: ")) &&
                 reason.contains(QStringLiteral("Parse error")),
             qPrintable(reason));
    QVERIFY(engine.stop());
    QCOMPARE(started.size(), 0);
    QCOMPARE(failed.size(), 1);
  }

  // Issue 11: a stop requested while the engine waits for its embedded server (the host's
  // requestStop() right after start()). The stop runs after Engine::start() has returned: the
  // engine stops once, reports neither started() nor failed(), and no server process is left.
  // With the old nested event loop the stop ran inside Engine::start(), freed the
  // EmbeddedServer whose start() was on the stack, and start() went on to report
  // "embedded nats-server: stopped while starting" after stopped().
  void engineStopRequestedWhileItsServerStarts() {
    QTemporaryDir dir;
    Config c;
    c.dbPath = dir.filePath(QStringLiteral("app.db"));
    c.nodeId = 35;
    // A real nats-server that takes a second to begin: the stop surely comes first.
    c.nats.serverBinary =
        writeScript(dir, QStringLiteral("slow-nats-server"),
                    "if [ \"$1\" != --version ]; then sleep 1; fi\nexec nats-server \"$@\"\n");
    const QString configPath = dir.filePath(QStringLiteral("nats/harmonylite-node-35.conf"));
    EngineThread engine(c);
    QSignalSpy started(&engine, &EngineThread::started);
    QSignalSpy failed(&engine, &EngineThread::failed);
    QSignalSpy stopped(&engine, &EngineThread::stopped);
    QSignalSpy finished(&engine, &EngineThread::finished);
    engine.start();
    engine.requestStop();
    QVERIFY(finished.wait(15000));
    QVERIFY(!engine.isRunning());
    QCOMPARE(stopped.size(), 1);
    QCOMPARE(started.size(), 0);
    QVERIFY2(failed.isEmpty(), qPrintable(failed.value(0).value(0).toString()));
    QVERIFY(QFileInfo::exists(configPath));  // the server was being started
    QVERIFY(!anyProcessUses(configPath));
  }
};

QTEST_GUILESS_MAIN(TestEmbeddedServer)
#include "tst_embedded_server.moc"
