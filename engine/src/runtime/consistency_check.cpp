// checkClusterConsistency() (harmonylite/consistency.h): the requester's side of
// docs/consistency.md#protocol, on the caller's thread with its own NATS connection. Each
// request goes out with a fresh inbox as its reply subject and gathers the answers that arrive
// there until every expected node answered or its time is up.
#include <QDateTime>
#include <QElapsedTimer>
#include <QJsonArray>
#include <QJsonDocument>
#include <QSet>
#include <QThread>
#include <QUuid>

#include <algorithm>

#include "consistency/check_protocol.h"
#include "harmonylite/consistency.h"
#include "nats/nats_client.h"
#include "runtime/local_read.h"

namespace hl {
namespace {

// Raises every position of `to` to the one `from` has for the same stream, when higher.
void raiseTo(QMap<QString, quint64>* to, const QMap<QString, quint64>& from) {
  for (auto it = from.cbegin(); it != from.cend(); ++it)
    (*to)[it.key()] = std::max(to->value(it.key()), it.value());
}

class Requester {
 public:
  Requester(natsConnection* nc, QString prefix, int* messages, const std::atomic<bool>* cancel)
      : m_nc(nc), m_prefix(std::move(prefix)), m_messages(messages), m_cancel(cancel) {}

  // Sends `data` on `what` and gathers answers for up to `waitMs`, or until `expect` answered.
  Result<QList<QByteArray>> ask(const QString& what, const QByteArray& data, int waitMs,
                                int expect) {
    natsInbox* inbox = nullptr;
    HL_RETURN_IF_ERROR(fromNats(natsInbox_Create(&inbox), "inbox"));
    const QByteArray in(inbox);
    natsInbox_Destroy(inbox);
    natsSubscription* raw = nullptr;
    HL_RETURN_IF_ERROR(
        fromNats(natsConnection_SubscribeSync(&raw, m_nc, in.constData()), "subscribe to answers"));
    NatsSubscriptionPtr sub(raw);
    const QByteArray subject = check::subject(m_prefix, what);
    HL_RETURN_IF_ERROR(
        fromNats(natsConnection_PublishRequest(m_nc, subject.constData(), in.constData(),
                                               data.constData(), int(data.size())),
                 "publish " + QString::fromUtf8(subject)));
    ++*m_messages;
    QList<QByteArray> out;
    QElapsedTimer t;
    t.start();
    while (expect <= 0 || out.size() < expect) {
      const qint64 left = waitMs - t.elapsed();
      if (left <= 0) break;
      if (m_cancel && m_cancel->load()) return Status::cancelled("the check was stopped");
      natsMsg* msg = nullptr;
      const natsStatus s = natsSubscription_NextMsg(&msg, sub.get(), std::min<qint64>(left, 200));
      if (s == NATS_TIMEOUT) continue;
      if (s != NATS_OK) return fromNats(s, "read answers");
      NatsMsgPtr owned(msg);
      out.append(QByteArray(natsMsg_GetData(msg), natsMsg_GetDataLength(msg)));
      ++*m_messages;
    }
    natsSubscription_Unsubscribe(sub.get());
    return out;
  }

  void tell(const QString& what, const QByteArray& data) {
    const QByteArray subject = check::subject(m_prefix, what);
    if (natsConnection_Publish(m_nc, subject.constData(), data.constData(), int(data.size())) ==
        NATS_OK)
      ++*m_messages;
  }

