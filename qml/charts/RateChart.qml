// Publish and apply rates over a time range: the last 5 minutes live (a point per status, from
// controller.sampleAdded), or the last hour or 24 hours from the node's per-minute history
// (controller.history(), read again every minute; docs/alerts.md#history). Clock times on the
// axis. The only files that import QtCharts live in this folder (QtCharts is deprecated from
// 6.10).
import QtQuick
import QtCharts
import HarmonyLite.Backend
import HarmonyLite.Components

ChartView {
  id: chart
  required property DashboardController controller  // from the page
  property int range: 0  // 0: 5 min live, 1: 1 h, 2: 24 h (RangeChoice)
  readonly property var spans: [300, 3600, 86400]  // seconds
  property real maxY: 10
  readonly property alias publishSeries: publish
  readonly property alias applySeries: apply
  antialiasing: false
  legend.alignment: Qt.AlignBottom
  legend.labelColor: Theme.textMuted
  backgroundColor: Theme.surface
  plotAreaColor: Theme.surface
  margins { top: 4; bottom: 4; left: 4; right: 4 }

  // Why the axis lines silence qmllint's import/type/property checks (on those lines only): Qt
  // 6.4's QtCharts plugins.qmltypes describes its axes twice and qmllint keeps the deprecated
  // exports, so it resolves neither the axis types, their properties, nor an axis set to one.
  DateTimeAxis { id: xAxis; format: chart.range === 0 ? "HH:mm:ss" : "HH:mm"; tickCount: 6; labelsColor: Theme.textMuted; gridLineColor: Theme.border }  // qmllint disable import type property
  ValueAxis { id: yAxis; min: 0; max: chart.maxY; labelFormat: "%.0f"; labelsColor: Theme.textMuted; gridLineColor: Theme.border }  // qmllint disable import type property
  LineSeries { id: publish; name: "published /s"; axisX: xAxis; axisY: yAxis; color: Theme.publishLine; width: 2 }  // qmllint disable type
  LineSeries { id: apply; name: "applied /s"; axisX: xAxis; axisY: yAxis; color: Theme.applyLine; width: 2 }  // qmllint disable type

  // The live samples ([epoch ms, published/s, applied/s]) of the last 5 minutes, kept while the
  // chart is hidden or shows history (redrawing a hidden chart costs the GUI thread frames:
  // measured with dashboard_bench) and drawn when the live range shows again.
  property var samples: []

  function add(t, publishRate, applyRate) {
    samples.push([t, publishRate, applyRate])
    while (samples.length > 0 && samples[0][0] < t - spans[0] * 1000) samples.shift()
    if (!visible || range !== 0) return
    // Visible: one point more, the old ones out (cheaper than redrawing every point).
    publish.append(t, publishRate)
    apply.append(t, applyRate)
    while (publish.count > samples.length) publish.remove(0)
    while (apply.count > samples.length) apply.remove(0)
    scale(samples, t)
  }

  function points() {
    if (range === 0) return samples
    const list = []
    for (const h of controller.history(spans[range] / 3600)) list.push([h[0], h[1], h[2]])
    return list
  }

  function scale(list, end) {
    let top = 10
    for (const s of list) top = Math.max(top, s[1], s[2])
    maxY = Math.ceil(top * 1.15)
    xAxis.min = new Date(end - spans[range] * 1000)
    xAxis.max = new Date(end)
  }

  function draw() {
    const list = points()
    publish.clear()
    apply.clear()
    for (const s of list) {
      publish.append(s[0], s[1])
      apply.append(s[0], s[2])
    }
    scale(list, range === 0 && list.length > 0 ? list[list.length - 1][0] : Date.now())
  }

  onVisibleChanged: if (visible) draw()
  onRangeChanged: draw()
  Timer { interval: 60000; repeat: true; running: chart.visible && chart.range !== 0; onTriggered: chart.draw() }

  Connections {
    target: chart.controller
    function onSampleAdded(t, publishRate, applyRate, lag) { chart.add(t, publishRate, applyRate) }
  }
}
