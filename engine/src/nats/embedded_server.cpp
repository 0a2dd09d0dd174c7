#include "nats/embedded_server.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QHostAddress>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLoggingCategory>
#include <QRegularExpression>
#include <QSaveFile>
#include <QStandardPaths>
#include <QTcpServer>
#include <QTcpSocket>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>

namespace hl {
namespace {

Q_LOGGING_CATEGORY(lcEmbedded, "hl.nats")
Q_LOGGING_CATEGORY(lcServer, "hl.nats.server")

constexpr int kMinBackoffMs = 250;
constexpr int kServerMaxBackoffMs = 5000;
constexpr qint64 kStableRunMs = 30000;  // a child that ran this long resets the backoff
constexpr int kProbeIntervalMs = 50;
constexpr qint64 kProbeTimeoutMs = 1000;  // a probe without INFO by then is dropped
constexpr int kExecTimeoutMs = 5000;
constexpr int kKillWaitMs = 5000;
constexpr int kSpaceCheckMs = 2000;              // free space checks (checkSpace())
constexpr qint64 kFullBytes = qint64(16) << 20;  // less: JetStream writes may fail
constexpr qint64 kSpaceKillMs = 10000;  // SIGKILL after SIGTERM, for a restart after a full disk
constexpr qint64 kRestartFreeBytes = qint64(64) << 20;  // restart once this much is free

const char kNotOnPath[] =
    "nats-server not found on PATH; install the nats-server package or set [nats] server_binary";

// A double-quoted string of the nats-server config syntax (no $VARIABLE expansion inside).
QString quoted(const QString& s) {
  QString out = s;
  out.replace('\\', QLatin1String("\\\\"))
      .replace('"', QLatin1String("\\\""))
      .replace('\n', QLatin1String("\\n"))
      .replace('\r', QLatin1String("\\r"))
      .replace('\t', QLatin1String("\\t"));
  return '"' + out + '"';
}

}  // namespace

EmbeddedServer::Options EmbeddedServer::fromConfig(const Config& config) {
  Options o;
  o.binary = config.nats.serverBinary;
  o.nodeId = config.nodeId;
  o.storeDir = QFileInfo(config.dbPath).absolutePath() +
               QStringLiteral("/nats/harmonylite-node-%1").arg(config.nodeId);
  o.bindAddress = config.nats.bindAddress;
  o.clusterAddr = config.nats.clusterAddr;
  o.clusterPeers = config.nats.clusterPeers;
  o.leafServers = config.nats.leafServers;
  o.serverConfig = config.nats.serverConfig;
  o.userName = config.nats.userName;
  o.userPassword = config.nats.userPassword;
  return o;
}

EmbeddedServer::EmbeddedServer(Options options, QObject* parent)
    : QObject(parent), m_options(std::move(options)), m_process(new QProcess(this)) {
  // The child's stdout and stderr go to a pipe of our own that launch() makes and a thread of
  // its own reads (startPump()), not to QProcess's pipes.
  m_process->setProcessChannelMode(QProcess::ForwardedChannels);
  connect(m_process, &QProcess::finished, this, &EmbeddedServer::onFinished);
  m_restartTimer.setSingleShot(true);
  connect(&m_restartTimer, &QTimer::timeout, this, &EmbeddedServer::onRestartTimer);
  m_probeTimer.setInterval(kProbeIntervalMs);
  connect(&m_probeTimer, &QTimer::timeout, this, &EmbeddedServer::probe);
  m_readyTimer.setSingleShot(true);
  m_readyTimer.setTimerType(Qt::PreciseTimer);  // a coarse timer may fire up to 5% early
  connect(&m_readyTimer, &QTimer::timeout, this, &EmbeddedServer::onReadyTimeout);
}

EmbeddedServer::~EmbeddedServer() {
  stop();
  joinPump();
}

// The server's output is read on a thread of its own. Read on the engine thread, a full pipe
// (64 KB) made nats-server wait in its logger, holding JetStream's locks, whenever the engine
// thread was busy: with a full disk the node's requests to its server timed out one after the
// other, the engine never came back to read, and the server never recovered (chaos suite,
// embedded topology, disk-full; docs/replication.md#embedded-server).
// The pump also checks the store's free space (checkSpace()) every 2 s: on this thread, not
// the engine's, so that a busy engine thread cannot miss a full disk.
void EmbeddedServer::startPump(int readFd, qint64 pid) {
  m_pump = std::thread([this, readFd, pid] {
    QByteArray partial;
    char buf[8192];
    QElapsedTimer sinceCheck;
    sinceCheck.start();
    for (;;) {
      pollfd p{readFd, POLLIN, 0};
      const int ready = ::poll(&p, 1, kSpaceCheckMs);
      if (ready < 0 && errno != EINTR) break;
      if (ready > 0) {
        const ssize_t n = ::read(readFd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;  // EOF: every writer (the child) is gone
        partial.append(buf, n);
        for (qsizetype eol; (eol = partial.indexOf('\n')) >= 0;) {
          forwardLine(QString::fromUtf8(partial.left(eol)));
          partial.remove(0, eol + 1);
        }
      }
      if (sinceCheck.elapsed() >= kSpaceCheckMs) {
        sinceCheck.restart();
        checkSpace(pid);
      }
    }
    if (!partial.isEmpty()) forwardLine(QString::fromUtf8(partial));
    ::close(readFd);
  });
}

void EmbeddedServer::joinPump() {
  if (m_pump.joinable()) m_pump.join();
}

QString EmbeddedServer::serverName() const {
  return QStringLiteral("harmonylite-node-%1").arg(m_options.nodeId);
}

QString EmbeddedServer::urlFilePath() const {
  return QFileInfo(m_options.storeDir).absolutePath() + '/' + serverName() + QStringLiteral(".url");
}

QString EmbeddedServer::urlFilePath(const Config& config) {
  const Options o = fromConfig(config);  // no server object: its destructor would stop()
  return QFileInfo(o.storeDir).absolutePath() +
         QStringLiteral("/harmonylite-node-%1.url").arg(o.nodeId);
}

QString EmbeddedServer::configPath() const {
  return QFileInfo(m_options.storeDir).absolutePath() + '/' + serverName() +
         QStringLiteral(".conf");
}

QString EmbeddedServer::clientUrl() const {
  if (m_port == 0) return {};
  const QString host = m_connectHost.contains(':') ? '[' + m_connectHost + ']' : m_connectHost;
  return QStringLiteral("nats://%1:%2").arg(host).arg(m_port);
}

qint64 EmbeddedServer::pid() const {
  return m_process->state() == QProcess::NotRunning ? 0 : m_pid;
}

Status EmbeddedServer::start(int readyTimeoutMs) {
  if (m_state == State::kStarting || m_state == State::kRunning || m_state == State::kRestarting)
    return Status::ok();
  QElapsedTimer clock;
  clock.start();
  setState(State::kStarting);
  Status s = prepare();
  if (s.isOk()) s = launch();
  if (!s.isOk()) {
    m_lastError = s;
    setState(State::kFailed);
    return s;
  }
  m_backoffMs = kMinBackoffMs;
  // Readiness (probe) and exits (QProcess::finished) arrive as events; the deadline counts
  // from this call, as the caller asked.
  m_readyTimeoutMs = readyTimeoutMs;
  m_readyTimer.start(int(std::max<qint64>(0, readyTimeoutMs - clock.elapsed())));
  return Status::ok();
}

void EmbeddedServer::stop(int timeoutMs) {
  m_childRunning = false;
  m_readyTimer.stop();
  m_restartTimer.stop();
  m_probeTimer.stop();
  dropProbe();
  setState(State::kStopped);  // first: onFinished() ignores an exit we asked for
  const bool ran = m_port != 0;
  terminateChild(timeoutMs);
  if (ran) QFile::remove(urlFilePath());
}

Status EmbeddedServer::prepare() {
  if (m_options.nodeId == 0)
    return Status::invalidArgument(QStringLiteral("embedded nats-server: node id is 0"));
  if (m_options.storeDir.isEmpty())
    return Status::invalidArgument(QStringLiteral("embedded nats-server: no store directory"));
  if (m_options.userName.isEmpty() != m_options.userPassword.isEmpty())
    return Status::invalidArgument(
        QStringLiteral("nats.user_name and nats.user_password must be set together"));

  // The program: a path, or a name looked up on PATH.
  const QString program =
      m_options.binary.isEmpty() ? QStringLiteral("nats-server") : m_options.binary;
  m_binary.clear();
  if (program.contains('/')) {
    const QFileInfo fi(program);
    if (fi.isFile() && fi.isExecutable()) m_binary = fi.absoluteFilePath();
  } else {
    m_binary = QStandardPaths::findExecutable(program);
  }
  if (m_binary.isEmpty()) {
    if (m_options.binary.isEmpty()) return Status::notFound(QString::fromLatin1(kNotOnPath));
    return Status::notFound(QStringLiteral("nats-server program %1 not found or not executable; "
                                           "install the nats-server package or fix [nats] "
                                           "server_binary")
                                .arg(program));
  }
  if (!m_versionKnown) HL_RETURN_IF_ERROR(detectVersion(m_binary));

  // Client address: "host:port", port -1 = a free port chosen once.
  const QString& bind = m_options.bindAddress;
  const qsizetype colon = bind.lastIndexOf(':');
  bool portOk = false;
  const int port = colon < 0 ? 0 : bind.mid(colon + 1).toInt(&portOk);
  if (!portOk || (port != -1 && (port < 1 || port > 65535)))
    return Status::invalidArgument(
        QStringLiteral("nats.bind_address \"%1\": expected host:port with a port 1..65535 or -1")
            .arg(bind));
  const QString host = bind.left(colon);
  m_listenHost = host.isEmpty() ? QStringLiteral("127.0.0.1") : host;
  QString bare = m_listenHost;
  if (bare.startsWith('[') && bare.endsWith(']')) bare = bare.mid(1, bare.size() - 2);
  const bool wildcard = bare == QLatin1String("0.0.0.0") || bare == QLatin1String("::");
  m_connectHost = wildcard ? QStringLiteral("127.0.0.1") : bare;
  if (port != -1) {
    m_port = port;
  } else if (m_port == 0) {
    QHostAddress address;
    if (!address.setAddress(bare)) address = QHostAddress::LocalHost;  // a host name
    QTcpServer probe;
    if (!probe.listen(address, 0))
      return Status::unavailable(
          QStringLiteral("no free TCP port on %1: %2").arg(bare, probe.errorString()));
    m_port = probe.serverPort();
  }

  if (!m_options.serverConfig.isEmpty() && !QFileInfo(m_options.serverConfig).isFile())
    return Status::invalidArgument(
        QStringLiteral("nats.server_config %1: no such file").arg(m_options.serverConfig));
  if (!QDir().mkpath(m_options.storeDir))
    return Status::ioError(
        QStringLiteral("cannot create the directory %1").arg(m_options.storeDir));
  return writeConfig();
}

Status EmbeddedServer::detectVersion(const QString& binary) {
  QProcess p;
  p.setProcessChannelMode(QProcess::MergedChannels);
  p.start(binary, {QStringLiteral("--version")});
  if (!p.waitForFinished(kExecTimeoutMs)) {
    p.kill();
    p.waitForFinished(kKillWaitMs);
    return Status::unavailable(QStringLiteral("%1 --version: %2").arg(binary, p.errorString()));
  }
  const QString out = QString::fromUtf8(p.readAll()).trimmed();
  static const QRegularExpression re(QStringLiteral(R"(\bv(\d+)\.(\d+)\.(\d+))"));
  const QRegularExpressionMatch m = re.match(out);
  if (!m.hasMatch())
    return Status::invalidArgument(
        QStringLiteral("%1 does not look like nats-server: --version printed \"%2\"")
            .arg(binary, out.left(200)));
  const int major = m.captured(1).toInt();
  const int minor = m.captured(2).toInt();
  m_version = m.captured(1) + '.' + m.captured(2) + '.' + m.captured(3);
  m_syncsEveryWrite = major > 2 || (major == 2 && minor >= 10);
  m_versionKnown = true;
  if (!m_syncsEveryWrite) {
    qCWarning(lcEmbedded).noquote()
        << QStringLiteral(
               "nats-server %1 cannot fsync every write (jetstream sync_interval "
               "needs 2.10 or later): it syncs every 2 minutes, so acknowledged "
               "messages may be lost on power loss")
               .arg(m_version);
  }
  return Status::ok();
}

Status EmbeddedServer::writeConfig() const {
  QString c;
  c += QStringLiteral(
      "# Generated by HarmonyLite at every start of the embedded server; put your\n"
      "# own settings in [nats] server_config (included last, its keys win).\n");
  c += QStringLiteral("server_name: %1\n").arg(quoted(serverName()));
  c += QStringLiteral("listen: %1\n")
           .arg(quoted(QStringLiteral("%1:%2").arg(m_listenHost).arg(m_port)));
  c += QStringLiteral("jetstream {\n  store_dir: %1\n")
           .arg(quoted(QFileInfo(m_options.storeDir).absoluteFilePath()));
  if (m_syncsEveryWrite) c += QStringLiteral("  sync_interval: always\n");
  c += QStringLiteral("}\n");
  if (!m_options.clusterAddr.isEmpty()) {
    c += QStringLiteral("cluster {\n  name: \"e-harmonylite\"\n  listen: %1\n  routes: [\n")
             .arg(quoted(m_options.clusterAddr));
    for (const QString& peer : m_options.clusterPeers) c += "    " + quoted(peer) + '\n';
    c += QStringLiteral("  ]\n}\n");
  }
  if (!m_options.leafServers.isEmpty()) {
    c += QStringLiteral("leafnodes {\n  remotes: [\n");
    for (const QString& url : m_options.leafServers)
      c += QStringLiteral("    { url: %1 }\n").arg(quoted(url));
    c += QStringLiteral("  ]\n}\n");
  }
  if (!m_options.userName.isEmpty()) {
    c += QStringLiteral("authorization {\n  user: %1\n  password: %2\n}\n")
             .arg(quoted(m_options.userName), quoted(m_options.userPassword));
  }
  if (!m_options.serverConfig.isEmpty()) {
    // nats-server joins an include path to the including file's directory, even an absolute
    // one: name the file relative to it.
    const QString target = QFileInfo(m_options.serverConfig).absoluteFilePath();
    const QString relative = QFileInfo(configPath()).absoluteDir().relativeFilePath(target);
    c += QStringLiteral("include %1\n").arg(quoted(relative));
  }

  const QString path = configPath();
  QSaveFile file(path);
  if (!file.open(QIODevice::WriteOnly) ||
      !file.setPermissions(QFileDevice::ReadOwner | QFileDevice::WriteOwner) ||
      file.write(c.toUtf8()) < 0 || !file.commit())
    return Status::ioError(QStringLiteral("write %1: %2").arg(path, file.errorString()));
  return Status::ok();
}

Status EmbeddedServer::launch() {
  joinPump();  // the previous child's output, read to its end
  {
    QMutexLocker lock(&m_lineMutex);
    m_lastErrorLine.clear();
  }
  m_needsRestartForSpace = false;  // a new child: the old one's write errors are gone
  m_restartForSpace = false;
  m_spaceKillTimer.invalidate();  // the pump is done: no other thread uses it now
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0)
    return Status::unavailable(QStringLiteral("start %1: pipe: %2")
                                   .arg(m_binary, QString::fromLocal8Bit(strerror(errno))));
  const int writeFd = fds[1];
  // The child must not outlive the node: SIGTERM when the starting thread ends. If the parent
  // died before prctl() took effect, getppid() already names another process (prctl(2)).
  const pid_t parentPid = ::getpid();
  m_process->setChildProcessModifier([parentPid, writeFd] {
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parentPid) ::_exit(1);
    ::dup2(writeFd, STDOUT_FILENO);  // dup2 clears close-on-exec on the copies
    ::dup2(writeFd, STDERR_FILENO);
  });
  m_process->setWorkingDirectory(QFileInfo(configPath()).absolutePath());
  m_process->start(m_binary, {QStringLiteral("-c"), configPath()});
  const bool started = m_process->waitForStarted(kExecTimeoutMs);
  ::close(writeFd);  // the child holds the only writer now: its exit is the pump's EOF
  startPump(fds[0], started ? m_process->processId() : 0);
  if (!started)
    return Status::unavailable(
        QStringLiteral("start %1: %2").arg(m_binary, m_process->errorString()));
  m_pid = m_process->processId();
  qCInfo(lcEmbedded).noquote() << QStringLiteral("nats-server %1 started (pid %2) for %3")
                                      .arg(m_version)
                                      .arg(m_pid)
                                      .arg(clientUrl());
  m_probeTimer.start();
  return Status::ok();
}

