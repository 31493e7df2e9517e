/* 大促作战室: renders /warroom/api/sale/<id> (labels Chinese, code English). No external requests. */
(function () {
  "use strict";
  var qs = new URLSearchParams(location.search);
  var state = {data: null, charts: {}};
  window.__warroom = state;                       // read by the browser test
  var $ = function (id) { return document.getElementById(id); };
  var esc = function (v) {
    return String(v === null || v === undefined ? "—" : v).replace(/[&<>"']/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c];
    });
  };
  var num = function (v) { return v === null || v === undefined ? "—" : Number(v).toLocaleString("zh-CN"); };
  var pct = function (v) { return v === null || v === undefined ? "—" : (100 * v).toFixed(1) + "%"; };
  var yuan = function (v) { return v === null || v === undefined ? "—" : "¥" + Number(v).toLocaleString("zh-CN", {maximumFractionDigits: 2}); };
  var fmt = function (name, v) {
    if (/_rate$|share$/.test(name)) return pct(v);
    if (/amount|value/.test(name)) return yuan(v);
    return num(v);
  };
  var local = function (iso) { return iso ? iso.replace("T", " ").slice(0, 16) : "—"; };
  var badge = function (code, text) { return '<span class="badge s-' + esc(code) + '">' + esc(text) + "</span>"; };
  var link = function (url, text) { return url ? '<a target="_top" href="' + esc(url) + '">' + esc(text) + "</a>" : esc(text); };

  function api(path) {
    return fetch(path, {credentials: "same-origin", headers: {"Accept": "application/json"}}).then(function (r) {
      if (r.status === 401 || r.status === 403) { location.reload(); throw new Error("login"); }
      if (!r.ok) return r.json().then(function (b) { throw new Error(b.detail || r.statusText); });
      return r.json();
    });
  }

  function renderCalendar(d) {
    var cal = d.calendar, t0 = Date.parse(cal.start), t1 = Date.parse(cal.end), span = t1 - t0 || 1;
    var pos = function (iso) { return Math.max(0, Math.min(100, 100 * (Date.parse(iso) - t0) / span)); };
    var html = "", today = '<div class="tl-today" style="left:' + (100 * cal.position) + '%"></div>';
    cal.phases.forEach(function (p) {
      html += '<div class="tl-row" data-phase="' + esc(p.id) + '"><div class="tl-label">' + esc(p.name) + '</div><div class="tl-track">' + today;
      p.windows.forEach(function (w) {
        var l = pos(w.start), r = pos(w.end);
        html += '<div class="tl-bar ' + p.status + '" title="' + esc(w.name + " " + local(w.start) + " – " + local(w.end)) +
          '" style="left:' + l + '%;width:' + Math.max(0.6, r - l) + '%">' + esc(w.name) + (w.to_confirm ? "(待确认)" : "") + "</div>";
      });
      html += "</div></div>";
    });
    html += '<div class="tl-row"><div class="tl-label muted">' + esc(local(cal.start).slice(0, 10)) + " – " + esc(local(cal.end).slice(0, 10)) +
      '</div><div class="tl-track" style="background:none"><div class="tl-today" style="left:' + (100 * cal.position) +
      '%"><span style="' + (cal.position > 0.85 ? "left:auto;right:6px" : "") + '">今天 ' + esc(cal.today) + "</span></div></div></div>";
    $("timeline").innerHTML = html;
    var g = cal.next_gate;
    $("next-gate").innerHTML = g ? "<b>下一个发送时点:</b> " + esc(local(g.at)) + "(" + esc(g.phase_name) + ",约 " +
      (g.in_minutes >= 1440 ? Math.floor(g.in_minutes / 1440) + " 天" : Math.floor(g.in_minutes / 60) + " 小时 " + (g.in_minutes % 60) + " 分") +
      " 后)· " + g.strategies.map(function (s) { return esc(s.name); }).join("、") : "<b>下一个发送时点:</b> 无(大促已结束)";
    var rows = "<tr><th>阶段</th><th>时间</th><th>状态</th><th>DAG 最近一次运行</th></tr>";
    cal.phases.concat([{id: "metrics", name: "每日数据快照", dag_id: d.sale.id + "__metrics", start: null, end: null,
                         status_label: "", latest_run: cal.metrics_run}]).forEach(function (p) {
      var run = p.latest_run;
      rows += '<tr data-dag="' + esc(p.dag_id) + '"><td>' + esc(p.name) + "</td><td>" + (p.start ? esc(local(p.start).slice(0, 10)) + " – " + esc(local(p.end).slice(0, 10)) : "每日 01:00") +
        "</td><td>" + esc(p.status_label) + "</td><td>" +
        (run ? badge(run.state, run.state_label) + " " + link(run.url, local(run.run_after)) + ' <span class="muted">' + esc(run.run_type) + "</span>"
             : (d.airflow.available ? badge("none", "尚未运行") : '<span class="muted">未知</span>')) + "</td></tr>";
    });
    $("phase-runs").innerHTML = rows;
  }

  function renderMetrics(d) {
    var m = d.metrics;
    $("metrics-range").textContent = m.day_from === m.day_to ? m.day_from : m.day_from + " – " + m.day_to;
    var sel = $("range"), cur = m.day_from + "/" + m.day_to;
    sel.innerHTML = m.ranges.map(function (r) {
      var v = r.day_from + "/" + r.day_to;
      return '<option value="' + v + '"' + (v === cur ? " selected" : "") + ">" + (r.day_from === r.day_to ? r.day_from : r.day_from + " – " + r.day_to) + "</option>";
    }).join("") || '<option value="">(暂无快照)</option>';
    if (!m.found) {
      $("metrics-table").innerHTML = '<tr><td class="muted">该日期暂无已发布的指标快照(指标 DAG 每天 01:00 计算前一天,校验通过后发布)。</td></tr>';
      $("store-metrics").innerHTML = "";
      return;
    }
    var head = "<tr><th>人群</th>" + m.columns.map(function (c) { return '<th class="num">' + esc(c.label) + "</th>"; }).join("") + "</tr>";
    var body = m.crowds.map(function (c) {
      return '<tr data-crowd="' + esc(c.crowd) + '"><td>' + esc(c.label) + "</td>" + m.columns.map(function (col) {
        var peer = c.peers[col.name];
        return '<td class="num">' + fmt(col.name, c.values[col.name]) + (col.peer ? '<span class="peer">同行 ' + fmt(col.name, peer) + "</span>" : "") + "</td>";
      }).join("") + "</tr>";
    }).join("");
    $("metrics-table").innerHTML = head + body;
    var s = m.store;
    $("store-metrics").innerHTML = m.store_columns.map(function (c) {
      return '<span class="badge">' + esc(c.label) + " " + fmt(c.name, s[c.name]) + "</span>";
    }).join(" ") + (s.peer_active_rv_value !== null && s.peer_active_rv_value !== undefined ? ' <span class="badge">同行同层平均活跃RV关系价值 ' + yuan(s.peer_active_rv_value) + "</span>" : "");
  }

  function chart(id) {
    if (!state.charts[id]) state.charts[id] = echarts.init($(id), null, {renderer: "canvas"});
    return state.charts[id];
  }

  function renderCharts(d) {
    var t = d.trend;
    chart("chart-trend").setOption({
      animation: false, tooltip: {trigger: "axis"}, legend: {top: 0, textStyle: {fontSize: 11}},
      grid: {left: 50, right: 45, top: 70, bottom: 30},
      xAxis: {type: "category", data: t.days.map(function (x) { return x.slice(5); })},
      yAxis: [{type: "value", name: "人数"}, {type: "value", name: "转化率", axisLabel: {formatter: function (v) { return (100 * v).toFixed(0) + "%"; }}}],
      dataZoom: [{type: "inside"}],
      series: ["visitors", "cart_buyers", "deposit_buyers", "paying_buyers"].map(function (k) {
        return {name: t.labels[k], type: "line", smooth: true, showSymbol: false, data: t.series[k]};
      }).concat([{name: t.labels.conversion_rate, type: "line", yAxisIndex: 1, lineStyle: {type: "dashed"}, showSymbol: false, data: t.series.conversion_rate},
                 {name: t.labels.peer_conversion_rate, type: "line", yAxisIndex: 1, lineStyle: {type: "dotted"}, showSymbol: false, data: t.series.peer_conversion_rate}])
    }, true);
    var sh = d.share;
    chart("chart-share").setOption({
      animation: false, tooltip: {trigger: "axis", valueFormatter: function (v) { return v === null ? "—" : (100 * v).toFixed(1) + "%"; }},
      legend: {top: 0}, grid: {left: 50, right: 10, top: 40, bottom: 30},
      xAxis: {type: "category", data: sh.labels},
      yAxis: {type: "value", axisLabel: {formatter: function (v) { return (100 * v).toFixed(0) + "%"; }}},
      series: [{name: "本店", type: "bar", data: sh.shop}, {name: "同行同层平均", type: "bar", data: sh.peer}]
    }, true);
    var r = d.radar, colors = {new: "#2563eb", old: "#ea580c"};
    var series = Object.keys(r.series).map(function (c) {
      return {name: r.crowd_labels[c], value: r.series[c].map(function (v) { return v === null ? 0 : v; }), lineStyle: {color: colors[c]}, itemStyle: {color: colors[c]}};
    });
    series.push({name: "同行同层", value: r.axes.map(function () { return 100; }), lineStyle: {type: "dashed", color: "#64748b"}, itemStyle: {color: "#64748b"}});
    chart("chart-radar").setOption({
      animation: false, tooltip: {}, legend: {top: 0},
      radar: {indicator: r.axis_labels.map(function (a) { return {name: a, max: r.max}; }), radius: "62%", center: ["50%", "56%"]},
      series: [{type: "radar", data: series}]
    }, true);
  }

  function renderStrategies(d) {
    var cur = (d.calendar.phases.filter(function (p) { return p.status === "current"; })[0] || {}).id;
    $("strategies").innerHTML = d.strategies.map(function (ph) {
      if (!ph.strategies.length) return "";
      var rows = ph.strategies.map(function (s) {
        var seg = s.segment, dl = s.dispatch.latest, all = s.dispatch.sale;
        var skipped = dl && dl.skipped_total ? Object.keys(dl.skipped).map(function (k) { return esc(dl.skipped_labels[k]) + " " + num(dl.skipped[k]); }).join("<br>") : (dl ? "0" : "—");
        var g = s.goal.metric;
        return '<tr data-strategy="' + esc(s.id) + '"><td>' + esc(s.name) + '<span class="peer">' + esc(s.scene_label) + " · " + esc(s.kind_label) + " · " + esc(s.channel_labels.join("/")) + "</span></td>" +
          "<td>" + (seg ? esc(local(seg.as_of)) + '<span class="peer">共 ' + seg.runs + " 次</span>" : '<span class="muted">未圈人</span>') + "</td>" +
          '<td class="num" data-field="crowd">' + (seg ? num(seg.crowd_size) : "—") + "</td>" +
          '<td class="num" data-field="holdout">' + (seg ? num(seg.holdout) + '<span class="peer">' + seg.holdout_pct + "%</span>" : "—") + "</td>" +
          '<td class="num" data-field="sent">' + (dl ? num(dl.sent) : "—") + (dl && dl.held ? '<span class="peer">免打扰待发 ' + num(dl.held) + "</span>" : "") + (dl && dl.dry_run ? '<span class="peer">演练 ' + num(dl.dry_run) + "</span>" : "") + "</td>" +
          '<td class="num" data-field="skipped">' + skipped + "</td>" +
          '<td class="num" data-field="failed">' + (dl ? num(dl.failed) : "—") + "</td>" +
          '<td class="num" data-field="cost">' + (dl ? yuan(dl.cost) : "—") + (all ? '<span class="peer">累计 ' + yuan(all.cost) + "</span>" : "") + "</td>" +
          "<td>" + esc(s.goal.label) + (g ? '<span class="peer">' + esc(g.crowd_label + g.label) + " " + fmt(g.name, g.value) + (g.peer !== null && g.peer !== undefined ? " / 同行 " + fmt(g.name, g.peer) : "") + "</span>" : "") + "</td></tr>";
      }).join("");
      return '<details data-phase="' + esc(ph.id) + '"' + (ph.id === cur || !cur ? " open" : "") + "><summary>" + esc(ph.name) + "(" + ph.strategies.length + " 个策略)</summary><table>" +
        '<tr><th>策略</th><th>最近圈人</th><th class="num">人群数</th><th class="num">对照组</th><th class="num">已发送</th><th class="num">跳过(原因)</th><th class="num">失败</th><th class="num">成本</th><th>目标指标</th></tr>' + rows + "</table></details>";
    }).join("");
  }

  function renderPeople(d) {
    var st = d.scene_tasks;
    var rows = st.open.slice(0, 40).map(function (t) {
      return '<tr data-scene="' + esc(t.id) + '"><td>' + esc(t.name) + '<span class="peer">' + esc(t.phase_name) + " · " + esc(t.scene_label) + "</span></td><td>" + esc(local(t.moment)) +
        "</td><td>" + esc(t.decision_label) + "</td><td>" + (t.link ? '<a target="_blank" rel="noopener" href="' + esc(t.link) + '">去后台</a>' : "—") +
        (t.airflow_url ? " · " + link(t.airflow_url, "确认") : "") + "</td></tr>";
    }).join("");
    var up = st.upcoming.map(function (t) { return esc(local(t.moment)) + " " + esc(t.name); }).join("<br>");
    $("scene-tasks").innerHTML = '<p class="muted">已完成 ' + st.done + " 项;待处理 " + st.open.length + " 项</p>" +
      (rows ? "<table><tr><th>任务</th><th>时间</th><th>状态</th><th>操作</th></tr>" + rows + "</table>" : "") +
      (up ? '<p><b>48 小时内:</b><br>' + up + "</p>" : "");
    var ap = d.approvals;
    $("approvals").innerHTML = (ap.waiting.length ? "<table><tr><th>策略</th><th>申请</th><th>操作</th></tr>" + ap.waiting.map(function (a) {
      return "<tr><td>" + esc(a.name) + '<span class="peer">' + esc(a.subject) + "</span></td><td>" + esc(local(a.created_at)) + "</td><td>" + link(a.url, "去审批") + "</td></tr>";
    }).join("") + "</table>" : '<p class="muted">' + (d.airflow.available ? "没有等待审批的发送。" : "无法读取 Airflow 状态。") + "</p>") +
      (ap.answered.length ? "<h3>最近的审批</h3><table>" + ap.answered.map(function (a) {
        return "<tr><td>" + esc(a.name) + "</td><td>" + esc(local(a.moment)) + "</td><td>" + esc(a.decision_label) + "</td><td>" + esc(a.responded_by) + "</td></tr>";
      }).join("") + "</table>" : "");
  }

  function renderReadiness(d) {
    $("readiness").innerHTML = "<tr><th>检查项</th><th>结果</th><th>检查时间</th><th>原因</th><th>阻断的策略</th></tr>" + (d.readiness.map(function (g) {
      return '<tr data-gate="' + esc(g.gate) + '"><td>' + esc(g.gate_label) + "</td><td>" + badge(g.status, g.status_label) + "</td><td>" + esc(local(g.check_at)) +
        '</td><td><ul class="reasons">' + g.reasons.map(function (r) { return "<li>" + esc(r) + "</li>"; }).join("") + "</ul></td><td>" +
        g.blocked.map(function (b) { return esc(b.name); }).join("<br>") + "</td></tr>";
    }).join("") || '<tr><td colspan="5" class="muted">尚无检查结果(准备阶段 DAG 每天运行六项检查)。</td></tr>');
  }

  function load() {
    var sale = $("sale").value;
    if (!sale) return;
    var p = new URLSearchParams();
    if ($("today").value) p.set("today", $("today").value);
    var rg = $("range").value;
    if (rg && state.data && state.data.sale.id === sale) { p.set("day_from", rg.split("/")[0]); p.set("day_to", rg.split("/")[1]); }
    else if (qs.get("day_from")) { p.set("day_from", qs.get("day_from")); p.set("day_to", qs.get("day_to") || qs.get("day_from")); }
    if (qs.get("dag") && qs.get("run")) { p.set("dag", qs.get("dag")); p.set("run", qs.get("run")); }
    $("status").textContent = "加载中…";
    return api("api/sale/" + encodeURIComponent(sale) + "?" + p.toString()).then(function (d) {
      state.data = d;
      $("sale-name").textContent = "· " + d.sale.name + (d.sale.to_confirm ? "(日历待平台确认)" : "");
      if (!$("today").value) $("today").value = d.calendar.today;
      renderCalendar(d); renderMetrics(d); renderCharts(d); renderStrategies(d); renderPeople(d); renderReadiness(d);
      $("status").textContent = "数据截至 " + local(d.calendar.now) + " · " + d.elapsed_ms + " ms";
      document.body.setAttribute("data-loaded", "1");
    }).catch(function (e) { $("status").textContent = "出错:" + e.message; });
  }

  $("controls").addEventListener("submit", function (ev) { ev.preventDefault(); load(); });
  $("sale").addEventListener("change", function () { $("range").innerHTML = ""; state.data = null; load(); });
  window.addEventListener("resize", function () { Object.keys(state.charts).forEach(function (k) { state.charts[k].resize(); }); });
  if (qs.get("today")) $("today").value = qs.get("today");
  api("api/sales").then(function (r) {
    // Which sale: ?sale=, else the run's DAG (opened from a DAG run), else the one under way, else the next.
    var now = new Date().toISOString().slice(0, 10);
    var live = r.sales.filter(function (s) { return s.start <= now && now <= s.end; })[0] ||
      r.sales.filter(function (s) { return s.start > now; }).sort(function (a, b) { return a.start < b.start ? -1 : 1; })[0] || {};
    var want = qs.get("sale") || (qs.get("dag") || "").split("__")[0] || live.id;
    $("sale").innerHTML = r.sales.map(function (s) {
      return '<option value="' + esc(s.id) + '"' + (s.id === want ? " selected" : "") + ">" + esc(s.name) + "</option>";
    }).join("");
    load();
  }).catch(function (e) { $("status").textContent = "出错:" + e.message; });
})();
