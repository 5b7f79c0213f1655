"""Celery task of reports: beat asks every 30 s; the service decides and sends at most once."""

from __future__ import annotations

from celery import shared_task

from reports import services


@shared_task(name="reports.tasks.daily_report", ignore_result=True)
def daily_report() -> None:
    services.daily_report_run()