void EmbeddedServer::setState(State state) {
  if (m_state == state) return;
  m_state = state;
  emit stateChanged(state);
}

void EmbeddedServer::terminateChild(int timeoutMs) {
  if (m_process->state() == QProcess::NotRunning) return;
  m_process->terminate();
  if (!m_process->waitForFinished(timeoutMs)) {
    qCWarning(lcEmbedded).noquote()
        << QStringLiteral("nats-server (pid %1) did not stop within %2 ms: killing it")
               .arg(m_pid)
               .arg(timeoutMs);
    m_process->kill();
    m_process->waitForFinished(kKillWaitMs);
  }
}

void EmbeddedServer::onFinished(int exitCode, QProcess::ExitStatus exitStatus) {
  joinPump();  // its last lines may say why it exited
  m_childRunning = false;
  m_probeTimer.stop();
  dropProbe();
  const qint64 pid = m_pid;
  m_pid = 0;
  if (m_state != State::kStarting && m_state != State::kRunning && m_state != State::kRestarting)
    return;  // stopped or given up on purpose

  const QString how = exitStatus == QProcess::CrashExit
                          ? QStringLiteral("killed by a signal")
                          : QStringLiteral("exit code %1").arg(exitCode);
  Status error;
  const QString lastErrorLine = lastLine();
  if (m_restartForSpace.exchange(false)) {
    error = Status::unavailable(
        QStringLiteral("nats-server (pid %1) stopped to enable JetStream again").arg(pid));
    m_needsRestartForSpace = false;
    m_backoffMs = kMinBackoffMs;
  } else if (m_state == State::kRunning || lastErrorLine.isEmpty()) {
    error = Status::unavailable(
        QStringLiteral("nats-server (pid %1) exited unexpectedly (%2)").arg(pid).arg(how));
  } else {  // it did not come up: its own words say why
    error = Status::unavailable(QStringLiteral("nats-server exited: ") + lastErrorLine);
  }
  if (m_state == State::kStarting) {
    failStart(error);
    return;
  }
  m_lastError = error;
  scheduleRestart();
}

