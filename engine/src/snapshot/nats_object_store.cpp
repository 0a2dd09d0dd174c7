#include "snapshot/nats_object_store.h"

#include <QDateTime>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLoggingCategory>
#include <QMap>
#include <QRegularExpression>
#include <QThread>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <mutex>
#include <optional>

#include "nats/nats_handles.h"
#include "snapshot/sha256.h"

// nats.c exports the NUID generator it uses for inboxes but declares it only in a private
// header (src/nuid.h). Object chunk subjects are NUIDs in every official client, so we use the
// same generator rather than inventing another id format.
extern "C" natsStatus natsNUID_Next(char* buffer, int bufferLen);

Q_LOGGING_CATEGORY(lcObjectStore, "hl.snapshot.nats")

namespace hl {

namespace {

// How long one JetStream API call (stream info, get, purge, a publish ack) may take before
// the operation fails as retryable: long enough for a busy server, short enough that a store
// whose server went away answers within seconds.
constexpr int kApiWaitMs = 5000;
// Chunk publishes in flight at once: 32 x 128 KiB = 4 MiB held by nats.c at most, enough to
// keep the server busy while we read and hash the next chunk (see put()).
constexpr int kMaxInFlight = 32;
// How long a sequential source (a pipe, a socket) may stay silent before the put fails.
constexpr int kObjectSourceWaitMs = 30000;
// Links are followed this many times at most: a chain longer than that is a loop.
constexpr int kMaxLinkDepth = 8;
// A direct get may be answered by a replica that has not stored the newest chunks yet; a
// missing chunk is asked for again this many times before the object is called corrupt.
constexpr int kMissingChunkRetries = 5;

const QString kDigestPrefix = QStringLiteral("SHA-256=");

Status checkBucket(const QString& bucket) {
  static const QRegularExpression valid(QStringLiteral("^[A-Za-z0-9_-]+$"));
  if (!valid.match(bucket).hasMatch())
    return Status::invalidArgument(
        QStringLiteral("nats object store bucket \"%1\": a bucket name is one or more of "
                       "A-Z, a-z, 0-9, '_' and '-'")
            .arg(bucket));
  return Status::ok();
}

QString connStatusName(natsConnStatus s) {
  switch (s) {
    case NATS_CONN_STATUS_DISCONNECTED:
      return QStringLiteral("disconnected");
    case NATS_CONN_STATUS_CONNECTING:
      return QStringLiteral("connecting");
    case NATS_CONN_STATUS_CONNECTED:
      return QStringLiteral("connected");
    case NATS_CONN_STATUS_CLOSED:
      return QStringLiteral("closed");
    case NATS_CONN_STATUS_RECONNECTING:
      return QStringLiteral("reconnecting");
    default:
      return QStringLiteral("draining");
  }
}

int64_t nowNs() {
  using namespace std::chrono;
  return duration_cast<nanoseconds>(system_clock::now().time_since_epoch()).count();
}

// RFC 3339 in UTC with nanoseconds, as Go's time.Time marshals ("2026-11-30T15:01:02.123456789Z").
QString rfc3339Ns(int64_t ns) {
  qint64 secs = ns / 1000000000;
  qint64 frac = ns % 1000000000;
  if (frac < 0) {
    frac += 1000000000;
    --secs;
  }
  return QDateTime::fromSecsSinceEpoch(secs, Qt::UTC)
             .toString(QStringLiteral("yyyy-MM-dd'T'HH:mm:ss")) +
         QStringLiteral(".%1Z").arg(frac, 9, 10, QLatin1Char('0'));
}

// Parses RFC 3339 with any number of fraction digits (Go writes up to 9, JavaScript 3). Go's
// zero time ("0001-01-01T00:00:00Z", what nats.go stores) and anything unparsable are invalid.
QDateTime parseMtime(const QString& s) {
  static const QRegularExpression re(QStringLiteral(
      "^(\\d{4}-\\d\\d-\\d\\d[Tt ]\\d\\d:\\d\\d:\\d\\d)(?:\\.(\\d+))?([Zz]|[+-]\\d\\d:\\d\\d)$"));
  const QRegularExpressionMatch m = re.match(s);
  if (!m.hasMatch()) return {};
  QString base = m.captured(1);
  base[10] = QLatin1Char('T');
  const QString ms = (m.captured(2) + QStringLiteral("000")).left(3);
  const QString zone = m.captured(3).toUpper();
  QDateTime t = QDateTime::fromString(base + QLatin1Char('.') + ms + zone, Qt::ISODateWithMs);
  if (!t.isValid() || t.date().year() <= 1) return {};
  return t.toUTC();
}

QDateTime fromNs(int64_t ns) {
  if (ns <= 0) return {};
  return QDateTime::fromMSecsSinceEpoch(ns / 1000000, Qt::UTC);
}

Result<QString> nextNuid() {
  char buf[32] = {0};
  HL_RETURN_IF_ERROR(fromNats(natsNUID_Next(buf, int(sizeof buf)), "make a NUID"));
  return QString::fromLatin1(buf);
}

QString digestOf(const QByteArray& sha256) {
  // Padded base64url: Go decodes with base64.URLEncoding, which requires the padding.
  return kDigestPrefix + QString::fromLatin1(sha256.toBase64(QByteArray::Base64UrlEncoding));
}

// The 32 bytes of a "SHA-256=<value>" digest. Official clients write padded base64url; the
// JavaScript client also reads unpadded, standard base64 and hex, so we do too.
std::optional<QByteArray> parseDigest(const QString& digest) {
  if (!digest.startsWith(kDigestPrefix, Qt::CaseInsensitive)) return std::nullopt;
  const QByteArray v = digest.mid(kDigestPrefix.size()).toLatin1();
  static const QRegularExpression hex(QStringLiteral("^([0-9a-f]{64}|[0-9A-F]{64})$"));
  QByteArray bytes;
  if (hex.match(QString::fromLatin1(v)).hasMatch()) {
    bytes = QByteArray::fromHex(v);
  } else {
    auto r = QByteArray::fromBase64Encoding(
        v, QByteArray::Base64UrlEncoding | QByteArray::AbortOnBase64DecodingErrors);
    if (!r) r = QByteArray::fromBase64Encoding(v, QByteArray::AbortOnBase64DecodingErrors);
    if (!r) return std::nullopt;
    bytes = *r;
  }
  if (bytes.size() != 32) return std::nullopt;
  return bytes;
}

// A JSON number that is a whole number in [0, 2^53].
std::optional<qint64> wholeNumber(const QJsonValue& v) {
  if (v.isUndefined() || v.isNull()) return 0;  // absent: zero, as Go's decoder leaves it
  if (!v.isDouble()) return std::nullopt;
  const double d = v.toDouble();
  if (!(d >= 0) || d > 9007199254740992.0 || std::floor(d) != d) return std::nullopt;
  return qint64(d);
}

QJsonObject headersJson(const QList<QPair<QString, QString>>& headers) {
  // {"Name": ["value", ...]}: Go's nats.Header and the JavaScript client's MsgHdrs record.
  QJsonObject out;
  for (const auto& [key, value] : headers) {
    QJsonArray values = out.value(key).toArray();
    values.append(value);
    out.insert(key, values);
  }
  return out;
}

// Fills `buf` from `source`, waiting for a sequential source; returns the bytes read or -1.
qint64 readFull(QIODevice& source, char* buf, qint64 want) {
  qint64 got = 0;
  while (got < want) {
    const qint64 n = source.read(buf + got, want - got);
    if (n < 0) return -1;
    if (n == 0) {
      if (!source.isSequential() || !source.waitForReadyRead(kObjectSourceWaitMs)) break;
      continue;
    }
    got += n;
  }
  return got;
}

}  // namespace

// One object's metadata message, as parsed from its JSON.
struct NatsObjectStore::Meta {
  QJsonObject json;  // as stored: rewritten whole by remove(), keeping fields we do not know
  QString name;
  QString nuid;
  qint64 size = 0;
  qint64 chunks = 0;
  QString digest;
  bool deleted = false;
  QString linkBucket;  // a link: the bucket and object it points at
  QString linkName;
  bool isLink = false;
  QDateTime modified;
  QList<QPair<QString, QString>> headers;
};

// Failed chunk publishes, reported by nats.c on its own thread. Only errors for the chunk
// subject of the running put count: a late report from an abandoned put is not this one's.
struct NatsObjectStore::AsyncErrors {
  std::mutex mutex;
  QByteArray subject;
  Status first;

