// RAII owners for nats.c handles and the conversion of nats.c errors into Status.
//
// Each alias is a std::unique_ptr whose deleter calls the matching nats.c destroy function.
// Thread: nats.c handles are created, used and destroyed on the engine thread
// (docs/architecture.md#threads); nats.c's own threads only run callbacks, which record and post.
#pragma once

#include <nats/nats.h>

#include <QString>

#include <memory>

#include "harmonylite/status.h"

namespace hl {

// "<op>: <nats status text> [(JetStream error N)] [: <last error detail>]".
// Connection loss, timeouts and "no responders" are retryable.
Status fromNats(natsStatus s, const QString& op, jsErrCode jerr = jsErrCode(0));

namespace natsdel {
struct Connection {
  void operator()(natsConnection* p) const { natsConnection_Destroy(p); }
};
struct Options {
  void operator()(natsOptions* p) const { natsOptions_Destroy(p); }
};
struct Js {
  void operator()(jsCtx* p) const { jsCtx_Destroy(p); }
};
struct Subscription {
  void operator()(natsSubscription* p) const { natsSubscription_Destroy(p); }
};
struct Msg {
  void operator()(natsMsg* p) const { natsMsg_Destroy(p); }
};
struct StreamInfo {
  void operator()(jsStreamInfo* p) const { jsStreamInfo_Destroy(p); }
};
struct ConsumerInfo {
  void operator()(jsConsumerInfo* p) const { jsConsumerInfo_Destroy(p); }
};
struct PubAck {
  void operator()(jsPubAck* p) const { jsPubAck_Destroy(p); }
};
struct Kv {
  void operator()(kvStore* p) const { kvStore_Destroy(p); }
};
struct KvEntry {
  void operator()(kvEntry* p) const { kvEntry_Destroy(p); }
};
}  // namespace natsdel

using NatsConnectionPtr = std::unique_ptr<natsConnection, natsdel::Connection>;
using NatsOptionsPtr = std::unique_ptr<natsOptions, natsdel::Options>;
using JsCtxPtr = std::unique_ptr<jsCtx, natsdel::Js>;
using NatsSubscriptionPtr = std::unique_ptr<natsSubscription, natsdel::Subscription>;
using NatsMsgPtr = std::unique_ptr<natsMsg, natsdel::Msg>;
using JsStreamInfoPtr = std::unique_ptr<jsStreamInfo, natsdel::StreamInfo>;
using JsConsumerInfoPtr = std::unique_ptr<jsConsumerInfo, natsdel::ConsumerInfo>;
using JsPubAckPtr = std::unique_ptr<jsPubAck, natsdel::PubAck>;
using KvStorePtr = std::unique_ptr<kvStore, natsdel::Kv>;
using KvEntryPtr = std::unique_ptr<kvEntry, natsdel::KvEntry>;

// A fetched batch of messages (natsMsgList); destroys the list and its messages.
class NatsMsgList {
 public:
  NatsMsgList() = default;
  NatsMsgList(const NatsMsgList&) = delete;
  NatsMsgList& operator=(const NatsMsgList&) = delete;
  ~NatsMsgList() { natsMsgList_Destroy(&m_list); }
  natsMsgList* get() { return &m_list; }
  int count() const { return m_list.Count; }
  natsMsg* at(int i) const { return m_list.Msgs[i]; }

 private:
  natsMsgList m_list{nullptr, 0};
};

}  // namespace hl
