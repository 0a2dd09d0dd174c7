// Column titles of a list; `columns` is a list of [title, width] pairs, width -1 fills.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

Rectangle {
  id: table
  property var columns: []
  color: Theme.surfaceAlt
  implicitHeight: 30
  border.color: Theme.border
  RowLayout {
    anchors.fill: parent
    anchors.leftMargin: Theme.padding
    anchors.rightMargin: Theme.padding
    spacing: Theme.spacing
    Repeater {
      model: table.columns
      Label {
        required property var modelData
        text: modelData[0]
        color: Theme.textMuted
        font.pixelSize: Theme.fontSmall
        font.bold: true
        Layout.preferredWidth: modelData[1] > 0 ? modelData[1] : -1
        Layout.fillWidth: modelData[1] <= 0
        elide: Text.ElideRight
      }
    }
  }
}
