// A titled white panel; children go into its content column.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

Rectangle {
  id: card
  property string title
  default property alias content: column.data
  property alias headerItems: headerRow.data
  color: Theme.surface
  radius: Theme.radius
  border.color: Theme.border
  implicitHeight: column.implicitHeight + header.implicitHeight + 2 * Theme.padding + Theme.spacing
  implicitWidth: 320

  RowLayout {
    id: header
    anchors { left: parent.left; right: parent.right; top: parent.top; margins: Theme.padding }
    Label {
      text: card.title
      font.pixelSize: Theme.fontBody
      font.bold: true
      color: Theme.text
      Layout.fillWidth: true
    }
    RowLayout { id: headerRow; spacing: 6 }
  }
  ColumnLayout {
    id: column
    anchors { left: parent.left; right: parent.right; top: header.bottom; bottom: parent.bottom
              margins: Theme.padding; topMargin: Theme.spacing }
    spacing: Theme.spacing
  }
}
