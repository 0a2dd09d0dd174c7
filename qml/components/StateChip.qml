// A small coloured word: a shard's state, a node's health.
import QtQuick
import QtQuick.Controls

Rectangle {
  property string state
  property string tone: state  // the state word whose colours to use
  readonly property alias text: label.text
  radius: 4
  implicitWidth: label.implicitWidth + 14
  implicitHeight: 22
  color: Theme.stateSoftColor(tone)
  Label {
    id: label
    anchors.centerIn: parent
    text: parent.state
    color: Theme.stateColor(parent.tone)
    font.pixelSize: Theme.fontSmall
    font.bold: true
  }
}
