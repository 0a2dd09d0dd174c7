// TcpProxy: a TCP proxy on 127.0.0.1 in front of a nats-server, for fault injection in
// end-to-end tests. It forwards both directions for any number of connections and reads the
// NATS protocol as it goes (whole operations: a line, plus the payload of PUB, HPUB, MSG, HMSG),
// so that a fault hits exactly one publish:
//   - armLoseAck(): the next publish to a subject is forwarded and written out to the server,
//     then the connection is cut both ways; the server stores the message and answers, the
//     client never sees the answer (a real lost acknowledgement);
//   - setDropPublishes(): publishes to a subject are not forwarded at all (the client's publish
//     times out, nothing lands);
//   - deliveredSeq(): the highest JetStream stream sequence the server delivered to a client on
//     a subject (read from the $JS.ACK reply subject), to know what a node has received.
// The proxy runs in its own thread, so it keeps forwarding while the test blocks (a sqlite3
// run, an HTTP request) or waits with test::waitFor.
// Thread: its own QThread; the public methods may be called from any thread.
#pragma once

#include <QByteArray>
#include <QHash>
#include <QMutex>
#include <QString>

#include <atomic>
#include <memory>

#include "harmonylite/status.h"

class QObject;
class QTcpServer;
class QThread;

namespace hl::test {

class TcpProxy {
 public:
  explicit TcpProxy(int targetPort);
  ~TcpProxy();  // closes every connection and stops the thread
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  // Listens on a free port of 127.0.0.1.
  hl::Status start();
  int port() const { return m_port; }
  QString url() const { return QStringLiteral("nats://127.0.0.1:%1").arg(m_port); }

  // One shot: the next client publish (PUB or HPUB) whose subject starts with `subjectPrefix`
  // is forwarded, written out to the server, and then both sockets of that connection are
  // closed; nothing the server sends after it reaches the client.
  void armLoseAck(const QByteArray& subjectPrefix);
  // Client publishes whose subject starts with `subjectPrefix` are dropped (other operations
  // still pass), `count` more of them (-1: until told otherwise); an empty prefix drops
  // nothing. Returns how many were dropped before, counted with the change (no drop falls
  // between the two).
  int setDropPublishes(const QByteArray& subjectPrefix, int count = -1);

  int accepted() const { return m_accepted; }  // client connections accepted so far
  int cuts() const { return m_cuts; }          // connections cut by armLoseAck()
  int droppedPublishes() const { return m_dropped; }
  // The highest stream sequence delivered to a client on `subject` (0 = none).
  quint64 deliveredSeq(const QByteArray& subject) const;

 private:
  struct Connection;
  void onNewConnection();
  void pump(const std::shared_ptr<Connection>& c, bool fromClient);
  void close(const std::shared_ptr<Connection>& c);

  const int m_targetPort;
  int m_port = 0;
  std::unique_ptr<QThread> m_thread;
  QObject* m_context = nullptr;  // lives in m_thread; parent of the server and the sockets
  QTcpServer* m_server = nullptr;

  mutable QMutex m_mutex;  // guards the settings, m_delivered and changes of m_dropped
  QByteArray m_loseAckPrefix;
  QByteArray m_dropPrefix;
  int m_dropBudget = 0;  // -1 = no limit
  QHash<QByteArray, quint64> m_delivered;

  std::atomic<int> m_accepted{0};
  std::atomic<int> m_cuts{0};
  std::atomic<int> m_dropped{0};
};

}  // namespace hl::test
