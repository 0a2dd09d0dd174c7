// RequestThread (nats/request_thread.h): work runs on its own thread, in order, and its result
// comes back on the receiver's thread; forget() drops results not handed over, skips work not
// begun, tells work under way that it is cancelled, and waits for it.
#include <QThread>
#include <QtTest>

#include <atomic>

#include "nats/request_thread.h"

using namespace hl;

class TestRequestThread : public QObject {
  Q_OBJECT
 private slots:
  void resultsComeBackInOrderOnTheReceiversThread() {
    QObject receiver;
    RequestThread requests(&receiver);
    QList<int> results;
    QList<bool> onReceiver;
    QList<bool> onWorker;
    for (int i = 0; i < 5; ++i)
      requests.run<int>(
          [i, &onWorker] {
            onWorker.append(QThread::currentThread() != qApp->thread());
            return i * i;
          },
          [&](int r) {
            results.append(r);
            onReceiver.append(QThread::currentThread() == qApp->thread());
          });
    QVERIFY(results.isEmpty());  // handed over as queued calls, never inside run()
    QTRY_COMPARE_WITH_TIMEOUT(results.size(), 5, 5000);
    QCOMPARE(results, (QList<int>{0, 1, 4, 9, 16}));
    QCOMPARE(onWorker, (QList<bool>{true, true, true, true, true}));
    QCOMPARE(onReceiver, (QList<bool>{true, true, true, true, true}));
  }

  void forgetDropsResultsAndSkipsWorkNotBegun() {
    QObject receiver;
    RequestThread requests(&receiver);
    std::atomic<bool> begun{false};
    std::atomic<bool> sawCancel{false};
    std::atomic<int> laterRan{0};
    int delivered = 0;
    // Work under way that looks at cancelled() between its "requests" (bounded: 5 s).
    requests.run<int>(
        [&] {
          begun = true;
          QElapsedTimer t;
          t.start();
          while (t.elapsed() < 5000) {
            if (requests.cancelled()) {
              sawCancel = true;
              break;
            }
            QThread::msleep(5);
          }
          return 1;
        },
        [&](int) { ++delivered; });
    requests.run<int>(
        [&] {
          ++laterRan;
          return 2;
        },
        [&](int) { ++delivered; });
    QTRY_VERIFY_WITH_TIMEOUT(begun.load(), 5000);
    QElapsedTimer t;
    t.start();
    requests.forget();
    QVERIFY2(t.elapsed() < 4000, qPrintable(QString::number(t.elapsed())));  // not the 5 s
    QVERIFY(sawCancel.load());
    QCOMPARE(laterRan.load(), 0);  // queued before forget(), not begun: not run
    QTest::qWait(100);             // the queued calls of the receiver's thread run here
    QCOMPARE(delivered, 0);

    // After forget(), new work runs and is handed over as before.
    int after = 0;
    requests.run<int>([] { return 7; }, [&](int r) { after = r; });
    QTRY_COMPARE_WITH_TIMEOUT(after, 7, 5000);
    QCOMPARE(delivered, 0);
  }

  void aResultAlreadyQueuedIsDroppedByForget() {
    QObject receiver;
    RequestThread requests(&receiver);
    std::atomic<bool> done{false};
    int delivered = 0;
    requests.run<int>(
        [&] {
          done = true;
          return 3;
        },
        [&](int) { ++delivered; });
    // The work ends; forget() waits for the job, which queues its result for this thread
    // before it ends, so the result is queued and not yet run when forget() returns.
    QElapsedTimer t;
    t.start();
    while (!done.load() && t.elapsed() < 5000) QThread::msleep(1);
    QVERIFY(done.load());
    requests.forget();
    QTest::qWait(100);
    QCOMPARE(delivered, 0);
  }

  void destroyedWithWorkUnderWay() {
    QObject receiver;
    std::atomic<bool> begun{false};
    std::atomic<bool> ended{false};
    {
      RequestThread requests(&receiver);
      RequestThread* r = &requests;
      requests.run<int>(
          [&, r] {
            begun = true;
            while (!r->cancelled()) QThread::msleep(5);
            ended = true;
            return 0;
          },
          [](int) { QFAIL("handed over after destruction"); });
      QTRY_VERIFY_WITH_TIMEOUT(begun.load(), 5000);
    }  // the destructor waits for the work, which sees that it is cancelled
    QVERIFY(ended.load());
    QTest::qWait(50);
  }
};

QTEST_GUILESS_MAIN(TestRequestThread)
#include "tst_request_thread.moc"