void EmbeddedServer::scheduleRestart() {
  if (m_readySince.isValid() && m_readySince.elapsed() >= kStableRunMs) m_backoffMs = kMinBackoffMs;
  m_readySince.invalidate();
  qCWarning(lcEmbedded).noquote()
      << QStringLiteral("%1; restarting in %2 ms").arg(m_lastError.message()).arg(m_backoffMs);
  setState(State::kRestarting);
  m_restartTimer.start(m_backoffMs);
  m_backoffMs = std::min(m_backoffMs * 2, kServerMaxBackoffMs);
}

void EmbeddedServer::onRestartTimer() {
  ++m_restarts;
  if (Status s = launch(); !s.isOk()) {
    m_lastError = s;
    scheduleRestart();
  }
}

QString EmbeddedServer::lastLine() const {
  QMutexLocker lock(&m_lineMutex);
  return m_lastErrorLine;
}

// nats-server 2.9 does not recover from a full disk: either it switches JetStream off for good
// ("JetStream out of resources, will be DISABLED") or, as the chaos suite saw, a failed write
// leaves its JetStream silently unanswering while plain NATS still works. Only a restart
// brings it back. So the supervisor watches the free space of the store's file system
// (statvfs every 2 s while the child runs): after the space fell under kFullBytes, or after
// that line, it restarts the server once kRestartFreeBytes are free again
// (docs/replication.md#embedded-server).
qint64 EmbeddedServer::freeBytes() const {
  struct statvfs st {};
  if (::statvfs(QFile::encodeName(m_options.storeDir).constData(), &st) != 0) return -1;
  // root may write into the blocks reserved for it; others may not
  return qint64(::geteuid() == 0 ? st.f_bfree : st.f_bavail) * qint64(st.f_frsize);
}

