#include "event_model.h"

namespace hl {

int EventModel::rowCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : int(m_rows.size());
}

QVariant EventModel::data(const QModelIndex& index, int role) const {
  if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
    return {};
  const Event& e = m_all.at(m_rows.at(index.row()));
  switch (role) {
    case Qt::DisplayRole:
    case kTitleRole:
      return e.title;
    case kTimeRole:
      return e.at.toLocalTime().toString(QStringLiteral("yyyy-MM-dd HH:mm:ss"));
    case kKindRole:
      return QVariant::fromValue(e.kind);
    case kDetailRole:
      return e.detail;
    case kRefIdRole:
      return QVariant::fromValue<qlonglong>(e.refId);
    case kOpenRole:
      return e.open;
    default:
      return {};
  }
}

QHash<int, QByteArray> EventModel::roleNames() const {
  return {{kTimeRole, "time"},     {kKindRole, "kind"},   {kTitleRole, "title"},
          {kDetailRole, "detail"}, {kRefIdRole, "refId"}, {kOpenRole, "open"}};
}

bool EventModel::matches(const Event& e) const {
  if (m_kind && e.kind != *m_kind) return false;
  if (m_text.isEmpty()) return true;
  return e.title.contains(m_text, Qt::CaseInsensitive) ||
         e.detail.contains(m_text, Qt::CaseInsensitive);
}

void EventModel::refilter() {
  beginResetModel();
  m_rows.clear();
  for (int i = 0; i < m_all.size(); ++i)
    if (matches(m_all[i])) m_rows.append(i);
  endResetModel();
  emit countChanged();
}

void EventModel::add(Event event) {
  if (m_all.size() >= kMaxEvents) {
    // Drop the oldest; it is the last row when it passes the filter.
    const int oldest = int(m_all.size()) - 1;
    if (!m_rows.isEmpty() && m_rows.last() == oldest) {
      beginRemoveRows({}, int(m_rows.size()) - 1, int(m_rows.size()) - 1);
      m_rows.removeLast();
      m_all.removeLast();
      endRemoveRows();
    } else {
      m_all.removeLast();
    }
  }
  const bool visible = matches(event);
  if (visible) beginInsertRows({}, 0, 0);
  m_all.prepend(std::move(event));
  for (int& r : m_rows) ++r;
  if (visible) {
    m_rows.prepend(0);
    endInsertRows();
  }
  emit countChanged();
}

void EventModel::closeDeadLetter(qint64 id) {
  for (int i = 0; i < m_all.size(); ++i) {
    Event& e = m_all[i];
    if (e.kind != Kind::DeadLetter || !e.open || e.refId != id) continue;
    e.open = false;
    const int row = int(m_rows.indexOf(i));
    if (row >= 0) emit dataChanged(index(row), index(row), {kOpenRole});
  }
}

void EventModel::setKindFilter(Kind kind) {
  setKind(kind);
}
void EventModel::clearKindFilter() {
  setKind(std::nullopt);
}

void EventModel::setKind(std::optional<Kind> kind) {
  if (kind == m_kind) return;
  m_kind = kind;
  refilter();
  emit filterChanged();
}

void EventModel::setTextFilter(const QString& text) {
  if (text == m_text) return;
  m_text = text;
  refilter();
  emit filterChanged();
}

}  // namespace hl
