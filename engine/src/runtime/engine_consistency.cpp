// Engine: the consistency checks this node runs for its operator (the dashboard's Check now and
// Repair, scheduled checks of consistency.interval) and their place in the status
// (docs/consistency.md#in-the-appliance). The check itself is checkClusterConsistency(), on a
// thread of its own; this node answers it through its ConsistencyResponder like every node.
#include <QDateTime>
#include <QLoggingCategory>
#include <QMetaEnum>

#include <algorithm>

#include "harmonylite/engine_thread.h"
#include "runtime/consistency_responder.h"
#include "runtime/engine.h"

Q_DECLARE_LOGGING_CATEGORY(lcEngine)  // engine.cpp

namespace hl {
namespace {

// Per node: "agrees", "differs in T1, T2", or why it could not be compared.
QMap<quint64, QString> agreementOf(const ClusterCheckReport& r) {
  QMap<quint64, QString> out;
  for (const NodeCheck& n : r.nodes)
    out.insert(n.node, n.state == "held"   ? QStringLiteral("agrees")
                       : n.state == "busy" ? QStringLiteral("not comparable: ") + n.reason
                                           : QStringLiteral("no answer"));
  if (r.verdict != "differ") {
    if (r.verdict == "busy")
      for (auto it = out.begin(); it != out.end(); ++it)
        if (*it == "agrees") *it = QStringLiteral("comparable");
    return out;
  }
  QMap<quint64, QStringList> differsIn;
  for (const TableCheck& t : r.tables) {
    if (t.agree) continue;
    // The digest most nodes have; with no majority every node differs.
    QHash<QString, int> votes;
    for (const QString& d : t.digests) ++votes[d];
    QString majority;
    for (auto it = votes.cbegin(); it != votes.cend(); ++it)
      if (2 * it.value() > t.digests.size()) majority = it.key();
    for (auto it = t.digests.cbegin(); it != t.digests.cend(); ++it)
      if (it.value() != majority) differsIn[it.key()] << t.table;
  }
  for (auto it = differsIn.cbegin(); it != differsIn.cend(); ++it)
    out.insert(it.key(), QStringLiteral("differs in ") + it->join(", "));
  return out;
}

QString summaryOf(const ClusterCheckReport& r) {
  if (r.verdict == "agree")
    return QStringLiteral("%1 nodes agree on %2 table(s)").arg(r.nodes.size()).arg(r.tables.size());
  if (r.verdict == "busy") return QStringLiteral("not comparable: ") + r.reason;
  QStringList tables;
  for (const TableCheck& t : r.tables)
    if (!t.agree) tables << QStringLiteral("%1 (%2 row(s))").arg(t.table).arg(t.rows.size());
  return QStringLiteral("the nodes differ: ") + tables.join(", ");
}

}  // namespace

Status Engine::startConsistencyCheck(int control, quint64 repairFrom, bool confirm) {
  using C = EngineThread::Control;
  if (!m_running || !m_consistency)
    return Status::unavailable("the node is not connected to NATS yet");
  if (m_checkThread) return Status::busy("a consistency check is already under way");
  if (C(control) == C::kRepairConsistency) {
    if (repairFrom == 0) return Status::invalidArgument("repair: name the node whose rows win");
    if (!confirm)
      return Status::invalidArgument(
          QStringLiteral("a repair overwrites the other nodes' rows with node %1's: confirm it")
              .arg(repairFrom));
  }
  CheckOptions o;
  o.repairFrom = repairFrom;
  o.cancel = &m_checkCancel;
  // The nodes heard from lately: the check stops waiting for answers once they all answered.
  const qint64 now = QDateTime::currentMSecsSinceEpoch();
  for (const PeerStatus& p : m_peers) o.expectNodes += now - p.lastSeenMs < 10000 ? 1 : 0;
  m_checkCancel = false;
  m_consistencyStatus.running = true;
  const Config config = m_config;
  m_checkThread = QThread::create([this, config, o, control, repairFrom] {
    auto r = checkClusterConsistency(config, o);
    const Status failed = r ? Status::ok() : r.status();
    const ClusterCheckReport report = r ? *r : ClusterCheckReport();
    // Queued to the engine: dropped if the engine is gone (it waits for this thread first).
    QMetaObject::invokeMethod(
        this,
        [this, control, repairFrom, failed, report] {
          onConsistencyChecked(control, repairFrom, failed, report);
        },
        Qt::QueuedConnection);
  });
  m_checkThread->setObjectName(QStringLiteral("hl-check"));
  m_checkThread->start();
  return Status::ok();
}

void Engine::stopConsistencyCheck() {
  m_consistencyTimer.stop();
  if (!m_checkThread) return;
  m_checkCancel = true;  // the check gives up within about 200 ms
  m_checkThread->wait();
  delete m_checkThread;
  m_checkThread = nullptr;
  m_consistencyStatus.running = false;
}

void Engine::onConsistencyChecked(int control, quint64 repairFrom, const Status& failed,
                                  const ClusterCheckReport& r) {
  using C = EngineThread::Control;
  if (m_checkThread) {
    m_checkThread->wait();
    delete m_checkThread;
    m_checkThread = nullptr;
  }
  ConsistencyStatus& st = m_consistencyStatus;
  st.running = false;
  if (!failed.isOk()) {
    st.lastCheckMs = QDateTime::currentMSecsSinceEpoch();
    st.verdict = QStringLiteral("error");
    st.reason = failed.message();
    qCWarning(lcEngine).noquote() << "consistency check failed:" << st.reason;
    emit controlDone(control, false, st.reason);
    emit statusChanged(currentStatus());
    return;
  }
  st.lastCheckMs = r.atMs;
  st.verdict = r.verdict;
  st.reason = r.reason;
  QStringList positions;
  for (auto it = r.target.cbegin(); it != r.target.cend(); ++it)
    positions << QStringLiteral("%1=%2").arg(it.key()).arg(it.value());
  st.positions = positions.join(' ');
  st.elapsedMs = r.elapsedMs;
  st.messages = r.messages;
  st.nodes = agreementOf(r);
  st.tables.clear();
  st.tablesChecked = int(r.tables.size());
  st.tablesDiffering = 0;
  st.rowsDiffering = 0;
  for (const TableCheck& t : r.tables) {
    ConsistencyTableView v;
    v.table = t.table;
    v.agree = t.agree;
    for (auto it = t.digests.cbegin(); it != t.digests.cend(); ++it)
      v.digests << QStringLiteral("node %1: %2").arg(it.key()).arg(it.value());
    for (const DifferingRow& row : t.rows) {
      ConsistencyTableView::Row out{row.key, {}};
      for (auto it = t.digests.cbegin(); it != t.digests.cend(); ++it)
        out.values << QStringLiteral("node %1: %2")
                          .arg(it.key())
                          .arg(row.values.value(it.key(), QStringLiteral("(no such row)")));
      v.rows.append(out);
    }
    v.rowsTruncated = t.rowsTruncated;
    v.locateError = t.locateError;
    st.tablesDiffering += t.agree ? 0 : 1;
    st.rowsDiffering += int(t.rows.size());
    st.tables.append(v);
  }
  QString message = summaryOf(r);
  if (!r.repairs.isEmpty()) {
    QStringList done;
    for (const RepairResult& p : r.repairs)
      done << (p.error.isEmpty() ? QStringLiteral("%1: %2 row(s) published again, %3 delete(s)")
                                       .arg(p.table)
                                       .arg(p.republished)
                                       .arg(p.deleted)
                                 : QStringLiteral("%1: failed: %2").arg(p.table, p.error));
    st.lastRepair = QStringLiteral("from node %1: %2").arg(repairFrom).arg(done.join("; "));
    message = QStringLiteral("repair ") + st.lastRepair;
    // The repair travels as ordinary changes: look again once they had time to arrive.
    QTimer::singleShot(3000, this, [this] {
      if (m_running && !m_checkThread)
        (void)startConsistencyCheck(int(EngineThread::Control::kCheckConsistency), 0, false);
    });
  }
  if (r.verdict == "differ")
    qCWarning(lcEngine).noquote() << "consistency check" << r.id << ":" << message;
  else
    qCInfo(lcEngine).noquote() << "consistency check" << r.id << ":" << message;
  EngineEvent e = EngineEvent::of(EngineEvent::Kind::ConsistencyChecked);
  e.healthy = r.verdict != "differ";
  e.text = message;
  emit event(e);
  const bool ok = C(control) != C::kRepairConsistency ||
                  std::all_of(r.repairs.cbegin(), r.repairs.cend(),
                              [](const RepairResult& p) { return p.error.isEmpty(); });
  emit controlDone(control, ok, message);
  emit statusChanged(currentStatus());
}

void Engine::fillConsistencyStatus(NodeStatus* s) const {
  s->consistency = m_consistencyStatus;
  s->consistency.intervalMs = m_config.consistency.intervalMs;
  if (m_consistency) {
    const ConsistencyResponder::Counts& c = m_consistency->counts();
    s->consistency.holdsAnswered = c.checks;
    s->consistency.holdsBusy = c.busy;
    s->consistency.badRequests = c.badRequests;
    s->consistency.repairsDone = c.repairs;
    s->consistency.longestHoldMs = c.longestHoldMs;
  }
}

}  // namespace hl
