#include "harmonylite/schema_status.h"

#include <QFile>

#include "nats/embedded_server.h"
#include "nats/nats_client.h"
#include "replication/schema_registry.h"
#include "runtime/local_read.h"
#include "schema/catalog.h"
#include "sqlite/sqlite_db.h"

namespace hl {
// The URL of the running node's embedded server: its URL file, else a fixed bind_address.
Result<QStringList> embeddedUrls(const Config& config) {
  const QString path = EmbeddedServer::urlFilePath(config);
  if (QFile f(path); f.open(QIODevice::ReadOnly)) {
    const QString url = QString::fromUtf8(f.readAll()).trimmed();
    if (!url.isEmpty()) return QStringList{url};
  }
  const QString bind = config.nats.bindAddress;
  const int colon = bind.lastIndexOf(':');
  const QString host = colon > 0 ? bind.left(colon) : QString();
  const int port = colon < 0 ? 0 : bind.mid(colon + 1).toInt();
  if (port > 0)
    return QStringList{
        QStringLiteral("nats://%1:%2")
            .arg(host.isEmpty() || host == "0.0.0.0" ? QStringLiteral("127.0.0.1") : host)
            .arg(port)};
  return Status::unavailable(
      QStringLiteral("nats.urls is empty and the node's embedded NATS server is not running (no "
                     "%1): start the node, or give nats.urls")
          .arg(path));
}

Result<NatsConnectionPtr> connectForCommand(const Config& config, const QString& name) {
  QStringList urls = config.nats.urls;
  if (urls.isEmpty()) {
    auto embedded = embeddedUrls(config);
    if (!embedded) return embedded.status();
    urls = *embedded;
  }
  Config once = config;
  once.nats.connectRetries = 1;
  auto nc = connectNats(once, urls, name);
  if (!nc) return Status::unavailable(nc.status().message());
  return nc;
}

Result<std::unique_ptr<LocalRead>> openLocalRead(const Config& config) {
  SqliteDb::Options o;
  o.readOnly = true;
  o.busyTimeoutMs = 5000;
  auto db = SqliteDb::open(config.dbPath, o);
  if (!db) return db.status();
  auto out = std::make_unique<LocalRead>();
  out->db = std::move(*db);
  out->catalog = std::make_unique<SchemaCatalog>(out->db, config.ignoreTables);
  HL_RETURN_IF_ERROR(out->catalog->reload().withContext("read schema of " + config.dbPath));
  return out;
}

Result<LocalSchemaReport> readLocalSchema(const Config& config) {
  auto local = openLocalRead(config);
  if (!local) return local.status();
  SqliteDb* db = &(*local)->db;
  const SchemaCatalog& catalog = *(*local)->catalog;
  LocalSchemaReport r;
  r.hash = catalog.schemaHash();
  r.tables = schemaTablesOf(catalog.tables());
  r.skippedTables = catalog.skippedTables();
  // The node's history, without writing: the newest other hash is what it calls previous.
  auto has = db->hasTable(QStringLiteral("__harmonylite__schema_hashes"));
  if (has && *has) {
    auto stmt = db->prepare(QStringLiteral(
        "SELECT hash FROM __harmonylite__schema_hashes WHERE hash <> ? ORDER BY last_seen DESC, "
        "rowid DESC LIMIT 1"));
    if (!stmt) return stmt.status();
    HL_RETURN_IF_ERROR(stmt->bindText(1, r.hash.toUtf8()));
    SqliteRows rows(*stmt);
    for (const SqliteStmt& row : rows) r.previousHash = row.columnText(0);
    HL_RETURN_IF_ERROR(rows.status());
  }
  return r;
}

Result<QList<SchemaNode>> readSchemaRegistry(const Config& config) {
  auto nc = connectForCommand(config, QStringLiteral("harmonylite-schema-status"));
  if (!nc) return nc.status();
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = 5000;
  jsCtx* raw = nullptr;
  if (natsStatus s = natsConnection_JetStream(&raw, nc->get(), &jo); s != NATS_OK)
    return Status::unavailable(fromNats(s, "jetstream").message());
  JsCtxPtr js(raw);
  SchemaRegistry registry(js.get(), config.replicationLog.replicas);
  return registry.readAll();
}

}  // namespace hl
