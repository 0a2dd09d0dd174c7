#include "tcp_proxy.h"

#include <QHostAddress>
#include <QList>
#include <QTcpServer>
#include <QTcpSocket>
#include <QThread>

#include <algorithm>

namespace hl::test {
namespace {

// One direction of a NATS connection, split into whole operations: a fault then hits one
// publish exactly, never half of one or its neighbour.
struct Framer {
  QByteArray buffer;

  // The next whole operation (its line with CRLF and, for PUB, HPUB, MSG and HMSG, the payload
  // and its CRLF), taken from the buffer; empty while it has not all arrived.
  QByteArray next() {
    const qsizetype eol = buffer.indexOf("\r\n");
    if (eol < 0) return {};
    qsizetype size = eol + 2;
    const QList<QByteArray> t = tokens(buffer.left(eol));
    const QByteArray op = t.value(0).toUpper();
    if (op == "PUB" || op == "HPUB" || op == "MSG" || op == "HMSG") {
      bool ok = false;
      const qsizetype payload = t.last().toLongLong(&ok);  // the total size comes last
      if (ok) size += payload + 2;
      if (buffer.size() < size) return {};
    }
    QByteArray frame = buffer.left(size);
    buffer.remove(0, size);
    return frame;
  }

  static QList<QByteArray> tokens(const QByteArray& line) { return line.simplified().split(' '); }
  static QList<QByteArray> lineOf(const QByteArray& frame) {
    return tokens(frame.left(frame.indexOf("\r\n")));
  }
};

// The stream sequence in a JetStream delivery's reply subject: $JS.ACK.<stream>.<consumer>.
// <delivered>.<stream seq>.<consumer seq>.<time>.<pending> (9 tokens), or with domain and
// account hash after ACK (12 tokens and more); 0 for anything else.
quint64 streamSeqOfReply(const QByteArray& reply) {
  const QList<QByteArray> t = reply.split('.');
  if (t.size() < 9 || t[0] != "$JS" || t[1] != "ACK") return 0;
  return t[t.size() == 9 ? 5 : 7].toULongLong();
}

}  // namespace

struct TcpProxy::Connection {
  QTcpSocket* client = nullptr;
  QTcpSocket* server = nullptr;
  Framer up;    // client -> server
  Framer down;  // server -> client
  bool closed = false;
};

TcpProxy::TcpProxy(int targetPort) : m_targetPort(targetPort) {}

TcpProxy::~TcpProxy() {
  if (!m_thread) return;
  // Sockets and server are deleted in their thread, then the thread ends.
  QMetaObject::invokeMethod(
      m_context, [this] { delete m_context; }, Qt::BlockingQueuedConnection);
  m_thread->quit();
  m_thread->wait();
}

hl::Status TcpProxy::start() {
  m_thread = std::make_unique<QThread>();
  m_thread->setObjectName("tcp-proxy");
  m_thread->start();
  m_context = new QObject;
  m_context->moveToThread(m_thread.get());
  bool listening = false;
  QString error;
  QMetaObject::invokeMethod(
      m_context,
      [&] {
        m_server = new QTcpServer(m_context);
        QObject::connect(m_server, &QTcpServer::newConnection, m_context,
                         [this] { onNewConnection(); });
        listening = m_server->listen(QHostAddress::LocalHost, 0);
        error = m_server->errorString();
        m_port = m_server->serverPort();
      },
      Qt::BlockingQueuedConnection);
  if (!listening) return hl::Status::unavailable("proxy cannot listen: " + error);
  return hl::Status::ok();
}

void TcpProxy::armLoseAck(const QByteArray& subjectPrefix) {
  QMutexLocker lock(&m_mutex);
  m_loseAckPrefix = subjectPrefix;
}

int TcpProxy::setDropPublishes(const QByteArray& subjectPrefix, int count) {
  QMutexLocker lock(&m_mutex);
  m_dropPrefix = subjectPrefix;
  m_dropBudget = count;
  return m_dropped;
}

quint64 TcpProxy::deliveredSeq(const QByteArray& subject) const {
  QMutexLocker lock(&m_mutex);
  return m_delivered.value(subject, 0);
}

void TcpProxy::onNewConnection() {
  while (QTcpSocket* client = m_server->nextPendingConnection()) {
    ++m_accepted;
    auto c = std::make_shared<Connection>();
    c->client = client;
    c->server = new QTcpSocket(m_context);
    // The sockets' connections hold `c`; it goes when the sockets are deleted (close()).
    QObject::connect(client, &QTcpSocket::readyRead, m_context, [this, c] { pump(c, true); });
    QObject::connect(c->server, &QTcpSocket::readyRead, m_context, [this, c] { pump(c, false); });
    // A client's bytes wait in its socket until the server side is connected.
    QObject::connect(c->server, &QTcpSocket::connected, m_context, [this, c] { pump(c, true); });
    QObject::connect(client, &QTcpSocket::disconnected, m_context, [this, c] { close(c); });
    QObject::connect(c->server, &QTcpSocket::disconnected, m_context, [this, c] { close(c); });
    QObject::connect(c->server, &QTcpSocket::errorOccurred, m_context, [this, c] { close(c); });
    c->server->connectToHost(QHostAddress::LocalHost, quint16(m_targetPort));
  }
}

void TcpProxy::pump(const std::shared_ptr<Connection>& c, bool fromClient) {
  if (c->closed) return;
  if (c->server->state() != QAbstractSocket::ConnectedState) return;
  QTcpSocket* in = fromClient ? c->client : c->server;
  QTcpSocket* out = fromClient ? c->server : c->client;
  Framer& framer = fromClient ? c->up : c->down;
  framer.buffer += in->readAll();
  QByteArray forward;
  QHash<QByteArray, quint64> delivered;  // subject -> highest stream sequence in this chunk
  for (QByteArray frame = framer.next(); !frame.isEmpty(); frame = framer.next()) {
    const QList<QByteArray> line = Framer::lineOf(frame);
    const QByteArray op = line.value(0).toUpper();
    const QByteArray subject = line.value(1);
    if (fromClient && (op == "PUB" || op == "HPUB")) {
      bool cut = false;
      bool drop = false;
      {
        QMutexLocker lock(&m_mutex);
        if (!m_loseAckPrefix.isEmpty() && subject.startsWith(m_loseAckPrefix)) {
          m_loseAckPrefix.clear();  // one shot
          cut = true;
        } else if (!m_dropPrefix.isEmpty() && subject.startsWith(m_dropPrefix) &&
                   m_dropBudget != 0) {
          drop = true;
          ++m_dropped;
          if (m_dropBudget > 0) --m_dropBudget;
        }
      }
      if (drop) continue;
      if (cut) {
        // The publish reaches the server whole before the connection goes: written out and
        // waited for, then a graceful close towards the server (it reads the publish, then
        // the end) and a reset towards the client. Nothing the server answers is forwarded.
        c->closed = true;
        forward += frame;
        c->server->write(forward);
        while (c->server->bytesToWrite() > 0 && c->server->waitForBytesWritten(5000)) {
        }
        c->client->abort();
        c->server->disconnectFromHost();
        c->client->deleteLater();
        c->server->deleteLater();
        ++m_cuts;
        return;
      }
    }
    if (!fromClient && (op == "MSG" || op == "HMSG")) {
      // MSG <subject> <sid> [reply] <size>, HMSG <subject> <sid> [reply] <hdr size> <size>
      const int withReply = op == "MSG" ? 5 : 6;
      if (line.size() == withReply) {
        if (const quint64 seq = streamSeqOfReply(line[3]); seq != 0)
          delivered[subject] = std::max(delivered.value(subject), seq);
      }
    }
    forward += frame;
  }
  if (!forward.isEmpty()) out->write(forward);
  // Counted once handed to the client's socket.
  QMutexLocker lock(&m_mutex);
  for (auto it = delivered.cbegin(); it != delivered.cend(); ++it) {
    quint64& seen = m_delivered[it.key()];
    seen = std::max(seen, it.value());
  }
}

void TcpProxy::close(const std::shared_ptr<Connection>& c) {
  if (c->closed) return;
  // What one side sent before it went away still reaches the other.
  pump(c, true);
  pump(c, false);
  if (c->closed) return;  // the pumping cut it
  c->closed = true;
  c->client->disconnectFromHost();
  c->server->disconnectFromHost();
  c->client->deleteLater();
  c->server->deleteLater();
}

}  // namespace hl::test
