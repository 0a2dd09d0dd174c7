// EmbeddedServer: supervises the `nats-server` child process of a node whose `[nats] urls` is
// empty (docs/replication.md#embedded-server). nats-server cannot be linked into C++, so the node
// runs the program.
//
// start() writes a config file (server name harmonylite-node-<id>, JetStream under the store
// dir, cluster "e-harmonylite" routes, leaf remotes, authorization, then the user's
// server_config included last so that its keys win; a block there replaces our whole block)
// and starts the process, then returns: it never waits in a nested event loop, so a queued
// stop or deleteLater() can never run inside it. Readiness comes later as a signal, once the
// client port answers with the server's INFO. If the child dies afterwards (crash, kill -9) it
// is restarted after a backoff (250 ms doubling to 5 s, reset once it ran 30 s) with the same
// ports, URL and store dir; ready() is emitted each time it accepts clients again. stop() ends
// it for good (SIGTERM, SIGKILL after a timeout).
//
// States (stateChanged() on each change):
//   kStopped    --start()-->  kStarting  (process launched; start() returned OK)
//   kStopped    --start()-->  kFailed    (start() returned the error: nothing was launched)
//   kStarting   --INFO----->  kRunning   (ready())
//   kStarting   --exit or ready timeout-->  kFailed  (startFailed(lastError()); child gone)
//   kRunning    --child died-->  kRestarting  --INFO-->  kRunning (ready() again)
//   any         --stop()--->  kStopped   (no signal but stateChanged; no restart)
//   kFailed     --start()-->  as from kStopped
//
// Client port: an empty host (":-1", ":4222") listens on 127.0.0.1 only. This is a deliberate
// safety choice over the Go edition, which listens on all interfaces: write "0.0.0.0:4222" to
// expose the server. Port -1 picks a free port once; it is kept across restarts.
//
// Durability: fsync on every write (`jetstream { sync_interval: always }`) needs
// nats-server >= 2.10. Older servers reject that key, so it is left out and one warning says
// that acknowledged messages may be lost on power loss (NATS syncs every 2 minutes).
//
// The server's output goes to the logging category hl.nats.server ([ERR]/[FTL]/[WRN] as
// warnings, the rest as debug); the password is masked and never logged. It is read on a
// thread of its own (startPump()), so that a busy engine thread never makes the server wait.
//
// Full disk: nats-server 2.9 does not recover from one (JetStream switched off, or silently
// stuck); once the store's file system was under 16 MB free (or the server said it switched
// JetStream off), the server is restarted when 64 MB are free again (checkSpace(), on the
// pump's thread: a busy engine thread must not miss the full disk).
//
// Thread: the engine thread creates, uses and destroys it (it needs that thread's event loop);
// it owns the child process. The child gets SIGTERM when the thread that started it ends
// (PR_SET_PDEATHSIG), so it never outlives the node, even after kill -9 of the node.
#pragma once

#include <QElapsedTimer>
#include <QMutex>
#include <QObject>
#include <QProcess>
#include <QString>
#include <QStringList>
#include <QTimer>

#include <atomic>
#include <cstdint>
#include <thread>

#include "harmonylite/config.h"
#include "harmonylite/status.h"

class QTcpSocket;

namespace hl {

class EmbeddedServer : public QObject {
  Q_OBJECT

 public:
  enum class State { kStopped, kStarting, kRunning, kRestarting, kFailed };
  Q_ENUM(State)

  struct Options {
    QString binary;       // nats-server program; "" = "nats-server" found on PATH
    uint64_t nodeId = 0;  // server name harmonylite-node-<id>
    QString storeDir;     // JetStream store dir: <dir of db_path>/nats/harmonylite-node-<id>
    QString bindAddress = ":-1";  // client "host:port"; "" host = 127.0.0.1; port -1 = free port
    QString clusterAddr;          // cluster listen "host:port"; "" = not clustered
    QStringList clusterPeers;     // cluster routes, e.g. nats://10.0.0.2:6222
    QStringList leafServers;      // leaf-node remotes, e.g. nats-leaf://hub:7422
    QString serverConfig;         // nats-server config file included last (its keys win); "" = none
    QString userName;             // when set (with userPassword), clients must authenticate
    QString userPassword;         // secret: written to the 0600 config file only, never logged
  };

  // Options from a node's configuration ([nats] keys and the -cluster-*/-leaf-servers flags).
  static Options fromConfig(const Config& config);

  explicit EmbeddedServer(Options options, QObject* parent = nullptr);
  ~EmbeddedServer() override;  // stop()