  void start(const QByteArray& chunkSubject) {
    std::lock_guard<std::mutex> lock(mutex);
    subject = chunkSubject;
    first = Status::ok();
  }
  Status error() {
    std::lock_guard<std::mutex> lock(mutex);
    return first;
  }
  static void onError(jsCtx*, jsPubAckErr* pae, void* closure) {
    auto* self = static_cast<AsyncErrors*>(closure);
    const char* subj = pae->Msg ? natsMsg_GetSubject(pae->Msg) : nullptr;
    std::lock_guard<std::mutex> lock(self->mutex);
    if (!self->first.isOk() || !subj || self->subject != subj) return;
    QString text = QString::fromUtf8(pae->ErrText ? pae->ErrText : natsStatus_GetText(pae->Err));
    if (pae->ErrCode) text += QStringLiteral(" (JetStream error %1)").arg(int(pae->ErrCode));
    const QString msg = QStringLiteral("publish a chunk: ") + text;
    switch (pae->Err) {
      case NATS_TIMEOUT:
        self->first = Status::timeout(msg);
        break;
      case NATS_NO_RESPONDERS:
      case NATS_CONNECTION_CLOSED:
      case NATS_CONNECTION_DISCONNECTED:
        self->first = Status::unavailable(msg);
        break;
      default:
        self->first = Status::ioError(msg);
    }
  }
};

NatsObjectStore::NatsObjectStore(natsConnection* nc, QString bucket, int replicas)
    : m_nc(nc),
      m_bucket(std::move(bucket)),
      m_replicas(replicas),
      m_async(std::make_unique<AsyncErrors>()) {}

NatsObjectStore::~NatsObjectStore() {
  if (!m_js) return;
  // nats.c calls AsyncErrors::onError on its own thread until every async publish is acked
  // or timed out; puts wait for that before returning, so this normally returns at once.
  // If it does not, the error sink is left allocated rather than freed under a callback.
  const bool quiet = waitPublished(kApiWaitMs).isOk();
  jsCtx_Destroy(m_js);
  if (!quiet) (void)m_async.release();
}

QString NatsObjectStore::describe() const {
  return QStringLiteral("nats bucket ") + m_bucket;
}

QByteArray NatsObjectStore::streamName() const {
  return "OBJ_" + m_bucket.toUtf8();
}

QByteArray NatsObjectStore::metaSubject(const QString& name) const {
  // Padded base64url of the name: what nats.go (base64.URLEncoding) and nats.js
  // (Base64UrlPaddedCodec) write; the subject token must match theirs byte for byte.
  return "$O." + m_bucket.toUtf8() + ".M." + name.toUtf8().toBase64(QByteArray::Base64UrlEncoding);
}

QByteArray NatsObjectStore::chunkSubject(const QString& nuid) const {
  return "$O." + m_bucket.toUtf8() + ".C." + nuid.toUtf8();
}

Status NatsObjectStore::connect() {
  HL_RETURN_IF_ERROR(checkBucket(m_bucket));
  if (!m_nc) return Status::unavailable(describe() + QStringLiteral(": no NATS connection"));
  // A connection that is reconnecting would queue our requests and let each one time out;
  // saying so at once is clearer and keeps a store call from hanging while NATS is down.
  const natsConnStatus cs = natsConnection_Status(m_nc);
  if (cs != NATS_CONN_STATUS_CONNECTED)
    return Status::unavailable(
        QStringLiteral("%1: not connected to NATS (%2)").arg(describe(), connStatusName(cs)));
  if (m_js) return Status::ok();
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = kApiWaitMs;
  jo.PublishAsync.MaxPending = kMaxInFlight;
  jo.PublishAsync.StallWait = kApiWaitMs;
  jo.PublishAsync.ErrHandler = &AsyncErrors::onError;
  jo.PublishAsync.ErrHandlerClosure = m_async.get();
  return fromNats(natsConnection_JetStream(&m_js, m_nc, &jo), "jetstream").withContext(describe());
}

Status NatsObjectStore::openStream(bool create) {
  if (m_streamOpen) return Status::ok();
  const QByteArray stream = streamName();
  const QByteArray chunks = "$O." + m_bucket.toUtf8() + ".C.>";
  const QByteArray metas = "$O." + m_bucket.toUtf8() + ".M.>";
  jsStreamInfo* si = nullptr;
  jsErrCode jerr = jsErrCode(0);
  natsStatus s = js_GetStreamInfo(&si, m_js, stream.constData(), nullptr, &jerr);
  JsStreamInfoPtr info(si);
  if ((s == NATS_NOT_FOUND || jerr == JSStreamNotFoundErr) && create) {
    // The configuration every official client creates (nats.go CreateObjectStore, nats.js
    // ObjectStoreImpl.init): discard new, rollup headers for the metadata, direct gets.
    const char* subjects[] = {chunks.constData(), metas.constData()};
    jsStreamConfig cfg;
    jsStreamConfig_Init(&cfg);
    cfg.Name = stream.constData();
    cfg.Subjects = subjects;
    cfg.SubjectsLen = 2;
    cfg.Storage = js_FileStorage;
    cfg.Replicas = std::max(1, m_replicas);
    cfg.Discard = js_DiscardNew;
    cfg.MaxBytes = -1;
    cfg.AllowRollup = true;
    cfg.AllowDirect = true;
    jsStreamInfo* created = nullptr;
    jerr = jsErrCode(0);
    s = js_AddStream(&created, m_js, &cfg, nullptr, &jerr);
    JsStreamInfoPtr owned(created);
    if (s == NATS_OK) {
      qCInfo(lcObjectStore).noquote()
          << "created stream" << stream << "replicas" << cfg.Replicas << "for" << describe();
      m_allowDirect = true;
      m_streamOpen = true;
      return Status::ok();
    }
    // Another client created it meanwhile, perhaps with other settings: use theirs.
    if (jerr != JSStreamNameExistErr)
      return fromNats(s, "create stream " + QString::fromUtf8(stream), jerr)
          .withContext(describe());
    jerr = jsErrCode(0);
    s = js_GetStreamInfo(&si, m_js, stream.constData(), nullptr, &jerr);
    info.reset(si);
  }
  if (s == NATS_NOT_FOUND || jerr == JSStreamNotFoundErr)
    return Status::notFound(
        QStringLiteral("%1: there is no stream %2").arg(describe(), QString::fromUtf8(stream)));
  HL_RETURN_IF_ERROR(
      fromNats(s, "stream info " + QString::fromUtf8(stream), jerr).withContext(describe()));
  // A stream of that name made by someone else for something else would take our publishes
  // and mean nothing to official clients: refuse it rather than write into it.
  const jsStreamConfig* live = info->Config;
  bool hasChunks = false, hasMetas = false;
  for (int i = 0; live && i < live->SubjectsLen; ++i) {
    hasChunks = hasChunks || chunks == live->Subjects[i];
    hasMetas = hasMetas || metas == live->Subjects[i];
  }
  if (!live || !hasChunks || !hasMetas)
    return Status::invalidArgument(
        QStringLiteral("%1: stream %2 exists but is not an object store (its subjects are not "
                       "%3 and %4)")
            .arg(describe(), QString::fromUtf8(stream), QString::fromUtf8(chunks),
                 QString::fromUtf8(metas)));
  if (!live->AllowRollup)
    return Status::invalidArgument(
        QStringLiteral("%1: stream %2 does not allow rollup headers, which object metadata needs")
            .arg(describe(), QString::fromUtf8(stream)));
  m_allowDirect = live->AllowDirect;
  m_streamOpen = true;
  return Status::ok();
}

Result<NatsObjectStore::Meta> NatsObjectStore::readMeta(const QString& name) {
  return readMetaSubject(metaSubject(name), name);
}

Result<NatsObjectStore::Meta> NatsObjectStore::readMetaSubject(const QByteArray& subject,
                                                               const QString& name) {
  // From the stream leader (not a direct get, which a replica may answer from behind): a get
  // right after a put must see that put.
  natsMsg* raw = nullptr;
  jsErrCode jerr = jsErrCode(0);
  const natsStatus s =
      js_GetLastMsg(&raw, m_js, streamName().constData(), subject.constData(), nullptr, &jerr);
  NatsMsgPtr msg(raw);
  if (s == NATS_NOT_FOUND) {
    if (jerr == JSStreamNotFoundErr) m_streamOpen = false;
    return Status::notFound(QStringLiteral("no object \"%1\"").arg(name));
  }
  HL_RETURN_IF_ERROR(fromNats(s, QStringLiteral("read the metadata of \"%1\"").arg(name), jerr));

  const QByteArray data(natsMsg_GetData(raw), natsMsg_GetDataLength(raw));
  auto bad = [&](const QString& why) {
    return Status::corruption(QStringLiteral("the metadata of object \"%1\" (%2) is not valid: %3")
                                  .arg(name, QString::fromUtf8(subject), why));
  };
  QJsonParseError perr{};
  const QJsonDocument doc = QJsonDocument::fromJson(data, &perr);
  if (perr.error != QJsonParseError::NoError)
    return bad(QStringLiteral("not JSON (%1 at byte %2)").arg(perr.errorString()).arg(perr.offset));
  if (!doc.isObject()) return bad(QStringLiteral("not a JSON object"));
  Meta m;
  m.json = doc.object();
  const QJsonObject& j = m.json;
  auto str = [&](const char* key, QString* out) {
    const QJsonValue v = j.value(QLatin1String(key));
    if (v.isUndefined() || v.isNull()) return true;
    if (!v.isString()) return false;
    *out = v.toString();
    return true;
  };
  if (!str("name", &m.name) || m.name.isEmpty())
    return bad(QStringLiteral("\"name\" is missing or not a string"));
  if (!str("nuid", &m.nuid)) return bad(QStringLiteral("\"nuid\" is not a string"));
  if (!str("digest", &m.digest)) return bad(QStringLiteral("\"digest\" is not a string"));
  const auto size = wholeNumber(j.value(QLatin1String("size")));
  if (!size) return bad(QStringLiteral("\"size\" is not a whole number"));
  m.size = *size;
  const auto chunks = wholeNumber(j.value(QLatin1String("chunks")));
  if (!chunks) return bad(QStringLiteral("\"chunks\" is not a whole number"));
  m.chunks = *chunks;
  const QJsonValue deleted = j.value(QLatin1String("deleted"));
  if (!deleted.isUndefined() && !deleted.isNull() && !deleted.isBool())
    return bad(QStringLiteral("\"deleted\" is not true or false"));
  m.deleted = deleted.toBool();
  const QJsonValue options = j.value(QLatin1String("options"));
  if (!options.isUndefined() && !options.isNull()) {
    if (!options.isObject()) return bad(QStringLiteral("\"options\" is not an object"));
    const QJsonValue link = options.toObject().value(QLatin1String("link"));
    if (!link.isUndefined() && !link.isNull()) {
      const QJsonObject l = link.toObject();
      if (!link.isObject() || !l.value(QLatin1String("bucket")).isString())
        return bad(QStringLiteral("\"options.link\" has no bucket"));
      const QJsonValue ln = l.value(QLatin1String("name"));
      if (!ln.isUndefined() && !ln.isNull() && !ln.isString())
        return bad(QStringLiteral("\"options.link.name\" is not a string"));
      m.isLink = true;
      m.linkBucket = l.value(QLatin1String("bucket")).toString();
      m.linkName = ln.toString();
    }
  }
  const QJsonValue headers = j.value(QLatin1String("headers"));
  if (!headers.isUndefined() && !headers.isNull()) {
    if (!headers.isObject()) return bad(QStringLiteral("\"headers\" is not an object"));
    const QJsonObject h = headers.toObject();
    for (auto it = h.begin(); it != h.end(); ++it) {
      if (it.value().isString()) {
        m.headers.append({it.key(), it.value().toString()});
        continue;
      }
      if (!it.value().isArray())
        return bad(QStringLiteral("header \"%1\" is not a list of strings").arg(it.key()));
      for (const QJsonValue& v : it.value().toArray()) {
        if (!v.isString())
          return bad(QStringLiteral("header \"%1\" is not a list of strings").arg(it.key()));
        m.headers.append({it.key(), v.toString()});
      }
    }
  }
  // The message's stored time, as nats.go reports it (it writes a zero mtime); the JSON mtime
  // (the JavaScript client's clock) only when the message has none.
  m.modified = fromNs(natsMsg_GetTime(raw));
  if (!m.modified.isValid()) m.modified = parseMtime(j.value(QLatin1String("mtime")).toString());
  return m;
}

Status NatsObjectStore::publishMeta(const QString& name, const QByteArray& json) {
  const QByteArray subject = metaSubject(name);
  natsMsg* raw = nullptr;
  HL_RETURN_IF_ERROR(fromNats(
      natsMsg_Create(&raw, subject.constData(), nullptr, json.constData(), int(json.size())),
      "create the metadata message"));
  NatsMsgPtr msg(raw);
  // Rollup of the subject: the new metadata replaces every earlier one of this name.
  HL_RETURN_IF_ERROR(
      fromNats(natsMsgHeader_Set(raw, "Nats-Rollup", "sub"), "set the rollup header"));
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MaxWait = kApiWaitMs;
  jsPubAck* pa = nullptr;
  jsErrCode jerr = jsErrCode(0);
  const natsStatus s = js_PublishMsg(&pa, m_js, raw, &po, &jerr);
  JsPubAckPtr ack(pa);
  return fromNats(s, QStringLiteral("publish the metadata of \"%1\"").arg(name), jerr);
}

Status NatsObjectStore::purgeSubject(const QByteArray& subject) {
  jsOptions o;
  jsOptions_Init(&o);
  o.Wait = kApiWaitMs;
  o.Stream.Purge.Subject = subject.constData();
  jsErrCode jerr = jsErrCode(0);
  return fromNats(js_PurgeStream(m_js, streamName().constData(), &o, &jerr),
                  "purge " + QString::fromUtf8(subject), jerr);
}

Status NatsObjectStore::waitPublished(int timeoutMs) {
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MaxWait = timeoutMs;
  return fromNats(js_PublishAsyncComplete(m_js, &po), "wait for the chunk acknowledgements");
}

Status NatsObjectStore::put(const QString& name, QIODevice& source, qint64 size,
                            const QList<QPair<QString, QString>>& headers,
                            const TransferProgress& progress) {
  const QString what = QStringLiteral("%1: put %2").arg(describe(), name);
  HL_RETURN_IF_ERROR(validateObjectName(name));
  if (size < 0) return Status::invalidArgument(QStringLiteral("%1: size %2").arg(what).arg(size));
  HL_RETURN_IF_ERROR(connect());
  // Checked again on every put (one request): the stream may have been deleted since, and is
  // then made again rather than each put failing with "no responders".
  m_streamOpen = false;
  HL_RETURN_IF_ERROR(openStream(true));

  // The object this put replaces: its chunks are purged once the new metadata is stored.
  QString oldNuid;
  if (auto old = readMeta(name); old.ok()) {
    if (!old->deleted && !old->isLink) oldNuid = old->nuid;
  } else if (old.status().code() == Status::Code::kCorruption) {
    qCWarning(lcObjectStore).noquote()
        << what << "replaces unreadable metadata; its chunks, if any, stay in the stream:"
        << old.status().message();
  } else if (old.status().code() != Status::Code::kNotFound) {
    return old.status().withContext(what);
  }

  auto nuid = nextNuid();
  if (!nuid) return nuid.status().withContext(what);
  const QByteArray chunkSubj = chunkSubject(*nuid);
  // A server with a max_payload below our chunk size (rare; the default is 1 MB) gets smaller
  // chunks, as the JavaScript client does; readers do not depend on the chunk size.
  qint64 chunkSize = kChunkSize;
  if (const int64_t maxPayload = natsConnection_GetMaxPayload(m_nc); maxPayload > 0)
    chunkSize = std::min<qint64>(chunkSize, std::max<int64_t>(1024, maxPayload - 1024));

  // Chunks are published asynchronously, at most kMaxInFlight unacknowledged: measured on a
  // local server 1.3 to 1.9 times faster than waiting for each ack (200 MB: about 500 against
  // 270 MB/s), with memory still bounded (nats.c holds the in-flight messages, 4 MiB).
  // Failures come back through m_async.
  m_async->start(chunkSubj);
  // Every failure after the first chunk was sent ends here: wait until nothing is in flight
  // (so no chunk lands after the purge), then purge this put's chunks. The previous object's
  // metadata and chunks were never touched.
  auto abandon = [&](const Status& why) {
    if (natsConnection_Status(m_nc) == NATS_CONN_STATUS_CONNECTED) {
      const Status waited = waitPublished(kApiWaitMs);
      if (Status p = purgeSubject(chunkSubj); !p.isOk() || !waited.isOk())
        qCWarning(lcObjectStore).noquote()
            << what << "could not remove its partial chunks:" << (p.isOk() ? waited : p).message();
    }
    return why.withContext(what);
  };

  Sha256 sha;
  QByteArray buf(int(chunkSize), Qt::Uninitialized);
  qint64 done = 0;
  qint64 chunks = 0;
  while (done < size) {
    const qint64 n = readFull(source, buf.data(), std::min(chunkSize, size - done));
    if (n < 0)
      return abandon(
          Status::ioError(QStringLiteral("read the source: %1").arg(source.errorString())));
    if (n == 0)
      return abandon(Status::ioError(
          QStringLiteral("the source ended after %1 of %2 bytes").arg(done).arg(size)));
    sha.add(buf.constData(), n);
    natsMsg* raw = nullptr;
    if (Status st =
            fromNats(natsMsg_Create(&raw, chunkSubj.constData(), nullptr, buf.constData(), int(n)),
                     "create a chunk message");
        !st.isOk())
      return abandon(st);
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = kApiWaitMs;
    const natsStatus s = js_PublishMsgAsync(m_js, &raw, &po);
    natsMsg_Destroy(raw);  // still ours when the call failed, NULL otherwise
    if (s != NATS_OK) return abandon(fromNats(s, "publish a chunk"));
    if (Status st = m_async->error(); !st.isOk()) return abandon(st);
    done += n;
    ++chunks;
    if (progress && !progress(done, size))
      return abandon(
          Status::cancelled(QStringLiteral("cancelled after %1 of %2 bytes").arg(done).arg(size)));
  }
  if (Status st = waitPublished(kApiWaitMs); !st.isOk()) return abandon(st);
  if (Status st = m_async->error(); !st.isOk()) return abandon(st);
  const QByteArray sha256 = sha.result();
  if (sha256.isEmpty())
    return abandon(Status::internal(QStringLiteral("SHA-256 failed (OpenSSL)")));

  // The metadata, with the fields nats.go writes (ObjectInfo); description and deleted are
  // omitted when empty, as Go's omitempty does.
  QJsonObject meta;
  meta.insert(QStringLiteral("name"), name);
  if (!headers.isEmpty()) meta.insert(QStringLiteral("headers"), headersJson(headers));
  meta.insert(QStringLiteral("options"),
              QJsonObject{{QStringLiteral("max_chunk_size"), double(chunkSize)}});
  meta.insert(QStringLiteral("bucket"), m_bucket);
  meta.insert(QStringLiteral("nuid"), *nuid);
  meta.insert(QStringLiteral("size"), double(size));
  meta.insert(QStringLiteral("mtime"), rfc3339Ns(nowNs()));
  meta.insert(QStringLiteral("chunks"), double(chunks));
  meta.insert(QStringLiteral("digest"), digestOf(sha256));
  if (Status st = publishMeta(name, QJsonDocument(meta).toJson(QJsonDocument::Compact));
      !st.isOk()) {
    // A timeout leaves it open whether the server stored the metadata. If it did, the new
    // object is live and its chunks must stay; if we cannot tell, orphaned chunks are the
    // lesser harm than an object without its chunks.
    auto now = readMeta(name);
    if (now.ok() && now->nuid == *nuid) {
      qCInfo(lcObjectStore).noquote() << what << "stored although publishing said:" << st.message();
    } else if (now.ok() || now.status().code() == Status::Code::kNotFound) {
      return abandon(st);
    } else {
      return st.withContext(what);
    }
  }
  if (!oldNuid.isEmpty() && oldNuid != *nuid) {
    // The new object is live; failing to clean up the old chunks does not undo that.
    if (Status st = purgeSubject(chunkSubject(oldNuid)); !st.isOk())
      qCWarning(lcObjectStore).noquote()
          << what << "stored; the replaced object's chunks remain:" << st.message();
  }
  return Status::ok();
}

Status NatsObjectStore::get(const QString& name, QIODevice& sink,
                            const TransferProgress& progress) {
  return getObject(name, sink, progress, 0);
}

Status NatsObjectStore::getObject(const QString& name, QIODevice& sink,
                                  const TransferProgress& progress, int depth) {
  const QString what = QStringLiteral("%1: get %2").arg(describe(), name);
  HL_RETURN_IF_ERROR(validateObjectName(name));
  HL_RETURN_IF_ERROR(connect());
  if (Status st = openStream(false); !st.isOk()) {
    if (st.code() == Status::Code::kNotFound)
      return Status::notFound(QStringLiteral("%1: no such object (no bucket)").arg(what));
    return st.withContext(what);
  }
  auto meta = readMeta(name);
  if (!meta) return meta.status().withContext(what);
  if (meta->deleted)
    return Status::notFound(QStringLiteral("%1: the object was removed").arg(what));
  if (meta->isLink) {
    if (meta->linkName.isEmpty())
      return Status::invalidArgument(
          QStringLiteral("%1: a link to the whole bucket %2, not to an object")
              .arg(what, meta->linkBucket));
    if (depth >= kMaxLinkDepth)
      return Status::corruption(
          QStringLiteral("%1: more than %2 links in a row (a loop?)").arg(what).arg(kMaxLinkDepth));
    Status st;
    if (meta->linkBucket == m_bucket) {
      st = getObject(meta->linkName, sink, progress, depth + 1);
    } else {
      NatsObjectStore other(m_nc, meta->linkBucket, m_replicas);
      st = other.getObject(meta->linkName, sink, progress, depth + 1);
    }
    return st.withContext(
        QStringLiteral("%1: link to %2/%3").arg(what, meta->linkBucket, meta->linkName));
  }
  if (meta->size > 0 && meta->nuid.isEmpty())
    return Status::corruption(QStringLiteral("%1: the metadata has no nuid").arg(what));
  const Status st = m_allowDirect ? readChunksDirect(*meta, sink, progress)
                                  : readChunksOrdered(*meta, sink, progress);
  return st.withContext(what);
}

Status NatsObjectStore::checkRead(const Meta& meta, qint64 done, const QByteArray& sha256) {
  if (sha256.isEmpty()) return Status::internal(QStringLiteral("SHA-256 failed (OpenSSL)"));
  if (done != meta.size)
    return Status::corruption(
        QStringLiteral("the chunks hold %1 bytes, the metadata says %2").arg(done).arg(meta.size));
  const QString actual = digestOf(sha256);
  const auto expected = parseDigest(meta.digest);
  if (!expected) {
    // Nothing to compare an empty object with is not worth failing a read for.
    if (meta.size == 0 && meta.digest.isEmpty()) return Status::ok();
    return Status::corruption(
        QStringLiteral("the metadata's digest \"%1\" is not a SHA-256 digest (read %2)")
            .arg(meta.digest, actual));
  }
  if (*expected != sha256)
    return Status::corruption(
        QStringLiteral("digest mismatch: the metadata says %1, the chunks read give %2")
            .arg(meta.digest, actual));
  return Status::ok();
}

Status NatsObjectStore::readChunksDirect(const Meta& meta, QIODevice& sink,
                                         const TransferProgress& progress) {
  // One direct get per chunk, each asking for the next message on the chunk subject after
  // the previous one: a request at a time, so memory stays at one chunk whatever the size
  // and however slow the sink, and any replica may answer. (An ordered consumer, as nats.go
  // reads, was measured 1.3 to 1.6 times faster but held 20-30 MiB more.)
  const QByteArray subject = chunkSubject(meta.nuid);
  const QByteArray stream = streamName();
  auto next = [&](uint64_t from, NatsMsgPtr* out) {
    jsDirectGetMsgOptions dg;
    jsDirectGetMsgOptions_Init(&dg);
    dg.Sequence = from;
    dg.NextBySubject = subject.constData();
    natsMsg* raw = nullptr;
    const natsStatus s = js_DirectGetMsg(&raw, m_js, stream.constData(), nullptr, &dg);
    out->reset(raw);
    return fromNats(s, QStringLiteral("read chunk %1").arg(QString::fromUtf8(subject)));
  };
  Sha256 sha;
  uint64_t from = 1;
  qint64 done = 0;
  for (qint64 i = 0; i < meta.chunks; ++i) {
    NatsMsgPtr msg;
    Status st = next(from, &msg);
    for (int retry = 0; st.code() == Status::Code::kNotFound && retry < kMissingChunkRetries;
         ++retry) {
      QThread::msleep(100);
      st = next(from, &msg);
    }
    if (st.code() == Status::Code::kNotFound)
      return Status::corruption(
          QStringLiteral("chunk %1 of %2 is missing").arg(i + 1).arg(meta.chunks));
    HL_RETURN_IF_ERROR(st);
    const uint64_t seq = natsMsg_GetSequence(msg.get());
    if (seq < from)
      return Status::internal(
          QStringLiteral("a direct get answered sequence %1 for %2 or later").arg(seq).arg(from));
    from = seq + 1;
    const int len = natsMsg_GetDataLength(msg.get());
    if (done + len > meta.size)
      return Status::corruption(
          QStringLiteral("the chunks hold more than the %1 bytes the metadata says")
              .arg(meta.size));
    sha.add(natsMsg_GetData(msg.get()), len);
    if (len > 0 && sink.write(natsMsg_GetData(msg.get()), len) != len)
      return Status::ioError(QStringLiteral("write to the sink: %1").arg(sink.errorString()));
    done += len;
    if (progress && !progress(done, meta.size))
      return Status::cancelled(
          QStringLiteral("cancelled after %1 of %2 bytes").arg(done).arg(meta.size));
  }
  // A chunk beyond the count means the subject does not hold what the metadata describes.
  NatsMsgPtr extra;
  if (Status st = next(from, &extra); st.isOk())
    return Status::corruption(
        QStringLiteral("there are more chunks than the %1 the metadata says").arg(meta.chunks));
  else if (st.code() != Status::Code::kNotFound)
    return st;
  return checkRead(meta, done, sha.result());
}

Status NatsObjectStore::readChunksOrdered(const Meta& meta, QIODevice& sink,
                                          const TransferProgress& progress) {
  // For a stream without direct gets (made by an old client): an ordered consumer, as
  // nats.go reads. The server's flow control bounds what waits in nats.c for a slow sink
  // (about 30 MiB measured), not one chunk as with direct gets, hence only the fallback.
  Sha256 sha;
  qint64 done = 0;
  if (meta.chunks == 0) return checkRead(meta, done, sha.result());
  const QByteArray subject = chunkSubject(meta.nuid);
  const QByteArray stream = streamName();
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = stream.constData();
  so.Ordered = true;
  so.Config.DeliverPolicy = js_DeliverAll;
  natsSubscription* raw = nullptr;
  jsErrCode jerr = jsErrCode(0);
  HL_RETURN_IF_ERROR(
      fromNats(js_SubscribeSync(&raw, m_js, subject.constData(), nullptr, &so, &jerr),
               "subscribe to the chunks", jerr));
  NatsSubscriptionPtr sub(raw);
  uint64_t pending = 0;
  for (qint64 i = 0; i < meta.chunks; ++i) {
    natsMsg* m = nullptr;
    const natsStatus s = natsSubscription_NextMsg(&m, sub.get(), kApiWaitMs);
    NatsMsgPtr msg(m);
    if (s == NATS_TIMEOUT && i > 0 && pending == 0)
      return Status::corruption(
          QStringLiteral("chunk %1 of %2 is missing").arg(i + 1).arg(meta.chunks));
    HL_RETURN_IF_ERROR(fromNats(s, "read a chunk"));
    jsMsgMetaData* md = nullptr;
    if (natsMsg_GetMetaData(&md, m) == NATS_OK && md) {
      pending = md->NumPending;
      jsMsgMetaData_Destroy(md);
    }
    if (pending == 0 && i + 1 < meta.chunks)
      return Status::corruption(
          QStringLiteral("only %1 of %2 chunks are stored").arg(i + 1).arg(meta.chunks));
    const int len = natsMsg_GetDataLength(m);
    if (done + len > meta.size)
      return Status::corruption(
          QStringLiteral("the chunks hold more than the %1 bytes the metadata says")
              .arg(meta.size));
    sha.add(natsMsg_GetData(m), len);
    if (len > 0 && sink.write(natsMsg_GetData(m), len) != len)
      return Status::ioError(QStringLiteral("write to the sink: %1").arg(sink.errorString()));
    done += len;
    if (progress && !progress(done, meta.size))
      return Status::cancelled(
          QStringLiteral("cancelled after %1 of %2 bytes").arg(done).arg(meta.size));
  }
  natsSubscription_Unsubscribe(sub.get());
  if (pending > 0)
    return Status::corruption(
        QStringLiteral("there are more chunks than the %1 the metadata says").arg(meta.chunks));
  return checkRead(meta, done, sha.result());
}

Result<QList<StoreObject>> NatsObjectStore::list() {
  const QString what = describe() + QStringLiteral(": list");
  HL_RETURN_IF_ERROR(connect());
  if (Status st = openStream(false); !st.isOk()) {
    if (st.code() == Status::Code::kNotFound) return QList<StoreObject>{};  // nothing put yet
    return st.withContext(what);
  }
  // The metadata subjects that hold a message, then the last message of each: no chunk is
  // read, and a metadata message that cannot be parsed costs only its own object.
  const QByteArray filter = "$O." + m_bucket.toUtf8() + ".M.>";
  jsOptions o;
  jsOptions_Init(&o);
  o.Wait = kApiWaitMs;
  o.Stream.Info.SubjectsFilter = filter.constData();
  jsStreamInfo* si = nullptr;
  jsErrCode jerr = jsErrCode(0);
  const natsStatus s = js_GetStreamInfo(&si, m_js, streamName().constData(), &o, &jerr);
  JsStreamInfoPtr info(si);
  HL_RETURN_IF_ERROR(fromNats(s, "stream info", jerr).withContext(what));
  QList<Meta> metas;
  const jsStreamStateSubjects* subjects = info->State.Subjects;
  const int prefix = filter.size() - 1;
  for (int i = 0; subjects && i < subjects->Count; ++i) {
    const QByteArray subject(subjects->List[i].Subject);
    const QString name = QString::fromUtf8(
        QByteArray::fromBase64(subject.mid(prefix), QByteArray::Base64UrlEncoding));
    auto meta = readMetaSubject(subject, name);
    if (!meta) {
      if (meta.status().code() == Status::Code::kNotFound) continue;  // removed meanwhile
      if (meta.status().code() != Status::Code::kCorruption) return meta.status().withContext(what);
      qCWarning(lcObjectStore).noquote() << what << "skips an object:" << meta.status().message();
      continue;
    }
    if (!meta->deleted) metas.append(std::move(*meta));
  }
  QMap<QString, const Meta*> byName;
  for (const Meta& m : metas) byName.insert(m.name, &m);
  QList<StoreObject> out;
  for (const Meta& m : metas) {
    StoreObject o;
    o.name = m.name;
    o.size = m.size;
    o.modified = m.modified;
    o.digest = m.digest;
    o.headers = m.headers;
    if (m.isLink) {
      // A link in this bucket shows its target's size and digest; one to another bucket is
      // named "<bucket>:<object>" (':' is never part of an object name).
      o.linkTo = m.linkBucket == m_bucket ? m.linkName : m.linkBucket + ':' + m.linkName;
      const Meta* target = m.linkBucket == m_bucket ? byName.value(m.linkName) : nullptr;
      o.size = target ? target->size : -1;
      o.digest = target ? target->digest : QString();
    }
    out.append(std::move(o));
  }
  return out;
}

Status NatsObjectStore::remove(const QString& name) {
  const QString what = QStringLiteral("%1: remove %2").arg(describe(), name);
  HL_RETURN_IF_ERROR(validateObjectName(name));
  HL_RETURN_IF_ERROR(connect());
  if (Status st = openStream(false); !st.isOk()) {
    if (st.code() == Status::Code::kNotFound)
      return Status::notFound(QStringLiteral("%1: no such object (no bucket)").arg(what));
    return st.withContext(what);
  }
  auto meta = readMeta(name);
  if (!meta && meta.status().code() == Status::Code::kCorruption) {
    // Metadata nobody can read names no chunks we could purge; removing the metadata subject
    // itself is the only way to get rid of the object.
    qCWarning(lcObjectStore).noquote()
        << what << "purges unreadable metadata:" << meta.status().message();
    return purgeSubject(metaSubject(name)).withContext(what);
  }
  if (!meta) return meta.status().withContext(what);
  if (meta->deleted) return Status::notFound(QStringLiteral("%1: no such object").arg(what));
  // A delete marker as the official clients write it: the same metadata, deleted, empty.
  QJsonObject json = meta->json;
  json.insert(QStringLiteral("deleted"), true);
  json.insert(QStringLiteral("size"), 0);
  json.insert(QStringLiteral("chunks"), 0);
  json.insert(QStringLiteral("digest"), QString());
  json.insert(QStringLiteral("mtime"), rfc3339Ns(nowNs()));
  HL_RETURN_IF_ERROR(
      publishMeta(name, QJsonDocument(json).toJson(QJsonDocument::Compact)).withContext(what));
  if (!meta->nuid.isEmpty() && !meta->isLink) {
    if (Status st = purgeSubject(chunkSubject(meta->nuid)); !st.isOk())
      qCWarning(lcObjectStore).noquote() << what << "removed; its chunks remain:" << st.message();
  }
  return Status::ok();
}

Status NatsObjectStore::copy(const QString& from, const QString& to) {
  const QString what = QStringLiteral("%1: copy %2 to %3").arg(describe(), from, to);
  HL_RETURN_IF_ERROR(validateObjectName(from));
  HL_RETURN_IF_ERROR(validateObjectName(to));
  HL_RETURN_IF_ERROR(connect());
  if (Status st = openStream(false); !st.isOk()) {
    if (st.code() == Status::Code::kNotFound)
      return Status::notFound(QStringLiteral("%1: no object %2 (no bucket)").arg(what, from));
    return st.withContext(what);
  }
  auto src = readMeta(from);
  if (!src) return src.status().withContext(what);
  if (src->deleted) return Status::notFound(QStringLiteral("%1: no object %2").arg(what, from));
  // Official clients refuse a link to a link; a copy of a link is a link to its target.
  QString linkBucket = m_bucket;
  QString linkName = from;
  if (src->isLink) {
    linkBucket = src->linkBucket;
    linkName = src->linkName;
  }
  if (linkBucket == m_bucket && linkName == to) return Status::ok();  // `to` already reads so

  QString oldNuid;
  if (auto old = readMeta(to); old.ok()) {
    if (!old->deleted && !old->isLink) oldNuid = old->nuid;
  } else if (old.status().code() != Status::Code::kNotFound &&
             old.status().code() != Status::Code::kCorruption) {
    return old.status().withContext(what);
  }
  auto nuid = nextNuid();
  if (!nuid) return nuid.status().withContext(what);
  // As nats.go's AddLink writes it: a fresh nuid, no chunks, no digest.
  QJsonObject link{{QStringLiteral("bucket"), linkBucket}};
  if (!linkName.isEmpty()) link.insert(QStringLiteral("name"), linkName);
  QJsonObject meta;
  meta.insert(QStringLiteral("name"), to);
  meta.insert(QStringLiteral("options"), QJsonObject{{QStringLiteral("link"), link}});
  meta.insert(QStringLiteral("bucket"), m_bucket);
  meta.insert(QStringLiteral("nuid"), *nuid);
  meta.insert(QStringLiteral("size"), 0);
  meta.insert(QStringLiteral("mtime"), rfc3339Ns(nowNs()));
  meta.insert(QStringLiteral("chunks"), 0);
  HL_RETURN_IF_ERROR(
      publishMeta(to, QJsonDocument(meta).toJson(QJsonDocument::Compact)).withContext(what));
  if (!oldNuid.isEmpty()) {
    if (Status st = purgeSubject(chunkSubject(oldNuid)); !st.isOk())
      qCWarning(lcObjectStore).noquote()
          << what << "linked; the replaced object's chunks remain:" << st.message();
  }
  return Status::ok();
}

}  // namespace hl
