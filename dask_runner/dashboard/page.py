"""``/individual-simulations``: the Simulations page, a bokeh document on the dashboard's own server.

One ``Div`` of plain HTML, redrawn each second from the plugin's snapshot (sent only when it changed):
tables read better than plots for counts, failures and names, and they show in a screenshot of a
terminal-less node as they do in a browser. Rows carry ``data-`` attributes so tests read them.
"""

from __future__ import annotations

import html
import time
from typing import Any

from dask_runner.dashboard.plugin import plugin_of

PAGE_ROUTE = "/individual-simulations"
REFRESH_MS = 1000
MAX_RUNNING_ROWS = 50
MAX_FAILURE_ROWS = 10  # the latest; status.json has more, runner_report.parquet all

_STYLE = """
<style>
 .dr {font-family: -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; font-size: 13px; color: #222;
      margin: 8px 16px;}
 .dr h1 {font-size: 20px; margin: 4px 0 2px 0;} .dr h2 {font-size: 16px; margin: 18px 0 4px 0;}
 .dr .sub {color: #666; margin-bottom: 6px;}
 .dr table {border-collapse: collapse; margin: 4px 0 8px 0; min-width: 60%;}
 .dr th, .dr td {border-bottom: 1px solid #e3e3e3; padding: 3px 10px; text-align: right; white-space: nowrap;}
 .dr th {background: #f4f4f4; font-weight: 600;} .dr td.t, .dr th.t {text-align: left;}
 .dr td.err {text-align: left; white-space: normal; max-width: 640px; font-family: monospace; font-size: 12px;}
 .dr .bar {display: flex; height: 14px; width: 60%; background: #eee; border-radius: 3px; overflow: hidden;}
 .dr .key {display: inline-block; width: 10px; height: 10px; margin: 0 2px 0 8px; background: #eee;}
 .dr .ok {background: #3a9a4a;} .dr .bad {background: #d0463c;} .dr .run {background: #4a7fd0;}
 .dr .failed {color: #c0392b; font-weight: 600;} .dr .late {background: #fff1d6;}
 .dr .state-running {color: #2c6ecb;} .dr .state-finished {color: #3a9a4a;}
 .dr .state-stopped, .dr .state-driver-gone {color: #c0392b;}
 .dr .none {color: #888; font-style: italic;}
</style>"""


def simulations_doc(scheduler: Any, extra: dict[str, Any], doc: Any) -> None:
    """The bokeh application function (``fn(scheduler, extra, doc)``, as Dask's own pages)."""
    from bokeh.models.widgets.markups import Div

    div = Div(text=_page_text(scheduler), sizing_mode="stretch_width")

    def update() -> None:
        text = _page_text(scheduler)
        if text != div.text:
            div.text = text

    doc.add_root(div)
    doc.title = "Dask: Simulations"
    doc.add_periodic_callback(update, REFRESH_MS)


def _page_text(scheduler: Any) -> str:
    plugin = plugin_of(scheduler)
    if plugin is None:
        return render_page(None)
    snapshot = plugin.snapshot()
    with plugin.counting_cpu():
        return render_page(snapshot)


# -- HTML -----------------------------------------------------------------------------------------

def render_page(snapshot: dict[str, Any] | None) -> str:
    if snapshot is None:
        body = ("<h1>Simulations</h1><p class='none'>The dask_runner plugin is not installed on this scheduler: "
                "start it with <code>dask scheduler --preload dask_runner.dashboard</code>.</p>")
        return f"{_STYLE}<div class='dr'>{body}</div>"
    parts = [
        "<h1>Simulations</h1>",
        f"<div class='sub'>{snapshot['workers']} worker(s), {snapshot['threads']} thread(s) &middot; "
        f"worker deaths {snapshot['worker_deaths']} &middot; retirements {snapshot['worker_retirements']} "
        f"&middot; updated {_clock(snapshot['time'])} &middot; this page has cost the scheduler "
        f"{snapshot.get('page_cpu_s', 0):.1f} s of CPU</div>",
    ]
    batches = snapshot["batches"]
    if not batches:
        parts.append("<p class='none'>No dask_runner batch has run on this scheduler yet.</p>")
    for batch in batches:
        parts.append(_batch(batch, snapshot["time"]))
    parts.append(_running(snapshot["running"], len(batches) > 1))
    parts.append(_failures(batches))
    parts.append(_cluster_events(snapshot["cluster_events"]))
    return f"{_STYLE}<div class='dr'>{''.join(parts)}</div>"


