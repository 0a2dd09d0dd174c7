#include "snapshot/leader_lease.h"

#include <cbor.h>

#include <QDateTime>

#include <memory>

#include "wire/cbor_writer.h"

namespace hl {

QByteArray encodeLeaseRecord(const LeaseRecord& r) {
  // Field order and names as Go's encoder writes the struct.
  CborWriter w;
  w.mapStart(2);
  w.text("NodeID");
  w.unsignedInt(r.nodeId);
  w.text("Timestamp");
  w.integer(r.timestampMs);
  return w.take();
}

Result<LeaseRecord> decodeLeaseRecord(const QByteArray& bytes) {
  cbor_load_result lr;
  cbor_item_t* item =
      cbor_load(reinterpret_cast<cbor_data>(bytes.constData()), size_t(bytes.size()), &lr);
  std::unique_ptr<cbor_item_t, void (*)(cbor_item_t*)> owner(
      item, [](cbor_item_t* p) { cbor_decref(&p); });
  if (!item || lr.error.code != CBOR_ERR_NONE || !cbor_isa_map(item))
    return Status::corruption("lease record is not a CBOR map");
  LeaseRecord r;
  bool haveNode = false, haveTime = false;
  const size_t n = cbor_map_size(item);
  cbor_pair* pairs = cbor_map_handle(item);
  for (size_t i = 0; i < n; ++i) {
    if (!cbor_isa_string(pairs[i].key) || !cbor_string_is_definite(pairs[i].key)) continue;
    const QByteArray key(reinterpret_cast<const char*>(cbor_string_handle(pairs[i].key)),
                         qsizetype(cbor_string_length(pairs[i].key)));
    cbor_item_t* v = pairs[i].value;
    if (!cbor_is_int(v)) continue;
    const uint64_t mag = cbor_get_int(v);
    const bool negative = cbor_isa_negint(v);
    if (key == "NodeID" && !negative) {
      r.nodeId = mag;
      haveNode = true;
    } else if (key == "Timestamp") {
      r.timestampMs = negative ? -1 - int64_t(mag) : int64_t(mag);
      haveTime = true;
    }
  }
  if (!haveNode || !haveTime) return Status::corruption("lease record lacks NodeID or Timestamp");
  return r;
}

LeaderLease::LeaderLease(natsConnection* nc, uint64_t nodeId, int replicas)
    : m_nc(nc), m_nodeId(nodeId), m_replicas(std::max(1, replicas)) {}

LeaderLease::~LeaderLease() = default;

Status LeaderLease::open() {
  if (m_kv) return Status::ok();
  if (!m_js) {
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = 2000;
    jsCtx* js = nullptr;
    HL_RETURN_IF_ERROR(fromNats(natsConnection_JetStream(&js, m_nc, &jo), "jetstream"));
    m_js.reset(js);
  }
  const QByteArray bucket = kLeaseBucket.toUtf8();
  kvStore* kv = nullptr;
  if (js_KeyValue(&kv, m_js.get(), bucket.constData()) == NATS_OK) {
    m_kv.reset(kv);
    return Status::ok();
  }
  kvConfig cfg;
  kvConfig_Init(&cfg);
  cfg.Bucket = bucket.constData();
  cfg.History = 1;
  cfg.StorageType = js_FileStorage;
  cfg.Replicas = m_replicas;
  natsStatus s = js_CreateKeyValue(&kv, m_js.get(), &cfg);
  if (s != NATS_OK) {  // another node created it meanwhile
    s = js_KeyValue(&kv, m_js.get(), bucket.constData());
  }
  HL_RETURN_IF_ERROR(fromNats(s, "KV bucket " + kLeaseBucket));
  m_kv.reset(kv);
  return Status::ok();
}

LeaseState LeaderLease::tryAcquire(const QString& key, int64_t ttlMs, int64_t nowMs) {
  LeaseState st;
  if (Status s = open(); !s.isOk()) {
    st.error = s.message();
    return st;
  }
  const QByteArray k = key.toUtf8();
  const QByteArray mine = encodeLeaseRecord({m_nodeId, nowMs});
  kvEntry* raw = nullptr;
  const natsStatus g = kvStore_Get(&raw, m_kv.get(), k.constData());
  KvEntryPtr entry(raw);
  uint64_t rev = 0;
  if (g == NATS_OK) {
    const QByteArray value(static_cast<const char*>(kvEntry_Value(entry.get())),
                           kvEntry_ValueLen(entry.get()));
    rev = kvEntry_Revision(entry.get());
    auto rec = decodeLeaseRecord(value);
    if (rec && rec->nodeId != m_nodeId && rec->timestampMs + ttlMs > nowMs) {
      st.holder = rec->nodeId;
      st.untilMs = rec->timestampMs + ttlMs;
      return st;
    }
  } else if (g != NATS_NOT_FOUND) {
    st.error = fromNats(g, "read lease " + key).message();
    return st;
  }
  uint64_t newRev = 0;
  const natsStatus w = rev == 0 ? kvStore_Create(&newRev, m_kv.get(), k.constData(),
                                                 mine.constData(), int(mine.size()))
                                : kvStore_Update(&newRev, m_kv.get(), k.constData(),
                                                 mine.constData(), int(mine.size()), rev);
  if (w != NATS_OK) {  // another node wrote it first: it is the leader
    return st;
  }
  st.held = true;
  st.holder = m_nodeId;
  st.untilMs = nowMs + ttlMs;
  return st;
}

void LeaderLease::release(const QString& key) {
  if (!m_kv) return;
  const QByteArray k = key.toUtf8();
  kvEntry* raw = nullptr;
  if (kvStore_Get(&raw, m_kv.get(), k.constData()) != NATS_OK) {
    return;
  }
  KvEntryPtr entry(raw);
  const QByteArray value(static_cast<const char*>(kvEntry_Value(entry.get())),
                         kvEntry_ValueLen(entry.get()));
  auto rec = decodeLeaseRecord(value);
  if (rec && rec->nodeId == m_nodeId) {
    // Ours a moment ago; a node taking it in between would have had to wait for the TTL.
    (void)kvStore_Delete(m_kv.get(), k.constData());  // failing, it runs out with its TTL
  }
}

LeaseKeeper::LeaseKeeper(natsConnection* nc, uint64_t nodeId, int replicas, int64_t ttlMs)
    : m_lease(nc, nodeId, replicas), m_ttlMs(ttlMs) {
  qRegisterMetaType<LeaseState>();
}

LeaseKeeper::~LeaseKeeper() = default;

void LeaseKeeper::start() {
  m_timer = new QTimer(this);
  connect(m_timer, &QTimer::timeout, this, &LeaseKeeper::renew);
  m_timer->start(int(std::max<int64_t>(1000, m_ttlMs / 3)));  // docs/wire-format.md#kv
  renew();
}

void LeaseKeeper::stop() {
  if (m_timer) m_timer->stop();
  if (m_held) m_lease.release(kLeaderKey);
  m_held = false;
}

void LeaseKeeper::setEligible(bool eligible) {
  if (eligible == m_eligible) return;
  m_eligible = eligible;
  if (m_timer) renew();
}

void LeaseKeeper::renew() {
  if (!m_eligible) {
    if (m_held) m_lease.release(kLeaderKey);
    m_held = false;
    LeaseState st;
    st.error = QStringLiteral("not a candidate while a shard needs a restore");
    emit changed(st);
    return;
  }
  const LeaseState st =
      m_lease.tryAcquire(kLeaderKey, m_ttlMs, QDateTime::currentMSecsSinceEpoch());
  m_held = st.held;
  emit changed(st);
}

}  // namespace hl
