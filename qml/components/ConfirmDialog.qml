// Asks before a control that loses data; calls `action` only on "Yes".
import QtQuick
import QtQuick.Controls

Dialog {
  id: dialog
  property string message
  property var action: null
  modal: true
  anchors.centerIn: Overlay.overlay
  standardButtons: Dialog.Yes | Dialog.Cancel
  width: 440

  function ask(title, message, action) {
    dialog.title = title
    dialog.message = message
    dialog.action = action
    open()
  }

  Label {
    text: dialog.message
    wrapMode: Text.WordWrap
    width: parent.width
  }
  onAccepted: {
    const act = dialog.action  // a local: qmllint does not call a var property
    if (act) act()
    dialog.action = null
  }
  onRejected: dialog.action = null
}