def _batch(batch: dict[str, Any], now: float) -> str:
    total = batch["total"]
    name = _e(batch["experiment"] or batch["batch_id"])
    state = batch["state"]
    done = total["succeeded"] + total["failed"]
    percent = 100.0 * done / total["total"] if total["total"] else 0.0
    facts = [f"started {_clock(batch['started_at'])}", f"elapsed {_duration(batch['elapsed_s'])}",
             f"{done} of {total['total']} done ({percent:.1f}%)"]
    if total["per_minute"]:
        facts.append(f"{total['per_minute']:g} per minute (last 10 min)")
    if total["eta_s"] is not None:
        facts.append(f"<b>estimated finish {_clock(now + total['eta_s'])}</b> (in {_duration(total['eta_s'])})")
    if batch["gpu_share"]:
        facts.append(f"GPU share {batch['gpu_share']:g} per simulation")
    if batch["time_limit_s"]:
        facts.append(f"time limit {_duration(batch['time_limit_s'])}")
    if batch["reruns"]:
        facts.append(f"re-runs {batch['reruns']}")
    if state == "running" and now - batch["last_update"] > 60:
        facts.append(f"<span class='failed'>nothing heard from the driver for {_duration(now - batch['last_update'])}"
                     "</span>")
    bar = _bar(total)
    header = ("<tr><th class='t'>planner</th><th>total</th><th>queued</th><th>running</th><th>succeeded</th>"
              "<th>failed</th><th>per minute</th><th>estimated finish</th></tr>")
    rows = [_planner_row(batch, planner, counts, now) for planner, counts in sorted(batch["planners"].items())]
    if len(batch["planners"]) > 1:
        rows.append(_planner_row(batch, "all planners", total, now, field_prefix="total"))
    return (f"<h2 data-batch='{_e(batch['batch_id'])}' data-state='{_e(state)}'>{name} <span class='state-{state.replace(' ', '-')}'>"
            f"({_e(state)})</span></h2><div class='sub'>{' &middot; '.join(facts)}</div>{bar}"
            f"<table class='planners'>{header}{''.join(rows)}</table>")


def _planner_row(batch: dict[str, Any], planner: str, counts: dict[str, Any], now: float,
                 field_prefix: str = "planner") -> str:
    eta = counts["eta_s"]
    failed_class = " class='failed'"
    cells = "".join(f"<td data-field='{field}'{failed_class if field == 'failed' and counts[field] else ''}>"
                    f"{counts[field]}</td>" for field in ("total", "queued", "running", "succeeded", "failed"))
    per_minute = f"{counts['per_minute']:g}" if counts["per_minute"] else "&ndash;"
    finish = f"{_clock(now + eta)} (in {_duration(eta)})" if eta is not None else "&ndash;"
    return (f"<tr data-row='{field_prefix}' data-batch='{_e(batch['batch_id'])}' "
            f"data-experiment='{_e(batch['experiment'])}' data-planner='{_e(planner)}'>"
            f"<td class='t'>{_e(planner)}</td>{cells}<td>{per_minute}</td><td>{finish}</td></tr>")


def _bar(total: dict[str, Any]) -> str:
    if not total["total"]:
        return ""
    widths = [(cls, 100.0 * total[field] / total["total"])
              for cls, field in (("ok", "succeeded"), ("bad", "failed"), ("run", "running"))]
    legend = ("<div class='sub'><span class='key ok'></span> succeeded <span class='key bad'></span> failed "
              "<span class='key run'></span> running <span class='key'></span> queued</div>")
    return ("<div class='bar'>" + "".join(f"<div class='{cls}' style='width:{w:.2f}%'></div>" for cls, w in widths)
            + "</div>" + legend)