// The pump's thread. `pid` is the child it reads.
void EmbeddedServer::checkSpace(qint64 pid) {
  if (m_restartForSpace && m_spaceKillTimer.isValid() &&
      m_spaceKillTimer.elapsed() >= kSpaceKillMs) {
    // A JetStream stuck on its failed writes can keep a SIGTERM'd server from ever ending.
    qCWarning(lcEmbedded).noquote()
        << QStringLiteral("nats-server (pid %1) did not stop within %2 ms: killing it")
               .arg(pid)
               .arg(kSpaceKillMs);
    m_spaceKillTimer.invalidate();
    ::kill(pid_t(pid), SIGKILL);  // a zombie until QProcess reaps it: the pid is not reused
    return;
  }
  if (!m_childRunning || m_restartForSpace || pid <= 0) return;
  const qint64 free = freeBytes();
  if (free < 0) return;  // not known: nothing to decide on
  if (free < kFullBytes) {
    if (!m_needsRestartForSpace.exchange(true))
      qCWarning(lcEmbedded).noquote()
          << QStringLiteral(
                 "%1 MB free for %2: nats-server's JetStream may fail its writes and does not "
                 "recover from that; it is restarted once %3 MB are free")
                 .arg(free >> 20)
                 .arg(m_options.storeDir)
                 .arg(kRestartFreeBytes >> 20);
    return;
  }
  if (!m_needsRestartForSpace || free < kRestartFreeBytes) return;
  qCWarning(lcEmbedded).noquote()
      << QStringLiteral("%1 MB free again for %2: restarting nats-server to enable JetStream")
             .arg(free >> 20)
             .arg(m_options.storeDir);
  m_restartForSpace = true;
  m_spaceKillTimer.start();
  ::kill(pid_t(pid), SIGTERM);  // onFinished() restarts it at once
}

