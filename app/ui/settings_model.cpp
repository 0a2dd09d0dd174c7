#include "settings_model.h"

namespace hl {

int SettingsModel::rowCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : int(m_entries.size());
}

QVariant SettingsModel::data(const QModelIndex& index, int role) const {
  if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
    return {};
  const ConfigEntry& e = m_entries.at(index.row());
  switch (role) {
    case kSectionRole: {
      // "snapshot.s3.bucket" -> "[snapshot.s3]"; top-level keys -> "top level".
      const qsizetype dot = e.key.lastIndexOf('.');
      return dot < 0 ? QStringLiteral("top level") : '[' + e.key.left(dot) + ']';
    }
    case Qt::DisplayRole:
    case kKeyRole:
      return e.key.mid(e.key.lastIndexOf('.') + 1);
    case kValueRole:
      return e.value;
    case kSecretRole:
      return e.secret;
    default:
      return {};
  }
}

QHash<int, QByteArray> SettingsModel::roleNames() const {
  return {
      {kSectionRole, "section"}, {kKeyRole, "key"}, {kValueRole, "value"}, {kSecretRole, "secret"}};
}

void SettingsModel::setConfig(const Config& config) {
  beginResetModel();
  m_entries = describeConfig(config);
  endResetModel();
  emit countChanged();
}

}  // namespace hl
