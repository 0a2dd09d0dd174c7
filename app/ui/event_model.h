// EventModel: what happened on this node, newest first (Events page): conflicts, dead letters,
// errors, warnings and state changes. The DashboardController adds a row per event the engine
// tells (EngineThread::event); the model keeps the newest kMaxEvents and shows those matching its
// filter (one kind or every kind, and a text, case-insensitive, over title and detail).
// QML sees it as the type EventModel of the module HarmonyLite.Backend (controller.events).
// Thread: GUI thread only.
#pragma once

#include <QtQml/qqmlregistration.h>
#include <QAbstractListModel>
#include <QDateTime>
#include <QList>

#include <optional>

namespace hl {

// Not `final`: Qt 6.4's QML registration derives a class from every default-constructible
// registered type (QQmlElement<T>), uncreatable or not.
class EventModel : public QAbstractListModel {
  Q_OBJECT
  QML_ELEMENT
  QML_UNCREATABLE("the DashboardController's events")
  Q_CLASSINFO("RegisterEnumClassesUnscoped", "false")  // EventModel.Kind.DeadLetter, as Hl's
  Q_PROPERTY(int count READ rowCount NOTIFY countChanged)
  Q_PROPERTY(int total READ total NOTIFY countChanged)
  Q_PROPERTY(QString textFilter READ textFilter WRITE setTextFilter NOTIFY filterChanged)
 public:
  // What an event is about, as the Events page groups and colours it (QML:
  // EventModel.Kind.DeadLetter); its word ("dead-letter") is made by the page, at the label.
  // Warning: needs the operator without being a failure (a shard waiting for a schema change).
  // Alert: an alert rule fired or resolved (docs/alerts.md), also those read back from the
  // node's history at start.
  enum class Kind { State, Error, Conflict, DeadLetter, Warning, Alert };
  Q_ENUM(Kind)

  struct Event {
    QDateTime at;
    Kind kind = Kind::State;
    QString title;
    QString detail;
    qint64 refId = 0;   // the dead letter's id (retry/discard), 0 otherwise
    bool open = false;  // a dead letter still waiting for retry/discard
  };

  static constexpr int kMaxEvents = 2000;
  enum Role {
    kTimeRole = Qt::UserRole + 1,
    kKindRole,
    kTitleRole,
    kDetailRole,
    kRefIdRole,
    kOpenRole
  };
  Q_ENUM(Role)

  using QAbstractListModel::QAbstractListModel;

  int rowCount(const QModelIndex& parent = QModelIndex()) const override;
  QVariant data(const QModelIndex& index, int role) const override;
  QHash<int, QByteArray> roleNames() const override;

  void add(Event event);
  // The dead letter `id` was retried or discarded: its row has no more buttons.
  void closeDeadLetter(qint64 id);
  int total() const { return int(m_all.size()); }
  // The event shown at `row` (0 <= row < rowCount()).
  const Event& shown(int row) const { return m_all.at(m_rows.at(row)); }

  // Only events of `kind`, or (clearKindFilter) of every kind.
  Q_INVOKABLE void setKindFilter(hl::EventModel::Kind kind);
  Q_INVOKABLE void clearKindFilter();
  std::optional<Kind> kindFilter() const { return m_kind; }
  QString textFilter() const { return m_text; }
  void setTextFilter(const QString& text);

 signals:
  void countChanged();
  void filterChanged();

 private:
  bool matches(const Event& e) const;
  void setKind(std::optional<Kind> kind);
  void refilter();

  QList<Event> m_all;  // newest first
  QList<int> m_rows;   // indexes into m_all that pass the filter
  std::optional<Kind> m_kind;
  QString m_text;
};

}  // namespace hl
