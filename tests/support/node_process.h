// NodeProcess: one real `harmonylite --no-gui` process with its own directory, database and
// config, for end-to-end tests; plus helpers that run the sqlite3 program on a node's file.
// Thread: the test's main thread.
#pragma once

#include <QProcess>
#include <QString>
#include <QStringList>

#include <memory>
#include <optional>
#include <vector>

#include "harmonylite/status.h"

namespace hl::test {

// Runs SQL with the sqlite3 program (busy timeout 10 s); returns its standard output trimmed.
// `ok` (optional) tells whether it exited 0.
QString sqlite3(const QString& db, const QString& sql, bool* ok = nullptr);

// The reference schema of the reference scenarios (docs/replication.md#reference-scenarios) (Books,
// Authors).
extern const char* const kReferenceSchema;

class NodeProcess {
 public:
  struct Options {
    uint64_t nodeId = 1;
    QString dir;  // the node's folder (database, seq map, embedded NATS data)
    QString schema = kReferenceSchema;
    QStringList urls;      // [] = embedded server
    QString topLevelToml;  // extra top-level keys, e.g. "publish = false"
    QString natsToml;      // extra keys of [nats], e.g. user_name = "a"
    QString tablesToml;    // extra tables, e.g. "[snapshot]\nenabled = true"
    int healthPort = 0;    // non-zero: [health_check] enabled on healthHost:healthPort
    QString healthHost = QStringLiteral("127.0.0.1");
    std::optional<bool> healthDetailed;  // [health_check] detailed (unset: the default)
    QStringList extraArgs;               // e.g. -cluster-addr, -cluster-peers
    QStringList wrapper;                 // how the process is started, see startWrapped()
    QString program;                     // the harmonylite program; "" = harmonyliteBinary()
    int shards = 2;
    int replicas = 1;
    bool compress = true;
  };

  explicit NodeProcess(Options options);
  ~NodeProcess();  // kills the process if still running

  // Writes the config (and the schema, the first time) and starts the node; waits until it
  // logs that it is running. Fails with the node's log when it exits or times out.
  hl::Status start(int timeoutMs = 30000);
  // start() in two halves, to start several nodes at once (a clustered JetStream needs a
  // quorum of servers before any node finishes starting).
  hl::Status launch();
  hl::Status waitRunning(int timeoutMs = 30000);
  // SIGTERM and wait; returns the exit code (-1 on timeout; for a crash, the signal). A node
  // that did not end with 0 (and was not kill()ed) prints the end of its log as a warning.
  int stop(int timeoutMs = 20000);
  // SIGKILL (crash).
  void kill();
  bool isRunning() const;
  qint64 pid() const;  // 0 when not running (for SIGSTOP/SIGCONT fault injection)

  QString db() const;
  QString configPath() const;
  QString log() const;  // everything the node printed so far (stderr)
  uint64_t nodeId() const { return m_options.nodeId; }
  const Options& options() const { return m_options; }
  QString sql(const QString& statement, bool* ok = nullptr) const {
    return sqlite3(db(), statement, ok);
  }

 private:
  void writeConfig() const;
  int endedWith() const;
  Options m_options;
  bool m_killed = false;  // by kill(): its end needs no explanation
  std::unique_ptr<QProcess> m_process;
  mutable QByteArray m_log;
};

// The nodes as the plain pointers waitConverged() takes.
QList<NodeProcess*> rawPointers(const std::vector<std::unique_ptr<NodeProcess>>& nodes);

// Waits until every node's `query` returns the same non-empty text as `expected` (or, when
// `expected` is empty, the same text on all nodes). Returns false on timeout.
bool waitConverged(const QList<NodeProcess*>& nodes, const QString& query, int timeoutMs,
                   const QString& expected = {});

}  // namespace hl::test
