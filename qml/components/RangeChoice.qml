// The time range of a chart: the last 5 minutes (live), 1 hour or 24 hours (from the node's
// per-minute history, docs/alerts.md#history). `range` is 0, 1 or 2.
pragma ComponentBehavior: Bound  // the buttons use the row's id
import QtQuick
import QtQuick.Controls
import QtQuick.Layouts

RowLayout {
  id: choice
  property int range: 0
  spacing: 2
  Repeater {
    model: [qsTr("5 min"), qsTr("1 h"), qsTr("24 h")]
    Button {
      required property string modelData
      required property int index
      objectName: choice.objectName + "_" + index
      text: modelData
      checkable: true
      checked: choice.range === index
      flat: !checked
      onClicked: choice.range = index
      Accessible.name: qsTr("Show the last %1").arg(modelData)
      Accessible.description: qsTr("The chart shows this time range; 1 h and 24 h come from the node's history")
    }
  }
}