 private:
  natsConnection* m_nc;
  QString m_prefix;
  int* m_messages;
  const std::atomic<bool>* m_cancel;
};

// The last position of each shard's stream, for the target: no node can be beyond it.
QMap<QString, quint64> streamLasts(natsConnection* nc, const Config& config) {
  QMap<QString, quint64> out;
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = 5000;
  jsCtx* raw = nullptr;
  if (natsConnection_JetStream(&raw, nc, &jo) != NATS_OK) return out;
  JsCtxPtr js(raw);
  for (int shard = 1; shard <= config.replicationLog.shards; ++shard) {
    const QByteArray stream = config.streamName(shard).toUtf8();
    jsStreamInfo* si = nullptr;
    jsErrCode jerr = jsErrCode(0);
    if (js_GetStreamInfo(&si, js.get(), stream.constData(), nullptr, &jerr) != NATS_OK) continue;
    JsStreamInfoPtr info(si);
    out.insert(config.streamName(shard), si->State.LastSeq);
  }
  return out;
}

QString digestText(const check::TableSum& t) {
  return QStringLiteral("%1 rows, digest %2").arg(t.rows).arg(t.digest);
}

// The bucket numbers where not every node has the same digest.
QList<int> differingBuckets(const QList<check::BucketsAnswer>& answers, int buckets) {
  QList<int> out;
  for (int b = 0; b < buckets; ++b) {
    const auto first = answers.first().buckets.value(b);
    for (const check::BucketsAnswer& a : answers)
      if (a.buckets.value(b) != first) {
        out.append(b);
        break;
      }
  }
  return out;
}

// Locates the rows of `t` that differ among `nodes`, all held at the same point.
void locate(Requester& r, const QString& id, const CheckOptions& o, const QList<quint64>& nodes,
            TableCheck* t) {
  check::Request req;
  req.check = id;
  req.table = t->table;
  req.buckets = o.buckets;
  auto raw = r.ask("buckets", check::encode(req), o.answerTimeoutMs, int(nodes.size()));
  if (!raw) {
    t->locateError = raw.status().message();
    return;
  }
  QList<check::BucketsAnswer> answers;
  for (const QByteArray& json : *raw) {
    auto a = check::decodeBuckets(json);
    if (!a) continue;
    if (!a->error.isEmpty() && a->error.contains("not a watched table")) {
      a->buckets.clear();  // the table is missing there: every bucket differs from the rest
      a->error.clear();
    }
    if (!a->error.isEmpty()) {
      t->locateError = QStringLiteral("node %1: %2").arg(a->node).arg(a->error);
      return;
    }
    answers.append(*a);
  }
  if (answers.size() < nodes.size()) {
    t->locateError =
        QStringLiteral("%1 of %2 nodes sent their buckets").arg(answers.size()).arg(nodes.size());
    return;
  }
  req.wanted = differingBuckets(answers, o.buckets);
  req.maxRows = o.maxRows;
  raw = r.ask("rows", check::encode(req), o.answerTimeoutMs, int(nodes.size()));
  if (!raw) {
    t->locateError = raw.status().message();
    return;
  }
  // key -> node -> (values, hash)
  QMap<QString, QHash<quint64, QPair<QString, QString>>> byKey;
  QHash<QString, QByteArray> keyJson;
  QSet<quint64> answered;
  for (const QByteArray& json : *raw) {
    auto a = check::decodeRows(json);
    if (!a) continue;
    answered.insert(a->node);
    if (!a->error.isEmpty() && !a->error.contains("not a watched table")) {
      t->locateError = QStringLiteral("node %1: %2").arg(a->node).arg(a->error);
      return;
    }
    t->rowsTruncated = t->rowsTruncated || a->truncated;
    for (const check::RowAnswer& row : a->rows) {
      byKey[row.keyText].insert(a->node, {row.values, row.hash});
      keyJson.insert(row.keyText,
                     QJsonDocument(check::keyToJson(row.key)).toJson(QJsonDocument::Compact));
    }
  }
  if (answered.size() < nodes.size()) {
    t->locateError =
        QStringLiteral("%1 of %2 nodes sent their rows").arg(answered.size()).arg(nodes.size());
    return;
  }
  for (auto it = byKey.cbegin(); it != byKey.cend(); ++it) {
    bool same = it->size() == nodes.size();
    for (const auto& v : *it) same = same && v.second == it->cbegin()->second;
    if (same) continue;  // in a differing bucket, but this row agrees
    DifferingRow d;
    d.key = it.key();
    d.keyJson = keyJson.value(it.key());
    for (auto n = it->cbegin(); n != it->cend(); ++n) d.values.insert(n.key(), n->first);
    t->rows.append(d);
  }
}

RepairResult repairTable(Requester& r, const ClusterCheckReport& report, const TableCheck& t,
                         quint64 node, int timeoutMs) {
  RepairResult out;
  out.table = t.table;
  out.node = node;
  check::Request req;
  req.check = report.id;
  req.table = t.table;
  for (const DifferingRow& row : t.rows) {
    auto key = check::keyFromJson(QJsonDocument::fromJson(row.keyJson).array());
    if (!key) {
      out.error = key.status().message();
      return out;
    }
    req.keys.append(*key);
  }
  auto raw = r.ask(QStringLiteral("repair.%1").arg(node), check::encode(req), timeoutMs, 1);
  if (!raw) {
    out.error = raw.status().message();
  } else if (raw->isEmpty()) {
    out.error = QStringLiteral("node %1 did not answer").arg(node);
  } else if (auto a = check::decodeRepair(raw->first()); !a) {
    out.error = a.status().message();
  } else {
    out.republished = a->republished;
    out.deleted = a->deleted;
    out.error = a->error;
  }
  return out;
}

}  // namespace

Result<ClusterCheckReport> checkClusterConsistency(const Config& config, const CheckOptions& o) {
  auto nc = connectForCommand(config, QStringLiteral("harmonylite-check-consistency"));
  if (!nc) return nc.status();
  ClusterCheckReport report;
  report.id = QUuid::createUuid().toString(QUuid::Id128).left(16);
  report.atMs = QDateTime::currentMSecsSinceEpoch();
  QElapsedTimer clock;
  clock.start();
  Requester r(nc->get(), config.nats.streamPrefix, &report.messages, o.cancel);
  auto done = [&](const QString& verdict, const QString& reason) {
    report.verdict = verdict;
    report.reason = reason;
    report.elapsedMs = clock.elapsed();
    check::Request end;
    end.check = report.id;
    r.tell("end", check::encode(end));
    natsConnection_Flush(nc->get());
    return report;
  };
  check::Request where;
  where.check = report.id;
  auto raw = r.ask("where", check::encode(where), o.discoverMs, o.expectNodes);
  if (!raw) return raw.status();
  QMap<QString, quint64> reported;
  QList<quint64> nodes;
  for (const QByteArray& json : *raw) {
    auto a = check::decodeAnswer(json);
    if (!a || a->check != report.id || nodes.contains(a->node)) continue;
    nodes.append(a->node);
    raiseTo(&reported, a->positions);
  }
  std::sort(nodes.begin(), nodes.end());
  if (nodes.isEmpty())
    return done("busy", QStringLiteral("no node answered within %1 ms").arg(o.discoverMs));

  QHash<quint64, check::NodeAnswer> held;
  for (report.attempts = 1; report.attempts <= std::max(1, o.attempts); ++report.attempts) {
    check::Request hold;
    hold.check = report.id;
    hold.holdMs = o.holdMs;
    hold.target = reported;
    raiseTo(&hold.target, streamLasts(nc->get(), config));
    report.target = hold.target;
    raw = r.ask("hold", check::encode(hold), o.holdMs + o.answerTimeoutMs, int(nodes.size()));
    if (!raw) return raw.status();
    report.nodes.clear();
    held.clear();
    QStringList busy;
    for (const QByteArray& json : *raw) {
      auto a = check::decodeAnswer(json);
      if (!a || a->check != report.id || !nodes.contains(a->node)) continue;
      report.nodes.append({a->node, a->state, a->reason, a->schemaHash, a->heldMs, a->digestMs});
      if (a->state == "held")
        held.insert(a->node, *a);
      else
        busy << QStringLiteral("node %1: %2").arg(a->node).arg(a->reason);
      raiseTo(&reported, a->positions);
    }
    for (quint64 n : nodes)
      if (std::none_of(report.nodes.cbegin(), report.nodes.cend(),
                       [n](const NodeCheck& c) { return c.node == n; })) {
        report.nodes.append({n, "silent", "no answer", {}, 0, 0});
        busy << QStringLiteral("node %1: no answer").arg(n);
      }
    std::sort(report.nodes.begin(), report.nodes.end(),
              [](const NodeCheck& a, const NodeCheck& b) { return a.node < b.node; });
    if (busy.isEmpty()) break;
    if (report.attempts == std::max(1, o.attempts))
      return done("busy", QStringLiteral("no comparable point in %1 attempt(s); last: %2")
                              .arg(report.attempts)
                              .arg(busy.join("; ")));
    QThread::msleep(50);
  }

  // Every node held at report.target: compare table by table.
  QSet<QString> names;
  for (const check::NodeAnswer& a : held)
    for (const check::TableSum& t : a.tables) names.insert(t.table);
  QStringList sorted(names.cbegin(), names.cend());
  sorted.sort();
  int differing = 0;
  for (const QString& name : sorted) {
    TableCheck t;
    t.table = name;
    QSet<QString> seen;
    for (quint64 n : nodes) {
      const auto& tables = held[n].tables;
      const auto it = std::find_if(tables.cbegin(), tables.cend(),
                                   [&](const check::TableSum& s) { return s.table == name; });
      const QString d = it == tables.cend() ? QStringLiteral("missing") : digestText(*it);
      t.digests.insert(n, d);
      seen.insert(d);
    }
    t.agree = seen.size() == 1;
    if (!t.agree) {
      ++differing;
      locate(r, report.id, o, nodes, &t);
    }
    report.tables.append(t);
  }
  if (o.repairFrom != 0) {
    if (!nodes.contains(o.repairFrom))
      return done("differ",
                  QStringLiteral("node %1 did not take part: nothing repaired").arg(o.repairFrom));
    for (const TableCheck& t : report.tables)
      if (!t.agree && !t.rows.isEmpty())
        report.repairs.append(repairTable(r, report, t, o.repairFrom, o.answerTimeoutMs));
  }
  if (differing == 0) return done("agree", QString());
  return done("differ",
              QStringLiteral("%1 of %2 table(s) differ").arg(differing).arg(sorted.size()));
}

}  // namespace hl