// Called on the pump's thread: only logging, the mutex-guarded last line and atomic flags.
void EmbeddedServer::forwardLine(const QString& line) {
  // "[pid] 2024/01/31 10:00:00.123456 [INF] text": our log handler adds its own time.
  static const QRegularExpression prefix(QStringLiteral(R"(^\[\d+\] \S+ \S+ )"));
  static const QRegularExpression tag(QStringLiteral(R"(^\[([A-Z]{3})\] ?)"));
  QString text = line.trimmed();
  text.remove(prefix);
  for (QChar& ch : text)  // nats-server prints EOF as a NUL in parse errors
    if (ch.unicode() < 0x20) ch = ' ';
  if (text.isEmpty()) return;
  if (!m_options.userPassword.isEmpty())
    text.replace(m_options.userPassword, QStringLiteral("***"));
  const QRegularExpressionMatch m = tag.match(text);
  const QString level = m.hasMatch() ? m.captured(1) : QString();
  const bool error = level == QLatin1String("ERR") || level == QLatin1String("FTL");
  if (error || level.isEmpty()) {
    // Untagged lines are printed before logging is set up, e.g. a config error.
    QString last = text.mid(m.hasMatch() ? m.capturedLength() : 0);
    if (last.startsWith(QLatin1String("nats-server: "))) last.remove(0, 13);
    QMutexLocker lock(&m_lineMutex);
    m_lastErrorLine = last;
  }
  static const QRegularExpression disabled(
      QStringLiteral(R"(JetStream out of (\w+ )?resources, will be DISABLED)"));
  if (error && disabled.match(text).hasMatch() && !m_needsRestartForSpace.exchange(true))
    qCWarning(lcEmbedded).noquote()
        << QStringLiteral(
               "nats-server switched JetStream off (its disk is full: %1 MB free for %2); it is "
               "restarted once %3 MB are free")
               .arg(freeBytes() >> 20)
               .arg(m_options.storeDir)
               .arg(kRestartFreeBytes >> 20);
  if (error || level.isEmpty() || level == QLatin1String("WRN"))
    qCWarning(lcServer).noquote() << text;
  else
    qCDebug(lcServer).noquote() << text;
}

