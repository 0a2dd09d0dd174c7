#include "nats/request_thread.h"

namespace hl {

RequestThread::RequestThread(QObject* receiver)
    : m_receiver(receiver), m_worker(std::make_unique<QObject>()) {
  m_thread.setObjectName(QStringLiteral("hl-requests"));
  m_worker->moveToThread(&m_thread);
  m_thread.start();
}

RequestThread::~RequestThread() {
  forget();
  m_thread.quit();
  m_thread.wait();
}

void RequestThread::post(std::function<void()> job) {
  QMetaObject::invokeMethod(m_worker.get(), std::move(job), Qt::QueuedConnection);
}

void RequestThread::deliver(std::function<void()> call) {
  QMetaObject::invokeMethod(m_receiver, std::move(call), Qt::QueuedConnection);
}

void RequestThread::forget() {
  m_live.store(++m_generation);
  // Runs after every job queued before it: those not begun return at once.
  QMetaObject::invokeMethod(
      m_worker.get(), [] {}, Qt::BlockingQueuedConnection);
}

}  // namespace hl
