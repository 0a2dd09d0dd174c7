// Publish and apply rates over the last `window` seconds, fed by controller.sampleAdded.
// The only files that import QtCharts live in this folder (QtCharts is deprecated from 6.10).
import QtQuick
import QtCharts
import HarmonyLite.Backend
import HarmonyLite.Components

ChartView {
  id: chart
  required property DashboardController controller  // from the page
  property real window: 120
  property real maxY: 10
  readonly property alias publishSeries: publish
  readonly property alias applySeries: apply
  antialiasing: false
  legend.alignment: Qt.AlignBottom
  backgroundColor: Theme.surface
  plotAreaColor: Theme.surface
  margins { top: 4; bottom: 4; left: 4; right: 4 }

  // Why the axis lines silence qmllint's import/type/property checks (on those lines only): Qt
  // 6.4's QtCharts plugins.qmltypes describes QValueAxis twice and qmllint keeps the deprecated
  // ValuesAxis export, so it resolves neither ValueAxis, its properties, nor an axis set to one.
  ValueAxis { id: xAxis; min: 0; max: chart.window; labelFormat: "%.0f s"; tickCount: 7; labelsColor: Theme.textMuted }  // qmllint disable import type property
  ValueAxis { id: yAxis; min: 0; max: chart.maxY; labelFormat: "%.0f"; labelsColor: Theme.textMuted }  // qmllint disable import type property
  LineSeries { id: publish; name: "published /s"; axisX: xAxis; axisY: yAxis; color: Theme.publishLine; width: 2 }  // qmllint disable type
  LineSeries { id: apply; name: "applied /s"; axisX: xAxis; axisY: yAxis; color: Theme.applyLine; width: 2 }  // qmllint disable type

  // The samples of the window, kept while the chart is hidden (redrawing a hidden chart costs
  // the GUI thread frames: measured with dashboard_bench) and drawn when it shows again.
  property var samples: []

  function add(t, publishRate, applyRate) {
    samples.push([t, publishRate, applyRate])
    while (samples.length > 0 && samples[0][0] < t - window) samples.shift()
    if (!visible) return
    // Visible: one point more, the old ones out (cheaper than redrawing every point).
    publish.append(t, publishRate)
    apply.append(t, applyRate)
    while (publish.count > samples.length) publish.remove(0)
    while (apply.count > samples.length) apply.remove(0)
    scale()
  }

  function scale() {
    let top = 10
    for (const s of samples) top = Math.max(top, s[1], s[2])
    maxY = Math.ceil(top * 1.15)
    const t = samples.length > 0 ? samples[samples.length - 1][0] : 0
    xAxis.min = Math.max(0, t - window)
    xAxis.max = Math.max(window, t)
  }

  function draw() {
    publish.clear()
    apply.clear()
    for (const s of samples) {
      publish.append(s[0], s[1])
      apply.append(s[0], s[2])
    }
    scale()
  }

  onVisibleChanged: if (visible) draw()

  Connections {
    target: chart.controller
    function onSampleAdded(t, publishRate, applyRate, lag) { chart.add(t, publishRate, applyRate) }
  }
}
