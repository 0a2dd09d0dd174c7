// RequestThread: JetStream requests that wait for their answer (a stream's state, the message
// at a position, the schema registry's entries) run here, one after another, so that the
// engine's thread goes on capturing, publishing, applying and answering its host while
// JetStream is slow to answer or does not answer at all: each such request may wait for its
// 3 s timeout (docs/architecture.md#threads). The requests use the engine's NATS client; the
// results come back to the engine's thread as queued calls.
#pragma once

#include <QObject>
#include <QThread>

#include <atomic>
#include <functional>
#include <memory>

namespace hl {

class RequestThread final {
 public:
  // Results are handed to `receiver`'s thread. The receiver owns this object and destroys it
  // with itself (a result queued for it then goes with it).
  explicit RequestThread(QObject* receiver);
  ~RequestThread();  // forget(), then the thread ends
  RequestThread(const RequestThread&) = delete;
  RequestThread& operator=(const RequestThread&) = delete;

  // Runs `work` on this thread after the requests given before it, then `done` with its result
  // on the receiver's thread, unless forget() was called in between. `work` may look at
  // cancelled() between its requests and stop early.
  template <typename T>
  void run(std::function<T()> work, std::function<void(T)> done) {
    const quint64 generation = m_generation;
    post([this, generation, work = std::move(work), done = std::move(done)]() mutable {
      if (generation != m_live.load()) return;  // forgotten before it began
      m_running.store(generation);
      auto result = std::make_shared<T>(work());
      deliver([this, generation, done = std::move(done), result] {
        if (generation == m_generation) done(std::move(*result));
      });
    });
  }

  // True on this thread while the work under way belongs to requests forget() dropped.
  bool cancelled() const { return m_running.load() != m_live.load(); }

  // Drops the results not yet handed over, and waits until no work runs: called before the
  // client the requests use is destroyed. Work begun stops at its next cancelled(); work not
  // begun is not run. On the receiver's thread.
  void forget();

 private:
  void post(std::function<void()> job);
  void deliver(std::function<void()> call);

  QObject* m_receiver;
  QThread m_thread;
  std::unique_ptr<QObject> m_worker;  // lives on m_thread: the queued jobs are its calls
  quint64 m_generation = 0;           // the receiver's thread's count of forget()
  std::atomic<quint64> m_live{0};     // the same, for this thread
  std::atomic<quint64> m_running{0};  // the generation of the job under way
};

}  // namespace hl
