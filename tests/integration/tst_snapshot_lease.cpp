// The snapshot leader lease on a real nats-server (docs/wire-format.md#kv): one leader among
// two and three nodes, renewal, expiry after the TTL when the holder stops renewing (what a
// kill -9 looks like to the others), a record written by a Go node read and respected, a
// malformed record taken over, "not leader" (never a crash) when NATS is gone, and a node that
// needs a restore stepping down.
#include <QtTest>

#include <QDateTime>
#include <QElapsedTimer>

#include "nats/nats_handles.h"
#include "nats_test_client.h"
#include "snapshot/leader_lease.h"
#include "test_support.h"

using namespace hl;

namespace {

constexpr int64_t kTtl = 3000;

struct Node {
  NatsConnectionPtr nc;
  std::unique_ptr<LeaderLease> lease;
};

Node makeNode(const QString& url, uint64_t id) {
  auto nc = test::connectTo({url}, {}, {}, 2000);
  if (!nc) qFatal("connect: %s", qPrintable(nc.status().message()));
  Node n;
  n.nc = std::move(*nc);
  n.lease = std::make_unique<LeaderLease>(n.nc.get(), id, 1);
  return n;
}

int leaders(const QList<LeaseState>& states) {
  int n = 0;
  for (const LeaseState& s : states) n += s.held ? 1 : 0;
  return n;
}

// Puts a raw value under the key, as another program would.
void putRaw(natsConnection* nc, const QByteArray& value) {
  auto js = test::jetStream(nc);
  QVERIFY(js.ok());
  kvStore* kv = nullptr;
  QCOMPARE(js_KeyValue(&kv, js->get(), "e-harmonylite"), NATS_OK);
  uint64_t rev = 0;
  QCOMPARE(kvStore_Put(&rev, kv, "snapshot-leader", value.constData(), int(value.size())), NATS_OK);
  kvStore_Destroy(kv);
}

}  // namespace

class TestSnapshotLease : public QObject {
  Q_OBJECT
 private slots:
  void initTestCase() {
    Status s = m_server.start();
    QVERIFY2(s.isOk(), qPrintable(s.message()));
  }

  void oneLeaderAmongThree() {
    Node a = makeNode(m_server.url(), 1), b = makeNode(m_server.url(), 2),
         c = makeNode(m_server.url(), 3);
    const int64_t now = QDateTime::currentMSecsSinceEpoch();
    QList<LeaseState> st = {a.lease->tryAcquire(kLeaderKey, kTtl, now),
                            b.lease->tryAcquire(kLeaderKey, kTtl, now),
                            c.lease->tryAcquire(kLeaderKey, kTtl, now)};
    QCOMPARE(leaders(st), 1);
    QVERIFY(st[0].held);  // the first to ask creates the key
    QCOMPARE(st[1].holder, uint64_t(1));
    QCOMPARE(st[2].untilMs, now + kTtl);
    // Renewal keeps it; the others still see node 1.
    for (int round = 1; round <= 3; ++round) {
      const int64_t t = now + round * kTtl / 3;
      st = {a.lease->tryAcquire(kLeaderKey, kTtl, t), b.lease->tryAcquire(kLeaderKey, kTtl, t),
            c.lease->tryAcquire(kLeaderKey, kTtl, t)};
      QCOMPARE(leaders(st), 1);
      QVERIFY(st[0].held);
    }
    // Node 1 stops renewing (killed): after the TTL exactly one of the others takes it.
    const int64_t later = now + kTtl + kTtl + 1;
    st = {b.lease->tryAcquire(kLeaderKey, kTtl, later),
          c.lease->tryAcquire(kLeaderKey, kTtl, later)};
    QCOMPARE(leaders(st), 1);
    QVERIFY(st[0].held);
    QCOMPARE(st[1].holder, uint64_t(2));
    // Node 1 comes back: it is not leader while node 2's lease runs.
    QVERIFY(!a.lease->tryAcquire(kLeaderKey, kTtl, later + 1).held);
    b.lease->release(kLeaderKey);
    QVERIFY(a.lease->tryAcquire(kLeaderKey, kTtl, later + 2).held);
    a.lease->release(kLeaderKey);
  }

