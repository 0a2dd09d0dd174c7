// What a list shows when it has nothing to show: a title and a sentence saying why.
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

ColumnLayout {
  property string title
  property string message
  spacing: 6
  Label {
    text: parent.title
    font.pixelSize: Theme.fontBody
    font.bold: true
    color: Theme.textMuted
    Layout.alignment: Qt.AlignHCenter
  }
  Label {
    text: parent.message
    color: Theme.textMuted
    wrapMode: Text.WordWrap
    horizontalAlignment: Text.AlignHCenter
    Layout.maximumWidth: 520
    Layout.alignment: Qt.AlignHCenter
  }
}