void EmbeddedServer::probe() {
  if (m_probe) {
    if (m_probeAge.elapsed() < kProbeTimeoutMs) return;
    dropProbe();  // connected to something that says nothing: not our server
  }
  auto* socket = new QTcpSocket(this);
  m_probe = socket;
  m_probeBuffer.clear();
  m_probeAge.start();
  // The client port may belong to another program: only our server's INFO counts.
  connect(socket, &QTcpSocket::readyRead, this, [this, socket] {
    m_probeBuffer += socket->readAll();
    const qsizetype eol = m_probeBuffer.indexOf("\r\n");
    if (eol < 0) {
      if (m_probeBuffer.size() > 65536) dropProbe();
      return;
    }
    const QByteArray line = m_probeBuffer.left(eol);
    const bool ours =
        line.startsWith("INFO ") &&
        QJsonDocument::fromJson(line.mid(5)).object().value(QLatin1String("server_name")) ==
            serverName();
    dropProbe();
    if (ours) onReady();
  });
  connect(socket, &QAbstractSocket::errorOccurred, this, &EmbeddedServer::dropProbe);
  socket->connectToHost(m_connectHost, quint16(m_port));
}

void EmbeddedServer::dropProbe() {
  if (!m_probe) return;
  m_probe->disconnect(this);
  m_probe->abort();
  m_probe->deleteLater();
  m_probe = nullptr;
}

void EmbeddedServer::onReady() {
  m_readyTimer.stop();
  m_probeTimer.stop();
  m_readySince.start();
  qCInfo(lcEmbedded).noquote()
      << QStringLiteral("nats-server accepts clients on %1").arg(clientUrl());
  if (QFile f(urlFilePath()); f.open(QIODevice::WriteOnly | QIODevice::Truncate))
    f.write(clientUrl().toUtf8() + '\n');
  setState(State::kRunning);
  m_childRunning = true;
  emit ready();
}

void EmbeddedServer::onReadyTimeout() {
  if (m_state != State::kStarting) return;
  failStart(Status::timeout(QStringLiteral("nats-server did not accept clients on %1 within %2 ms")
                                .arg(clientUrl())
                                .arg(m_readyTimeoutMs)));
}

void EmbeddedServer::failStart(const Status& error) {
  m_readyTimer.stop();
  m_probeTimer.stop();
  dropProbe();
  m_lastError = error;
  setState(State::kFailed);  // first: onFinished() ignores the exit we cause
  terminateChild(kKillWaitMs);
  if (m_state == State::kFailed) emit startFailed(error);  // (not after a stop() meanwhile)
}

}  // namespace hl