  // Two nodes asking at the same instant, many times: never two leaders.
  void raceOfTwo() {
    for (int round = 0; round < 20; ++round) {
      Node a = makeNode(m_server.url(), 10), b = makeNode(m_server.url(), 11);
      const int64_t now = QDateTime::currentMSecsSinceEpoch() + round * 10 * kTtl;
      LeaseState sa, sb;
      std::thread t([&] { sb = b.lease->tryAcquire(kLeaderKey, kTtl, now); });
      sa = a.lease->tryAcquire(kLeaderKey, kTtl, now);
      t.join();
      QVERIFY2(leaders({sa, sb}) <= 1, "two leaders at once");
      a.lease->release(kLeaderKey);
      b.lease->release(kLeaderKey);
    }
  }

  // A keeper made ineligible (its node needs a restore) gives the lease up at once and another
  // node's keeper takes it at its next renewal, long before the lease would have run out; made
  // eligible again, it does not take it back from the new holder.
  void ineligibleKeeperStepsDown() {
    constexpr int64_t ttl = 6000;  // renewals every 2 s
    Node a = makeNode(m_server.url(), 21), b = makeNode(m_server.url(), 22);
    LeaseKeeper ka(a.nc.get(), 21, 1, ttl), kb(b.nc.get(), 22, 1, ttl);
    LeaseState sa, sb;
    connect(&ka, &LeaseKeeper::changed, this, [&](const LeaseState& st) { sa = st; });
    connect(&kb, &LeaseKeeper::changed, this, [&](const LeaseState& st) { sb = st; });
    ka.start();
    QTRY_VERIFY_WITH_TIMEOUT(sa.held, 5000);
    kb.start();
    QTRY_VERIFY_WITH_TIMEOUT(!sb.held && sb.holder == 21, 5000);
    QElapsedTimer sinceStepDown;
    sinceStepDown.start();
    ka.setEligible(false);
    QVERIFY(!sa.held);  // at once
    QVERIFY2(sa.error.contains(QLatin1String("not a candidate")), qPrintable(sa.error));
    QTRY_VERIFY_WITH_TIMEOUT(sb.held, 5000);
    QVERIFY2(sinceStepDown.elapsed() < ttl, "node 22 waited for the lease to run out");
    ka.setEligible(true);
    QTRY_VERIFY_WITH_TIMEOUT(sa.error.isEmpty(), 5000);
    QVERIFY(!sa.held);
    QCOMPARE(sa.holder, uint64_t(22));
    kb.stop();
    ka.stop();
  }

  void goRecordIsRespected() {
    Node a = makeNode(m_server.url(), 1);
    const int64_t now = QDateTime::currentMSecsSinceEpoch();
    (void)a.lease->tryAcquire(kLeaderKey, kTtl, now);  // creates the bucket
    a.lease->release(kLeaderKey);
    putRaw(a.nc.get(), encodeLeaseRecord({77, now}));  // what a Go node 77 writes
    LeaseState s = a.lease->tryAcquire(kLeaderKey, kTtl, now + 10);
    QVERIFY(!s.held);
    QCOMPARE(s.holder, uint64_t(77));
    // Expired: taken over with compare-and-set.
    s = a.lease->tryAcquire(kLeaderKey, kTtl, now + kTtl + 1);
    QVERIFY(s.held);
    // A malformed record is no lease.
    putRaw(a.nc.get(), "not cbor");
    QVERIFY(a.lease->tryAcquire(kLeaderKey, kTtl, now + kTtl + 2).held);
    a.lease->release(kLeaderKey);
  }

  void natsGoneIsNotLeader() {
    test::NatsServer server;
    QVERIFY(server.start().isOk());
    Node a = makeNode(server.url(), 5);
    QVERIFY(a.lease->tryAcquire(kLeaderKey, kTtl, QDateTime::currentMSecsSinceEpoch()).held);
    server.kill();
    QElapsedTimer t;
    t.start();
    const LeaseState s = a.lease->tryAcquire(kLeaderKey, kTtl, QDateTime::currentMSecsSinceEpoch());
    QVERIFY(!s.held);
    QVERIFY(!s.error.isEmpty());
    QVERIFY2(t.elapsed() < 10000, "a lease attempt must not hang");
  }

 private:
  test::NatsServer m_server;
};

QTEST_GUILESS_MAIN(TestSnapshotLease)
#include "tst_snapshot_lease.moc"
