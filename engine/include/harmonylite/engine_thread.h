// EngineThread: what a host (the headless runner, the dashboard) owns to run a node.
//
// It is created and used on the host's thread, starts one QThread with its own event loop and
// moves the engine (engine/src/runtime/engine.h, internal) onto it. Every call into the engine
// is a queued call with copyable values; results come back as signals: the status a few times
// per second, events as they happen, the answers to controls. The engine owns every SQLite and
// NATS handle and child process, all on the engine thread (docs/architecture.md).
#pragma once

#include <QObject>
#include <QString>
#include <QThread>

#include "harmonylite/config.h"
#include "harmonylite/engine_state.h"

namespace hl {

// Call first in main(), before anything starts a thread or uses TLS: the process keeps
// OpenSSL's global state to the end instead of freeing it in an exit handler. QThread::wait()
// returns before a thread's thread-local destructors have run, so the engine thread may still be
// freeing its OpenSSL thread state (nats.c seeds its NUIDs with OpenSSL on that thread) when
// main() returns, and OpenSSL's exit handler frees the same state without a lock: a double free
// that showed as "malloc_consolidate(): invalid chunk size" and SIGABRT after "stopped cleanly".
void keepCryptoStateUntilExit();

class Engine;

class EngineThread final : public QObject {
  Q_OBJECT
 public:
  explicit EngineThread(Config config, QObject* parent = nullptr);
  ~EngineThread() override;  // stops the engine and joins the thread

  // Starts the thread and the engine; emits started() or failed().
  void start();
  // Stops the engine and joins its thread; waits at most `timeoutMs`. Safe to call twice.
  // Returns false when the engine did not stop in time (stuck in a NATS or SQLite call): the
  // thread is then still running and the host must end the process (it cannot be destroyed).
  static constexpr int kStopTimeoutMs = 10000;
  bool stop(int timeoutMs = kStopTimeoutMs);
  // Asks the engine to stop and its thread to end, without waiting: finished() follows. For a
  // host that must not block (the dashboard restarting on another database); the host bounds
  // the wait itself. stop() after it waits for the same stop. Safe to call twice.
  void requestStop();

  bool isRunning() const { return m_thread.isRunning(); }

  // Node controls: queued to the engine thread; each answers with controlDone() and shows in
  // the status model. Controls that lose data need `confirm = true`.
  enum class Control {
    kPausePublishing,
    kResumePublishing,  // stop / restart sending local changes
    kPauseApplying,
    kResumeApplying,  // per shard (`shard` > 0) or all shards (0)
    kReconnectNats,   // drop the NATS connection and connect again
    kRetryDeadLetter,
    kDiscardDeadLetter,     // `id` of the dead letter; discard needs confirm
    kRetryFailedPublishes,  // failed (too large) changes back to pending
    kClearConflicts,        // empties the conflict journal; needs confirm
    // Snapshots (docs/snapshots.md). `name` is a snapshot id of the catalogue; "" = the latest.
    kSaveSnapshot,      // take one now and upload it (this node, lease or not)
    kVerifySnapshot,    // restore drill into a temp file; the live database is not touched
    kRestoreSnapshot,   // replaces the live database: needs confirm; `id` = 1 forces a schema
                        // mismatch through
    kRefreshSnapshots,  // read the catalogue again
    // The cross-node consistency check (docs/consistency.md#check); its result shows in the
    // status (NodeStatus::consistency). Repair: `id` = the node whose version is published
    // again; needs confirm.
    kCheckConsistency,
    kRepairConsistency,
  };
  Q_ENUM(Control)
  void control(Control control, qint64 id = 0, bool confirm = false,
               const QString& name = QString());

 signals:
  void started();
  void failed(const QString& reason);  // start-up failure, one line naming the cause
  void stopped();
  // The engine thread has ended (after requestStop() or stop()); the object may be deleted.
  void finished();
  // The node's status, a few times per second, as a copy (see engine_state.h).
  void statusChanged(const hl::NodeStatus& status);
  // Something happened (state changes, dead letters, conflicts): told once, as it happens.
  void event(const hl::EngineEvent& event);
  // sleep_timeout reached: nothing published or applied for that long.
  void idleTimeout(qint64 idleMs);
  // The answer to control(): ok, or the reason it was refused or failed.
  void controlDone(hl::EngineThread::Control control, bool ok, const QString& message);

 private:
  QThread m_thread;
  Engine* m_engine = nullptr;  // lives on m_thread; deleted there (finished -> deleteLater)
  bool m_stopRequested = false;
};

}  // namespace hl
