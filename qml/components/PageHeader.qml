// A page's title line, with room for its controls on the right.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

RowLayout {
  id: header
  property string title
  property string subtitle
  default property alias tools: tools.data
  spacing: Theme.spacing
  ColumnLayout {
    spacing: 2
    Layout.fillWidth: true
    Label { text: header.title; font.pixelSize: Theme.fontTitle; font.bold: true; color: Theme.text }
    Label {
      text: header.subtitle
      visible: text.length > 0
      color: Theme.textMuted
      font.pixelSize: Theme.fontSmall
      elide: Text.ElideMiddle
      Layout.fillWidth: true
    }
  }
  RowLayout { id: tools; spacing: 8 }
}
