// Test helper: a stand-in node that starts an EmbeddedServer and runs until it is killed.
// Usage: embedded_server_host <store dir> <node id>. Prints "<server pid> <client url>" once
// the server accepts clients, or "error: <message>" and exits 1.
#include <QCoreApplication>
#include <QTextStream>

#include "nats/embedded_server.h"

int main(int argc, char** argv) {
  QCoreApplication app(argc, argv);
  QTextStream out(stdout);
  if (argc != 3) {
    out << "usage: embedded_server_host <store dir> <node id>\n";
    return 2;
  }
  hl::EmbeddedServer::Options options;
  options.storeDir = QString::fromLocal8Bit(argv[1]);
  options.nodeId = QByteArray(argv[2]).toULongLong();
  hl::EmbeddedServer server(options);
  auto fail = [&out](const hl::Status& s) {
    out << "error: " << s.message() << Qt::endl;
    QCoreApplication::exit(1);
  };
  QObject::connect(
      &server, &hl::EmbeddedServer::ready, &server,
      [&] { out << server.pid() << ' ' << server.clientUrl() << Qt::endl; },
      Qt::SingleShotConnection);
  QObject::connect(&server, &hl::EmbeddedServer::startFailed, &server, fail);
  if (const hl::Status s = server.start(); !s.isOk()) {
    out << "error: " << s.message() << '\n';
    return 1;
  }
  return app.exec();
}