def _running(rows: list[dict[str, Any]], several_batches: bool) -> str:
    executing = sum(row["executing"] for row in rows)
    title = (f"<h2>Running now ({executing} task(s) executing, longest first; {len(rows) - executing} more held by "
             "workers)</h2>")
    if not rows:
        return title + "<p class='none'>No simulation task is on a worker.</p>"
    head = ("<tr>" + ("<th class='t'>experiment</th>" if several_batches else "") +
            "<th class='t'>planner</th><th class='t'>scenario</th><th class='t'>runner</th>"
            "<th class='t'>worker</th><th>GPU share</th><th>elapsed</th><th>time limit</th></tr>")
    body = []
    for row in rows[:MAX_RUNNING_ROWS]:
        limit, elapsed = row["time_limit_s"], row["elapsed_s"]
        late = " class='late'" if limit and elapsed is not None and elapsed > 0.8 * limit * row["group_size"] else ""
        when = _duration(elapsed) if elapsed is not None else "<span class='none'>new or waiting</span>"
        more = f" <span class='sub'>(+{row['group_size'] - 1} more in this task, one after another)</span>" \
            if row["group_size"] > 1 else ""
        body.append(
            f"<tr data-row='{'running' if row['executing'] else 'waiting'}' data-batch='{_e(row['batch_id'])}'{late}>"
            + (f"<td class='t'>{_e(row['experiment'])}</td>" if several_batches else "")
            + f"<td class='t'>{_e(row['planner'])}</td><td class='t'>{_e(row['scenario'])}</td>"
            f"<td class='t'>{_e(row['runner_id'])}{more}</td><td class='t'>{_e(row['worker'])}</td>"
            f"<td>{_share(row['gpu_share'])}</td><td>{when}</td>"
            f"<td>{_duration(limit) if limit else '&ndash;'}</td></tr>")
    extra = f"<p class='sub'>and {len(rows) - MAX_RUNNING_ROWS} more</p>" if len(rows) > MAX_RUNNING_ROWS else ""
    if executing < len(rows):
        extra += ("<p class='sub'>new or waiting: held by the worker but not executing at its last heartbeat (up to a "
                  "second ago): it started since, or waits there for a free thread or GPU share.</p>")
    return f"{title}<table class='running'>{head}{''.join(body)}</table>{extra}"


def _failures(batches: list[dict[str, Any]]) -> str:
    failures = sorted(((f, b) for b in batches for f in b["failures"]), key=lambda fb: fb[0]["time"], reverse=True)
    title = "<h2>Latest failures</h2>"
    if not failures:
        return title + "<p class='none'>None so far.</p>"
    head = ("<tr><th class='t'>time</th><th class='t'>experiment</th><th class='t'>planner</th>"
            "<th class='t'>scenario</th><th class='t'>runner</th><th class='t'>stage</th>"
            "<th class='t'>last line of the error</th><th class='t'>worker</th></tr>")
    body = [f"<tr data-row='failure' data-batch='{_e(b['batch_id'])}'><td class='t'>{_clock(f['time'])}</td>"
            f"<td class='t'>{_e(b['experiment'])}</td><td class='t'>{_e(f['planner'])}</td>"
            f"<td class='t'>{_e(f['scenario'])}</td><td class='t'>{_e(f['runner_id'])}</td>"
            f"<td class='t failed'>{_e(f['stage'])}</td><td class='err'>{_e(f['error'])}</td>"
            f"<td class='t'>{_e(f['worker'] or '')}</td></tr>" for f, b in failures[:MAX_FAILURE_ROWS]]
    return f"{title}<table class='failures'>{head}{''.join(body)}</table>"


def _cluster_events(events: list[dict[str, Any]]) -> str:
    title = "<h2>Workers: deaths, retirements, re-runs</h2>"
    if not events:
        return title + "<p class='none'>Nothing yet.</p>"
    body = [f"<tr data-row='event'><td class='t'>{_clock(e['time'])}</td>"
            f"<td class='t{' failed' if e['kind'] == 'death' else ''}'>{_e(e['kind'])}</td>"
            f"<td class='t'>{_e(e['worker'])}</td><td class='t'>{_e(e['detail'])}</td></tr>" for e in events[:20]]
    return (f"{title}<table class='events'><tr><th class='t'>time</th><th class='t'>what</th><th class='t'>worker</th>"
            f"<th class='t'>detail</th></tr>{''.join(body)}</table>")


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _clock(epoch: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(epoch))


def _share(share: float | None) -> str:
    return f"{share:g}" if share else "&ndash;"


def _duration(seconds: float) -> str:
    seconds = max(0.0, float(seconds))
    if seconds < 60:
        return f"{seconds:.0f} s" if seconds >= 10 else f"{seconds:.2g} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
