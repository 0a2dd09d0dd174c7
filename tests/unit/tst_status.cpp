// Status and Result<T>.
#include <QtTest>

#include "harmonylite/status.h"

using namespace hl;

namespace {
Status failsWith(Status s) {
  HL_RETURN_IF_ERROR(s);
  return Status::internal("not reached");
}
Result<int> half(int v) {
  if (v % 2) return Status::invalidArgument(QStringLiteral("%1 is odd").arg(v));
  return v / 2;
}
}  // namespace

class TestStatus : public QObject {
  Q_OBJECT
 private slots:
  void okAndErrors() {
    QVERIFY(Status::ok().isOk());
    QCOMPARE(Status::ok().toString(), QString("OK"));
    const Status s = Status::busy("db locked");
    QVERIFY(!s.isOk());
    QVERIFY(s.isRetryable());
    QVERIFY(Status::timeout("t").isRetryable());
    QVERIFY(Status::unavailable("u").isRetryable());
    QVERIFY(!Status::poison("p").isRetryable());
    QVERIFY(!Status::invalidArgument("p").isRetryable());
    QCOMPARE(s.withContext("apply batch").message(), QString("apply batch: db locked"));
    QCOMPARE(s.withContext("x").code(), Status::Code::kBusy);
    QCOMPARE(Status::ok().withContext("x").isOk(), true);
    QCOMPARE(Status::corruption("bad").toString(), QString("corruption: bad"));
  }

  void returnIfError() {
    QCOMPARE(failsWith(Status::notFound("nf")).code(), Status::Code::kNotFound);
    QCOMPARE(failsWith(Status::ok()).code(), Status::Code::kInternal);
  }

  void result() {
    auto a = half(8);
    QVERIFY(a.ok());
    QCOMPARE(*a, 4);
    auto b = half(3);
    QVERIFY(!b.ok());
    QCOMPARE(b.status().message(), QString("3 is odd"));
    Result<int> fromOk = Status::ok();  // a programming error, reported, not undefined
    QVERIFY(!fromOk.ok());
    QCOMPARE(fromOk.status().code(), Status::Code::kInternal);
  }
};

QTEST_GUILESS_MAIN(TestStatus)
#include "tst_status.moc"
