#include "nats_test_client.h"

#include <vector>

namespace hl::test {

Result<NatsConnectionPtr> connectTo(const QStringList& urls, const QString& user,
                                    const QString& password, int timeoutMs) {
  natsOptions* raw = nullptr;
  if (natsStatus s = natsOptions_Create(&raw); s != NATS_OK) return fromNats(s, "options");
  NatsOptionsPtr opts(raw);
  std::vector<QByteArray> storage;
  std::vector<const char*> servers;
  for (const QString& u : urls) storage.push_back(u.toUtf8());
  for (const QByteArray& b : storage) servers.push_back(b.constData());
  natsOptions_SetServers(opts.get(), servers.data(), int(servers.size()));
  natsOptions_SetTimeout(opts.get(), timeoutMs);
  // Reconnect like the engine does: a restarted server is found again.
  natsOptions_SetMaxReconnect(opts.get(), -1);
  natsOptions_SetReconnectWait(opts.get(), 100);
  if (!user.isEmpty())
    natsOptions_SetUserInfo(opts.get(), user.toUtf8().constData(), password.toUtf8().constData());
  natsConnection* nc = nullptr;
  if (natsStatus s = natsConnection_Connect(&nc, opts.get()); s != NATS_OK)
    return fromNats(s, "connect");
  return NatsConnectionPtr(nc);
}

Result<NatsConnectionPtr> connectTo(const QString& url, const QString& user,
                                    const QString& password) {
  return connectTo(QStringList{url}, user, password);
}

Result<JsCtxPtr> jetStream(natsConnection* nc) {
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = 2000;
  jsCtx* js = nullptr;
  if (natsStatus s = natsConnection_JetStream(&js, nc, &jo); s != NATS_OK)
    return fromNats(s, "jetstream");
  return JsCtxPtr(js);
}

Status addStream(jsCtx* js, const char* name, const char* subject, int replicas, int* peers) {
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  cfg.Name = name;
  const char* subjects[] = {subject};
  cfg.Subjects = subjects;
  cfg.SubjectsLen = 1;
  cfg.Storage = js_FileStorage;
  cfg.Replicas = replicas;
  jsStreamInfo* si = nullptr;
  jsErrCode jerr = jsErrCode(0);
  natsStatus s = js_AddStream(&si, js, &cfg, nullptr, &jerr);
  JsStreamInfoPtr owned(si);
  if (peers && si && si->Cluster) *peers = si->Cluster->ReplicasLen;
  return fromNats(s, "add stream", jerr);
}

Status publish(jsCtx* js, const char* subject, const QByteArray& data, const QByteArray& msgId) {
  jsPubAck* pa = nullptr;
  jsErrCode jerr = jsErrCode(0);
  jsPubOptions po;
  jsPubOptions_Init(&po);
  if (!msgId.isEmpty()) po.MsgId = msgId.constData();
  natsStatus s = js_Publish(&pa, js, subject, data.constData(), int(data.size()), &po, &jerr);
  JsPubAckPtr owned(pa);
  return fromNats(s, "publish", jerr);
}

}  // namespace hl::test
