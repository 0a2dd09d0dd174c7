// EventModel: what happened on this node, newest first (Events page): conflicts, dead letters,
// errors and state changes. The DashboardController adds events as it notices them in the
// status model; the model keeps the newest kMaxEvents and shows those matching its filter
// (a kind and a text, case-insensitive, over title and detail). Thread: GUI thread only.
#pragma once

#include <QAbstractListModel>
#include <QDateTime>
#include <QList>

namespace hl {

struct DashboardEvent {
  QDateTime at;
  QString kind;     // "conflict", "dead-letter", "error", "state"
  QString title;
  QString detail;
  qint64 refId = 0; // the dead letter's id (retry/discard), 0 otherwise
  bool open = false;  // a dead letter still waiting for retry/discard
};

class EventModel final : public QAbstractListModel {
  Q_OBJECT
  Q_PROPERTY(int count READ rowCount NOTIFY countChanged)
  Q_PROPERTY(int total READ total NOTIFY countChanged)
  Q_PROPERTY(QString kindFilter READ kindFilter WRITE setKindFilter NOTIFY filterChanged)
  Q_PROPERTY(QString textFilter READ textFilter WRITE setTextFilter NOTIFY filterChanged)
 public:
  static constexpr int kMaxEvents = 2000;
  enum Role { kTimeRole = Qt::UserRole + 1, kKindRole, kTitleRole, kDetailRole, kRefIdRole, kOpenRole };
  Q_ENUM(Role)

  using QAbstractListModel::QAbstractListModel;

  int rowCount(const QModelIndex& parent = QModelIndex()) const override;
  QVariant data(const QModelIndex& index, int role) const override;
  QHash<int, QByteArray> roleNames() const override;

  void add(DashboardEvent event);
  // Dead letters no longer in the table (retried or discarded) are closed: no more buttons.
  void closeDeadLettersExcept(const QList<qint64>& openIds);
  int total() const { return int(m_all.size()); }

  QString kindFilter() const { return m_kind; }
  QString textFilter() const { return m_text; }
  void setKindFilter(const QString& kind);
  void setTextFilter(const QString& text);

 signals:
  void countChanged();
  void filterChanged();

 private:
  bool matches(const DashboardEvent& e) const;
  void refilter();

  QList<DashboardEvent> m_all;  // newest first
  QList<int> m_rows;            // indexes into m_all that pass the filter
  QString m_kind;
  QString m_text;
};

}  // namespace hl
