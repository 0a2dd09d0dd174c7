#include "test_support.h"

#include <signal.h>
#include <sys/prctl.h>

#include <QCoreApplication>
#include <QDeadlineTimer>
#include <QFile>
#include <QRandomGenerator>
#include <QRegularExpression>
#include <QSet>
#include <QTcpServer>
#include <QTcpSocket>
#include <QTemporaryDir>
#include <QThread>

namespace hl::test {

QString dataDir() {
  return QStringLiteral(HL_TEST_DATA_DIR);
}
QString harmonyliteBinary() {
  // A copy elsewhere lets a long run (make chaos) go on while the build tree is rebuilt.
  const QString copy = qEnvironmentVariable("HL_TEST_HARMONYLITE_BIN");
  return copy.isEmpty() ? QStringLiteral(HL_TEST_HARMONYLITE_BIN) : copy;
}

QByteArray readFile(const QString& path) {
  QFile f(path);
  if (!f.open(QIODevice::ReadOnly)) return {};
  return f.readAll();
}

bool writeFile(const QString& path, const QByteArray& bytes) {
  QFile f(path);
  return f.open(QIODevice::WriteOnly | QIODevice::Truncate) && f.write(bytes) == bytes.size();
}

bool waitFor(const std::function<bool()>& condition, int timeoutMs, int pollMs) {
  QDeadlineTimer deadline(timeoutMs);
  for (;;) {
    if (condition()) return true;
    if (deadline.hasExpired()) return condition();
    QCoreApplication::processEvents(QEventLoop::AllEvents, pollMs);
    QThread::msleep(uint(pollMs));
  }
}

void dieWithTest(QProcess& p) {
  p.setChildProcessModifier([] { ::prctl(PR_SET_PDEATHSIG, SIGKILL); });
}

bool portOpen(int port, int timeoutMs) {
  return portOpenOn(QStringLiteral("127.0.0.1"), port, timeoutMs);
}

bool portOpenOn(const QString& host, int port, int timeoutMs) {
  QTcpSocket s;
  s.connectToHost(QHostAddress(host), quint16(port));
  return s.waitForConnected(timeoutMs);
}

bool waitListening(const QProcess& p, int port, int timeoutMs, int pollMs, const QString& host) {
  const bool done =
      waitFor([&] { return p.state() == QProcess::NotRunning || portOpenOn(host, port); },
              timeoutMs, pollMs);
  return done && p.state() == QProcess::Running;
}

hl::Status makeSelfSignedCert(const QString& certPath, const QString& keyPath) {
  const ProcessResult r =
      runProcess(QStringLiteral("openssl"),
                 {"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                  "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1", "-addext",
                  "subjectAltName=IP:127.0.0.1", "-keyout", keyPath, "-out", certPath});
  if (r.exitCode != 0)
    return hl::Status::ioError(QStringLiteral("openssl req: ") + QString::fromUtf8(r.err));
  return hl::Status::ok();
}

int freePort() {
  // Below the kernel's ephemeral range (/proc/sys/net/ipv4/ip_local_port_range): a port the
  // kernel hands out for "port 0" is one that the outgoing connections of the tests running in
  // parallel also take their local ports from, and one of them can hold it by the time a
  // server binds it ("address in use"). Never the same port twice in one process.
  static QSet<int> given;
  static const int ephemeralLow = [] {
    QFile f(QStringLiteral("/proc/sys/net/ipv4/ip_local_port_range"));
    const int low =
        f.open(QIODevice::ReadOnly)
            ? QString::fromLatin1(f.readAll()).split(QRegularExpression("\\s+")).value(0).toInt()
            : 0;
    return low > 12000 ? low : 32768;
  }();
  for (int attempt = 0; attempt < 1000; ++attempt) {
    const int port = 10000 + int(QRandomGenerator::global()->bounded(ephemeralLow - 10000));
    if (given.contains(port)) continue;
    QTcpServer server;
    if (!server.listen(QHostAddress::LocalHost, quint16(port))) continue;
    given.insert(port);
    return port;
  }
  QTcpServer server;  // nothing free below the range: let the kernel choose
  if (!server.listen(QHostAddress::LocalHost, 0)) return 0;
  return server.serverPort();
}

TmpfsRun runOnTmpfs(const QString& testFunction, int sizeMb) {
  TmpfsRun run;
  QTemporaryDir mountPoint;
  if (!mountPoint.isValid()) {
    run.whyNot = "cannot make a temp directory";
    return run;
  }
  QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
  env.insert("HL_TEST_TMPFS_DIR", mountPoint.path());
  const QString script = QStringLiteral(
                             "mount -t tmpfs -o size=%1m hl-test-tmpfs \"$1\" || exit 77\n"
                             "echo HL-TMPFS-MOUNTED\n"
                             "exec \"$2\" \"$3\"\n")
                             .arg(sizeMb);
  run.result =
      runProcess("unshare",
                 {"--mount", "--propagation", "private", "sh", "-c", script, "sh",
                  mountPoint.path(), QCoreApplication::applicationFilePath(), testFunction},
                 120000, env);
  run.mounted = run.result.out.contains("HL-TMPFS-MOUNTED");
  if (!run.mounted)
    run.whyNot =
        "cannot mount a tmpfs in a private mount namespace (unshare + mount need "
        "CAP_SYS_ADMIN): " +
        QString::fromLocal8Bit(run.result.err.trimmed());
  return run;
}

QString tmpfsDir() {
  return qEnvironmentVariable("HL_TEST_TMPFS_DIR");
}

QString installInteropClients(const QString& setupScript, const QString& dir, QString* why) {
  const ProcessResult r = runProcess(QStringLiteral("bash"), {setupScript, dir}, 600000);
  if (r.exitCode == 0 && !r.timedOut) return dir;
  *why = QStringLiteral(
             "the official JavaScript client could not be installed (%1 %2): exit %3%4\n%5%6")
             .arg(setupScript, dir)
             .arg(r.exitCode)
             .arg(r.timedOut ? QStringLiteral(" (timed out)") : QString())
             .arg(QString::fromUtf8(r.err), QString::fromUtf8(r.out));
  return {};
}

ProcessResult runProcess(const QString& program, const QStringList& args, int timeoutMs,
                         const QProcessEnvironment& env) {
  ProcessResult r;
  QProcess p;
  p.setProcessEnvironment(env);
  p.start(program, args);
  if (!p.waitForStarted(5000)) {
    r.err = p.errorString().toUtf8();
    return r;
  }
  if (!p.waitForFinished(timeoutMs)) {
    r.timedOut = true;
    p.kill();
    p.waitForFinished(5000);
  }
  r.out = p.readAllStandardOutput();
  r.err = p.readAllStandardError();
  r.crashed = p.exitStatus() == QProcess::CrashExit;
  r.exitCode = p.exitCode();
  return r;
}

void startWrapped(QProcess& p, const QStringList& wrapper, const QString& program,
                  const QStringList& args) {
  if (wrapper.isEmpty()) {
    p.start(program, args);
    return;
  }
  p.start(wrapper.first(), wrapper.mid(1) + QStringList{program} + args);
}

int httpGet(int port, const QString& path, QByteArray* body, int timeoutMs) {
  return httpGetFrom(QStringLiteral("127.0.0.1"), port, path, body, timeoutMs);
}

int httpGetFrom(const QString& host, int port, const QString& path, QByteArray* body,
                int timeoutMs) {
  QTcpSocket s;
  s.connectToHost(QHostAddress(host), quint16(port));
  if (!s.waitForConnected(timeoutMs)) return 0;
  s.write(QStringLiteral("GET %1 HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
              .arg(path)
              .toUtf8());
  QByteArray response;
  QDeadlineTimer deadline(timeoutMs);
  // Done when the server closes, or when the body announced by Content-Length is complete (a
  // server may keep the connection open).
  auto complete = [&response] {
    const qsizetype sep = response.indexOf("\r\n\r\n");
    if (sep < 0) return false;
    static const QRegularExpression lengthRe(QStringLiteral("\r\ncontent-length:\\s*(\\d+)"),
                                             QRegularExpression::CaseInsensitiveOption);
    const auto m = lengthRe.match(QString::fromLatin1(response.left(sep + 2)));
    return m.hasMatch() && response.size() - (sep + 4) >= m.captured(1).toLongLong();
  };
  while (s.state() == QAbstractSocket::ConnectedState && !deadline.hasExpired() && !complete()) {
    if (s.waitForReadyRead(int(std::max<qint64>(1, deadline.remainingTime()))))
      response += s.readAll();
  }
  response += s.readAll();
  const qsizetype eol = response.indexOf("\r\n");
  if (eol < 0) return 0;
  const QList<QByteArray> statusLine = response.left(eol).split(' ');
  if (statusLine.size() < 2) return 0;
  if (body) {
    const qsizetype sep = response.indexOf("\r\n\r\n");
    *body = sep >= 0 ? response.mid(sep + 4) : QByteArray();
  }
  return statusLine[1].toInt();
}

NatsServer::NatsServer() : NatsServer(Options()) {}
NatsServer::NatsServer(Options options) : m_options(std::move(options)) {
  // Kept for a post-mortem (its store and log) when HL_KEEP_TEST_DIRS is set.
  m_dir.setAutoRemove(!qEnvironmentVariableIsSet("HL_KEEP_TEST_DIRS"));
}

NatsServer::~NatsServer() {
  stop();
}

qint64 NatsServer::pid() const {
  return m_process ? m_process->processId() : 0;
}

QString NatsServer::writeConfig() const {
  QString conf;
  conf += QStringLiteral("server_name: \"%1\"\n").arg(m_options.serverName);
  conf += QStringLiteral("listen: \"%1:%2\"\n").arg(m_options.host).arg(m_port);
  conf += QStringLiteral("http: \"%1:%2\"\n").arg(m_options.host).arg(m_monitorPort);
  if (m_options.jetstream) {
    conf += QStringLiteral(
                "jetstream {\n  store_dir: \"%1/js\"\n  max_memory_store: 64MB\n"
                "  max_file_store: 2GB\n}\n")
                .arg(m_dir.path());
  }
  if (!m_options.clusterName.isEmpty()) {
    conf += QStringLiteral("cluster {\n  name: \"%1\"\n  listen: \"%2:%3\"\n  routes: [\n")
                .arg(m_options.clusterName, m_options.host)
                .arg(m_options.clusterPort);
    for (int p : m_options.routePorts)
      conf += QStringLiteral("    \"nats-route://127.0.0.1:%1\"\n").arg(p);
    for (const QString& r : m_options.routes)
      conf += QStringLiteral("    \"nats-route://%1\"\n").arg(r);
    conf += QStringLiteral("  ]\n}\n");
  }
  conf += m_options.extraConfig;
  const QString path = m_dir.filePath("nats-server.conf");
  writeFile(path, conf.toUtf8());
  return path;
}

hl::Status NatsServer::launch(int timeoutMs) {
  if (!m_dir.isValid()) return hl::Status::ioError("cannot create a temporary directory");
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (m_port == 0 || attempt > 0) {
      m_port = freePort();
      m_monitorPort = freePort();
    }
    const QString conf = writeConfig();
    m_process = std::make_unique<QProcess>();
    m_process->setProcessChannelMode(QProcess::MergedChannels);
    m_process->setStandardOutputFile(m_dir.filePath("nats-server.log"), QIODevice::Append);
    startWrapped(*m_process, m_options.wrapper, QStringLiteral("nats-server"), {"-c", conf});
    if (!m_process->waitForStarted(5000))
      return hl::Status::unavailable("cannot start nats-server: " + m_process->errorString());
    // Listening on the client port, or exited (a port taken since freePort(): try others).
    if (waitListening(*m_process, m_port, timeoutMs, 20, m_options.host)) return hl::Status::ok();
    const bool portTaken = log().contains("address already in use");
    stop();
    if (!portTaken) break;
  }
  return hl::Status::unavailable("nats-server did not start; its log:\n" + log());
}

hl::Status NatsServer::start(int timeoutMs) {
  HL_RETURN_IF_ERROR(launch(timeoutMs));
  if (!waitHealthy(timeoutMs))
    return hl::Status::unavailable("nats-server did not become ready; its log:\n" + log());
  return hl::Status::ok();
}

bool NatsServer::waitHealthy(int timeoutMs) {
  return waitFor(
             [&] {
               if (!m_process || m_process->state() == QProcess::NotRunning)
                 return true;  // gave up
               return httpGetFrom(m_options.host, m_monitorPort, "/healthz", nullptr, 500) == 200;
             },
             timeoutMs, 50) &&
         m_process && m_process->state() == QProcess::Running;
}

void NatsServer::stop() {
  if (!m_process) return;
  if (m_process->state() != QProcess::NotRunning) {
    m_process->terminate();
    if (!m_process->waitForFinished(10000)) {
      m_process->kill();
      m_process->waitForFinished(5000);
    }
  }
  m_process.reset();
}

void NatsServer::kill() {
  if (!m_process) return;
  m_process->kill();
  m_process->waitForFinished(5000);
  m_process.reset();
}

bool NatsServer::isRunning() const {
  return m_process && m_process->state() == QProcess::Running;
}

QString NatsServer::log() const {
  return QString::fromUtf8(readFile(m_dir.filePath("nats-server.log")));
}

NatsCluster::NatsCluster(const QStringList& hosts, const QList<QStringList>& wrappers) {
  QList<int> clusterPorts;
  for (int i = 0; i < 3; ++i) clusterPorts << freePort();
  for (int i = 0; i < 3; ++i) {
    NatsServer::Options o;
    o.serverName = QStringLiteral("hl-test-%1").arg(i + 1);
    o.clusterName = QStringLiteral("hl-test-cluster");
    o.clusterPort = clusterPorts[i];
    o.host = hosts.value(i, o.host);
    o.wrapper = wrappers.value(i);
    for (int j = 0; j < 3; ++j) {
      if (j == i) continue;
      if (hosts.isEmpty())
        o.routePorts << clusterPorts[j];
      else
        o.routes << QStringLiteral("%1:%2").arg(hosts[j]).arg(clusterPorts[j]);
    }
    m_servers.push_back(std::make_unique<NatsServer>(o));
  }
}

hl::Status NatsCluster::start(int timeoutMs) {
  // Each server's /healthz waits for the JetStream meta group, which needs a quorum: start
  // every process first, then wait for all of them.
  for (auto& s : m_servers) {
    // Not start(): a lone clustered server is not healthy until its peers join.
    HL_RETURN_IF_ERROR(s->launch());
  }
  for (auto& s : m_servers) {
    if (!s->waitHealthy(timeoutMs))
      return hl::Status::unavailable("cluster server did not become ready:\n" + s->log());
  }
  return hl::Status::ok();
}

QStringList NatsCluster::urls() const {
  QStringList out;
  for (const auto& s : m_servers) out << s->url();
  return out;
}

}  // namespace hl::test