  // The synchronous part of a start: resolves the program, reads its version, writes the
  // config and launches the process, then returns without waiting for it. Returned errors:
  // binary not found or not nats-server, bad options or server_config, unwritable dirs, the
  // process could not be executed (state kFailed, nothing running). OK means kStarting: exactly
  // one of ready() (kRunning) or startFailed() (kFailed: the server exited, with its last error
  // line, or did not accept clients within `readyTimeoutMs` of this call) follows, unless
  // stop() or the destructor comes first, after which nothing is emitted. Does nothing (OK)
  // when already starting or started. Receivers must not delete the server from its signals
  // (deleteLater() is fine).
  Status start(int readyTimeoutMs = 15000);
  // SIGTERM, SIGKILL after `timeoutMs`; no restart afterwards. Also cancels a start in progress.
  void stop(int timeoutMs = 10000);

  State state() const { return m_state; }
  QString clientUrl() const;  // nats://127.0.0.1:<port> (or the configured host); "" before start
  int port() const { return m_port; }          // client port, 0 before start
  qint64 pid() const;                          // the running child's pid, 0 when none
  int restarts() const { return m_restarts; }  // restarts after unexpected exits
  Status lastError() const { return m_lastError; }
  bool syncsEveryWrite() const { return m_syncsEveryWrite; }  // known after start()
  QString serverVersion() const { return m_version; }         // "2.9.10", known after start()
  QString serverName() const;                                 // harmonylite-node-<id>
  QString configPath() const;  // the generated config: <dir of storeDir>/harmonylite-node-<id>.conf
  // <dir of storeDir>/harmonylite-node-<id>.url: the client URL while the server runs, for the
  // node's one-shot commands (-schema-status-cluster) when the port is chosen at random.
  QString urlFilePath() const;
  static QString urlFilePath(const Config& config);
  const Options& options() const { return m_options; }

 signals:
  void stateChanged(hl::EmbeddedServer::State state);
  void ready();  // the server accepts clients (after start and after each restart)
  // A start() that returned OK ended without the server accepting clients; `error` is
  // lastError() (the child has been ended). Not emitted for stop() or for restarts.
  void startFailed(const hl::Status& error);

 private:
  Status prepare();
  Status detectVersion(const QString& binary);
  Status writeConfig() const;
  Status launch();
  void setState(State state);
  void terminateChild(int timeoutMs);
  void scheduleRestart();
  void onRestartTimer();
  void onFinished(int exitCode, QProcess::ExitStatus exitStatus);
  void startPump(int readFd, qint64 pid);
  void joinPump();
  void forwardLine(const QString& line);  // the pump's thread
  QString lastLine() const;
  void checkSpace(qint64 pid);  // the pump's thread
  qint64 freeBytes() const;     // on the store's file system; -1 when unknown
  void probe();
  void dropProbe();
  void onReady();
  void onReadyTimeout();
  void failStart(const Status& error);

  Options m_options;
  QString m_binary;   // resolved program path
  QString m_version;  // "2.9.10"
  bool m_versionKnown = false;
  bool m_syncsEveryWrite = false;
  QString m_listenHost;   // host written to `listen:` ("127.0.0.1" for an empty host)
  QString m_connectHost;  // host clients and the probe connect to
  int m_port = 0;         // chosen once
  State m_state = State::kStopped;
  Status m_lastError;
  int m_restarts = 0;
  int m_backoffMs = 0;
  QProcess* m_process = nullptr;
  qint64 m_pid = 0;
  std::thread m_pump;  // reads the child's output (startPump())
  mutable QMutex m_lineMutex;
  QString m_lastErrorLine;  // last [ERR]/[FTL] or untagged line of the current child (m_lineMutex)
  // Shared with the pump's thread:
  std::atomic<bool> m_childRunning{false};          // the child accepted clients and runs
  std::atomic<bool> m_needsRestartForSpace{false};  // the disk was full or JetStream went off
  std::atomic<bool> m_restartForSpace{false};       // the exit in progress is checkSpace()'s
  QElapsedTimer m_spaceKillTimer;                   // since checkSpace()'s SIGTERM (pump only)
  QTimer m_restartTimer;
  QTimer m_probeTimer;
  QTimer m_readyTimer;  // the start's deadline, while kStarting
  int m_readyTimeoutMs = 0;
  QTcpSocket* m_probe = nullptr;
  QByteArray m_probeBuffer;
  QElapsedTimer m_probeAge;
  QElapsedTimer m_readySince;
};

}  // namespace hl
