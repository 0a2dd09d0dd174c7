// The convergence rule (docs/replication.md#applying) as a table: one row per case of what this
// node knows about its own change of a row when a remote change of that row arrives.
#include <QtTest>

#include "replication/convergence.h"

using namespace hl;

Q_DECLARE_METATYPE(hl::OwnPending)
Q_DECLARE_METATYPE(hl::Verdict)
Q_DECLARE_METATYPE(std::optional<quint64>)

class TestConvergence : public QObject {
  Q_OBJECT
 private slots:
  void decide_data() {
    QTest::addColumn<quint64>("remoteSeq");
    QTest::addColumn<std::optional<quint64>>("seenSeq");
    QTest::addColumn<OwnPending>("pending");
    QTest::addColumn<quint64>("ownSeq");
    QTest::addColumn<Verdict>("verdict");
    const std::optional<quint64> none;
    using P = OwnPending;
    using V = Verdict;
    // No own change of the row at all: whatever the sender saw, apply.
    QTest::newRow("no own change") << quint64(10) << none << P::kNone << quint64(0) << V::kApply;
    QTest::newRow("no own change, seen header")
        << quint64(10) << std::optional<quint64>(3) << P::kNone << quint64(0) << V::kApply;
    // Own change waiting to be sent: it will land after the remote one, so it wins.
    QTest::newRow("pending, not sent")
        << quint64(10) << none << P::kNotSent << quint64(0) << V::kSkipLocalNewer;
    QTest::newRow("pending and an older published one")
        << quint64(10) << std::optional<quint64>(9) << P::kNotSent << quint64(4)
        << V::kSkipLocalNewer;
    // Sent before the remote message arrived, no ack yet: its place in the stream is unknown.
    QTest::newRow("in flight") << quint64(10) << none << P::kInFlight << quint64(0) << V::kWait;
    QTest::newRow("in flight, newer published one")
        << quint64(10) << none << P::kInFlight << quint64(12) << V::kWait;
    // The edge case: a publish that timed out may have landed all the same; wait for the retry.
    QTest::newRow("publish timed out but may have landed")
        << quint64(10) << none << P::kLostAck << quint64(0) << V::kWait;
    QTest::newRow("timed out, older published one")
        << quint64(10) << std::optional<quint64>(2) << P::kLostAck << quint64(5) << V::kWait;
    // Published: the stream order decides.
    QTest::newRow("own published later")
        << quint64(10) << none << P::kNone << quint64(11) << V::kSkipLocalNewer;
    QTest::newRow("own published later, sender saw older")
        << quint64(10) << std::optional<quint64>(9) << P::kNone << quint64(11)
        << V::kSkipLocalNewer;
    QTest::newRow("own published earlier, sender had not seen it")
        << quint64(10) << std::optional<quint64>(4) << P::kNone << quint64(5) << V::kApplyOverLocal;
    QTest::newRow("own published earlier, sender had seen it")
        << quint64(10) << std::optional<quint64>(5) << P::kNone << quint64(5) << V::kApply;
    QTest::newRow("own published earlier, sender saw past it")
        << quint64(10) << std::optional<quint64>(8) << P::kNone << quint64(5) << V::kApply;
    // A Go sender sends no Hl-Seen-Seq: an older own change is overwritten without a record.
    QTest::newRow("own published earlier, Go sender")
        << quint64(10) << none << P::kNone << quint64(5) << V::kApply;
    QTest::newRow("sender saw nothing (0), own earlier")
        << quint64(2) << std::optional<quint64>(0) << P::kNone << quint64(1) << V::kApplyOverLocal;
  }
  void decide() {
    QFETCH(quint64, remoteSeq);
    QFETCH(std::optional<quint64>, seenSeq);
    QFETCH(OwnPending, pending);
    QFETCH(quint64, ownSeq);
    QFETCH(Verdict, verdict);
    const Verdict got = decideConvergence({remoteSeq, seenSeq, pending, ownSeq});
    QVERIFY2(got == verdict, verdictName(got));
  }

  void namesAreDistinct() {
    QSet<QString> names;
    for (Verdict v :
         {Verdict::kApply, Verdict::kApplyOverLocal, Verdict::kSkipLocalNewer, Verdict::kWait})
      names.insert(QString::fromLatin1(verdictName(v)));
    QCOMPARE(names.size(), 4);
  }
};

QTEST_GUILESS_MAIN(TestConvergence)
#include "tst_convergence.moc"
