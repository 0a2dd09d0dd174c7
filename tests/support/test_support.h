// Test support: temporary directories and databases, real nats-server fixtures (single and a
// 3-server cluster) on free loopback ports, processes run with a deadline, and waiting for a
// condition with a deadline (never a fixed sleep).
// Thread: the test's main thread.
#pragma once

#include <QByteArray>
#include <QProcess>
#include <QProcessEnvironment>
#include <QString>
#include <QStringList>
#include <QTemporaryDir>

#include <functional>
#include <memory>
#include <vector>

#include "harmonylite/status.h"

namespace hl::test {

// tests/data in the source tree: the golden wire vectors and the deployment guide's
// configuration example (see tests/data/README.md).
QString dataDir();
// The built harmonylite program.
QString harmonyliteBinary();
// Reads a whole file; empty on failure.
QByteArray readFile(const QString& path);
// Writes a whole file; false on failure.
bool writeFile(const QString& path, const QByteArray& bytes);

// Polls `condition` (processing Qt events in between) until it holds or `timeoutMs` passes.
bool waitFor(const std::function<bool()>& condition, int timeoutMs, int pollMs = 10);

// Makes the process `p` starts get SIGKILL when this test process dies, however it dies (a
// QTest watchdog abort runs no destructor): no server outlives its test.
void dieWithTest(QProcess& p);

// Whether something accepts TCP connections on 127.0.0.1:`port` (tried for at most timeoutMs).
bool portOpen(int port, int timeoutMs = 200);
// The same on another address (a server in a network namespace of the chaos suite).
bool portOpenOn(const QString& host, int port, int timeoutMs = 200);
// Waits until the server process `p` accepts connections on `host`:`port`: true; false when
// it exited first or the time ran out.
bool waitListening(const QProcess& p, int port, int timeoutMs, int pollMs = 20,
                   const QString& host = QStringLiteral("127.0.0.1"));

// Starts `program args` as `wrapper... program args`, or as itself when `wrapper` is empty. The
// chaos suite's wrapper is {"ip", "netns", "exec", <namespace>}: `ip netns exec` execs the
// program, so the process id is the program's own (for kill -9 and SIGSTOP).
void startWrapped(QProcess& p, const QStringList& wrapper, const QString& program,
                  const QStringList& args);

// A self-signed certificate for 127.0.0.1 (EC P-256, 2 days) and its key, by the openssl
// program, for the TLS test servers.
hl::Status makeSelfSignedCert(const QString& certPath, const QString& keyPath);

// A TCP port on 127.0.0.1 that was free a moment ago, below the ephemeral port range.
int freePort();

struct ProcessResult {
  int exitCode = -1;
  bool crashed = false;
  bool timedOut = false;
  QByteArray out;
  QByteArray err;
};

// Runs a program to completion, killing it after `timeoutMs`.
ProcessResult runProcess(const QString& program, const QStringList& args, int timeoutMs = 30000,
                         const QProcessEnvironment& env = QProcessEnvironment::systemEnvironment());

// The official NATS JavaScript clients, installed by tests/interop/setup.sh `setupScript` into
// `dir` (npm, once per build tree). Returns `dir`, or "" with the reason in `why` (no silent
// skip: the callers fail with it, CI has the npm registry).
QString installInteropClients(const QString& setupScript, const QString& dir, QString* why);

// A REAL full disk for a test function: runs this test program again, for `testFunction` only,
// in a private mount namespace with a tmpfs of `sizeMb` MiB mounted on a temp directory, which
// the child finds in HL_TEST_TMPFS_DIR (tmpfsDir()). `mounted` is false, with the reason in
// `whyNot`, where mounting is not permitted (unshare + mount need CAP_SYS_ADMIN).
struct TmpfsRun {
  bool mounted = false;
  QString whyNot;
  ProcessResult result;
};
TmpfsRun runOnTmpfs(const QString& testFunction, int sizeMb);
// In the child of runOnTmpfs(): the tmpfs directory; "" in the parent.
QString tmpfsDir();

// One real nats-server process with JetStream, in its own temporary directory.
class NatsServer {
 public:
  struct Options {
    QString serverName = "hl-test";
    bool jetstream = true;
    QString clusterName;                         // non-empty: clustered
    int clusterPort = 0;                         // required when clustered
    QList<int> routePorts;                       // cluster ports of the peers on 127.0.0.1
    QStringList routes;                          // or "host:port" of the peers elsewhere
    QString extraConfig;                         // appended to the generated config
    QString host = QStringLiteral("127.0.0.1");  // the address it listens on
    QStringList wrapper;                         // see startWrapped()
  };

  NatsServer();
  explicit NatsServer(Options options);
  ~NatsServer();  // stops the server

  // Starts the server on fresh free ports and waits until it accepts clients (and, with
  // JetStream, until /healthz says JetStream is ready). Keeps ports and data across restarts.
  hl::Status start(int timeoutMs = 60000);
  // Starts the process and waits until it listens (JetStream recovers its store before that),
  // without waiting for JetStream readiness.
  hl::Status launch(int timeoutMs = 60000);
  // SIGTERM and wait; the data directory stays for a restart.
  void stop();
  // SIGKILL (crash), data directory stays.
  void kill();
  bool isRunning() const;

  int port() const { return m_port; }
  int monitorPort() const { return m_monitorPort; }
  QString url() const { return QStringLiteral("nats://%1:%2").arg(m_options.host).arg(m_port); }
  QString dataDir() const { return m_dir.path(); }
  QString log() const;  // what the server printed so far
  qint64 pid() const;   // 0 when not running (for SIGSTOP/SIGCONT fault injection)

  // Waits for the monitoring endpoint GET /healthz to answer 200.
  bool waitHealthy(int timeoutMs);

 private:
  QString writeConfig() const;

  Options m_options;
  QTemporaryDir m_dir;
  std::unique_ptr<QProcess> m_process;
  int m_port = 0;
  int m_monitorPort = 0;
};

// Three clustered nats-server processes with JetStream (replicas up to 3).
class NatsCluster {
 public:
  // `hosts` and `wrappers` (one per server, see startWrapped()): where each server listens and
  // how it is started; empty = all on 127.0.0.1, started directly.
  explicit NatsCluster(const QStringList& hosts = {}, const QList<QStringList>& wrappers = {});
  hl::Status start(int timeoutMs = 40000);
  NatsServer& server(int i) { return *m_servers[size_t(i)]; }
  int size() const { return int(m_servers.size()); }
  // nats://127.0.0.1:p1,nats://127.0.0.1:p2,... of the servers.
  QStringList urls() const;

 private:
  std::vector<std::unique_ptr<NatsServer>> m_servers;
};

// HTTP GET on 127.0.0.1:port; returns the status code (0 when unreachable) and the body.
int httpGet(int port, const QString& path, QByteArray* body = nullptr, int timeoutMs = 2000);
// The same on another address.
int httpGetFrom(const QString& host, int port, const QString& path, QByteArray* body = nullptr,
                int timeoutMs = 2000);

}  // namespace hl::test
