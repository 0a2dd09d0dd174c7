#include "node_process.h"

#include <QDir>
#include <QFile>

#include <signal.h>

#include "test_support.h"

namespace hl::test {

const char* const kReferenceSchema =
    "CREATE TABLE Books(id INTEGER PRIMARY KEY AUTOINCREMENT, title TEXT NOT NULL, author TEXT "
    "NOT NULL, publication_year INTEGER);"
    "CREATE TABLE Authors(id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, birth_year "
    "INTEGER);";

QString sqlite3(const QString& db, const QString& sql, bool* ok) {
  // The SQL goes through standard input: a script can be larger than one argument may be.
  QProcess p;
  p.start("sqlite3", {"-bail", "-cmd", ".timeout 10000", db});
  const bool started = p.waitForStarted(5000);
  if (started) {
    p.write(sql.toUtf8());
    if (!sql.trimmed().endsWith(';')) p.write(";");
    p.write("\n");
    p.closeWriteChannel();
  }
  const bool finished = started && p.waitForFinished(120000);
  if (!finished) p.kill();
  const bool success = finished && p.exitStatus() == QProcess::NormalExit && p.exitCode() == 0;
  if (ok) *ok = success;
  if (!success)
    qWarning().noquote() << "sqlite3" << db << "failed:" << p.readAllStandardError().trimmed();
  return QString::fromUtf8(p.readAllStandardOutput()).trimmed();
}

NodeProcess::NodeProcess(Options options) : m_options(std::move(options)) {
  QDir().mkpath(m_options.dir);
}

NodeProcess::~NodeProcess() {
  kill();
}

QString NodeProcess::db() const {
  return m_options.dir + "/data.db";
}
QString NodeProcess::configPath() const {
  return m_options.dir + "/config.toml";
}

void NodeProcess::writeConfig() const {
  QString t;
  t += QStringLiteral("db_path = \"%1\"\nnode_id = %2\n").arg(db()).arg(m_options.nodeId);
  t += m_options.topLevelToml + "\n";
  t += QStringLiteral(
           "[replication_log]\nshards = %1\nreplicas = %2\ncompress = %3\nmax_entries = 100000\n")
           .arg(m_options.shards)
           .arg(m_options.replicas)
           .arg(m_options.compress ? "true" : "false");
  QStringList quoted;
  for (const QString& u : m_options.urls) quoted << '"' + u + '"';
  t += QStringLiteral("[nats]\nurls = [%1]\nreconnect_wait_seconds = 1\n").arg(quoted.join(", "));
  t += m_options.natsToml + "\n";
  if (m_options.healthPort != 0) {
    t += QStringLiteral("[health_check]\nenable = true\nbind = \"%1:%2\"\n")
             .arg(m_options.healthHost)
             .arg(m_options.healthPort);
    if (m_options.healthDetailed)
      t += QStringLiteral("detailed = %1\n").arg(*m_options.healthDetailed ? "true" : "false");
  }
  t += m_options.tablesToml + "\n";
  writeFile(configPath(), t.toUtf8());
}

hl::Status NodeProcess::start(int timeoutMs) {
  HL_RETURN_IF_ERROR(launch());
  return waitRunning(timeoutMs);
}

hl::Status NodeProcess::launch() {
  m_log.clear();
  if (!QFile::exists(db()) && !m_options.schema.isEmpty()) {
    bool ok = false;
    sqlite3(db(), m_options.schema, &ok);
    if (!ok) return hl::Status::ioError("cannot create the schema in " + db());
  }
  writeConfig();
  m_process = std::make_unique<QProcess>();
  m_killed = false;
  m_process->setProcessChannelMode(QProcess::SeparateChannels);
  QStringList args{"-config", configPath(), "--no-gui"};
  args << m_options.extraArgs;
  startWrapped(*m_process, m_options.wrapper,
               m_options.program.isEmpty() ? harmonyliteBinary() : m_options.program, args);
  if (!m_process->waitForStarted(5000)) return hl::Status::unavailable("cannot start harmonylite");
  return hl::Status::ok();
}

hl::Status NodeProcess::waitRunning(int timeoutMs) {
  if (!m_process) return hl::Status::internal("not launched");
  const bool running = waitFor(
      [&] {
        m_log += m_process->readAllStandardError();
        return m_log.contains("node running headless") ||
               m_process->state() == QProcess::NotRunning;
      },
      timeoutMs, 20);
  if (running && m_process->state() == QProcess::Running) return hl::Status::ok();
  return hl::Status::unavailable(QStringLiteral("node %1 did not start:\n").arg(m_options.nodeId) +
                                 log());
}

int NodeProcess::stop(int timeoutMs) {
  if (!m_process) return 0;
  if (m_process->state() == QProcess::NotRunning) return endedWith();
  ::kill(pid_t(m_process->processId()), SIGTERM);
  if (!m_process->waitForFinished(timeoutMs)) {
    qWarning().noquote() << "node" << m_options.nodeId << "did not stop within" << timeoutMs
                         << "ms; its log ends:\n"
                         << log().right(4000);
    return -1;
  }
  return endedWith();
}

// A node that did not end well says why: the exit code alone (for a crash, the signal) tells
// little.
int NodeProcess::endedWith() const {
  m_log += m_process->readAllStandardError();
  if (!m_killed && (m_process->exitStatus() == QProcess::CrashExit || m_process->exitCode() != 0))
    qWarning().noquote() << "node" << m_options.nodeId
                         << (m_process->exitStatus() == QProcess::CrashExit ? "crashed (signal"
                                                                            : "exited (code")
                         << m_process->exitCode() << "); its log ends:\n"
                         << log().right(6000);
  return m_process->exitCode();
}

void NodeProcess::kill() {
  if (!m_process || m_process->state() == QProcess::NotRunning) return;
  m_killed = true;
  m_process->kill();
  m_process->waitForFinished(5000);
  m_log += m_process->readAllStandardError();
}

bool NodeProcess::isRunning() const {
  return m_process && m_process->state() == QProcess::Running;
}

qint64 NodeProcess::pid() const {
  return isRunning() ? m_process->processId() : 0;
}

QString NodeProcess::log() const {
  if (m_process) m_log += m_process->readAllStandardError();
  return QString::fromUtf8(m_log);
}

QList<NodeProcess*> rawPointers(const std::vector<std::unique_ptr<NodeProcess>>& nodes) {
  QList<NodeProcess*> out;
  for (const auto& n : nodes) out << n.get();
  return out;
}

bool waitConverged(const QList<NodeProcess*>& nodes, const QString& query, int timeoutMs,
                   const QString& expected) {
  return waitFor(
      [&] {
        QString first;
        for (int i = 0; i < nodes.size(); ++i) {
          const QString v = nodes[i]->sql(query);
          if (i == 0) first = v;
          if (v != first) return false;
          if (!expected.isEmpty() && v != expected) return false;
        }
        return true;
      },
      timeoutMs, 100);
}

}  // namespace hl::test
