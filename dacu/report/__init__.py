"""The retro (复盘) report: one static, self-contained HTML file per sale (docs/report.md).

``write_retro_report`` is what ``dacu report retro`` and the Airflow
``RetroReportOperator`` call; ``collect_retro`` gathers the figures and
``render_retro`` turns them into HTML (inline CSS and SVG, nothing fetched).
"""
from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from sqlalchemy.engine import Engine


def default_report_dir() -> Path:
    from dacu.paths import dacu_home

    return dacu_home() / "reports"


def report_path(out_dir: str | Path, sale_id: str) -> Path:
    return Path(out_dir) / f"retro_{sale_id}.html"


def write_retro_report(engine: Engine, playbook, *, generated_at: datetime, out_dir: str | Path | None = None) -> dict:
    """Collect, render and write the report (atomically: a reader never sees half a file).

    ``generated_at`` is the caller's time (naive UTC). Returns counts and the path only.
    """
    from dacu.report.html import render_retro
    from dacu.report.retro import collect_retro

    data = collect_retro(engine, playbook, generated_at=generated_at)
    html = render_retro(data)
    path = report_path(out_dir or default_report_dir(), playbook.sale.id)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.part")
    tmp.write_text(html, encoding="utf-8")
    os.replace(tmp, path)
    return {"sale_id": playbook.sale.id, "path": str(path), "bytes": len(html.encode("utf-8")),
            "snapshot_days": len(data.days), "warmup_days": len(data.warmup_days), "peer_values": len(data.peers),
            "strategies": len(data.uplift.strategies), "segment_runs": len(data.uplift.runs),
            "new_customers": data.new_customers.count if data.new_customers else None}


__all__ = ["default_report_dir", "report_path", "write_retro_report"]
