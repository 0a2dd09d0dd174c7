// Turns SIGINT and SIGTERM into a Qt signal on the thread that created UnixSignals (the host
// thread), with the self-pipe pattern: the handler only writes one byte.
#pragma once

#include <QObject>
#include <QSocketNotifier>

#include <memory>

namespace hl {

class UnixSignals final : public QObject {
  Q_OBJECT
 public:
  explicit UnixSignals(QObject* parent = nullptr);
  ~UnixSignals() override;

 signals:
  void terminationRequested(int signalNumber);

 private:
  std::unique_ptr<QSocketNotifier> m_notifier;
};

}  // namespace hl
