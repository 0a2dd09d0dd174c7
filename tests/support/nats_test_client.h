// nats.c helpers for tests: connect, JetStream context, a test stream, a synchronous publish.
// Thread: the test's main thread.
#pragma once

#include <QByteArray>
#include <QString>
#include <QStringList>

#include "harmonylite/status.h"
#include "nats/nats_handles.h"

namespace hl::test {

// Connects (reconnecting forever afterwards, as the engine does).
Result<NatsConnectionPtr> connectTo(const QStringList& urls, const QString& user = {},
                                    const QString& password = {}, int timeoutMs = 2000);
Result<NatsConnectionPtr> connectTo(const QString& url, const QString& user = {},
                                    const QString& password = {});
Result<JsCtxPtr> jetStream(natsConnection* nc);
// A file-storage stream with one subject; `peers` (optional) gets its replica count.
Status addStream(jsCtx* js, const char* name, const char* subject, int replicas,
                 int* peers = nullptr);
// js_Publish, with a Nats-Msg-Id when `msgId` is given.
Status publish(jsCtx* js, const char* subject, const QByteArray& data,
               const QByteArray& msgId = {});

}  // namespace hl::test
